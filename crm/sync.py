"""CRM sync: one run of one config's entity — read what changed on both sides since their
cursors, plan with the engine's planner, write in batches, keep each link's base. (Issue 15:
Salesforce; issue 16: HubSpot on the same run.) Everything said to the CRM goes through the
config's remote (crm/remote.py: `SalesforceRemote`, `HubSpotRemote`); nothing here knows a
provider's API.

Both sides are compared in the CRM's field names: a hub record goes through the entity's
mapping set (push), a CRM record is cut to the mapped fields; a contact's account is the
remote's `account_field` (Salesforce `AccountId`, HubSpot `associatedcompanyid`), through the
account links. A field whose mapping does not read edits back (direction push) has its CRM
value replaced by the base before planning, so a CRM edit to it is no change; a pull-only field
the same way on the hub side. The planner then applies one-side changes, settles both-side ones
by the config's strategy or holds them (a `SyncConflict` with both sides and the base), and
links records new on both sides by their natural key (the remote's: a contact's email, an
account's name — or a HubSpot company's domain) instead of making them twice.

Reads. The first run (no cursor) reads everything. Later runs read the CRM from its cursor less
the remote's lookback (Salesforce: SystemModstamp through queryAll, so the records deleted
since come in the same pages; HubSpot: search on the last-modified property, and the archived
list) and the hub by `updated_at` after its cursor. A record whose values equal its link's base
is no change: that is how our own writes, read back, vanish. Only a record that changed on one
side needs the other: the hub's by id from the database, the CRM's by id — or, when that would
cost more calls than reading the object whole, one full read. The cursors move only once a
run's writes are done; records that failed, and contacts whose account was not linked yet, are
read again by id next run (`retry_*` beside the cursor; a webhook's ids join `retry_crm`).

Deletes are seen only for certain: a CRM record deleted there (Salesforce's recycle bin,
HubSpot's archived list), one missing from a complete unfiltered read (HubSpot: and not found by
id either, its search lagging writes), or a hub record that a link names and the database no
longer has. A read that fails on any page fails the run before anything is planned. They are
propagated only with `propagate_deletes`, and wait in the review queue when the mapping set (or
connection) requires approval (integrations.sync.gate; `apply_change` writes an approved one).

Writes go in batches of the remote's size (200 for Salesforce's Collections, 100 for HubSpot's
batch API); after each batch the bases of the records it finished are saved and the config is
checked: a paused config stops the run there, keeping what was done. A create is preceded by a
committed `CrmWrite` intent: a worker killed between the CRM's answer and our record of it
leaves the intent, and the next run adopts the record the CRM made (same payload, no link)
instead of making it again.
"""

import logging
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from crm import remote as remotes
from crm.models import (
    Account,
    Contact,
    CrmChange,
    CrmConfig,
    CrmEntityMapping,
    CrmLink,
    CrmWrite,
    HubSpotWebhookEvent,
    SyncConflict,
    SyncLog,
)
from integrations import approvals
from integrations.accounts.audit import audit_record
from integrations.approvals.models import OutboundChange
from integrations.connections import http
from integrations.connections.services import client
from integrations.errors import ApplicationError
from integrations.mapping import engine, examples
from integrations.mapping.transforms import MappingError
from integrations.runs import RunRecorder, SyncRun, claim
from integrations.sync import gate, planner
from integrations.sync.models import Held, digest, insert_many, reconcile, update_many

logger = logging.getLogger(__name__)

MAPPINGS = Path(__file__).resolve().parent / "mapping"
# Salesforce counts its daily quota over a rolling 24 hours; no header says when it recovers
# (HubSpot's daily one resets at midnight in the account's time zone, which we do not know).
QUOTA_PAUSE_HOURS = 1
# The 429 codes that mean a day's quota is spent: Salesforce's, HubSpot's policy name.
QUOTA_SPENT = ("REQUEST_LIMIT_EXCEEDED", "DAILY")
# Records a write batch holds at most: the provider's own size (remote.batch_size) caps it.
BATCH = 200
DB_CHUNK = 2_000  # ids per `pk__in` query
RECONCILE_SKEW = timedelta(minutes=5)  # clock slack when looking for what an intent made
OWNER = "crm"  # the approval gate's name for this sync: its changes come back to apply_change
USER_PLACEHOLDER = remotes.USER_PLACEHOLDER

POLICY = {
    CrmConfig.Resolution.LAST_WRITE_WINS: planner.Policy.LAST_WRITE_WINS,
    CrmConfig.Resolution.CRM_WINS: planner.Policy.REMOTE_WINS,
    CrmConfig.Resolution.APP_WINS: planner.Policy.LOCAL_WINS,
    CrmConfig.Resolution.MANUAL_REVIEW: planner.Policy.MANUAL,
}
# What "Always use app / Always use CRM" may set for one field (CrmConfig.field_policies).
FIELD_POLICIES = (CrmConfig.Resolution.APP_WINS, CrmConfig.Resolution.CRM_WINS)
DIRECTION = {
    CrmConfig.Direction.PUSH: planner.Direction.PUSH,
    CrmConfig.Direction.PULL: planner.Direction.PULL,
    CrmConfig.Direction.BIDIRECTIONAL: planner.Direction.BOTH,
}


@dataclass(frozen=True)
class Kind:
    model: type


# The CRM's object, its natural keys, the contact's account field (Salesforce AccountId,
# HubSpot associatedcompanyid) and the owner field are the remote's (crm/remote.py).
KINDS = {"account": Kind(Account), "contact": Kind(Contact)}


class Paused(Exception):
    """The config was paused while the run went: it stops after the batch it was in."""

    def __init__(self, counts: dict):
        super().__init__("paused")
        self.counts = counts


def mapping_set_for(config: CrmConfig, entity: str):
    """The entity's mapping set: the shipped one, made in the workspace on first use."""
    found = CrmEntityMapping.objects.filter(config=config, entity=entity).first()
    if found is not None:
        return found.mapping_set
    path = MAPPINGS / f"{config.provider}-{entity}.json"
    mapping_set = examples.load(workspace=config.workspace, path=path)
    CrmEntityMapping.objects.get_or_create(
        config=config,
        entity=entity,
        defaults={"workspace": config.workspace, "mapping_set": mapping_set},
    )
    return mapping_set


# --- filters -------------------------------------------------------------------------------------

OPERATORS = ("equals", "not_equals", "contains", "greater", "less", "in", "empty")


def filter_fields(config: CrmConfig, entity: str) -> list[str]:
    """The CRM fields a rule of `entity` may test: the mapped ones (both sides know them),
    a contact's account (AccountId / associatedcompanyid), and the owner (OwnerId /
    hubspot_owner_id)."""
    crm = remotes.remote_class(config.provider)
    rows = engine.field_rows(mapping_set_for(config, entity))
    names = [r["target"] for r in rows if r["direction"] != "none"]
    if entity == "contact":
        names.append(crm.account_field)
    return list(dict.fromkeys([*names, crm.owner_field]))


