"""Reads of CRM sync, always narrowed with integrations.accounts.selectors.scope_to_user."""

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from crm import remote, sync
from crm.models import CrmConfig, CrmLink, Entity, SyncConflict, SyncLog
from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import User, Workspace
from integrations.connections import http
from integrations.connections import selectors as connection_selectors
from integrations.connections.models import Connection
from integrations.connections.services import client
from integrations.errors import ApplicationError, NotFound
from integrations.mapping.models import FieldMapping

# A describe changes when an admin adds a field in Salesforce: rarely, and a few minutes late
# is fine; the mapping editor asks for it on every keystroke of a form.
DESCRIBE_SECONDS = 300


def _by_id(queryset: QuerySet, object_id, what: str):
    found = queryset.filter(pk=object_id).first() if str(object_id).isdigit() else None
    if found is None:
        raise NotFound(f"No such {what}.")
    return found


def config_list(*, user: User, workspace_id: int | None = None) -> QuerySet[CrmConfig]:
    configs = account_selectors.scope_to_user(
        CrmConfig.objects.select_related("workspace", "connection"), user
    )
    if workspace_id is not None:
        configs = configs.filter(workspace_id=workspace_id)
    return configs.order_by("workspace_id", "provider")


def config_for(*, user: User, config_id) -> CrmConfig:
    return _by_id(config_list(user=user), config_id, "CRM config")


def config_of(*, workspace: Workspace, provider: str) -> CrmConfig | None:
    return CrmConfig.objects.filter(workspace=workspace, provider=provider).first()


def connection_of(*, user: User, workspace: Workspace, provider: str) -> Connection | None:
    """The workspace's connection to the CRM (a CRM connection belongs to the workspace)."""
    return connection_selectors.connection_for(user=user, workspace=workspace, provider=provider)


def config_stats(*, config: CrmConfig) -> dict:
    """What the config's card shows: records linked per entity, conflicts waiting, last run."""
    linked = dict(
        CrmLink.objects.filter(config=config)
        .values_list("entity")
        .annotate(n=Count("pk"))
        .values_list("entity", "n")
    )
    return {
        "linked_accounts": linked.get(Entity.ACCOUNT, 0),
        "linked_contacts": linked.get(Entity.CONTACT, 0),
        "pending_conflicts": SyncConflict.objects.filter(
            config=config, status=SyncConflict.Status.PENDING
        ).count(),
        "last_run": log_list(config=config).first(),
    }


def log_list(*, config: CrmConfig | None = None, user: User | None = None) -> QuerySet[SyncLog]:
    logs = SyncLog.objects.select_related("config", "requested_by")
    if config is not None:
        logs = logs.filter(config=config)
    if user is not None:
        logs = account_selectors.scope_to_user(logs, user)
    return logs.order_by("-created_at", "-pk")


def log_for(*, user: User, log_id) -> SyncLog:
    return _by_id(log_list(user=user), log_id, "sync log")


def log_conflicts(*, log: SyncLog) -> QuerySet[SyncConflict]:
    """The conflicts a run met: those it recorded, and those of its config and entity
    detected while it ran (a conflict a later run refreshes keeps its first detection)."""
    during = Q(
        config=log.config,
        entity=log.entity,
        detected_at__gte=log.started_at or log.created_at,
        detected_at__lte=log.finished_at or timezone.now(),
    )
    return SyncConflict.objects.filter(Q(log=log) | during).select_related("resolved_by")


def active_run(*, config: CrmConfig, entity: str) -> SyncLog | None:
    return log_list(config=config).filter(entity=entity, status__in=SyncLog.ACTIVE).first()


def conflict_list(
    *,
    user: User,
    config_id: int | None = None,
    status: str = "",
    entity: str = "",
) -> QuerySet[SyncConflict]:
    conflicts = account_selectors.scope_to_user(
        SyncConflict.objects.select_related("config", "resolved_by"), user
    )
    if config_id is not None:
        conflicts = conflicts.filter(config_id=config_id)
    if status:
        conflicts = conflicts.filter(status=status)
    if entity:
        conflicts = conflicts.filter(entity=entity)
    return conflicts.order_by("-detected_at", "-pk")


