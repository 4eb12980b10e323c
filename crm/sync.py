"""CRM sync: one run of one config's entity — read both sides, plan with the engine's planner,
write, keep each link's base. (Issue 15, first step: Salesforce, no gate or deletes yet.)

Both sides are compared in the CRM's field names: a hub record goes through the entity's
mapping set (push), a CRM record is cut to the mapped fields. A field whose mapping does not
read edits back (direction push) has its CRM value replaced by the base before planning, so a
CRM edit to it is no change; a pull-only field the same way on the hub side. The planner then
applies one-side changes, settles both-side ones by the config's strategy or holds them (a
`SyncConflict` with both sides and the base), and links records new on both sides by their
natural key (a contact's email, an account's name) instead of making them twice.

Echoes need no bookkeeping: after a write the link's base holds what was written, so reading
the record back (its modstamp moved) finds every field equal to the base, and nothing to do.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from crm.models import (
    Account,
    Contact,
    CrmConfig,
    CrmEntityMapping,
    CrmLink,
    CrmWrite,
    SyncConflict,
    SyncLog,
)
from integrations.connections import http
from integrations.connections.providers import salesforce
from integrations.connections.services import client
from integrations.errors import ApplicationError
from integrations.mapping import engine, examples
from integrations.mapping.transforms import MappingError
from integrations.runs import RunRecorder, SyncRun, claim
from integrations.sync import planner
from integrations.sync.models import digest

logger = logging.getLogger(__name__)

MAPPINGS = Path(__file__).resolve().parent / "mapping"
# Salesforce counts its daily quota over a rolling 24 hours; no header says when it recovers.
QUOTA_PAUSE_HOURS = 1

POLICY = {
    CrmConfig.Resolution.LAST_WRITE_WINS: planner.Policy.LAST_WRITE_WINS,
    CrmConfig.Resolution.CRM_WINS: planner.Policy.REMOTE_WINS,
    CrmConfig.Resolution.APP_WINS: planner.Policy.LOCAL_WINS,
    CrmConfig.Resolution.MANUAL_REVIEW: planner.Policy.MANUAL,
}
DIRECTION = {
    CrmConfig.Direction.PUSH: planner.Direction.PUSH,
    CrmConfig.Direction.PULL: planner.Direction.PULL,
    CrmConfig.Direction.BIDIRECTIONAL: planner.Direction.BOTH,
}


@dataclass(frozen=True)
class Kind:
    model: type
    sobject: str
    natural_keys: tuple[str, ...]  # CRM field names


KINDS = {
    "account": Kind(Account, "Account", ("Name",)),
    "contact": Kind(Contact, "Contact", ("Email",)),
}


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


class EntitySync:
    """One config's entity in one run."""

    def __init__(self, config: CrmConfig, entity: str, sf):
        self.config, self.entity, self.sf = config, entity, sf
        self.kind = KINDS[entity]
        mapping_set = mapping_set_for(config, entity)
        rows = engine.field_rows(mapping_set)
        self.push = engine.mapper_for(mapping_set, direction="push")
        self.pull = engine.mapper_for(mapping_set, direction="pull")
        self.pushed = [r["target"] for r in rows if r["direction"] in ("both", "push")]
        self.pulled = [r["target"] for r in rows if r["direction"] in ("both", "pull")]
        self.fields = list(dict.fromkeys([*self.pushed, *self.pulled]))
        self.errors: list[tuple[str, str]] = []

    # --- reading ------------------------------------------------------------------------------

    def links(self) -> dict:
        return {
            link.local_id: link
            for link in CrmLink.objects.filter(config=self.config, entity=self.entity)
        }

    def read_local(self, since=None) -> dict:
        records = self.kind.model.objects.filter(workspace=self.config.workspace)
        if since is not None:
            records = records.filter(updated_at__gt=since)
        found = {}
        for record in records:
            source = {f.name: getattr(record, f.attname) for f in record._meta.concrete_fields}
            try:
                values = self.push.map(source)
            except MappingError as exc:
                self.errors.append((f"{self.entity} {record.pk}", exc.message))
                continue
            found[record.pk] = planner.Snapshot(
                id=record.pk, values=self._cut(values), modified_at=record.updated_at
            )
        return found

    def read_remote(self, since=None) -> dict:
        rows = salesforce.read(self.sf, self.kind.sobject, self.fields, since=since)
        return {
            row["Id"]: planner.Snapshot(
                id=row["Id"],
                values=self._cut(row),
                modified_at=_instant(row.get("LastModifiedDate")),
            )
            for row in rows
        }

    def _cut(self, values: dict) -> dict:
        return {name: _plain(values.get(name)) for name in self.fields}

    # --- planning -----------------------------------------------------------------------------

    def plan(self, *, complete: bool = True) -> tuple[planner.Plan, dict, dict]:
        """The plan, with what each side read (the reads are complete on a first run)."""
        links = self.links()
        local, remote = self.read_local(), self.read_remote()
        for link in links.values():  # a field that does not flow from a side: no change there
            base = link.synced_values or {}
            here, there = local.get(link.local_id), remote.get(link.remote_id)
            for name in self.fields:
                if there is not None and name not in self.pulled and name in base:
                    there.values[name] = base[name]
                if here is not None and name not in self.pushed and name in base:
                    here.values[name] = base[name]
        result = planner.plan(
            links=[
                planner.Link(link.local_id, link.remote_id, link.synced_values or {})
                for link in links.values()
            ],
            local=local,
            remote=remote,
            fields=self.fields,
            policy=POLICY[self.config.conflict_resolution],
            direction=DIRECTION[self.config.sync_direction],
            natural_keys=self.kind.natural_keys,
            local_complete=complete,
            remote_complete=complete,
            deletes=False,  # propagating deletes comes with the approval gate (next step)
            creates=self.config.create_if_missing,
        )
        return result, local, remote

    # --- writing ------------------------------------------------------------------------------

    def apply(self, result: planner.Plan, local: dict, remote: dict) -> dict:
        counts = fresh_counts(result)
        bases = dict(result.bases)
        for local_id, remote_id in result.links:
            self._link(local_id, remote_id, bases.get((local_id, remote_id)) or {})
        remote_creates = [
            op for op in result.operations if op.side == "remote" and op.kind == "create"
        ]
        remote_updates = [
            op for op in result.operations if op.side == "remote" and op.kind == "update"
        ]
        for start in range(0, len(remote_creates), salesforce.COLLECTION_SIZE):
            self._create_remote(remote_creates[start : start + salesforce.COLLECTION_SIZE], counts)
        for start in range(0, len(remote_updates), salesforce.COLLECTION_SIZE):
            self._update_remote(remote_updates[start : start + salesforce.COLLECTION_SIZE], counts)
        for op in result.operations:
            if op.side == "local" and op.kind in ("create", "update"):
                self._write_local(op, remote, counts)
        for conflict in result.conflicts:
            if conflict.winner is None:
                self._hold(conflict, local, remote)
        # The base of every record planned (updated or unchanged after a merge).
        for (local_id, remote_id), base in bases.items():
            if local_id is not None and remote_id is not None and base is not None:
                CrmLink.objects.filter(
                    config=self.config, entity=self.entity, local_id=local_id
                ).update(synced_values=base, content_hash=digest(base), synced_at=timezone.now())
        return counts

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

    def _create_remote(self, ops: list, counts: dict) -> None:
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
        results = salesforce.create(self.sf, self.kind.sobject, records)
        with transaction.atomic():
            for op, record, outcome in zip(ops, records, results, strict=True):
                if outcome.ok:
                    self._link(op.local_id, outcome.id, {**self._cut(record)})
                    counts["created"] += 1
                else:
                    counts["failed"] += 1
                    self.errors.append((f"{self.entity} {op.local_id}", outcome.message))
            CrmWrite.objects.filter(batch=batch).delete()

    def _update_remote(self, ops: list, counts: dict) -> None:
        records = [
            {"Id": op.remote_id, **{name: after for name, (_, after) in op.changes.items()}}
            for op in ops
        ]
        results = salesforce.update(self.sf, self.kind.sobject, records)
        for op, outcome in zip(ops, results, strict=True):
            if outcome.ok:
                counts["updated"] += 1
            else:
                counts["failed"] += 1
                self.errors.append((f"{self.entity} {op.local_id}", outcome.message))

    def _write_local(self, op, remote: dict, counts: dict) -> None:
        crm_values = {name: after for name, (_, after) in op.changes.items()}
        try:
            mapped = self.pull.map(crm_values)
        except MappingError as exc:
            counts["failed"] += 1
            self.errors.append((f"{self.entity} {op.remote_id}", exc.message))
            return
        # Only the hub fields the changed CRM fields map to: the others keep their values
        # (an update carries the fields that changed there, not the whole record).
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
        if op.kind == "create":
            record = model.objects.create(workspace=self.config.workspace, **hub_values)
            self._link(record.pk, op.remote_id, remote[op.remote_id].values)
            counts["created"] += 1
        else:
            model.objects.filter(pk=op.local_id).update(**hub_values)
            counts["updated"] += 1

    def _hold(self, conflict, local: dict, remote: dict) -> None:
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