def check_filters(config: CrmConfig, rules) -> list[str]:
    """What is wrong with filter rules ({entity: [{field, operator, value}]}), one message each;
    empty when they can be saved."""
    if not isinstance(rules, dict):
        return ["Filters must be an object of entity → list of rules."]
    problems = []
    for entity, entity_rules in rules.items():
        if entity not in KINDS:
            problems.append(f"Unknown entity {entity!r}: use one of {', '.join(KINDS)}.")
            continue
        if not isinstance(entity_rules, list):
            problems.append(f"{entity}: the rules must be a list.")
            continue
        allowed = filter_fields(config, entity)
        for number, rule in enumerate(entity_rules, start=1):
            where = f"{entity} rule {number}"
            if not isinstance(rule, dict):
                problems.append(f"{where}: a rule is an object {{field, operator, value}}.")
                continue
            name, operator, value = rule.get("field"), rule.get("operator"), rule.get("value")
            if name not in allowed:
                problems.append(
                    f"{where}: unknown field {name!r}; filterable: {', '.join(allowed)}."
                )
            if operator not in OPERATORS:
                problems.append(
                    f"{where}: unknown operator {operator!r}; use one of {', '.join(OPERATORS)}."
                )
            elif operator == "in":
                if not isinstance(value, list) or not value:
                    problems.append(f"{where}: 'in' takes a non-empty list of values.")
                elif not all(isinstance(v, str | int | float) for v in value):
                    problems.append(f"{where}: 'in' takes text or numbers.")
            elif operator == "empty":
                if value is not None and not isinstance(value, bool):
                    problems.append(f"{where}: 'empty' takes true (is empty) or false.")
            elif isinstance(value, bool) or not isinstance(value, str | int | float):
                problems.append(f"{where}: {operator!r} takes a text or a number.")
            elif operator == "contains" and not str(value):
                problems.append(f"{where}: 'contains' needs some text.")
    return problems


def policy_fields(config: CrmConfig, entity: str) -> list[str]:
    """The CRM fields of `entity` an "always" rule may name: those the sync compares (the
    mapped ones, and a contact's AccountId)."""
    rows = engine.field_rows(mapping_set_for(config, entity))
    names = [r["target"] for r in rows if r["direction"] != "none"]
    if entity == "contact":
        names.append(remotes.remote_class(config.provider).account_field)
    return list(dict.fromkeys(names))


def check_field_policies(config: CrmConfig, policies) -> list[str]:
    """What is wrong with "always" rules ({entity: {CRM field: app_wins | crm_wins}}), one
    message each naming the entity and field; empty when they can be saved."""
    if not isinstance(policies, dict):
        return ["Field policies must be an object of entity → {CRM field: policy}."]
    allowed_values = ", ".join(FIELD_POLICIES)
    problems = []
    for entity, rules in policies.items():
        if entity not in KINDS:
            problems.append(f"Unknown entity {entity!r}: use one of {', '.join(KINDS)}.")
            continue
        if not isinstance(rules, dict):
            problems.append(f"{entity}: the rules must be an object of CRM field → policy.")
            continue
        known = policy_fields(config, entity)
        for name, value in rules.items():
            if name not in known:
                problems.append(
                    f"{entity}.{name}: not a synced field of the {entity}s; one of: "
                    f"{', '.join(known)}."
                )
            if value not in FIELD_POLICIES:
                problems.append(
                    f"{entity}.{name}: {value!r} is not a policy; use {allowed_values}."
                )
    return problems


_resolved = remotes.resolved
soql_where = remotes.soql_where  # Salesforce's query filter (crm/remote.py)


def _fold(value):
    return value.casefold() if isinstance(value, str) else value


def _ordered(a, b):
    """a and b made comparable: numbers as numbers when both read as one, else text."""
    try:
        return float(a), float(b)
    except (TypeError, ValueError):
        return str(a).casefold(), str(b).casefold()


def passes(rules: list[dict], values: dict, user_id: str) -> bool:
    """Whether a record (CRM field names) passes every rule, compared as SOQL compares: text
    without case, null never greater, less or equal to a value."""
    return all(_passes(rule, values.get(rule["field"]), user_id) for rule in rules)


def _passes(rule: dict, value, user_id: str) -> bool:
    wanted = _resolved(rule.get("value"), user_id)
    operator = rule["operator"]
    if operator == "empty":
        return (value in (None, "")) == (wanted is not False)
    if value is None:
        return operator == "not_equals"
    if operator in ("greater", "less"):
        left, right = _ordered(value, wanted)
        return left > right if operator == "greater" else left < right
    tests = {
        "equals": lambda: _fold(value) == _fold(wanted),
        "not_equals": lambda: _fold(value) != _fold(wanted),
        "contains": lambda: str(wanted).casefold() in str(value).casefold(),
        "in": lambda: _fold(value) in {_fold(v) for v in wanted},
    }
    return tests[operator]()


# --- one entity's run ----------------------------------------------------------------------------


@dataclass
class Reads:
    """What a run read and planned, for apply and the cursors."""

    result: planner.Plan
    local: dict
    remote: dict
    crm_cursor: str | None
    hub_cursor: str
    full: bool
    targeted: bool = False  # a webhook's run: the announced records only, cursors kept