def conflict_for(*, user: User, conflict_id) -> SyncConflict:
    return _by_id(conflict_list(user=user), conflict_id, "conflict")


def conflict_records(*, conflicts) -> dict[tuple[str, int], object]:
    """The hub records the conflicts are about, (entity, local id) -> record: one query per
    entity and workspace (a record deleted since is missing)."""
    wanted: dict[tuple[str, int], set[int]] = {}
    for conflict in conflicts:
        if conflict.local_id is not None:
            key = (conflict.entity, conflict.workspace_id)
            wanted.setdefault(key, set()).add(conflict.local_id)
    found = {}
    for (entity, workspace_id), ids in wanted.items():
        model = sync.KINDS[entity].model
        for record in model.objects.filter(workspace_id=workspace_id, pk__in=ids):
            found[(entity, record.pk)] = record
    return found


def conflict_link(*, conflict: SyncConflict) -> CrmLink | None:
    """The link of the conflict's record: its base holds the fields not in conflict."""
    return CrmLink.objects.filter(
        config_id=conflict.config_id, entity=conflict.entity, local_id=conflict.local_id
    ).first()


# --- The CRM's fields, and the config's mapping sets ---------------------------------------------


def crm_remote(connection: Connection) -> remote.Remote:
    """The connection's CRM (Salesforce or HubSpot) through its one client."""
    return remote.remote_class(connection.provider)(client(connection))


def crm_fields(*, connection: Connection, entity: str) -> list[dict]:
    """The CRM object's fields (Salesforce describe, HubSpot properties) through the
    connection's one client, cached per connection for a few minutes."""
    crm = crm_remote(connection)
    key = f"crm:describe:{connection.pk}:{crm.object_name(entity)}"
    found = cache.get(key)
    if found is None:
        found = crm.describe(entity)
        cache.set(key, found, DESCRIBE_SECONDS)
    return found


def crm_sample(*, connection: Connection, entity: str, fields, n: int = 5) -> list[dict]:
    """A few of the CRM's most recently changed records ({"id", field: value}), for the field
    mapping preview."""
    return crm_remote(connection).sample(entity, list(fields), n)


def crm_count(*, connection: Connection, entity: str) -> int:
    """How many records the CRM holds of an entity (one COUNT() query, one search)."""
    return crm_remote(connection).count(entity)


def sync_estimate(*, config: CrmConfig, entities: list[str]) -> int:
    """Records runs of these entities will look at: the hub's count and the CRM's (one
    COUNT() each); when the CRM cannot be asked, what the entity's last run looked at."""
    total = 0
    for entity in entities:
        total += sync.KINDS[entity].model.objects.filter(workspace=config.workspace).count()
        try:
            total += crm_count(connection=config.connection, entity=entity)
        except (http.ProviderError, ApplicationError):
            last = log_list(config=config).filter(entity=entity, dry_run=False).first()
            total += last.processed if last else 0
    return total


def mapping_sets(*, config: CrmConfig) -> dict:
    """Each entity's mapping set (the shipped one is made on first use), accounts first."""
    return {
        entity: sync.mapping_set_for(config, entity) for entity in (Entity.ACCOUNT, Entity.CONTACT)
    }


def mapping_list(*, config: CrmConfig, entity: str = "") -> list[tuple[str, FieldMapping]]:
    """(entity, field) of every mapped field of the config, in each set's order."""
    return [
        (name, field)
        for name, mapping_set in mapping_sets(config=config).items()
        if not entity or name == entity
        for field in mapping_set.fields.all()
    ]


def mapping_for(*, config: CrmConfig, mapping_id) -> tuple[str, FieldMapping]:
    for entity, field in mapping_list(config=config):
        if str(field.pk) == str(mapping_id):
            return entity, field
    raise NotFound("No such field mapping in this config.")
