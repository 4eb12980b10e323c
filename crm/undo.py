"""Undo of a CRM sync run: put back, on both sides, the values a run's changes replaced.

A run keeps every change it applies (`CrmChange`: the record, the side, the operation, the
values before and after). Its undo is a run too (a `SyncLog` whose `undoes` names it), done by
`crm.sync.execute` through the same remote and the same batches, and it keeps its own changes
the same way, so it can be undone in turn.

Field by field, a value is put back only where that side still holds what the run wrote; a
field changed since is refused and listed ("not undone": the value now, the value the run
wrote), never overwritten. The CRM is read once by id for the records the run changed there
(the current values to compare), the hub from the database.

- an update: each field still as the run wrote it gets its before-value back;
- a create: the record is deleted when every field is still as the run made it, else kept
  (its changed fields listed); its link goes, so the record it was made from stays where it is;
- a hub delete: the record is made again from its before-values (linked again when the change
  kept a link's base, i.e. when undoing an undo's delete and the CRM record is still unlinked);
- a CRM delete is refused and listed: neither CRM's API as the hub speaks it brings a deleted
  record back (Salesforce's `undelete()` is a SOAP call, the hub's provider speaks REST;
  HubSpot's objects API archives but has no restore), and a new record would get another id
  than the one the rest of the CRM points at (its contacts, deals, activities).

The links' bases stay where the run left them (what it wrote): a value put back is then an
edit newer than the run, which the next sync carries to the other side, so the record ends as it
was before the change on both sides. Moving the bases to the put-back values would make the
next sync copy the run's values straight back from the side the run had copied them from.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import CrmChange, CrmConfig, CrmLink, SyncLog
from crm.sync import EntitySync, fresh_counts, hub_state
from integrations.sync import planner
from integrations.sync.models import update_many

CRM, HUB = CrmChange.Side.CRM, CrmChange.Side.HUB
CREATE, UPDATE, DELETE = (
    CrmChange.Operation.CREATE,
    CrmChange.Operation.UPDATE,
    CrmChange.Operation.DELETE,
)
# Why a CRM record deleted by a run is not brought back (the module's docstring says more).
# Reference: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_undelete.htm
# (a SOAP API call); providers/hubspot.md "Batch" (read / create / update / upsert / archive).
CRM_DELETE_KEPT = "deleted in the CRM by the run: the CRM's API cannot bring it back"


def undo_once(config: CrmConfig, run: SyncLog, through, *, progress=None) -> dict:
    """Undo `run.undoes` (the run's counts, errors and the refused fields, as `run_once`
    returns them)."""
    sync = EntitySync(config, run.entity, through, progress=progress, run_id=run.pk)
    changes = list(CrmChange.objects.filter(run_id=run.undoes_id).order_by("pk"))
    undo = Undo(sync, changes)
    undo.apply()
    counts = undo.counts
    counts.update(
        held=0,
        processed=len(changes),
        errors=sync.errors,
        refused=undo.refused,
        plan=[],
        full=False,
    )
    return counts


class Undo:
    def __init__(self, sync: EntitySync, changes: list[CrmChange]):
        self.sync, self.changes = sync, changes
        self.entity, self.model = sync.entity, sync.kind.model
        self.workspace = sync.config.workspace
        self.counts = fresh_counts(planner.Plan())
        self.counts["deleted"] = 0
        self.refused: list[dict] = []

    def apply(self) -> None:
        self.sync.progress(stage="Undoing", stage_total=len(self.changes))
        self._crm([c for c in self.changes if c.side == CRM])
        with transaction.atomic():
            self._hub([c for c in self.changes if c.side == HUB])
            self.sync._save_changes()
        self.sync.progress(add=len(self.changes))

    def _restorable(self, change: CrmChange, now: dict) -> dict:
        """The before-value of each field that still holds what the run wrote (`now`: the
        side's current values); every other field is refused, listed and left as it is."""
        restore = {}
        for name, wrote in change.after.items():
            if now.get(name) == wrote:
                restore[name] = change.before.get(name)
            else:
                self._refuse(change, name, now.get(name), wrote)
        return restore

    def _made_and_unchanged(self, change: CrmChange, now: dict) -> bool:
        """Whether a record the run made still holds all it wrote; each field changed since is
        refused (the record is then kept)."""
        changed = [name for name, wrote in change.after.items() if now.get(name) != wrote]
        for name in changed:
            self._refuse(
                change,
                name,
                now.get(name),
                change.after[name],
                "changed since the run: the record it made is kept",
            )
        return not changed

    def _refuse(self, change: CrmChange, field: str, now, wrote, reason: str = "") -> None:
        self.refused.append(
            {
                "entity": self.entity,
                "side": change.side,
                "local_id": change.local_id,
                "remote_id": change.remote_id,
                "field": field,
                "now": now,
                "wrote": wrote,
                "reason": reason or "changed since the run",
            }
        )

    # --- the CRM ---------------------------------------------------------------------------------

    def _crm(self, changes: list[CrmChange]) -> None:
        sync, crm = self.sync, self.sync.remote
        wanted = {c.remote_id for c in changes if c.operation != DELETE}
        now_by_id = {}
        if wanted:
            for row in crm.read_ids(self.entity, sync.read_fields, wanted):
                if not row.deleted:
                    now_by_id[row.id] = sync._cut(row.values)
        updates, deletes = [], []
        for change in changes:
            if change.operation == DELETE:
                self._refuse(change, "", None, None, CRM_DELETE_KEPT)
                continue
            now = now_by_id.get(change.remote_id)
            if now is None:
                self._refuse(change, "", None, None, "deleted in the CRM since the run")
                continue
            if change.operation == UPDATE:
                restore = self._restorable(change, now)
                if restore:
                    updates.append((change, restore, now))
            elif self._made_and_unchanged(change, now):
                deletes.append((change, now))
        size = crm.batch_size
        for start in range(0, len(updates), size):
            batch = updates[start : start + size]
            results = crm.update(
                self.entity, [{"id": c.remote_id, **restore} for c, restore, _ in batch]
            )
            for (change, restore, now), outcome in zip(batch, results, strict=True):
                if not outcome.ok:
                    sync._fail(change.remote_id, outcome.message)
                    continue
                self.counts["updated"] += 1
                sync.change(
                    CRM,
                    UPDATE,
                    local_id=change.local_id,
                    remote_id=change.remote_id,
                    before={name: now.get(name) for name in restore},
                    after=restore,
                )
            with transaction.atomic():
                sync._save_changes()
        for start in range(0, len(deletes), size):
            batch = deletes[start : start + size]
            results = crm.delete(self.entity, [c.remote_id for c, _ in batch])
            with transaction.atomic():
                for (change, now), outcome in zip(batch, results, strict=True):
                    if not (outcome.ok or outcome.gone):
                        sync._fail(change.remote_id, outcome.message)
                        continue
                    self.counts["deleted"] += 1
                    link = self._unlink(remote_id=change.remote_id)
                    sync.change(
                        CRM,
                        DELETE,
                        local_id=change.local_id,
                        remote_id=change.remote_id,
                        before=now,
                        base=link,
                    )
                sync._save_changes()

    # --- the hub ---------------------------------------------------------------------------------

    def _hub(self, changes: list[CrmChange]) -> None:
        sync, model = self.sync, self.model
        records = model.objects.filter(workspace=self.workspace).in_bulk(
            [c.local_id for c in changes if c.operation != DELETE]
        )
        touched, names, gone = [], {"updated_at"}, []
        stamp = timezone.now()
        for change in changes:
            if change.operation == DELETE:
                self._remake(change)
                continue
            record = records.get(change.local_id)
            if record is None:
                self._refuse(change, "", None, None, "deleted in the hub since the run")
                continue
            if change.operation == UPDATE:
                now = {name: getattr(record, name) for name in change.after}
                restore = self._restorable(change, now)
                if not restore:
                    continue
                before = {name: now[name] for name in restore}
                for name, value in restore.items():
                    setattr(record, name, value)
                # A hub edit now: the next sync carries it to the CRM (see the docstring).
                record.updated_at = stamp
                names.update(restore)
                touched.append(record)
                self.counts["updated"] += 1
                sync.change(
                    HUB,
                    UPDATE,
                    local_id=record.pk,
                    remote_id=change.remote_id,
                    before=before,
                    after=restore,
                )
                continue
            now = hub_state(record)
            if self._made_and_unchanged(change, now):
                gone.append(record.pk)
                link = self._unlink(local_id=record.pk)
                sync.change(
                    HUB,
                    DELETE,
                    local_id=record.pk,
                    remote_id=change.remote_id,
                    before=now,
                    base=link,
                )
        update_many(model, touched, sorted(names))
        if gone:
            model.objects.filter(workspace=self.workspace, pk__in=gone).delete()
            self.counts["deleted"] += len(gone)

    def _remake(self, change: CrmChange) -> None:
        """A hub record a run deleted, made again from its before-values (a related record
        deleted since is left empty); linked again when the change kept its link."""
        model = self.model
        values = dict(change.before)
        for field in model._meta.concrete_fields:
            value = values.get(field.attname)
            gone = (
                field.is_relation
                and value is not None
                and not field.related_model.objects.filter(pk=value).exists()
            )
            if gone:
                values[field.attname] = None
        try:
            with transaction.atomic():
                record = model.objects.create(workspace=self.workspace, **values)
        except IntegrityError:
            self._refuse(
                change, "", None, None, "not made again: the hub has a record with its key"
            )
            return
        self.counts["created"] += 1
        relink = (
            change.base is not None
            and change.remote_id
            and not CrmLink.objects.filter(
                config=self.sync.config, entity=self.entity, remote_id=change.remote_id
            ).exists()
        )
        if relink:
            self.sync._link(record.pk, change.remote_id, change.base)
        self.sync.change(
            HUB, CREATE, local_id=record.pk, remote_id=change.remote_id, after=hub_state(record)
        )

    def _unlink(self, *, local_id=None, remote_id=None) -> dict | None:
        """Forget the link of a record the undo deletes; its base, kept with the change."""
        links = CrmLink.objects.filter(config=self.sync.config, entity=self.entity)
        if local_id is not None:
            link = links.filter(local_id=local_id).first()
        else:
            link = links.filter(remote_id=remote_id).first()
        if link is None:
            return None
        base = dict(link.synced_values or {})
        link.delete()
        return base
