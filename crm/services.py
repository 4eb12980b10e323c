"""Writes of CRM sync: `<entity>_<verb>` functions with keyword-only arguments."""

from datetime import datetime

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from crm import remote, selectors, sync
from crm.models import CrmConfig, CrmLink, SyncConflict, SyncLog
from integrations.accounts.audit import audit_record, audited, snapshot
from integrations.accounts.models import User, Workspace
from integrations.accounts.services import require_workspace_admin
from integrations.connections import services as connections
from integrations.connections.models import Connection
from integrations.connections.oauth import flow
from integrations.errors import ApplicationError, Conflict, NotFound
from integrations.mapping import engine, transforms
from integrations.mapping.models import FieldMapping
from integrations.mapping.transforms import MappingError
from integrations.runs import request_run
from integrations.sync.models import digest

# A run of both entities goes accounts first: a contact's account is linked by then.
ENTITY_ORDER = ("account", "contact")


def sync_request(
    *,
    config: CrmConfig,
    entity: str,
    actor: User | None,
    trigger: str = SyncLog.Trigger.BUTTON,
    dry_run: bool = False,
    action: str = "",
    queue: bool = True,
    webhook: bool = False,
) -> SyncLog:
    """Queue a run of one entity (a dry run plans and changes nothing); a run of it going is
    a 409 naming it. Workspace admins only (actor None: the system). `queue` False: the caller
    does the run itself (the command)."""
    require_workspace_admin(actor=actor, workspace=config.workspace, doing="sync a CRM")
    if entity not in config.entities:
        raise ApplicationError(f"{config} does not sync {entity}s (it syncs: {config.entities}).")
    return request_run(
        SyncLog.objects.filter(config=config, entity=entity),
        # By the task's name (crm/tasks.py calls into this module: no import back).
        task=current_app.signature(SyncLog.run_task) if queue else None,
        action=action or ("crm.sync.dry_run" if dry_run else "crm.sync.request"),
        busy=f"A sync of {config}'s {entity}s is already going.",
        workspace=config.workspace,
        config=config,
        entity=entity,
        direction=config.sync_direction,  # the log's choices carry the config's values
        trigger=trigger,
        requested_by=actor,
        dry_run=dry_run,
        webhook=webhook,
    )


def retry_failed(*, log: SyncLog, actor: User | None) -> SyncLog:
    """Run the log's config and entity again: the records that failed in it were left with
    their old base and are read again by id, so this run plans them again."""
    return sync_request(
        config=log.config,
        entity=log.entity,
        actor=actor,
        trigger=SyncLog.Trigger.BUTTON if actor else SyncLog.Trigger.API,
        action="crm.sync.retry",
    )


def sync_undo(*, log: SyncLog, actor: User | None, trigger: str = "") -> SyncLog:
    """Queue the undo of a run (crm/undo.py): a run of the same config and entity that puts
    back the values the run's changes replaced, refusing the fields changed since. A dry run,
    a run still going, a run already undone (or being undone) and a run that changed nothing
    are refused with a 409 saying so. Workspace admins; audited with the run it queues."""
    require_workspace_admin(actor=actor, workspace=log.workspace, doing="undo a CRM sync")
    if log.is_active:
        raise Conflict(
            f"Run {log.pk} is still going: undo it once it has finished.", code="crm_undo"
        )
    if log.dry_run:
        raise Conflict("A dry run changed nothing: there is nothing to undo.", code="crm_undo")
    earlier = log.undone_by.exclude(status=SyncLog.Status.FAILED).order_by("pk").first()
    if earlier is not None:
        raise Conflict(
            f"Run {log.pk} is already undone (by run {earlier.pk}): undo that run to redo it.",
            code="crm_undo",
        )
    if not log.changes.exists():
        raise Conflict(
            f"Run {log.pk} changed no record: there is nothing to undo.", code="crm_undo"
        )
    config = CrmConfig.objects.select_related("connection", "workspace").get(pk=log.config_id)
    if config.status == CrmConfig.Status.PAUSED:
        raise Conflict(f"{config} is paused: resume it first.", code="crm_paused")
    usable_connection(config)
    return request_run(
        SyncLog.objects.filter(config=config, entity=log.entity),
        task=current_app.signature(SyncLog.run_task),
        action="crm.sync.undo",
        busy=f"A sync of {config}'s {log.entity}s is going: undo once it has finished.",
        workspace=config.workspace,
        config=config,
        entity=log.entity,
        direction=log.direction,
        trigger=trigger or (SyncLog.Trigger.BUTTON if actor else SyncLog.Trigger.API),
        requested_by=actor,
        undoes=log,
    )