class EntitySync:
    """One config's entity in one run, through the connection's one client."""

    def __init__(
        self,
        config: CrmConfig,
        entity: str,
        through,
        *,
        progress=None,
        targeted: bool = False,
        run_id: int | None = None,
    ):
        self.config, self.entity, self.through = config, entity, through
        # The run log the changes are kept under (CrmChange), so the run can be undone.
        self.run_id = run_id
        self.changes: list[tuple] = []  # rows of CrmChange, written with their batch
        self.kind = KINDS[entity]
        self.remote = remotes.remote_for(config, through)
        self.account_field = self.remote.account_field
        self.mapping_set = mapping_set_for(config, entity)
        rows = engine.field_rows(self.mapping_set)
        self.push = engine.mapper_for(self.mapping_set, direction="push")
        self.pull = engine.mapper_for(self.mapping_set, direction="pull")
        extra = [self.account_field] if entity == "contact" else []
        self.pushed = [r["target"] for r in rows if r["direction"] in ("both", "push")] + extra
        self.pulled = [r["target"] for r in rows if r["direction"] in ("both", "pull")] + extra
        self.fields = list(dict.fromkeys([*self.pushed, *self.pulled]))
        self.rules = (config.filters or {}).get(entity) or []
        self.user_id = config.connection.external_user_id if config.connection else ""
        self.where = self.remote.where(self.rules, self.user_id)
        # A CRM that filters after the read must read the fields its rules test too.
        tested = [] if self.remote.filters_in_query() else [r["field"] for r in self.rules]
        self.read_fields = list(dict.fromkeys([*self.fields, *tested]))
        self.errors: list[tuple[str, str]] = []
        self.retry_hub: set[int] = set()
        self.retry_crm: set[str] = set()
        self.progress = progress or (lambda **kwargs: None)
        self.links: dict[int, CrmLink] = {}
        self.by_remote: dict[str, CrmLink] = {}
        self.account_remote: dict[int, str] = {}  # a contact's account: hub id → CRM id
        self.account_local: dict[str, int] = {}
        self.hub_read_at = timezone.now()
        self.announced_upto = 0  # the last webhook notification this run read (crm.webhooks)
        # A webhook's run reads the records HubSpot announced, by id, and their hub halves:
        # no listing since the cursor, which would read again everything changed within the
        # lookback (after a bulk change, thousands of records for each notification). The
        # cursors stay for the next scheduled run, which reads the rest.
        self.targeted = targeted

    def usage(self) -> dict:
        return self.remote.usage()

    # --- reading ---------------------------------------------------------------------------------

    def _load_links(self) -> None:
        self.links = {
            link.local_id: link
            for link in CrmLink.objects.filter(config=self.config, entity=self.entity)
        }
        self.by_remote = {link.remote_id: link for link in self.links.values()}
        if self.entity == "contact":
            pairs = CrmLink.objects.filter(config=self.config, entity="account").values_list(
                "local_id", "remote_id"
            )
            self.account_remote = dict(pairs)
            self.account_local = {remote: local for local, remote in pairs}

    def _snapshots_local(self, records) -> dict:
        found = {}
        for record in records:
            source = {f.name: getattr(record, f.attname) for f in record._meta.concrete_fields}
            try:
                values = self._cut(self.push.map(source))
            except MappingError as exc:
                self.errors.append((f"{self.entity} {record.pk}", exc.message))
                continue
            if self.entity == "contact":
                values[self.account_field] = self._account_of(record)
            found[record.pk] = planner.Snapshot(
                id=record.pk, values=values, modified_at=record.updated_at
            )
        return found

    def _account_of(self, contact) -> str | None:
        if contact.account_id is None:
            return None
        remote = self.account_remote.get(contact.account_id)
        if remote is None:
            # Its account is not linked yet: unknown here (the base's value stands) until an
            # account run links it; the contact is read again next run.
            self.retry_hub.add(contact.pk)
            link = self.links.get(contact.pk)
            return (link.synced_values or {}).get(self.account_field) if link else None
        return remote

    def _local_by_ids(self, ids) -> dict:
        ids = sorted(set(ids))
        found = {}
        model = self.kind.model
        for start in range(0, len(ids), DB_CHUNK):
            chunk = ids[start : start + DB_CHUNK]
            found.update(
                self._snapshots_local(
                    model.objects.filter(workspace=self.config.workspace, pk__in=chunk)
                )
            )
        return found

    def _existing_local(self, ids) -> set:
        ids = sorted(set(ids))
        existing = set()
        model = self.kind.model
        for start in range(0, len(ids), DB_CHUNK):
            existing.update(
                model.objects.filter(
                    workspace=self.config.workspace, pk__in=ids[start : start + DB_CHUNK]
                ).values_list("pk", flat=True)
            )
        return existing

    def _snapshot_remote(self, row: remotes.Row) -> planner.Snapshot:
        return planner.Snapshot(
            id=row.id, values=self._cut(row.values), modified_at=row.modified_at
        )

    def _cut(self, values: dict) -> dict:
        return {name: _plain(values.get(name)) for name in self.fields}

    def _neutral(self, snapshot, link, side: str) -> None:
        """A field that does not flow from `side` keeps its base there: no change."""
        if link is None:
            return
        flows = self.pushed if side == planner.LOCAL else self.pulled
        base = link.synced_values or {}
        for name in self.fields:
            if name not in flows and name in base:
                snapshot.values[name] = base[name]

    def _changed(self, snapshot, link) -> bool:
        return link is None or snapshot.values != (link.synced_values or None)

    # --- planning --------------------------------------------------------------------------------

    def plan(self) -> Reads:
        """Read both sides (everything on a first run, what changed since the cursors after)
        and plan; nothing is written."""
        state = (self.config.cursors or {}).get(self.entity) or {}
        crm_since, hub_since = _instant(state.get("crm")), _instant(state.get("hub"))
        first = crm_since is None or hub_since is None
        self._load_links()
        hub_cursor = self.hub_read_at = timezone.now()
        model = self.kind.model

        # The hub: changed since its cursor (everything on a first run), and the retries.
        records = model.objects.filter(workspace=self.config.workspace)
        announced, self.announced_upto = _announced(self.config, self.entity)
        targeted = self.targeted and not first
        if targeted:
            records = records.filter(
                pk__in=sorted(
                    self.by_remote[rid].local_id for rid in announced if rid in self.by_remote
                )
            )
        elif not first:
            again = set(state.get("retry_hub") or [])
            if self.entity == "contact":
                again |= self._pending_accounts()
            records = records.filter(Q(updated_at__gt=hub_since) | Q(pk__in=sorted(again)))
        local = {}
        for pk, snapshot in self._snapshots_local(records.order_by("pk")).items():
            link = self.links.get(pk)
            self._neutral(snapshot, link, planner.LOCAL)
            if not self._changed(snapshot, link):
                continue  # an echo, or touched without a change
            if self.rules and not passes(
                self.rules,
                {**snapshot.values, self.remote.owner_field: self.user_id},
                self.user_id,
            ):
                continue  # out of the filter: its change is not read
            local[pk] = snapshot
        scope = (
            {self.by_remote[rid].local_id for rid in announced if rid in self.by_remote}
            if targeted
            else set(self.links)
        )
        local_gone = scope - self._existing_local(scope)

        # The CRM: changed since its cursor (less the lookback) with the deleted ones, or all.
        # The CRM half of a record changed only in the hub is not fetched: missing from an
        # incremental read means unchanged since the base, which the planner then uses (a
        # record deleted and purged meanwhile answers the update as gone, and is read by id
        # next run).
        crm = self.remote
        retry_crm = set(state.get("retry_crm") or [])
        # What HubSpot's webhooks announced: read by id too (crm.webhooks).
        retry_crm |= announced
        by_ids = crm.by_id_calls(len(retry_crm))
        whole = crm.full_read_calls(len(self.links))
        full = first or (not targeted and whole < 1 + by_ids)  # one read of all: fewer calls
        listing = (
            remotes.Listing(rows=[])
            if targeted
            else crm.read(
                self.entity,
                self.read_fields,
                since=None if full else crm_since - crm.lookback,
                where=self.where,
            )
        )
        stamps = [row.stamp for row in listing.rows if row.stamp and not row.deleted]
        crm_cursor = max(stamps, key=_instant) if stamps else state.get("crm")
        if targeted:
            hub_cursor = hub_since
        remote, deleted = {}, set()
        for row in listing.rows:
            if row.deleted:
                deleted.add(row.id)
            elif self._outside(row):
                continue  # out of the filter (read, as the provider filters after the read)
            else:
                remote[row.id] = self._snapshot_remote(row)
        unseen = set()
        if full and not self.where and not self.rules:
            unseen = set(self.by_remote) - set(remote) - deleted
            if listing.complete:
                deleted |= unseen  # a complete listing: a linked record missing from it is gone
        # Announced ones always: the listing may hold a copy older than the notification (a
        # search index lags writes).
        missing = (retry_crm - set(remote) - deleted) | announced
        if listing.confirm:
            missing |= unseen  # missing from a lagging index: read by id to know
        if missing:
            seen = set()
            for row in crm.read_ids(self.entity, self.read_fields, missing):
                seen.add(row.id)
                if row.deleted:
                    deleted.add(row.id)
                elif not self._outside(row):
                    remote[row.id] = self._snapshot_remote(row)
            deleted |= {rid for rid in missing - seen if rid in self.by_remote}
        for rid, snapshot in list(remote.items()):
            link = self.by_remote.get(rid)
            self._neutral(snapshot, link, planner.REMOTE)
            if (
                link is not None
                and link.local_id not in local
                and link.local_id not in local_gone
                and rid not in retry_crm
                and not self._changed(snapshot, link)
            ):
                del remote[rid]  # unchanged (our own write read back): nothing to plan
        remote_gone = deleted & set(self.by_remote)

        # The other side of every linked record that changed on one.
        need_local = {
            self.by_remote[rid].local_id
            for rid in [*remote, *remote_gone]
            if rid in self.by_remote and self.by_remote[rid].local_id not in local
        } - local_gone
        for pk, snapshot in self._local_by_ids(need_local).items():
            self._neutral(snapshot, self.links.get(pk), planner.LOCAL)
            local[pk] = snapshot

        # Records missing from the hub read but linked: their remote half decides.
        gone_links = {
            pk: link
            for pk, link in self.links.items()
            if pk in local_gone or link.remote_id in remote_gone
        }
        changed_links = [
            link
            for pk, link in self.links.items()
            if pk not in gone_links and (pk in local or link.remote_id in remote)
        ]
        new_local = {pk: s for pk, s in local.items() if pk not in self.links}
        new_remote = {rid: s for rid, s in remote.items() if rid not in self.by_remote}
        common = {
            "fields": self.fields,
            "policy": POLICY[self.config.conflict_resolution],
            "direction": DIRECTION[self.config.sync_direction],
            "natural_keys": self.remote.natural_keys(self.entity),
            "creates": self.config.create_if_missing,
            "field_policies": {
                name: POLICY[value]
                for name, value in (self.config.field_policies or {}).get(self.entity, {}).items()
                if value in FIELD_POLICIES
            },
        }
        main = planner.plan(
            links=[_engine_link(link) for link in changed_links],
            local={
                pk: local[pk]
                for pk in [*(link.local_id for link in changed_links), *new_local]
                if pk in local
            },
            remote={
                rid: remote[rid]
                for rid in [*(link.remote_id for link in changed_links), *new_remote]
                if rid in remote
            },
            local_complete=False,
            remote_complete=False,
            deletes=False,
            **common,
        )
        # A record deleted in the hub whose CRM half the incremental read did not return is
        # unchanged there since its base (not gone: "complete" below would say so, and the
        # link would be dropped with the CRM record left in place).
        ends_remote = {
            link.remote_id: remote.get(link.remote_id)
            or planner.Snapshot(id=link.remote_id, values=dict(link.synced_values or {}))
            for link in gone_links.values()
            if link.remote_id in remote or link.remote_id not in remote_gone
        }
        ends = planner.plan(
            links=[_engine_link(link) for link in gone_links.values()],
            local={pk: local[pk] for pk in gone_links if pk in local},
            remote=ends_remote,
            local_complete=True,
            remote_complete=True,
            deletes=self.config.propagate_deletes,
            **common,
        )
        result = planner.Plan(
            operations=main.operations + ends.operations,
            conflicts=main.conflicts + ends.conflicts,
            links=main.links,
            bases={**main.bases, **ends.bases},
        )
        return Reads(
            result=result,
            local=local,
            remote=remote,
            crm_cursor=crm_cursor,
            hub_cursor=hub_cursor.isoformat(),
            full=full,
            targeted=targeted,
        )

    def _outside(self, row) -> bool:
        """Whether a CRM record fails the entity's rules where the provider cannot filter in
        its query (HubSpot: crm/remote.py says why): compared as the hub's side is."""
        if not self.rules or self.remote.filters_in_query():
            return False
        return not passes(self.rules, row.values, self.user_id)

    def _pending_accounts(self) -> set:
        """Linked contacts whose account was not linked when they were last synced."""
        waiting = [
            pk
            for pk, link in self.links.items()
            if (link.synced_values or {}).get(self.account_field) is None
        ]
        found = set()
        for start in range(0, len(waiting), DB_CHUNK):
            found.update(
                Contact.objects.filter(
                    pk__in=waiting[start : start + DB_CHUNK], account__isnull=False
                ).values_list("pk", flat=True)
            )
        return found

    # --- writing ---------------------------------------------------------------------------------

    def apply(self, reads: Reads) -> dict:
        """Write the plan, batch by batch; raises Paused (with the counts so far) when the
        config is paused between batches."""
        result = reads.result
        self.counts = fresh_counts(result)
        self.counts["deleted"] = 0
        self.bases = dict(result.bases)
        self.failed: set = set()  # (local_id, remote_id) of records a write failed for
        self.pending: dict = {}
        self.finished: list = []  # records whose last write of this batch is done
        for op in result.operations:
            key = (op.local_id, op.remote_id)
            self.pending[key] = self.pending.get(key, 0) + 1
        self.gated = self._gated_deletes(result)
        self.remote_rows = reads.remote
        self.progress(stage="Writing", stage_total=len(result.operations))

        # Links to forget (a record gone on one side) go first: a record made again takes
        # the id's place. A delete held for review keeps its link until it is decided.
        forget = [
            ids
            for ids, base in self.bases.items()
            if base is None and ids not in self.gated and ids[0] is not None
        ]
        for start in range(0, len(forget), DB_CHUNK):
            CrmLink.objects.filter(
                config=self.config,
                entity=self.entity,
                local_id__in=[ids[0] for ids in forget[start : start + DB_CHUNK]],
            ).delete()
        for ids in forget:
            self.links.pop(ids[0], None)
        for local_id, remote_id in result.links:
            link = self._link(local_id, remote_id, {})
            self.links[local_id] = link
            self.pending.setdefault((local_id, remote_id), 0)
        # Records planned without a write (merged, or a conflict settled as they stand).
        self._save_bases([ids for ids, count in self.pending.items() if count == 0])
        self._save_bases([ids for ids in self.bases if ids not in self.pending and None not in ids])
        self._checkpoint()

        ops = result.operations
        groups = [
            ("remote", "create", self._create_remote),
            ("remote", "update", self._update_remote),
            ("remote", "delete", self._delete_remote),
            ("local", "create", self._create_local),
            ("local", "update", self._update_local),
            ("local", "delete", self._delete_local),
        ]
        for side, kind, write in groups:
            chosen = [op for op in ops if op.side == side and op.kind == kind]
            if kind == "delete":
                chosen = [op for op in chosen if (op.local_id, op.remote_id) not in self.gated]
            size = min(BATCH, self.remote.batch_size)
            for start in range(0, len(chosen), size):
                batch = chosen[start : start + size]
                # A hub batch and its bases in one transaction; a CRM batch's call is made
                # outside any (a transaction held over a call would lock SQLite meanwhile).
                with transaction.atomic() if side == "local" else nullcontext():
                    write(batch)
                    with transaction.atomic():
                        self._save_bases(self.finished)
                        self._save_changes()
                self.finished = []
                self.progress(add=len(batch))
                self._checkpoint()
        for conflict in result.conflicts:
            if conflict.winner is None:
                self._hold(conflict)
        self._settle_pending(result.conflicts)
        self.counts["held_deletes"] = len(self.gated)
        return self.counts

    def _checkpoint(self) -> None:
        """Between batches: keep the bases of what is done; stop here if paused."""
        if CrmConfig.objects.filter(pk=self.config.pk, status=CrmConfig.Status.PAUSED).exists():
            raise Paused(self.counts)

    def _done(self, op, ok: bool) -> None:
        key = (op.local_id, op.remote_id)
        if not ok:
            self.failed.add(key)
            if op.side == planner.REMOTE and op.local_id is not None:
                self.retry_hub.add(op.local_id)
            if op.side == planner.LOCAL and op.remote_id is not None:
                self.retry_crm.add(op.remote_id)
            return
        self.pending[key] -= 1
        if self.pending[key] == 0 and None not in key:
            self.finished.append(key)  # its base is saved with the batch's (apply)

    def _save_bases(self, keys) -> None:
        """The merge base of each finished record (one prepared UPDATE for them all)."""
        now = timezone.now()
        changed = []
        for key in keys:
            base = self.bases.get(key)
            link = self.links.get(key[0])
            if base is None or link is None or key in self.failed:
                continue
            link.synced_values, link.content_hash, link.synced_at = base, digest(base), now
            changed.append(link)
        update_many(CrmLink, changed, ["synced_values", "content_hash", "synced_at"])

    def change(
        self,
        side: str,
        operation: str,
        *,
        local_id=None,
        remote_id=None,
        before=None,
        after=None,
        base=None,
    ) -> None:
        """Keep one record's change with its values before and after (saved with its batch)."""
        if self.run_id is None:
            return  # planned outside a run log (nothing could name it to undo it)
        self.changes.append(
            (side, operation, local_id, remote_id or "", before or {}, after or {}, base)
        )

    def _save_changes(self) -> None:
        if self.changes:
            insert_changes(self.config.workspace_id, self.run_id, self.entity, self.changes)
            self.changes = []

    def _link(self, local_id, remote_id, base: dict) -> CrmLink:
        link, _ = CrmLink.objects.update_or_create(
            config=self.config,
            entity=self.entity,
            local_id=local_id,
            defaults={
                "workspace": self.config.workspace,
                "remote_id": remote_id,
                "synced_values": base,
                "content_hash": digest(base),
                "synced_at": timezone.now(),
            },
        )
        return link

    def _fail(self, label, message: str) -> None:
        self.counts["failed"] += 1
        self.errors.append((f"{self.entity} {label}", message))

    def _create_remote(self, ops: list) -> None:
        batch = str(uuid.uuid4())
        records = [{name: after for name, (_, after) in op.changes.items()} for op in ops]
        with transaction.atomic():
            CrmWrite.objects.bulk_create(
                [
                    CrmWrite(
                        workspace=self.config.workspace,
                        config=self.config,
                        entity=self.entity,
                        local_id=op.local_id,
                        operation="create",
                        payload_hash=digest(record),
                        batch=batch,
                        position=index,
                    )
                    for index, (op, record) in enumerate(zip(ops, records, strict=True))
                ]
            )
        results = self.remote.create(self.entity, records)
        with transaction.atomic():
            made = []
            for op, record, outcome in zip(ops, records, results, strict=True):
                if outcome.ok:
                    made.append(
                        CrmLink(
                            workspace=self.config.workspace,
                            config=self.config,
                            entity=self.entity,
                            local_id=op.local_id,
                            remote_id=outcome.id,
                            synced_values=self._cut(record),
                            content_hash=digest(self._cut(record)),
                        )
                    )
                    self.counts["created"] += 1
                    self.change(
                        "crm",
                        "create",
                        local_id=op.local_id,
                        remote_id=outcome.id,
                        after=self._cut(record),
                    )
                else:
                    self._fail(op.local_id, outcome.message)
                    self.retry_hub.add(op.local_id)
            CrmLink.objects.bulk_create(made)
            self._save_changes()
            for link in made:
                self.links[link.local_id] = link
            CrmWrite.objects.filter(batch=batch).delete()

    def _update_remote(self, ops: list) -> None:
        records = [
            {"id": op.remote_id, **{name: after for name, (_, after) in op.changes.items()}}
            for op in ops
        ]
        results = self.remote.update(self.entity, records)
        for op, outcome in zip(ops, results, strict=True):
            if outcome.ok:
                self.counts["updated"] += 1
                self.change(
                    "crm",
                    "update",
                    local_id=op.local_id,
                    remote_id=op.remote_id,
                    before={name: before for name, (before, _) in op.changes.items()},
                    after={name: after for name, (_, after) in op.changes.items()},
                )
            else:
                self._fail(op.local_id, outcome.message)
                if outcome.gone:
                    self.retry_crm.add(op.remote_id)  # next run reads it by id: gone
            self._done(op, outcome.ok)

    def _delete_remote(self, ops: list) -> None:
        results = self.remote.delete(self.entity, [op.remote_id for op in ops])
        gone = []
        for op, outcome in zip(ops, results, strict=True):
            if outcome.ok or outcome.gone:
                gone.append(op)
                self.counts["deleted"] += 1
                self.change(
                    "crm",
                    "delete",
                    local_id=op.local_id,
                    remote_id=op.remote_id,
                    before={name: before for name, (before, _) in op.changes.items()},
                )
            else:
                self._fail(op.local_id, outcome.message)
        self._forget(gone, planner.REMOTE)

    def _forget(self, ops: list, side: str) -> None:
        if not ops:
            return
        with transaction.atomic():
            CrmLink.objects.filter(
                config=self.config, entity=self.entity, local_id__in=[op.local_id for op in ops]
            ).delete()
            audit_record(
                action="crm.sync.delete",
                workspace=self.config.workspace_id,
                target=self.config,
                details={
                    "entity": self.entity,
                    "side": "crm" if side == planner.REMOTE else "hub",
                    "ids": [
                        str(op.remote_id if side == planner.REMOTE else op.local_id) for op in ops
                    ],
                },
            )

    def _hub_values(self, op) -> tuple[dict | None, bool]:
        """The hub fields an operation writes (only those the changed CRM fields map to, all
        of them for a create), and whether a contact's account waits for its link."""
        crm_values = {name: after for name, (_, after) in op.changes.items()}
        try:
            mapped = self.pull.map(crm_values)
        except MappingError as exc:
            self._fail(op.remote_id, exc.message)
            return None, False
        changed = set(crm_values)
        hub_values = {
            step.target: mapped.get(step.target)
            for step in self.pull.steps
            if op.kind == "create" or set(step.sources) <= changed
        }
        model = self.kind.model
        for name, value in list(hub_values.items()):  # text columns hold "" for nothing
            if value is None and not model._meta.get_field(name).null:
                hub_values[name] = ""
        waiting = False
        if self.account_field in crm_values and self.entity == "contact":
            remote_account = crm_values[self.account_field]
            local_account = self.account_local.get(remote_account) if remote_account else None
            if remote_account and local_account is None:
                waiting = True  # its account is not linked yet: left as it is, read again
            else:
                hub_values["account_id"] = local_account
        return hub_values, waiting

    def _wait_for_account(self, op, key) -> None:
        """Keep the old AccountId in the base, so the next run plans it again."""
        base = self.bases.get(key)
        if base is not None:
            link = self.links.get(op.local_id)
            before = (link.synced_values or {}).get(self.account_field) if link else None
            self.bases[key] = {**base, self.account_field: before}
        self.retry_crm.add(op.remote_id)

    def _create_local(self, ops: list) -> None:
        model = self.kind.model
        ready = []
        for op in ops:
            values, waiting = self._hub_values(op)
            if values is None:
                continue
            key = (op.local_id, op.remote_id)
            if waiting:
                self._wait_for_account(op, key)
            ready.append((op, values))
        if not ready:
            return
        # Made with the instant the hub was read as their change time: the next run's hub
        # read (after that cursor) does not take them for hub edits.
        stamp = self.hub_read_at
        try:
            with transaction.atomic():
                records = model.objects.bulk_create(
                    [
                        model(workspace=self.config.workspace, updated_at=stamp, **values)
                        for _, values in ready
                    ]
                )
                self._link_made(list(zip([op for op, _ in ready], records, strict=True)))
        except IntegrityError:
            for op, values in ready:  # one refused (an e-mail the hub has): each on its own
                try:
                    with transaction.atomic():
                        record = model.objects.create(
                            workspace=self.config.workspace, updated_at=stamp, **values
                        )
                        self._link_made([(op, record)])
                except IntegrityError:
                    self._fail(op.remote_id, "The hub refused the record (a duplicate).")
                    self.retry_crm.add(op.remote_id)

    def _link_made(self, pairs: list) -> None:
        links = []
        for op, record in pairs:
            base = self.bases.get((op.local_id, op.remote_id))
            if base is None:
                base = self._cut(self.remote_rows[op.remote_id].values)
            links.append(
                CrmLink(
                    workspace=self.config.workspace,
                    config=self.config,
                    entity=self.entity,
                    local_id=record.pk,
                    remote_id=op.remote_id,
                    synced_values=base,
                    content_hash=digest(base),
                )
            )
        CrmLink.objects.filter(
            config=self.config, entity=self.entity, remote_id__in=[k.remote_id for k in links]
        ).delete()
        CrmLink.objects.bulk_create(links)
        for link in links:
            self.links[link.local_id] = link
        for op, record in pairs:
            self.change(
                "hub", "create", local_id=record.pk, remote_id=op.remote_id, after=hub_state(record)
            )
        self.counts["created"] += len(links)

    def _update_local(self, ops: list) -> None:
        model = self.kind.model
        records = model.objects.in_bulk([op.local_id for op in ops])
        touched, names = [], set()
        done = []
        for op in ops:
            record = records.get(op.local_id)
            if record is None:
                self._fail(op.local_id, "The hub record was deleted meanwhile.")
                self._done(op, False)
                continue
            values, waiting = self._hub_values(op)
            if values is None:
                self._done(op, False)
                continue
            if waiting:
                self._wait_for_account(op, (op.local_id, op.remote_id))
                if not values:
                    continue  # only its account changed, and that waits for the account's link
            self.change(
                "hub",
                "update",
                local_id=op.local_id,
                remote_id=op.remote_id,
                before={name: getattr(record, name) for name in values},
                after=dict(values),
            )
            for name, value in values.items():
                setattr(record, name, value)
            names.update(values)
            touched.append(record)
            done.append(op)
        if touched and names:
            update_many(model, touched, sorted(names))
        for op in done:
            self.counts["updated"] += 1
            self._done(op, True)

    def _delete_local(self, ops: list) -> None:
        model = self.kind.model
        with transaction.atomic():
            records = model.objects.in_bulk([op.local_id for op in ops])
            for op in ops:
                if op.local_id in records:
                    self.change(
                        "hub",
                        "delete",
                        local_id=op.local_id,
                        remote_id=op.remote_id,
                        before=hub_state(records[op.local_id]),
                    )
            model.objects.filter(
                workspace=self.config.workspace, pk__in=[op.local_id for op in ops]
            ).delete()
            self.counts["deleted"] += len(ops)
            self._forget(ops, planner.LOCAL)

    def _gated_deletes(self, result: planner.Plan) -> set:
        """Under the gate (the mapping set or connection requires approval): every delete this
        run would make waits in the review queue instead."""
        deletes = [op for op in result.operations if op.kind == "delete"]
        if not deletes or not approvals.requires_approval(
            connection=self.config.connection, mapping_set=self.mapping_set
        ):
            return set()
        held = gate.hold(
            (
                gate.Outgoing(
                    key=f"{self.config.pk}:{self.entity}:{op.side}:{op.local_id}:{op.remote_id}",
                    operation=OutboundChange.Operation.DELETE,
                    target_entity=(
                        f"{self.remote.label} {self.remote.object_name(self.entity)}"
                        if op.side == planner.REMOTE
                        else f"Hub {self.entity}"
                    ),
                    target_id=str(op.remote_id if op.side == planner.REMOTE else op.local_id),
                    label=_label(op, self.remote),
                    before={name: before for name, (before, _) in op.changes.items()},
                    after={},
                    payload={
                        "config": self.config.pk,
                        "entity": self.entity,
                        "side": op.side,
                        "local_id": op.local_id,
                        "remote_id": op.remote_id,
                    },
                )
                for op in deletes
            ),
            workspace=self.config.workspace,
            owner=OWNER,
            connection=self.config.connection,
            mapping_set=self.mapping_set,
        )
        logger.info("%s %s: %s deletes held for review", self.config, self.entity, len(held))
        return {(op.local_id, op.remote_id) for op in deletes}

    def _hold(self, conflict) -> None:
        fields = sorted(conflict.fields)
        SyncConflict.objects.update_or_create(
            config=self.config,
            entity=self.entity,
            local_id=conflict.local_id,
            status=SyncConflict.Status.PENDING,
            defaults={
                "workspace": self.config.workspace,
                "remote_id": conflict.remote_id or "",
                "app_data": {name: conflict.fields[name][1] for name in fields},
                "crm_data": {name: conflict.fields[name][2] for name in fields},
                "base_data": {name: conflict.fields[name][0] for name in fields},
                "conflicting_fields": fields,
            },
        )

    def _settle_pending(self, conflicts) -> None:
        """A record waiting for a person whose conflict this run settled with nothing left to
        hold (an "always" rule set since, or the strategy changed): its pending conflict is
        resolved the way the run settled it, not left to write its old values later."""
        held = {c.local_id for c in conflicts if c.winner is None}
        settled: dict = {}
        for c in conflicts:
            if c.winner is None or c.deleted or c.local_id is None or c.local_id in held:
                continue
            for name, (_, here, there) in c.fields.items():
                settled.setdefault(c.local_id, {})[name] = (c.winner, here, there)
        ids = list(settled)
        for start in range(0, len(ids), DB_CHUNK):
            for pending in SyncConflict.objects.filter(
                config=self.config,
                entity=self.entity,
                status=SyncConflict.Status.PENDING,
                local_id__in=ids[start : start + DB_CHUNK],
            ):
                fields = settled[pending.local_id]
                sides = {winner for winner, _, _ in fields.values()}
                pending.status = SyncConflict.Status.RESOLVED
                pending.resolved_at = timezone.now()
                if sides == {planner.LOCAL}:
                    pending.strategy = SyncConflict.Strategy.USE_APP
                elif sides == {planner.REMOTE}:
                    pending.strategy = SyncConflict.Strategy.USE_CRM
                else:
                    pending.strategy = SyncConflict.Strategy.MANUAL
                    pending.merged_data = {
                        name: here if winner == planner.LOCAL else there
                        for name, (winner, here, there) in fields.items()
                    }
                pending.save(update_fields=["status", "resolved_at", "strategy", "merged_data"])

    # --- resuming --------------------------------------------------------------------------------

    def reconcile(self) -> int:
        """Intents left by a run killed mid-create: adopt the record Salesforce made for each
        (no link owns it, its values are the payload's), drop the rest (written again).
        Returns how many were adopted."""
        intents = list(
            CrmWrite.objects.filter(config=self.config, entity=self.entity).order_by(
                "created_at", "batch", "position"
            )
        )
        if not intents:
            return 0
        since = min(i.created_at for i in intents) - RECONCILE_SKEW
        rows = [r for r in self.remote.read(self.entity, self.fields, since=since).rows]
        rows = [r for r in rows if not r.deleted]
        linked = set(
            CrmLink.objects.filter(config=self.config, entity=self.entity).values_list(
                "remote_id", flat=True
            )
        )
        held = [
            Held(row.id, "", digest(self._cut(row.values))) for row in rows if row.id not in linked
        ]
        by_id = {row.id: row.values for row in rows}
        outcome = reconcile(intents, held)
        with transaction.atomic():
            for intent, record in outcome.adopt:
                base = self._cut(by_id[record.remote_id])
                if not CrmLink.objects.filter(
                    config=self.config, entity=self.entity, local_id=intent.local_id
                ).exists():
                    self._link(intent.local_id, record.remote_id, base)
            CrmWrite.objects.filter(pk__in=[i.pk for i in intents]).delete()
        return len(outcome.adopt)


