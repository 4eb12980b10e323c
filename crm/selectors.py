"""Reads of CRM sync, always narrowed with integrations.accounts.selectors.scope_to_user."""

import difflib
import re
from dataclasses import dataclass

from django.core.cache import cache
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from crm import remote, sync
from crm.models import CrmChange, CrmConfig, CrmLink, Entity, SyncConflict, SyncLog
from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import User, Workspace
from integrations.connections import http
from integrations.connections import selectors as connection_selectors
from integrations.connections.models import Connection
from integrations.connections.services import client
from integrations.errors import ApplicationError, NotFound
from integrations.mapping import engine
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


# The changes a run page lists (the API and the page); the rest stay for the undo.
CHANGES_SHOWN = 200


def log_changes(*, log: SyncLog, limit: int = CHANGES_SHOWN) -> list[dict]:
    """The records a run changed, first ones first: side, operation, ids, and field by field
    the value before and after."""
    return [
        {
            "side": change.side,
            "operation": change.operation,
            "local_id": change.local_id,
            "remote_id": change.remote_id,
            "fields": [
                {"field": name, "before": change.before.get(name), "after": change.after.get(name)}
                for name in dict.fromkeys([*change.after, *change.before])
            ],
        }
        for change in CrmChange.objects.filter(run=log).order_by("pk")[:limit]
    ]


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


# --- The field-mapping page: hub fields, samples, auto-map proposals, preview -------------------

# Hub columns a mapping may not name: the row's identity and the sync's own bookkeeping.
NOT_MAPPABLE = {"id", "workspace", "created_at", "updated_at"}
SAMPLE_SIZE = 3  # CRM records a preview shows: enough to see a pattern, one small query


def _kind_of(field) -> str:
    """A hub column's kind in the words auto-map compares (DateTimeField before DateField:
    it is one)."""
    kinds = (
        (models.EmailField, "email"),
        (models.URLField, "url"),
        (models.BooleanField, "bool"),
        (models.DateTimeField, "datetime"),
        (models.DateField, "date"),
        (models.IntegerField | models.FloatField | models.DecimalField, "number"),
    )
    for types, kind in kinds:
        if isinstance(field, types):
            return kind
    return "text"


def hub_fields(entity: str) -> list[dict]:
    """The hub columns of an entity a mapping may name (plain values, not relations), with
    their label, kind, and whether a record needs one (not blank, no default)."""
    model = sync.KINDS[entity].model
    return [
        {
            "name": field.name,
            "label": str(field.verbose_name),
            "kind": _kind_of(field),
            "required": not field.blank and not field.has_default(),
        }
        for field in model._meta.concrete_fields
        if not field.is_relation and field.name not in NOT_MAPPABLE
    ]


# A CRM field's type (Salesforce describe; HubSpot property types) in auto-map's kinds; an id or
# a reference is the sync's own business (links), never proposed.
CRM_KINDS = {
    "id": "id",
    "reference": "id",
    "email": "email",
    "url": "url",
    "phone": "phone",
    "phone_number": "phone",
    "boolean": "bool",
    "bool": "bool",
    "int": "number",
    "double": "number",
    "currency": "number",
    "percent": "number",
    "long": "number",
    "number": "number",
    "date": "date",
    "datetime": "datetime",
}
# HubSpot's fieldType says more than its type for these (a phone number is a string property).
CRM_FIELD_TYPES = {"phonenumber": "phone", "booleancheckbox": "bool"}
# How well a CRM kind fits a hub kind (1 the same; lower: the value converts, as text, or a day
# out of a moment); a pair missing here is not proposed.
FITS = {
    ("email", "text"): 0.9,
    ("url", "text"): 0.9,
    ("phone", "text"): 0.9,
    ("text", "email"): 0.8,
    ("text", "url"): 0.8,
    ("number", "text"): 0.6,
    ("bool", "text"): 0.6,
    ("date", "text"): 0.6,
    ("datetime", "text"): 0.6,
    ("datetime", "date"): 0.8,
    ("date", "datetime"): 0.8,
}
# Words that name the same thing, folded to one before names are compared.
SYNONYMS = {
    "zip": "postal",
    "postcode": "postal",
    "tel": "phone",
    "telephone": "phone",
    "url": "website",
    "web": "website",
    "mail": "email",
    "e": "",
    "jobtitle": "title",
    "firstname": "first name",
    "lastname": "last name",
}
PROPOSE_FROM = 0.5  # a pair below this confidence is not worth a person's look
CHECKED_FROM = 0.8  # a pair from this confidence on is offered already ticked


@dataclass(frozen=True)
class Proposal:
    """A CRM field and a hub field auto-map pairs, with its confidence (0..1) and the
    direction it would sync (pull when the CRM field cannot be written)."""

    crm_field: str
    crm_label: str
    app_field: str
    confidence: float
    direction: str

    @property
    def percent(self) -> int:
        return round(100 * self.confidence)

    @property
    def checked(self) -> bool:
        return self.confidence >= CHECKED_FROM


def name_words(name: str) -> list[str]:
    """A field name or label as lower-case words: camelCase, snake_case, spaces and the
    Salesforce custom suffix / HubSpot prefix taken apart, synonyms folded."""
    name = re.sub(r"__c$", "", name)
    name = re.sub(r"^hs_", "", name)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    words = []
    for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()):
        folded = SYNONYMS.get(word, word)
        words.extend(folded.split())
    # "Zip/Postal Code" folds to postal twice: a word said twice is said once.
    return list(dict.fromkeys(word for word in words if word))