def ordered_entities(config: CrmConfig) -> list[str]:
    return [entity for entity in ENTITY_ORDER if entity in (config.entities or [])]


def sync_due(*, now: datetime | None = None) -> dict:
    """The beat's minute: queue a run of every entity of each active config whose schedule
    came due (realtime every minute, hourly, daily at its time; manual never), and move its
    next_sync_at on. A config paused for the spent API quota resumes once its time is up; one
    paused by a person stays paused."""
    now = now or timezone.now()
    outcome = {"queued": 0, "busy": 0, "resumed": 0}
    quota_over = CrmConfig.objects.filter(
        status=CrmConfig.Status.PAUSED, resume_at__isnull=False, resume_at__lte=now
    )
    for config in quota_over:
        CrmConfig.objects.filter(pk=config.pk, status=CrmConfig.Status.PAUSED).update(
            status=CrmConfig.Status.CONNECTED, status_reason="", resume_at=None
        )
        audit_record(action="crm.config.resumed", target=config, workspace=config.workspace_id)
        outcome["resumed"] += 1
    due = (
        CrmConfig.objects.filter(
            is_active=True, status=CrmConfig.Status.CONNECTED, connection__isnull=False
        )
        .exclude(sync_frequency=CrmConfig.Frequency.MANUAL)
        .select_related("workspace")
    )
    for config in due:
        if config.next_sync_at is None and config.sync_frequency == CrmConfig.Frequency.DAILY:
            # First seen: the first run is at the configured time, not now.
            schedule_next(config, after=now)
            continue
        if config.next_sync_at is not None and config.next_sync_at > now:
            continue
        for entity in ordered_entities(config):
            try:
                sync_request(
                    config=config, entity=entity, actor=None, trigger=SyncLog.Trigger.SCHEDULE
                )
                outcome["queued"] += 1
            except Conflict:
                outcome["busy"] += 1  # the one going does the work
        CrmConfig.objects.filter(pk=config.pk).update(next_sync_at=sync.next_due(config, now))
    return outcome


def schedule_next(config: CrmConfig, *, after: datetime | None = None) -> CrmConfig:
    """Set next_sync_at from the config's frequency (none for manual): call after a change of
    frequency or time of day."""
    with transaction.atomic():
        config.next_sync_at = sync.next_due(config, after or timezone.now())
        CrmConfig.objects.filter(pk=config.pk).update(next_sync_at=config.next_sync_at)
    return config


# Connecting goes through the platform's OAuth flow and connections (one consent, one client
# per connection, one disconnect); field mappings are rows of the config's mapping sets, checked
# by the mapping engine; a conflict is settled by writing the chosen values into the hub record
# and moving the link's base, so that the next run carries them over. Every change is audited;
# workspace admins change, members read.

# The providers whose sync exists (crm/remote.py: one remote each, the same engine).
SUPPORTED = (CrmConfig.Provider.SALESFORCE, CrmConfig.Provider.HUBSPOT)
# The seed's words for a field's direction, and the mapping engine's.
DIRECTIONS = {
    "bidirectional": FieldMapping.Direction.BOTH,
    "push": FieldMapping.Direction.PUSH,
    "pull": FieldMapping.Direction.PULL,
    "none": FieldMapping.Direction.NONE,
}
SEED_DIRECTION = {engine_name: seed for seed, engine_name in DIRECTIONS.items()}
SCALARS = (str, int, float, bool, type(None))  # what a CRM field's value may be


class ProviderNotSupported(ApplicationError):
    code = "provider_not_supported"


class NotConnected(ApplicationError):
    status_code = 409
    code = "crm_not_connected"


def require_supported(provider: str) -> None:
    """An unknown CRM is a 404 (it is in the URL); a known one without a sync is a 400."""
    if provider not in CrmConfig.Provider.values:
        raise NotFound(f"No CRM called {provider!r}.", code="unknown_provider")
    if provider not in SUPPORTED:
        label = CrmConfig.Provider(provider).label
        raise ProviderNotSupported(
            f"{label} is not supported yet: only "
            f"{', '.join(CrmConfig.Provider(p).label for p in SUPPORTED)} sync in this version."
        )


def usable_connection(config: CrmConfig) -> Connection:
    """The config's connection when it can be called, or a 409 saying what to do."""
    connection = config.connection
    if connection is None or connection.status == Connection.Status.REVOKED:
        raise NotConnected(
            f"{config.get_provider_display()} is not connected in {config.workspace.name}: "
            "connect it first (POST /api/crm/connect)."
        )
    return connection