CHANGE_COLUMNS = (
    "workspace",
    "run",
    "entity",
    "side",
    "operation",
    "local_id",
    "remote_id",
    "before",
    "after",
    "base",
)


def insert_changes(workspace_id: int, run_id: int, entity: str, rows: list[tuple]) -> None:
    """Write a batch's changes in the caller's transaction with one prepared INSERT (a run may
    change tens of thousands of records: model instances for bulk_create cost the CRM bench a
    third of its wall time)."""
    insert_many(CrmChange, CHANGE_COLUMNS, ((workspace_id, run_id, entity, *row) for row in rows))


# A hub record's own bookkeeping, not its content: an undo neither compares nor restores it.
NOT_CONTENT = ("id", "workspace_id", "created_at", "updated_at")


def hub_state(record) -> dict:
    """A hub record's content, field by field (a foreign key as its id), as a change keeps it."""
    return {
        f.attname: getattr(record, f.attname)
        for f in record._meta.concrete_fields
        if f.attname not in NOT_CONTENT
    }


def _engine_link(link: CrmLink) -> planner.Link:
    return planner.Link(link.local_id, link.remote_id, link.synced_values or {})


def _label(op, crm: remotes.Remote) -> str:
    values = {name: before for name, (before, _) in op.changes.items()}
    return crm.label_of(values) or str(op.remote_id or op.local_id)