def _plain(value):
    """A value as both sides compare it: text trimmed, empty text as None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _instant(text):
    # Salesforce writes +0000; Python 3.11's ISO parser (under parse_datetime) reads it.
    return parse_datetime(text) if text else None


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


def run_once(config: CrmConfig, entity: str, through, *, dry_run: bool = False) -> dict:
    """Plan and (unless a dry run) apply one entity's sync through the connection's one client
    (a 401 refreshes once); returns the counts, the errors and the plan."""

    def work(c):
        sync = EntitySync(config, entity, c.sdk)
        result, local, remote = sync.plan(complete=True)
        counts = fresh_counts(result)
        if not dry_run:
            counts = sync.apply(result, local, remote)
        counts["held"] = sum(1 for c in result.conflicts if c.winner is None)
        counts["processed"] = len(local) + len(remote)
        counts["errors"] = sync.errors
        counts["plan"] = plan_data(result)
        return counts

    return through.call(work)


def execute(run_id: int) -> SyncLog | None:
    """Do one queued run (the task's body). The daily quota spent pauses the config until it
    can resume instead of retrying; any other provider failure fails the run, said plainly."""
    if not claim(SyncLog, run_id):
        return None
    run = SyncLog.objects.select_related("config", "config__connection", "workspace").get(pk=run_id)
    config = run.config
    with RunRecorder(run) as recorder:
        recorder.progress(stage=f"Syncing {run.get_entity_display().lower()}")
        try:
            counts = run_once(config, run.entity, client(config.connection), dry_run=run.dry_run)
        except http.RateLimited as exc:
            if exc.code == "REQUEST_LIMIT_EXCEEDED":
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
        for name in ("created", "updated", "failed", "conflicts", "held"):
            recorder.count(name, counts[name])
        for item, message in counts["errors"]:
            recorder.error(item, message)
        SyncLog.objects.filter(pk=run.pk).update(
            processed=counts["processed"],
            conflicts_resolved=counts["conflicts"] - counts["held"],
            plan=counts["plan"] if run.dry_run else [],
        )
        return _finish(config, recorder, None, "")


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
    return run


def _pause_for_quota(config: CrmConfig) -> None:
    """Salesforce's daily quota is a rolling 24 hours: nothing is retried until it recovers."""
    resume_at = timezone.now() + timedelta(hours=QUOTA_PAUSE_HOURS)
    CrmConfig.objects.filter(pk=config.pk).update(
        status=CrmConfig.Status.PAUSED,
        status_reason="Salesforce's daily API limit is used up: paused until it recovers.",
        resume_at=resume_at,
    )