# --- Connecting -------------------------------------------------------------------------------


def _config_get_or_create(*, workspace: Workspace, provider: str, actor: User | None):
    config, created = CrmConfig.objects.select_for_update().get_or_create(
        workspace=workspace,
        provider=provider,
        defaults={
            "entities": list(ENTITY_ORDER),
            "status": CrmConfig.Status.DISCONNECTED,
            "created_by": actor,
        },
    )
    return config, None if created else snapshot(config)


def _attach(config: CrmConfig, connection: Connection) -> None:
    """Link the config to the workspace's connection; a config waiting for one (disconnected,
    or in error) is connected now, a paused one stays paused."""
    config.connection = connection
    if config.status in (CrmConfig.Status.DISCONNECTED, CrmConfig.Status.ERROR):
        config.status = CrmConfig.Status.CONNECTED
        config.status_reason = ""
    config.save()


@audited
@transaction.atomic
def config_connect(
    *, workspace: Workspace, provider: str, actor: User, domain: str = ""
) -> tuple[CrmConfig, str]:
    """Make (or keep) the workspace's config for the CRM. With the workspace's connection to
    it working, the config is linked to it at once and no consent is needed (the redirect is
    ""); otherwise the platform's OAuth flow starts and the answer is its consent URL — the
    consent ends at the platform's callback or at POST /api/crm/oauth/callback."""
    require_supported(provider)
    require_workspace_admin(actor=actor, workspace=workspace, doing="connect a CRM")
    config, before = _config_get_or_create(workspace=workspace, provider=provider, actor=actor)
    connection = Connection.objects.filter(
        workspace=workspace, provider=provider, user=None
    ).first()
    redirect = ""
    if connection is not None and connection.status == Connection.Status.CONNECTED:
        _attach(config, connection)
    else:
        started = flow.oauth_start(
            user=actor, workspace=workspace, provider=provider, domain=domain
        )
        redirect = started["authorize_url"]
    audit_record(
        action="crm.config.connect",
        actor=actor,
        target=config,
        before=before,
        after=snapshot(config),
        details={"consent_needed": bool(redirect)},
    )
    return config, redirect


@audited
@transaction.atomic
def config_link(*, connection: Connection, actor: User | None) -> CrmConfig:
    """Link the workspace's config for the connection's CRM to it (made if missing): what
    follows a finished consent."""
    require_supported(connection.provider)
    require_workspace_admin(actor=actor, workspace=connection.workspace, doing="connect a CRM")
    config, before = _config_get_or_create(
        workspace=connection.workspace, provider=connection.provider, actor=actor
    )
    _attach(config, connection)
    audit_record(
        action="crm.config.link", actor=actor, target=config, before=before, after=snapshot(config)
    )
    return config


@audited
@transaction.atomic
def config_disconnect(*, config: CrmConfig, actor: User | None) -> CrmConfig:
    """Revoke the CRM connection through the platform's disconnect (tokens revoked at the
    provider, forgotten here) and mark the config disconnected; links, mappings and logs stay,
    so connecting again carries on where the sync stopped."""
    require_workspace_admin(actor=actor, workspace=config.workspace, doing="disconnect a CRM")
    config = CrmConfig.objects.select_for_update().get(pk=config.pk)
    before = snapshot(config)
    if config.connection is not None and config.connection.status != Connection.Status.REVOKED:
        connections.connection_disconnect(connection=config.connection, actor=actor)
    config.status = CrmConfig.Status.DISCONNECTED
    config.status_reason = "Disconnected" + (f" by {actor.email}." if actor else ".")
    config.resume_at = None
    config.save()
    audit_record(
        action="crm.config.disconnect",
        actor=actor,
        target=config,
        before=before,
        after=snapshot(config),
    )
    return config


# --- Settings -----------------------------------------------------------------------------------

CONFIG_FIELDS = (
    "sync_direction",
    "sync_frequency",
    "daily_at",
    "entities",
    "filters",
    "conflict_resolution",
    "field_policies",
    "create_if_missing",
    "propagate_deletes",
)