def _plain(value):
    """A value as both sides compare it: text trimmed, empty text as None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _instant(text):
    # Salesforce writes +0000; Python 3.11's ISO parser (under parse_datetime) reads it.
    if not text:
        return None
    moment = parse_datetime(text)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def fresh_counts(result: planner.Plan) -> dict:
    """A run's counts before any write: every conflict of its plan was detected."""
    return {"created": 0, "updated": 0, "failed": 0, "conflicts": len(result.conflicts)}


def plan_data(result: planner.Plan) -> list[dict]:
    """A plan as a dry run shows it: each operation with its field-level before → after, and
    each conflict with the base and both sides."""
    operations = [
        {
            "operation": op.kind,
            "side": "crm" if op.side == planner.REMOTE else "hub",
            "local_id": op.local_id,
            "remote_id": op.remote_id,
            "changes": {name: list(change) for name, change in op.changes.items()},
        }
        for op in result.operations
    ]
    conflicts = [
        {
            "operation": "conflict",
            "local_id": c.local_id,
            "remote_id": c.remote_id,
            "fields": {name: list(values) for name, values in c.fields.items()},
            "winner": {planner.LOCAL: "hub", planner.REMOTE: "crm", None: "held"}[c.winner],
        }
        for c in result.conflicts
    ]
    return operations + conflicts