def name_similarity(left: str, right: str) -> float:
    """0..1: 1 for the same words; otherwise the better of the shared words (Dice) and the
    spelled-out likeness of the two (difflib)."""
    a, b = name_words(left), name_words(right)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    shared = len(set(a) & set(b))
    dice = 2 * shared / (len(set(a)) + len(set(b)))
    spelled = difflib.SequenceMatcher(None, " ".join(a), " ".join(b)).ratio()
    return max(dice, spelled) * 0.95  # never as sure as the same words


def type_fit(crm_kind: str, app_kind: str) -> float | None:
    if crm_kind == "id":
        return None
    if crm_kind == app_kind:
        return 1.0
    return FITS.get((crm_kind, app_kind))


def automap(
    crm_fields: list[dict],
    app_fields: list[dict],
    *,
    mapped_crm: set[str] = frozenset(),
    mapped_app: set[str] = frozenset(),
) -> list[Proposal]:
    """Pairs of an unmapped CRM field (describe entries: name, label, type, createable,
    updateable) and an unmapped hub field (hub_fields entries), best first. A pair's confidence
    is its names' likeness (the CRM name or label, whichever is closer) times how well the
    types fit; each field is in one pair at most (the most confident one), and pairs under
    PROPOSE_FROM are left out."""
    candidates = []
    for crm in crm_fields:
        if crm["name"] in mapped_crm:
            continue
        crm_kind = CRM_FIELD_TYPES.get(str(crm.get("field_type", "")).lower()) or CRM_KINDS.get(
            str(crm.get("type", "")).lower(), "text"
        )
        for app in app_fields:
            if app["name"] in mapped_app:
                continue
            fit = type_fit(crm_kind, app["kind"])
            if fit is None:
                continue
            likeness = max(
                name_similarity(crm["name"], app["name"]),
                name_similarity(crm.get("label") or crm["name"], app["name"]),
                name_similarity(crm.get("label") or crm["name"], app.get("label") or app["name"]),
            )
            confidence = round(likeness * fit, 3)
            if confidence >= PROPOSE_FROM:
                candidates.append((confidence, crm, app))
    # Most confident first; ties in the CRM's own field order.
    order = {crm["name"]: index for index, crm in enumerate(crm_fields)}
    candidates.sort(key=lambda c: (-c[0], order[c[1]["name"]], c[2]["name"]))
    taken_crm, taken_app, proposals = set(), set(), []
    for confidence, crm, app in candidates:
        if crm["name"] in taken_crm or app["name"] in taken_app:
            continue
        taken_crm.add(crm["name"])
        taken_app.add(app["name"])
        writable = crm.get("createable") or crm.get("updateable")
        proposals.append(
            Proposal(
                crm_field=crm["name"],
                crm_label=crm.get("label") or crm["name"],
                app_field=app["name"],
                confidence=confidence,
                direction=FieldMapping.Direction.BOTH if writable else FieldMapping.Direction.PULL,
            )
        )
    return proposals


def mapping_proposals(*, config: CrmConfig, entity: str) -> list[Proposal]:
    """Auto-map for one entity of a config: its CRM's fields (describe) against the hub's,
    leaving out the fields mapped already on either side."""
    mapping_set = sync.mapping_set_for(config, entity)
    rows = list(mapping_set.fields.all())
    return automap(
        crm_fields(connection=config.connection, entity=entity),
        hub_fields(entity),
        mapped_crm={row.target_field for row in rows},
        mapped_app={name for row in rows for name in row.source_fields},
    )


def mapping_preview(*, config: CrmConfig, entity: str, n: int = SAMPLE_SIZE) -> dict:
    """The entity's mapping set applied to a few recent CRM records, read backwards (CRM →
    hub): per record the CRM's values and each hub field's value or error. Also what a run
    would miss: hub fields a record needs that no pulled field fills, and CRM fields a create
    needs (describe) that no pushed field fills."""
    mapping_set = sync.mapping_set_for(config, entity)
    rows = list(mapping_set.fields.all())
    both = FieldMapping.Direction.BOTH
    pulled = [r for r in rows if r.direction in (FieldMapping.Direction.PULL, both)]
    pushed = {r.target_field for r in rows if r.direction in (FieldMapping.Direction.PUSH, both)}
    described = crm_fields(connection=config.connection, entity=entity)
    known = {field["name"] for field in described}
    fields = [r.target_field for r in pulled if r.target_field in known]
    hub = hub_fields(entity)
    required = [field["name"] for field in hub if field["required"]]
    filled = {name for r in pulled if len(r.source_fields) == 1 for name in r.source_fields}
    samples = []
    for record in crm_sample(connection=config.connection, entity=entity, fields=fields, n=n):
        found = engine.preview(mapping_set, record, direction="pull", required=required)
        samples.append(
            {
                "id": record.get("id", ""),
                "crm": {name: record.get(name) for name in fields},
                "app": found["output"],
                "errors": found["errors"],
                "empty_required": [name for name in found["missing_required"] if name in filled],
            }
        )
    return {
        "fields": hub,
        "samples": samples,
        "sources": {
            name: r.target_field
            for r in pulled
            if len(r.source_fields) == 1
            for name in r.source_fields
        },
        "unmapped_hub": [name for name in required if name not in filled],
        "unmapped_crm": [
            field["name"]
            for field in described
            if field["required"] and field["name"] not in pushed
        ],
    }