@audited
@transaction.atomic
def config_update(*, config: CrmConfig, actor: User | None, **changes) -> CrmConfig:
    """Change what the config syncs, which way, how often and who wins (values already
    checked by the caller's validation; the rules between them are checked here)."""
    require_workspace_admin(
        actor=actor, workspace=config.workspace, doing="change the CRM sync's settings"
    )
    unknown = sorted(set(changes) - set(CONFIG_FIELDS))
    if unknown:
        raise ApplicationError(f"{unknown[0]} cannot be changed here.")
    config = CrmConfig.objects.select_for_update().get(pk=config.pk)
    before = snapshot(config)
    for name, value in changes.items():
        setattr(config, name, value)
    if config.sync_frequency == CrmConfig.Frequency.DAILY and config.daily_at is None:
        raise ApplicationError(
            "A daily sync needs its time of day: give dailyAt (HH:MM, UTC).",
            details={"dailyAt": ["Required when syncFrequency is daily."]},
        )
    if "entities" in changes:
        config.entities = [e for e in ENTITY_ORDER if e in changes["entities"]]
    if "filters" in changes:
        problems = sync.check_filters(config, config.filters)
        if problems:
            raise ApplicationError(problems[0], code="invalid", details={"syncRules": problems})
    if "field_policies" in changes:
        problems = sync.check_field_policies(config, config.field_policies)
        if problems:
            raise ApplicationError(problems[0], code="invalid", details={"fieldPolicies": problems})
        config.field_policies = {e: rules for e, rules in config.field_policies.items() if rules}
    config.save()
    if {"sync_frequency", "daily_at"} & set(changes):
        schedule_next(config)
    audit_record(
        action="crm.config.update",
        actor=actor,
        target=config,
        before=before,
        after=snapshot(config),
    )
    return config


@audited
@transaction.atomic
def config_field_policy_set(
    *, config: CrmConfig, entity: str, crm_field: str, policy: str | None, actor: User | None
) -> CrmConfig:
    """Always use app (app_wins) / Always use CRM (crm_wins) for one field: a conflict on it
    is settled that way from the next run on, whatever the config's strategy; None clears the
    rule (the strategy decides again)."""
    require_workspace_admin(
        actor=actor, workspace=config.workspace, doing="change the CRM sync's settings"
    )
    config = CrmConfig.objects.select_for_update().get(pk=config.pk)
    before = snapshot(config)
    policies = {e: dict(rules) for e, rules in (config.field_policies or {}).items()}
    rules = policies.setdefault(entity, {})
    if policy is None:
        if entity not in sync.KINDS:
            raise _invalid("entity", f"Unknown entity {entity!r}.")
        if rules.pop(crm_field, None) is None:
            return config  # no rule: nothing to clear
    else:
        problems = sync.check_field_policies(config, {entity: {crm_field: policy}})
        if problems:
            raise ApplicationError(problems[0], code="invalid", details={"fieldPolicies": problems})
        rules[crm_field] = policy
    config.field_policies = {e: found for e, found in policies.items() if found}
    config.save(update_fields=["field_policies", "updated_at"])
    audit_record(
        action="crm.config.field_policy",
        actor=actor,
        target=config,
        before=before,
        after=snapshot(config),
        details={"entity": entity, "crm_field": crm_field, "policy": policy},
    )
    return config


@audited
@transaction.atomic
def config_set_paused(*, config: CrmConfig, actor: User | None, paused: bool) -> CrmConfig:
    """Pause: no run starts, and a running one stops at its next batch. Resume: connected
    again, and a pause for a spent API quota is over. Resuming a config that is not paused
    changes nothing; a disconnected one needs connecting, not resuming (409)."""
    require_workspace_admin(
        actor=actor, workspace=config.workspace, doing="pause or resume the CRM sync"
    )
    config = (
        CrmConfig.objects.select_for_update(of=("self",))
        .select_related("connection")
        .get(pk=config.pk)
    )
    before = snapshot(config)
    if paused:
        if config.status == CrmConfig.Status.DISCONNECTED:
            raise NotConnected(f"{config} is disconnected: there is no sync to pause.")
        config.status = CrmConfig.Status.PAUSED
        config.status_reason = "Paused" + (f" by {actor.email}." if actor else ".")
    else:
        if config.status != CrmConfig.Status.PAUSED:
            return config
        usable_connection(config)
        config.status = CrmConfig.Status.CONNECTED
        config.status_reason = ""
        config.resume_at = None
    config.save()
    audit_record(
        action="crm.config.pause" if paused else "crm.config.resume",
        actor=actor,
        target=config,
        before=before,
        after=snapshot(config),
    )
    return config


# --- Field mappings (rows of the config's mapping sets) -----------------------------------------


def app_fields(entity: str) -> list[str]:
    """The hub columns of an entity a mapping may name (plain values, not relations)."""
    return [field["name"] for field in selectors.hub_fields(entity)]


def _invalid(api_field: str, message: str) -> ApplicationError:
    return ApplicationError(message, code="invalid", details={api_field: [message]})