def run_once(
    config: CrmConfig,
    entity: str,
    through,
    *,
    dry_run: bool = False,
    progress=None,
    targeted: bool = False,
    run_id: int | None = None,
) -> dict:
    """Plan and (unless a dry run) apply one entity's sync through the connection's one client
    (a 401 refreshes once and the call goes again); then move the cursors. Returns the counts,
    the errors and the plan; raises Paused when the config was paused between batches."""
    sync = EntitySync(config, entity, through, progress=progress, targeted=targeted, run_id=run_id)
    if not dry_run:
        sync.reconcile()
    reads = sync.plan()
    result = reads.result
    counts = fresh_counts(result)
    counts["deleted"] = 0
    try:
        if not dry_run:
            counts = sync.apply(reads)
            _save_cursors(config, entity, reads, sync)
    finally:
        _save_usage(config, sync)
    counts["held"] = sum(1 for c in result.conflicts if c.winner is None) + counts.get(
        "held_deletes", 0
    )
    counts["processed"] = len(reads.local) + len(reads.remote)
    counts["errors"] = sync.errors
    counts["plan"] = plan_data(result)
    counts["full"] = reads.full
    return counts


def _save_cursors(config: CrmConfig, entity: str, reads: Reads, sync: EntitySync) -> None:
    """The entity's cursors, once its writes are done (another entity's run may save its own
    at the same time: the row is locked for the read-modify-write)."""
    with transaction.atomic():
        locked = CrmConfig.objects.select_for_update().get(pk=config.pk)
        cursors = dict(locked.cursors or {})
        retry_hub = set(sync.retry_hub)
        if reads.targeted:  # it read no hub retries: they wait for the next scheduled run
            retry_hub |= set((cursors.get(entity) or {}).get("retry_hub") or [])
        cursors[entity] = {
            "crm": reads.crm_cursor,
            "hub": reads.hub_cursor,
            "retry_crm": sorted(sync.retry_crm),
            "retry_hub": sorted(retry_hub),
        }
        CrmConfig.objects.filter(pk=config.pk).update(cursors=cursors)
        config.cursors = cursors
        HubSpotWebhookEvent.objects.filter(
            config=config, entity=entity, read_at__isnull=True, pk__lte=sync.announced_upto
        ).update(read_at=timezone.now())