def _described(config: CrmConfig, entity: str) -> dict[str, dict]:
    fields = selectors.crm_fields(connection=usable_connection(config), entity=entity)
    return {field["name"]: field for field in fields}


def _check_mapping(
    *,
    config: CrmConfig,
    entity: str,
    crm_field: str,
    app_field: str,
    direction: str,
    transform: str,
    params: dict,
    crm_fields: dict[str, dict],
) -> None:
    """One field mapping against the CRM's describe, the hub's model and the transform
    registry; the first problem is a 400 naming the field of the request."""
    sobject = remote.remote_class(config.provider).objects[entity]
    described = crm_fields.get(crm_field)
    if described is None:
        raise _invalid(
            "crmField",
            f"crmField {crm_field!r} is not a field of {config.get_provider_display()}'s "
            f"{sobject} (GET available-fields lists them).",
        )
    writes = direction in (FieldMapping.Direction.PUSH, FieldMapping.Direction.BOTH)
    if writes and not (described["createable"] or described["updateable"]):
        raise _invalid(
            "syncDirection",
            f"{sobject}.{crm_field} is set by {config.get_provider_display()} only: map it "
            "pull (or none), not push or bidirectional.",
        )
    names = [part.strip() for part in app_field.split(",") if part.strip()]
    known = app_fields(entity)
    if not names:
        raise _invalid("appField", "appField names a field of the hub's record.")
    for name in names:
        if name not in known:
            raise _invalid(
                "appField",
                f"appField {name!r} is not a field of the hub's {entity}; one of: "
                f"{', '.join(known)}.",
            )
    if len(names) > 1 and direction in (FieldMapping.Direction.PULL, FieldMapping.Direction.BOTH):
        raise _invalid(
            "syncDirection",
            "Several hub fields joined into one CRM field cannot be split back: map it push.",
        )
    try:
        transforms.validate_params(transform, params)
    except MappingError as exc:
        raise _invalid(
            "transformFunction" if exc.field == "transform" else "transformParams", exc.message
        ) from None


def _check_set(mapping_set, rows: list[dict]) -> None:
    """The whole set compiles both ways and still fills the CRM's required fields."""
    for direction in ("push", "pull"):
        try:
            engine.compile_fields(rows, direction=direction)
        except MappingError as exc:
            raise ApplicationError(
                exc.message, code="mapping_invalid", details={"mapping": [exc.message]}
            ) from None
    pushed = {
        row["target"]
        for row in rows
        if row["direction"] in (FieldMapping.Direction.PUSH, FieldMapping.Direction.BOTH)
    }
    missing = [name for name in mapping_set.required_fields if name not in pushed]
    if missing:
        raise Conflict(
            f"{missing[0]} is required to create a {mapping_set.target_entity} in the CRM: "
            "keep a hub field mapped to it (push or bidirectional).",
            code="required_field",
            details={"crmField": [f"{missing[0]} must stay mapped."]},
        )


def _rows_with(mapping_set, *, replace: FieldMapping | None = None, row: dict | None = None):
    rows = []
    for field in mapping_set.fields.all():
        if replace is not None and field.pk == replace.pk:
            if row is not None:
                rows.append(row)
            continue
        rows.append(
            {
                "source": field.source_field,
                "target": field.target_field,
                "transform": field.transform,
                "params": field.params,
                "direction": field.direction,
            }
        )
    if replace is None and row is not None:
        rows.append(row)
    return rows


def _mapping_audit(action: str, *, config, entity, field: FieldMapping, actor, before=None):
    audit_record(
        action=action,
        actor=actor,
        target=field.mapping_set,
        workspace=config.workspace_id,
        before=before,
        after=None if action.endswith("remove") else _mapping_snapshot(field),
        details={"config": config.pk, "entity": entity, "crm_field": field.target_field},
    )


def _mapping_snapshot(field: FieldMapping) -> dict:
    return {
        "crm_field": field.target_field,
        "app_field": field.source_field,
        "direction": field.direction,
        "transform": field.transform,
        "params": field.params,
    }


@audited
@transaction.atomic
def mapping_add(
    *,
    config: CrmConfig,
    entity: str,
    actor: User | None,
    crm_field: str,
    app_field: str,
    direction: str = FieldMapping.Direction.BOTH,
    transform: str = "rename",
    params: dict | None = None,
) -> FieldMapping:
    """Add a field to the entity's mapping set (one CRM field is mapped once); the CRM field
    is checked against the CRM's describe."""
    require_workspace_admin(
        actor=actor, workspace=config.workspace, doing="change the CRM field mappings"
    )
    params = params or {}
    _check_mapping(
        config=config,
        entity=entity,
        crm_field=crm_field,
        app_field=app_field,
        direction=direction,
        transform=transform,
        params=params,
        crm_fields=_described(config, entity),
    )
    mapping_set = sync.mapping_set_for(config, entity)
    if mapping_set.fields.filter(target_field=crm_field).exists():
        raise Conflict(
            f"{crm_field} is mapped already: change that mapping instead.",
            code="duplicate",
            details={"crmField": [f"{crm_field} is mapped already."]},
        )
    row = {
        "source": app_field,
        "target": crm_field,
        "transform": transform,
        "params": params,
        "direction": direction,
    }
    _check_set(mapping_set, _rows_with(mapping_set, row=row))
    position = (mapping_set.fields.aggregate(n=Max("position"))["n"] or 0) + 1
    field = FieldMapping(
        mapping_set=mapping_set,
        position=position,
        source_field=app_field,
        target_field=crm_field,
        transform=transform,
        params=params,
        direction=direction,
    )
    field.full_clean()  # the engine's own check of the row (FieldMapping.clean)
    field.save()
    mapping_set.save(update_fields=["updated_at"])
    _mapping_audit("crm.mapping.add", config=config, entity=entity, field=field, actor=actor)
    return field


@audited
@transaction.atomic
def mapping_add_many(
    *, config: CrmConfig, entity: str, actor: User | None, rows: list[dict]
) -> list[FieldMapping]:
    """Add several fields at once (the pairs auto-map proposed and a person ticked), all or
    none: each through mapping_add (checked, audited); the first refused one names its CRM
    field and adds nothing. rows: {crm_field, app_field, direction}."""
    require_workspace_admin(
        actor=actor, workspace=config.workspace, doing="change the CRM field mappings"
    )
    added = []
    for row in rows:
        try:
            added.append(
                mapping_add(
                    config=config,
                    entity=entity,
                    actor=actor,
                    crm_field=row["crm_field"],
                    app_field=row["app_field"],
                    direction=row.get("direction", FieldMapping.Direction.BOTH),
                )
            )
        except ApplicationError as exc:
            exc.message = f"{row['crm_field']} → {row['app_field']}: {exc.message}"
            raise
    return added


@audited
@transaction.atomic
def mapping_update(
    *,
    config: CrmConfig,
    entity: str,
    field: FieldMapping,
    actor: User | None,
    app_field: str | None = None,
    direction: str | None = None,
    transform: str | None = None,
    params: dict | None = None,
) -> FieldMapping:
    """Change a mapped field's hub field, direction or transform (its CRM field stays: map
    another one with a new mapping)."""
    require_workspace_admin(
        actor=actor, workspace=config.workspace, doing="change the CRM field mappings"
    )
    field = FieldMapping.objects.select_for_update().get(pk=field.pk)
    before = _mapping_snapshot(field)
    if transform is not None and params is None and transform != field.transform:
        params = {}  # another transform's parameters would not fit it
    row = {
        "source": field.source_field if app_field is None else app_field,
        "target": field.target_field,
        "transform": field.transform if transform is None else transform,
        "params": field.params if params is None else params,
        "direction": field.direction if direction is None else direction,
    }
    _check_mapping(
        config=config,
        entity=entity,
        crm_field=row["target"],
        app_field=row["source"],
        direction=row["direction"],
        transform=row["transform"],
        params=row["params"],
        crm_fields=_described(config, entity),
    )
    _check_set(field.mapping_set, _rows_with(field.mapping_set, replace=field, row=row))
    field.source_field, field.transform = row["source"], row["transform"]
    field.params, field.direction = row["params"], row["direction"]
    field.full_clean()
    field.save()
    field.mapping_set.save(update_fields=["updated_at"])
    _mapping_audit(
        "crm.mapping.update", config=config, entity=entity, field=field, actor=actor, before=before
    )
    return field


@audited
@transaction.atomic
def mapping_remove(
    *, config: CrmConfig, entity: str, field: FieldMapping, actor: User | None
) -> None:
    """Stop syncing a field (a CRM field required on create cannot go: 409)."""
    require_workspace_admin(
        actor=actor, workspace=config.workspace, doing="change the CRM field mappings"
    )
    _check_set(field.mapping_set, _rows_with(field.mapping_set, replace=field))
    before = _mapping_snapshot(field)
    field.delete()
    field.mapping_set.save(update_fields=["updated_at"])
    _mapping_audit(
        "crm.mapping.remove", config=config, entity=entity, field=field, actor=actor, before=before
    )