def _announced(config: CrmConfig, entity: str) -> tuple[set[str], int]:
    """The records HubSpot's webhooks announced that no run has read yet, and the last
    notification's id (a run marks those up to it read once its cursors are saved; later ones
    wait for the next run)."""
    rows = list(
        HubSpotWebhookEvent.objects.filter(
            config=config, entity=entity, read_at__isnull=True
        ).values_list("pk", "object_id")
    )
    return {object_id for _, object_id in rows}, max((pk for pk, _ in rows), default=0)


def _save_usage(config: CrmConfig, sync: EntitySync) -> None:
    usage = sync.usage()
    if usage:
        usage = {**usage, "at": timezone.now().isoformat()}
        CrmConfig.objects.filter(pk=config.pk).update(api_usage=usage)
        config.api_usage = usage


def sync_body(config: CrmConfig, run: SyncLog, through, progress) -> dict:
    """A queued sync run's work (`execute`'s body): `run_once` for the run's entity."""
    return run_once(
        config,
        run.entity,
        through,
        dry_run=run.dry_run,
        progress=progress,
        targeted=run.webhook,
        run_id=run.pk,
    )


def execute(run_id: int, *, body=sync_body) -> SyncLog | None:
    """Do one queued run (the task's body): `body(config, run, through, progress)` does its
    work and answers its counts (crm.runner picks an undo's). The daily quota spent pauses the
    config until it can resume instead of retrying; a config paused while the run goes stops it
    after its batch (status partial, "Paused: ..."); any other provider failure fails the run,
    said plainly. A run resumed after its worker died adopts what that worker created."""
    if not claim(SyncLog, run_id):
        return None
    run = SyncLog.objects.select_related("config", "config__connection", "workspace").get(pk=run_id)
    config = run.config
    with RunRecorder(run) as recorder:
        recorder.progress(stage=f"Syncing {run.get_entity_display().lower()}")
        if config.status == CrmConfig.Status.PAUSED:
            return _finish(
                config,
                recorder,
                SyncRun.Status.FAILED,
                f"not started: the sync is paused ({config.status_reason or 'by an admin'}).",
            )
        if config.connection is None:
            return _finish(
                config,
                recorder,
                SyncRun.Status.FAILED,
                f"not started: the config has no {config.get_provider_display()} connection; "
                "connect one.",
            )
        try:
            counts = body(config, run, client(config.connection), recorder.progress)
        except Paused as paused:
            _record(run, recorder, {**paused.counts, "errors": [], "processed": 0, "held": 0})
            return _finish(
                config,
                recorder,
                SyncRun.Status.PARTIAL,
                "Paused: the config was paused while the run went; what was written is kept "
                "and the next run carries on from there.",
            )
        except http.RateLimited as exc:
            if exc.code in QUOTA_SPENT:
                _pause_for_quota(config)
            return _finish(config, recorder, SyncRun.Status.FAILED, f"stopped: {exc.message}")
        except (ApplicationError, http.ProviderError) as exc:
            return _finish(config, recorder, SyncRun.Status.FAILED, f"stopped: {exc.message}")
        except Exception:
            logger.exception("CRM sync run %s failed", run_id)
            return _finish(
                config,
                recorder,
                SyncRun.Status.FAILED,
                "The run stopped on an unexpected error; it is logged with the run id.",
            )
        _record(run, recorder, counts)
        deleted = counts.get("deleted", 0)
        return _finish(config, recorder, None, f"{deleted} deleted" if deleted else "")