def sync_trigger(
    *,
    config: CrmConfig,
    actor: User | None,
    entities: list[str] | None = None,
    trigger: str = SyncLog.Trigger.API,
    dry_run: bool = False,
    action: str = "",
) -> list[SyncLog]:
    """Queue one run per entity (the config's entities unless given; accounts first), all or
    none: one of them going already is a 409 and queues nothing. A paused or disconnected
    config is a 409 saying so. Each run is audited as it is queued."""
    require_workspace_admin(actor=actor, workspace=config.workspace, doing="sync a CRM")
    config = CrmConfig.objects.select_related("connection", "workspace").get(pk=config.pk)
    if config.status == CrmConfig.Status.PAUSED:
        raise Conflict(
            f"{config} is paused"
            + (f" ({config.status_reason})" if config.status_reason else "")
            + ": resume it first.",
            code="crm_paused",
        )
    if config.status == CrmConfig.Status.DISCONNECTED:
        raise NotConnected(f"{config} is disconnected: connect it first.")
    usable_connection(config)
    wanted = entities or config.entities or list(ENTITY_ORDER)
    outside = [entity for entity in wanted if entity not in config.entities]
    if entities and outside:
        raise _invalid(
            "entityTypes",
            f"{outside[0]} is not synced by this config: add it to its entities first.",
        )
    with transaction.atomic():
        return [
            sync_request(
                config=config,
                entity=entity,
                actor=actor,
                trigger=trigger,
                dry_run=dry_run,
                action=action,
            )
            for entity in ENTITY_ORDER
            if entity in wanted
        ]


# --- Conflicts --------------------------------------------------------------------------------


def _pending(conflict: SyncConflict) -> SyncConflict:
    locked = SyncConflict.objects.select_for_update().select_related("config").get(pk=conflict.pk)
    if locked.status != SyncConflict.Status.PENDING:
        raise Conflict(
            f"This conflict is {locked.get_status_display().lower()} already.",
            code="conflict_settled",
        )
    return locked


def _hub_values(config: CrmConfig, entity: str, crm_values: dict) -> dict[str, tuple]:
    """The hub columns the chosen CRM values map to through the entity's pull mapping:
    column -> (value, the CRM field it comes from)."""
    pull = engine.mapper_for(sync.mapping_set_for(config, entity), direction="pull")
    # Only the steps that read the chosen fields: the others keep the hub's values.
    steps = [step for step in pull.steps if set(step.sources) <= set(crm_values)]
    try:
        mapped = engine.Mapper(steps=steps).map(crm_values)
    except MappingError as exc:
        raise _invalid("mergedData", exc.message) from None
    model = sync.KINDS[entity].model
    found = {}
    for step in steps:
        value = mapped.get(step.target)
        if value is None and not model._meta.get_field(step.target).null:
            value = ""  # text columns hold "" for nothing
        found[step.target] = (value, step.sources[0])
    return found


def _write_hub(record, values: dict[str, tuple]) -> None:
    """Set the columns, each checked as its model field checks it; a value the column cannot
    hold is a 400 naming the CRM field, one that would duplicate a unique value a 409."""
    for name, (value, crm_field) in values.items():
        field = record._meta.get_field(name)
        try:
            setattr(record, field.attname, field.clean(value, record))
        except ValidationError as exc:
            message = f"{crm_field}: {' '.join(exc.messages)}"
            raise _invalid("mergedData", message) from None
    try:
        record.validate_constraints()
    except ValidationError as exc:
        raise Conflict(" ".join(exc.messages), code="duplicate") from None
    record.updated_at = timezone.now()
    record.save(update_fields=[*values, "updated_at"])


@audited
@transaction.atomic
def conflict_resolve(
    *,
    conflict: SyncConflict,
    actor: User | None,
    strategy: str,
    merged_data: dict | None = None,
    trigger: str = SyncLog.Trigger.API,
) -> SyncConflict:
    """Settle a conflict: the hub's values (use_app), the CRM's (use_crm), or per field the
    values given in `merged_data` (CRM field names, among the conflicting ones; the others
    follow the strategy). The chosen values are written into the hub record and the link's
    base for those fields becomes the CRM's values, so the next run sees a change on the hub
    side only and writes it to the CRM (nothing to write for use_crm); that run is queued now
    (when the config is connected and syncs the entity; else the next run does it).
    While a run of the entity is going, resolving waits (409): it would restore the old base."""
    require_workspace_admin(
        actor=actor, workspace=conflict.workspace, doing="resolve CRM conflicts"
    )
    conflict = _pending(conflict)
    config = conflict.config
    merged = dict(merged_data or {})
    fields = list(conflict.conflicting_fields)
    stray = [name for name in merged if name not in fields]
    if stray:
        raise _invalid(
            "mergedData",
            f"mergedData may hold only the conflicting fields ({', '.join(fields)}); "
            f"{stray[0]!r} is not one of them.",
        )
    odd = [name for name, value in merged.items() if not isinstance(value, SCALARS)]
    if odd:
        raise _invalid(
            "mergedData", f"mergedData's {odd[0]} must be a text, a number, true/false or null."
        )
    if selectors.active_run(config=config, entity=conflict.entity) is not None:
        raise Conflict(
            f"A sync of {conflict.entity}s is going: resolve the conflict when it has ended.",
            code="run_in_progress",
        )
    link = (
        CrmLink.objects.select_for_update()
        .filter(config=config, entity=conflict.entity, local_id=conflict.local_id)
        .first()
    )
    model = sync.KINDS[conflict.entity].model
    record = model.objects.filter(workspace=config.workspace, pk=conflict.local_id).first()
    if link is None or record is None:
        raise Conflict(
            "The record is no longer linked on both sides: the next sync sees it afresh; "
            "ignore this conflict.",
            code="conflict_stale",
        )
    side = conflict.app_data if strategy == SyncConflict.Strategy.USE_APP else conflict.crm_data
    chosen = {name: merged[name] if name in merged else side.get(name) for name in fields}
    _write_hub(record, _hub_values(config, conflict.entity, chosen))
    base = dict(link.synced_values or {})
    base.update({name: conflict.crm_data.get(name) for name in fields})
    link.synced_values, link.content_hash = base, digest(base)
    link.save(update_fields=["synced_values", "content_hash"])

    before = snapshot(conflict)
    conflict.status = SyncConflict.Status.RESOLVED
    conflict.strategy = SyncConflict.Strategy.MANUAL if merged else strategy
    conflict.merged_data = chosen if merged else {}
    conflict.resolved_by, conflict.resolved_at = actor, timezone.now()
    conflict.save()
    audit_record(
        action="crm.conflict.resolve",
        actor=actor,
        target=conflict,
        before=before,
        after=snapshot(conflict),
        details={"chosen": chosen},
    )
    runnable = config.status == CrmConfig.Status.CONNECTED and config.connection_id is not None
    if runnable and conflict.entity in config.entities:
        sync_request(config=config, entity=conflict.entity, actor=actor, trigger=trigger)
    return conflict


@audited
@transaction.atomic
def conflict_resolve_always(
    *,
    conflict: SyncConflict,
    actor: User | None,
    crm_field: str,
    policy: str,
    strategy: str,
    merged_data: dict | None = None,
    trigger: str = SyncLog.Trigger.API,
) -> SyncConflict:
    """Always use app / CRM from a conflict: the field's rule is set (config_field_policy_set)
    and the conflict resolved (conflict_resolve) with that field's value from that side and
    the other fields as chosen (`strategy`, `merged_data`), all or nothing."""
    if crm_field not in conflict.conflicting_fields:
        raise _invalid("field", f"{crm_field} is not one of this conflict's fields.")
    config_field_policy_set(
        config=conflict.config,
        entity=conflict.entity,
        crm_field=crm_field,
        policy=policy,
        actor=actor,
    )
    app = policy == CrmConfig.Resolution.APP_WINS
    value = (conflict.app_data if app else conflict.crm_data).get(crm_field)
    merged = dict(merged_data or {})
    follows = SyncConflict.Strategy.USE_APP if app else SyncConflict.Strategy.USE_CRM
    if merged or strategy != follows:
        merged[crm_field] = value
    return conflict_resolve(
        conflict=conflict,
        actor=actor,
        strategy=strategy,
        merged_data=merged,
        trigger=trigger,
    )


@audited
@transaction.atomic
def conflict_ignore(*, conflict: SyncConflict, actor: User | None) -> SyncConflict:
    """Dismiss a conflict and write nothing: both sides keep their values and the base stays,
    so while the field still differs the next run holds it again as a new conflict."""
    require_workspace_admin(
        actor=actor, workspace=conflict.workspace, doing="resolve CRM conflicts"
    )
    conflict = _pending(conflict)
    before = snapshot(conflict)
    conflict.status = SyncConflict.Status.IGNORED
    conflict.resolved_by, conflict.resolved_at = actor, timezone.now()
    conflict.save()
    audit_record(
        action="crm.conflict.ignore",
        actor=actor,
        target=conflict,
        before=before,
        after=snapshot(conflict),
    )
    return conflict