def _record(run: SyncLog, recorder: RunRecorder, counts: dict) -> None:
    for name in ("created", "updated", "failed", "conflicts", "held"):
        recorder.count(name, counts.get(name, 0))
    for item, message in counts["errors"]:
        recorder.error(item, message)
    SyncLog.objects.filter(pk=run.pk).update(
        processed=counts["processed"],
        conflicts_resolved=max(0, counts.get("conflicts", 0) - counts.get("held", 0)),
        plan=counts.get("plan", []) if run.dry_run else [],
        refused=counts.get("refused", []),
    )


def _finish(config: CrmConfig, recorder: RunRecorder, status, message: str) -> SyncLog:
    run = recorder.finish(
        status=status, message=message and f"{recorder.run.summary()} — {message}"
    )
    last = {
        SyncRun.Status.SUCCEEDED: CrmConfig.LastStatus.SUCCESS,
        SyncRun.Status.PARTIAL: CrmConfig.LastStatus.PARTIAL,
    }.get(run.status, CrmConfig.LastStatus.FAILED)
    CrmConfig.objects.filter(pk=config.pk).update(
        last_sync_at=timezone.now(),
        last_sync_status=last,
        last_sync_error="" if last == CrmConfig.LastStatus.SUCCESS else run.message[:2000],
    )
    audit_record(
        action="crm.sync.finished",
        target=run,
        workspace=run.workspace_id,
        details={
            "entity": run.entity,
            "dry_run": run.dry_run,
            "status": run.status,
            **{name: getattr(run, name) for name in ("created", "updated", "failed", "conflicts")},
        },
    )
    return run


def _pause_for_quota(config: CrmConfig) -> None:
    """The CRM's daily quota is spent: nothing is retried until it recovers."""
    resume_at = timezone.now() + timedelta(hours=QUOTA_PAUSE_HOURS)
    reason = (
        f"{config.get_provider_display()}'s daily API limit is used up: paused until "
        f"{resume_at:%Y-%m-%d %H:%M} UTC, when the schedule tries again."
    )
    CrmConfig.objects.filter(pk=config.pk).update(
        status=CrmConfig.Status.PAUSED, status_reason=reason, resume_at=resume_at
    )
    audit_record(
        action="crm.config.paused",
        target=config,
        workspace=config.workspace_id,
        details={"reason": reason, "resume_at": resume_at.isoformat()},
    )


# --- approved deletes ----------------------------------------------------------------------------


def apply_change(change: OutboundChange) -> None:
    """The approvals applier: carry out one approved delete (a CRM record, or a hub record)
    and forget its link. Raises, with the reason, when it could not be done."""
    payload = change.payload
    config = CrmConfig.objects.filter(pk=payload.get("config")).select_related("connection").first()
    if config is None:
        raise ApplicationError("The CRM config that planned this delete is gone.")
    entity, side = payload.get("entity"), payload.get("side")
    kind = KINDS.get(entity)
    if kind is None:
        raise ApplicationError(f"Unknown entity {entity!r}.")
    local_id, remote_id = payload.get("local_id"), payload.get("remote_id")
    if side == planner.REMOTE:
        label = config.get_provider_display()
        if config.connection is None:
            raise ApplicationError(f"The config has no {label} connection.")
        crm = remotes.remote_for(config, client(config.connection))
        (outcome,) = crm.delete(entity, [remote_id])
        if not outcome.ok and not outcome.gone:
            raise ApplicationError(f"{label} did not delete {remote_id}: {outcome.message}")
    else:
        kind.model.objects.filter(workspace=config.workspace, pk=local_id).delete()
    with transaction.atomic():
        CrmLink.objects.filter(config=config, entity=entity, local_id=local_id).delete()
        audit_record(
            action="crm.sync.delete",
            workspace=config.workspace_id,
            target=config,
            details={
                "entity": entity,
                "side": "crm" if side == planner.REMOTE else "hub",
                "ids": [str(remote_id if side == planner.REMOTE else local_id)],
                "approved_change": change.pk,
            },
        )


# --- schedules -----------------------------------------------------------------------------------

EVERY = {
    # Also with HubSpot's webhooks: they announce CRM changes only (the hub's own edits still
    # need the poll), and a notification HubSpot gave up on is caught by it.
    CrmConfig.Frequency.REALTIME: timedelta(minutes=1),
    CrmConfig.Frequency.HOURLY: timedelta(hours=1),
}


def next_due(config: CrmConfig, after: datetime) -> datetime | None:
    """When the config's schedule next comes due after `after` (None: manual)."""
    if config.sync_frequency in EVERY:
        return after + EVERY[config.sync_frequency]
    if config.sync_frequency == CrmConfig.Frequency.DAILY:
        at = config.daily_at or datetime.min.time()
        day = after.astimezone(UTC).date()
        moment = datetime.combine(day, at, tzinfo=UTC)
        return moment if moment > after else moment + timedelta(days=1)
    return None
