"""Sync of a project with its Smartsheet sheet, run by a worker (projects.tasks.sync_run).

Outbound ("Sync to Smartsheet"): entities are diffed against what was last synced (content
hash in RowMapping); new ones are added in batches of up to 500 rows, one request per
location (Smartsheet allows one location per Add Rows: the bottom of the sheet, or under one
parent), TaskBlocks first as parent rows, the rest as their children; changed ones are updated
in batches of 500; comments get a row discussion, attachments a streamed upload. Every write
carries the change agent. Before an update, rows changed in Smartsheet since our last sync are
read, and the engine's planner (integrations.sync.planner) merges each row field by field
against the cells last synced (RowMapping.synced_values): a cell changed on one side only
takes that side's value, one changed on both is settled by last write wins (Smartsheet's
modifiedAt vs our updated_at). Outbound writes only Smartsheet: what Smartsheet changed waits
for the inbound sync, which writes only here.

Inbound ("Sync from Smartsheet"): rows modified since the last read come back; a row at the
version we last wrote or read is our own echo; other rows are merged the same way; rows
nobody here owns are listed as unmapped.

Approval: where the connection requires it, "Sync to Smartsheet" writes nothing: each row it
would add or update waits in the review queue (integrations.approvals) as one change with its
cells before → after, refreshed in place when a later run plans the same entity again. An
approved change is applied by `apply_change`: a run of its own (trigger "approval") that writes
that entity's approved cells through the same code, merged again with what Smartsheet changed
meanwhile; a rejected one never is.

Crash safety: every write is preceded by committed PendingWrite intents and followed by a
transaction that turns them into RowMappings. A worker killed in between leaves intents; the
next run (or the same one, redelivered) reconciles them against the sheet — a row whose
location and content hash match an intent is adopted, not written again — so no row is ever
made twice. (tests/projects/crash_points.py names the points in between where the crash tests
kill a worker.)
"""

import logging
import uuid
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import capfirst

from integrations import approvals
from integrations.approvals.models import OutboundChange
from integrations.connections import http, services
from integrations.connections.providers import smartsheet
from integrations.errors import ApplicationError, Conflict
from integrations.mapping.transforms import MappingError
from integrations.runs import RunRecorder, SyncRun, claim, request_run
from integrations.sync import gate, planner
from integrations.sync.models import Held, held_rows, reconcile, row_target
from projects import sheet
from projects.models import (
    ENTITY_MODELS,
    Attachment,
    Comment,
    PendingWrite,
    Project,
    ProjectSheetLink,
    ProjectSyncRun,
    RowMapping,
    TaskBlock,
    UnmappedRow,
)

logger = logging.getLogger(__name__)

SMALL_FILE = 5 * 1024 * 1024  # attachments up to this size are retried in place
# Errors that end the whole run (the rest would fail the same way); others fail one item.
STOP_RUN = (http.Unauthorized, http.RateLimited)
RECONCILE_SKEW = timedelta(seconds=5)  # clock slack when asking for rows made since an intent
FIELDS = tuple(column.key for column in sheet.SCHEMA)  # what the planner merges: every cell
OWNER = "projects"  # the approval gate's name for this sync: its changes come back to apply_change


class _Unknown:
    """A base value nobody knows (a link made before synced_values was kept): equal to
    nothing but itself, so every cell that differs between the sides is a conflict and last
    write wins settles it, as it did for whole rows."""

    def __eq__(self, other) -> bool:
        return other is self

    __hash__ = object.__hash__


UNKNOWN_BASE = {key: _Unknown() for key in FIELDS}


def entity_type(entity) -> str:
    return entity._meta.model_name


target = row_target  # a write intent's target: the row a write lands under or on ("" for the top)


class Sync:
    """One run's work. Holds the SDK client, the link and the run's recorder."""

    def __init__(
        self, run: ProjectSyncRun, recorder: RunRecorder, approved: OutboundChange | None = None
    ):
        self.run = run
        self.rec = recorder
        self.project = run.project
        self.link: ProjectSheetLink = ProjectSheetLink.objects.get(project=self.project)
        self.columns = {key: int(value) for key, value in self.link.columns.items()}
        self.connection = run.connection
        self.client = services.client(self.connection)
        # The cells of a row and the edits read back: the workspace's mapping set.
        try:
            self.conversion, self.mapping_set = sheet.conversion_for(self.project.workspace)
        except MappingError as exc:
            raise ApplicationError(f"{exc.message} Fix it in admin, then sync again.") from None
        # Applying an approved change: only its entity, with the cells a person approved.
        self.approved = approved
        # Otherwise, with the gate on, every row write waits for a person instead.
        self.gated = approved is None and approvals.requires_approval(
            connection=self.connection, mapping_set=self.mapping_set
        )

    # --- calls ---------------------------------------------------------------------------------

    def call(self, function, **kwargs):
        """`function(sdk, **kwargs)` through the connection's one client (it refreshes once on
        a 401 and calls again)."""
        return self.client.call(lambda c: function(c.sdk, **kwargs))

    def entities(self) -> dict[tuple[str, int], object]:
        found = {}
        for model in ENTITY_MODELS.values():
            for entity in model.objects.filter(project=self.project).order_by("created_at", "pk"):
                found[(entity_type(entity), entity.pk)] = entity
        return found

    def mappings(self) -> dict[tuple[str, int], RowMapping]:
        return {(m.entity_type, m.entity_id): m for m in self.link.row_mappings.all()}

    def values(self, entity) -> dict:
        """An entity's cells, every column's (empty ones None): the planner's local side.
        MappingError when the mapping set refuses the entity (its field named)."""
        values = self.conversion.cells(entity, self.project.number)
        return {key: values.get(key) for key in FIELDS}

    def cells(self, row: smartsheet.RowInfo) -> dict:
        """A row's cells, every column's: the planner's remote side."""
        values = sheet.values_of_row(row.cells, self.columns)
        return {key: values.get(key) for key in FIELDS}

    # --- reconciliation of a run that died ---------------------------------------------------

    def reconcile(self) -> int:
        """Adopt what an interrupted run wrote but did not record. Returns rows recovered."""
        pending = list(self.link.pending_writes.all())
        if not pending:
            return 0
        self.rec.progress(stage="Checking what an interrupted run already wrote")
        rows = PendingWrite.Operation.ROW
        recovered = self._reconcile_rows([p for p in pending if p.operation == rows])
        for intent in (p for p in pending if p.operation != rows):
            self._reconcile_side(intent)
        return recovered

    def _reconcile_rows(self, intents: list[PendingWrite]) -> int:
        if not intents:
            return 0
        since = min(intent.created_at for intent in intents) - RECONCILE_SKEW
        current = self.call(smartsheet.get_sheet, sheet_id=self.link.sheet_id, modified_since=since)
        owned = set(self.link.row_mappings.values_list("row_id", flat=True))
        found = {}

        def digest_of(row: smartsheet.RowInfo) -> str:
            values = self.cells(row)
            found[row.id] = (row, values)
            return sheet.content_hash(values)

        held = held_rows(current.rows, owned=owned, digest_of=digest_of)
        entities = self.entities()
        # An intent whose entity was deleted meanwhile adopts nothing: its row stays unmapped.
        alive = [i for i in intents if (i.entity_type, i.entity_id) in entities]
        recovered = 0
        with transaction.atomic():
            for intent, record in reconcile(alive, held).adopt:
                row, values = found[record.remote_id]
                _, made = RowMapping.objects.get_or_create(
                    link=self.link,
                    entity_type=intent.entity_type,
                    entity_id=intent.entity_id,
                    defaults=self._mapping_fields(row, values, row.parent_id),
                )
                recovered += made
            PendingWrite.objects.filter(pk__in=[intent.pk for intent in intents]).delete()
        if recovered:
            self.rec.count("created", recovered)
        return recovered

    def _reconcile_side(self, intent: PendingWrite) -> None:
        mapping = RowMapping.objects.filter(
            link=self.link, entity_type=intent.entity_type, entity_id=intent.entity_id
        ).first()
        if mapping is not None:
            row_id = int(intent.target)
            if intent.operation == PendingWrite.Operation.DISCUSSION:
                texts = self.call(
                    smartsheet.row_discussion_texts, sheet_id=self.link.sheet_id, row_id=row_id
                )
                taken = set(
                    self.link.row_mappings.exclude(discussion_id=None).values_list(
                        "discussion_id", flat=True
                    )
                )
                held = [
                    Held(d, intent.target, sheet.content_hash({"notes": text}))
                    for d, text in texts.items()
                    if d not in taken
                ]
                for _, record in reconcile([intent], held).adopt:
                    RowMapping.objects.filter(pk=mapping.pk).update(discussion_id=record.remote_id)
            else:
                names = self.call(
                    smartsheet.row_attachment_names, sheet_id=self.link.sheet_id, row_id=row_id
                )
                taken = set(
                    self.link.row_mappings.exclude(attachment_id=None).values_list(
                        "attachment_id", flat=True
                    )
                )
                held = [
                    Held(a, intent.target, sheet.content_hash({"name": name}))
                    for a, (name, _) in names.items()
                    if a not in taken
                ]
                for _, record in reconcile([intent], held).adopt:
                    RowMapping.objects.filter(pk=mapping.pk).update(
                        attachment_id=record.remote_id,
                        attachment_status="uploaded",
                        attachment_error="",
                    )
        intent.delete()

    def _mapping_fields(self, row: smartsheet.RowInfo, values: dict, parent_row_id) -> dict:
        """A new link: the row as written or found, its cells the merge base."""
        return {
            "workspace_id": self.project.workspace_id,
            "sheet_id": self.link.sheet_id,
            "row_id": row.id,
            "parent_row_id": parent_row_id,
            "remote_version": row.version,
            "remote_modified_at": row.modified_at,
            "content_hash": sheet.content_hash(values),
            "synced_values": values,
            "synced_at": timezone.now(),
        }

    def _plan(
        self, entity, mapping: RowMapping, local: dict, row, remote: dict | None, base: dict
    ) -> tuple[dict, dict, planner.Conflict | None, dict]:
        """The planner on one row: (cells to write to Smartsheet, fields to write here, the
        conflict if both sides changed a cell, the cells both sides agree on). `remote` None:
        the row is unchanged in Smartsheet since our last write or read. Cells nobody may edit
        in Smartsheet (not read back by the mapping set) count as unchanged there: ours
        overwrite them."""
        key = (entity_type(entity), entity.pk)
        remotes = {}
        if remote is not None:
            editable = self.conversion.editable(type(entity))
            values = {k: remote.get(k) if k in editable else base.get(k) for k in FIELDS}
            remotes[mapping.row_id] = planner.Snapshot(mapping.row_id, values, row.modified_at)
        result = planner.plan(
            links=[planner.Link(key, mapping.row_id, base)],
            local={key: planner.Snapshot(key, local, entity.updated_at)},
            remote=remotes,
            fields=FIELDS,
            policy=planner.Policy.LAST_WRITE_WINS,
            remote_complete=False,
            deletes=False,
            creates=False,
        )
        sides = {op.side: op.changes for op in result.operations}
        agreed = result.bases.get((key, mapping.row_id), base)
        return (
            sides.get(planner.REMOTE, {}),
            sides.get(planner.LOCAL, {}),
            result.conflicts[0] if result.conflicts else None,
            agreed,
        )

    # --- outbound ------------------------------------------------------------------------------

    def outbound(self) -> None:
        started = timezone.now()
        self.reconcile()
        entities, mappings = self.entities(), self.mappings()
        if self.approved is not None:
            key = (self.approved.payload["entity_type"], self.approved.payload["entity_id"])
            entities = {key: entities[key]} if key in entities else {}
        parents_first = sorted(
            entities.values(), key=lambda e: (not isinstance(e, TaskBlock), e.created_at, e.pk)
        )
        new, changed = [], []
        for entity in parents_first:
            mapping = mappings.get((entity_type(entity), entity.pk))
            try:
                values = (
                    self.values(entity)
                    if self.approved is None
                    else {key: self.approved.payload["values"].get(key) for key in FIELDS}
                )
            except MappingError as exc:
                self._fail(entity, f"the mapping set refused it: {exc.message}")
                continue
            digest = sheet.content_hash(values)
            if mapping is None:
                new.append((entity, values, digest))
            elif mapping.content_hash != digest:
                changed.append((entity, mapping, values, digest))
            else:
                self.rec.count("unchanged")
        side = sum(
            1
            for key, entity in entities.items()
            if (
                isinstance(entity, Comment)
                and not getattr(mappings.get(key), "discussion_id", None)
            )
            or (
                isinstance(entity, Attachment)
                and not getattr(mappings.get(key), "attachment_id", None)
            )
        )
        # The bar counts every write (rows, then discussions and attachments); the stage counts
        # only its own, so 30 comments read "Writing rows 0/30", not 0/60.
        rows = len(new) + len(changed)
        self.rec.progress(
            total=rows + side,
            done=0,
            stage="Writing rows" if rows else "Posting comments and attachments",
            stage_total=rows or side,
        )

        if self.gated:
            self._hold(new, changed)
        else:
            self._add(new)
            recreate = self._update(changed)
            if recreate:  # rows deleted in Smartsheet while the entity lives on: make them again
                self._add(recreate)
        # Comments and attachments of rows that exist (approved ones, under the gate).
        self._side(self._side_work(entities))
        if self.approved is None and not self.gated:
            # Only a run that wrote every planned row moves the mark: one that held them, or
            # wrote one approved entity, must not hide older Smartsheet edits from the next.
            ProjectSheetLink.objects.filter(pk=self.link.pk).update(last_outbound_at=started)

    def _add(self, new: list) -> None:
        """Add rows: TaskBlocks (and entities of no TaskBlock) at the bottom of the sheet, then
        each TaskBlock's children under it — one request per location, 500 rows at most."""
        groups: dict[int | None, list] = defaultdict(list)
        waiting: dict[int, list] = defaultdict(list)
        for item in new:
            entity = item[0]
            parent = getattr(entity, "task_block_id", None)
            if parent is None:
                groups[None].append(item)
            else:
                waiting[parent].append(item)
        for start in range(0, len(groups[None]), smartsheet.ROWS_PER_REQUEST):
            self._add_batch(
                groups[None][start : start + smartsheet.ROWS_PER_REQUEST], parent_row_id=None
            )
        parent_rows = dict(
            RowMapping.objects.filter(
                link=self.link, entity_type="taskblock", entity_id__in=list(waiting)
            ).values_list("entity_id", "row_id")
        )
        for parent, items in waiting.items():
            row_id = parent_rows.get(parent)
            if row_id is None:  # the TaskBlock's own row failed: its children wait for the next run
                for entity, _, _ in items:
                    self._fail(entity, "its task block has no row yet")
                self.rec.progress(add=len(items))
                continue
            for start in range(0, len(items), smartsheet.ROWS_PER_REQUEST):
                self._add_batch(
                    items[start : start + smartsheet.ROWS_PER_REQUEST], parent_row_id=row_id
                )

    def _add_batch(self, items: list, *, parent_row_id: int | None) -> None:
        batch = str(uuid.uuid4())
        with transaction.atomic():
            PendingWrite.objects.bulk_create(
                [
                    PendingWrite(
                        workspace_id=self.project.workspace_id,
                        link=self.link,
                        operation=PendingWrite.Operation.ROW,
                        entity_type=entity_type(entity),
                        entity_id=entity.pk,
                        batch=batch,
                        position=index,
                        target=target(parent_row_id),
                        payload_hash=digest,
                    )
                    for index, (entity, _, digest) in enumerate(items)
                ]
            )
        try:
            result = self.call(
                smartsheet.add_rows,
                sheet_id=self.link.sheet_id,
                cells=[sheet.cells_for(values, self.columns) for _, values, _ in items],
                parent_id=parent_row_id,
            )
        except STOP_RUN:
            raise  # a long rate-limit pause or lost credentials: the whole run stops, intents kept
        except http.ProviderError as exc:
            if isinstance(exc, http.Permanent):
                PendingWrite.objects.filter(
                    batch=batch
                ).delete()  # refused whole: nothing was written
                reason = exc.message
            else:
                reason = f"{exc.message} — whether Smartsheet took the rows is unknown; the next run checks before writing again"
            for entity, _, _ in items:
                self._fail(entity, reason)
            self.rec.progress(add=len(items))
            return
        failed = {failure.index: failure for failure in result.failures}
        written, links = iter(result.rows), []
        for index, (entity, values, _) in enumerate(items):
            if index in failed:
                self._fail(
                    entity,
                    f"Smartsheet refused the row: {failed[index].message} (error {failed[index].code})",
                )
                continue
            links.append(
                RowMapping(
                    link=self.link,
                    entity_type=entity_type(entity),
                    entity_id=entity.pk,
                    **self._mapping_fields(next(written), values, parent_row_id),
                )
            )
        # One insert per batch: the rows' links are written while the sheet waits for the next
        # batch, and every millisecond here delays each later minute of a rate-limited run.
        with transaction.atomic():
            RowMapping.objects.bulk_create(links)
            PendingWrite.objects.filter(batch=batch).delete()
        self.rec.count("created", len(links))
        self.rec.progress(add=len(items))

    def _update(self, changed: list) -> list:
        """Update changed rows, 500 per request, each merged field by field with what
        Smartsheet changed meanwhile. Returns entities whose row is gone."""
        writable, recreate = self._merge(changed), []
        for start in range(0, len(writable), smartsheet.ROWS_PER_REQUEST):
            self._update_batch(writable[start : start + smartsheet.ROWS_PER_REQUEST], recreate)
        return recreate

    def _merge(self, changed: list) -> list:
        """Each changed entity's row merged with what Smartsheet changed since our last sync:
        (entity, mapping, merged cells, digest, our cells, whether Smartsheet changed cells we
        leave to the inbound sync, the row's cells in Smartsheet now) for every row with cells
        of ours to write. The rest are settled here: counted, their base kept."""
        if not changed:
            return []
        remote = self._changed_remotely()
        writable = []
        for entity, mapping, values, digest in changed:
            row = remote.get(mapping.row_id)
            if row is not None and row.version <= mapping.remote_version:
                row = None  # modified by our own last write or read: unchanged there since
            to_remote, to_local, conflict, agreed = self._plan(
                entity,
                mapping,
                values,
                row,
                None if row is None else self.cells(row),
                # Before the base was kept, our edit (the entity changed: it is here) is a
                # conflict with every cell Smartsheet holds otherwise.
                mapping.synced_values or UNKNOWN_BASE,
            )
            if conflict is not None:
                self.rec.count("conflicts")
                self.rec.overwrite(
                    self._label(entity),
                    "our later edit overwrote Smartsheet's"
                    if conflict.winner == planner.LOCAL
                    else "Smartsheet's later edit kept; ours waits for Sync from Smartsheet",
                )
            if not to_remote:
                # Nothing of ours to write: Smartsheet's edits wait for the inbound sync; or
                # Smartsheet already holds our edit (then that is the base now).
                if conflict is None and not to_local and row is not None:
                    RowMapping.objects.filter(pk=mapping.pk).update(
                        content_hash=digest,
                        synced_values=values,
                        remote_version=row.version,
                        remote_modified_at=row.modified_at,
                        synced_at=timezone.now(),
                    )
                if conflict is None:
                    self.rec.count("unchanged")
                self.rec.progress(add=1)
                continue
            # Smartsheet's own changes (to_local) are read in by the inbound sync: the row's
            # version stays the one before them, so that sync does not take the row for our echo.
            now = mapping.synced_values if row is None else self.cells(row)
            writable.append((entity, mapping, agreed, digest, values, bool(to_local), now))
        return writable

    def _update_batch(self, chunk: list, recreate: list) -> None:
        try:
            result = self.call(
                smartsheet.update_rows,
                sheet_id=self.link.sheet_id,
                rows=[
                    (mapping.row_id, sheet.cells_for(merged, self.columns, all_columns=True))
                    for _, mapping, merged, *_ in chunk
                ],
            )
        except STOP_RUN:
            raise
        except http.ProviderError as exc:  # an update is safe to repeat: the next run does
            for entity, *_ in chunk:
                self._fail(entity, exc.message)
            self.rec.progress(add=len(chunk))
            return
        failed = {failure.index: failure for failure in result.failures}
        rows = {row.id: row for row in result.rows}
        gone = 0
        with transaction.atomic():
            for index, (entity, mapping, _, digest, values, waiting, _) in enumerate(chunk):
                failure = failed.get(index)
                if failure is not None and failure.code in (1006, 1034):
                    mapping.delete()  # the row was deleted in Smartsheet
                    recreate.append((entity, values, digest))
                    gone += 1
                elif failure is not None:
                    self._fail(
                        entity,
                        f"Smartsheet refused the update: {failure.message} (error {failure.code})",
                    )
                else:
                    row = rows[mapping.row_id]
                    # The base is now ours: every cell either went out or, changed in
                    # Smartsheet, is still ours here until the inbound sync reads it.
                    RowMapping.objects.filter(pk=mapping.pk).update(
                        content_hash=digest,
                        synced_values=values,
                        **(
                            {}
                            if waiting
                            else {
                                "remote_version": row.version,
                                "remote_modified_at": row.modified_at,
                            }
                        ),
                        synced_at=timezone.now(),
                    )
                    self.rec.count("updated")
        # A row made again is counted when _add writes it, not twice.
        self.rec.progress(add=len(chunk) - gone)

    # --- the approval gate ----------------------------------------------------------------------

    def _hold(self, new: list, changed: list) -> None:
        """Under the gate: every row this run would add or update becomes a change in the
        review queue (one per entity, refreshed if one waits already); nothing is written."""
        self.rec.progress(stage="Holding changes for approval", stage_total=len(new) + len(changed))
        planned = [(entity, None, values, None, values) for entity, values, _ in new] + [
            (entity, mapping, values, now, merged)
            for entity, mapping, merged, _, values, _, now in self._merge(changed)
        ]
        held = gate.hold(
            (
                gate.Outgoing(
                    key=key_of(entity_type(entity), entity.pk),
                    operation=OutboundChange.Operation.CREATE
                    if mapping is None
                    else OutboundChange.Operation.UPDATE,
                    target_entity=f"Smartsheet row ({entity._meta.verbose_name})",
                    target_id="" if mapping is None else str(mapping.row_id),
                    label=f"{self.project.number} · {entity}",
                    before=None if before is None else _shown(before),
                    after=_shown(after),
                    payload={
                        "project": self.project.pk,
                        "entity_type": entity_type(entity),
                        "entity_id": entity.pk,
                        "values": values,
                    },
                )
                for entity, mapping, values, before, after in planned
            ),
            workspace=self.project.workspace,
            owner=OWNER,
            connection=self.connection,
            mapping_set=self.mapping_set,
        )
        self.rec.count("held", len(held))
        self.rec.progress(add=len(held))

    def _changed_remotely(self) -> dict[int, smartsheet.RowInfo]:
        """Rows edited in Smartsheet since our last outbound sync (one read, for last-write-wins)."""
        since = self.link.last_outbound_at
        if since is None:
            return {}
        current = self.call(
            smartsheet.get_sheet, sheet_id=self.link.sheet_id, modified_since=since - RECONCILE_SKEW
        )
        return {row.id: row for row in current.rows}

    # --- discussions and attachments ------------------------------------------------------------

    def _side_work(self, entities) -> list:
        mappings = self.mappings()
        work = []
        for key, entity in entities.items():
            mapping = mappings.get(key)
            if mapping is None:
                continue
            if (
                isinstance(entity, Comment)
                and not mapping.discussion_id
                or isinstance(entity, Attachment)
                and not mapping.attachment_id
            ):
                work.append((entity, mapping))
        # Heaviest first: under a sliding minute of N request units a run cannot end before
        # (ceil(N / limit) - 1) minutes plus the time it took to send its first N mod limit
        # units (each later minute's sends replay the first one's spacing). Uploads weigh ten
        # units each, so sending them before the discussions fills that remainder in a tenth of
        # the round trips (projects bench: wall 1.04-1.07 x the floor with discussions first).
        work.sort(key=lambda item: not isinstance(item[0], Attachment))
        return work

    def _side(self, work: list) -> None:
        self.rec.progress(stage="Posting comments and attachments", stage_total=len(work))
        for entity, mapping in work:
            if isinstance(entity, Comment):
                self._discussion(entity, mapping)
            else:
                self._attachment(entity, mapping)
            self.rec.progress(add=1)

    def _intent(self, operation: str, entity, mapping: RowMapping, digest: str) -> PendingWrite:
        return PendingWrite.objects.create(
            workspace_id=self.project.workspace_id,
            link=self.link,
            operation=operation,
            entity_type=entity_type(entity),
            entity_id=entity.pk,
            batch=str(uuid.uuid4()),
            target=target(mapping.row_id),
            payload_hash=digest,
        )

    def _discussion(self, comment: Comment, mapping: RowMapping) -> None:
        intent = self._intent(
            PendingWrite.Operation.DISCUSSION,
            comment,
            mapping,
            sheet.content_hash({"notes": comment.text}),
        )
        try:
            discussion_id = self.call(
                smartsheet.add_discussion,
                sheet_id=self.link.sheet_id,
                row_id=mapping.row_id,
                text=comment.text,
            )
        except STOP_RUN:
            raise
        except http.ProviderError as exc:
            if isinstance(exc, http.Permanent):
                intent.delete()  # refused: nothing was posted
            self._fail(comment, f"the comment could not be posted: {exc.message}")
            return
        with transaction.atomic():
            RowMapping.objects.filter(pk=mapping.pk).update(discussion_id=discussion_id)
            intent.delete()

    def _attachment(self, attachment: Attachment, mapping: RowMapping) -> None:
        digest = sheet.content_hash({"name": attachment.name})
        attempts = 3 if attachment.size <= SMALL_FILE else 1
        for attempt in range(1, attempts + 1):
            intent = self._intent(PendingWrite.Operation.ATTACHMENT, attachment, mapping, digest)
            try:
                with attachment.file.open("rb") as stream:
                    attachment_id = self.call(
                        smartsheet.attach_file,
                        sheet_id=self.link.sheet_id,
                        row_id=mapping.row_id,
                        name=attachment.name,
                        stream=stream,
                        size=attachment.size,
                        content_type=attachment.content_type,
                    )
            except STOP_RUN:
                raise
            except (http.ProviderError, OSError) as exc:
                message = getattr(exc, "message", str(exc))
                if attempt < attempts and not isinstance(exc, http.Permanent):
                    self._reconcile_side(
                        intent
                    )  # did it land anyway? then adopt it, never upload twice
                    if RowMapping.objects.filter(
                        pk=mapping.pk, attachment_id__isnull=False
                    ).exists():
                        return
                    continue
                if isinstance(exc, http.Permanent | OSError):
                    intent.delete()  # refused, or our file is unreadable: nothing was uploaded
                # else: the outcome is unknown; the intent stays for the next run to check
                RowMapping.objects.filter(pk=mapping.pk).update(
                    attachment_status="failed", attachment_error=message[:500]
                )
                self._fail(attachment, f"upload failed: {message}")
                return
            with transaction.atomic():
                RowMapping.objects.filter(pk=mapping.pk).update(
                    attachment_id=attachment_id, attachment_status="uploaded", attachment_error=""
                )
                intent.delete()
            return

    # --- inbound -------------------------------------------------------------------------------

    def inbound(self) -> None:
        self.reconcile()
        read_at = timezone.now()
        since = self.link.inbound_cursor
        current = self.call(smartsheet.get_sheet, sheet_id=self.link.sheet_id, modified_since=since)
        by_row = {m.row_id: m for m in self.link.row_mappings.all()}
        entities = self.entities()
        self.rec.progress(
            total=len(current.rows),
            done=0,
            stage="Reading changed rows",
            stage_total=len(current.rows),
        )
        newest = since
        for row in current.rows:
            if row.modified_at and (newest is None or row.modified_at > newest):
                newest = row.modified_at
            mapping = by_row.get(row.id)
            if mapping is None:
                self._unmapped(row)
            elif row.version <= mapping.remote_version:
                self.rec.count("unchanged")  # our own write coming back, or nothing new
                if not mapping.synced_values:
                    self._keep_base(mapping, row)
            else:
                entity = entities.get((mapping.entity_type, mapping.entity_id))
                if entity is None:
                    self.rec.count("unchanged")
                else:
                    self._apply(entity, mapping, row)
            self.rec.progress(add=1)
        ProjectSheetLink.objects.filter(pk=self.link.pk).update(
            last_inbound_at=read_at, inbound_cursor=newest
        )

    def _apply(self, entity, mapping: RowMapping, row: smartsheet.RowInfo) -> None:
        try:
            local = self.values(entity)
        except MappingError as exc:
            self._fail(entity, f"the mapping set refused it: {exc.message}")
            return
        base = mapping.synced_values
        if not base:
            # Before the base was kept: an entity not edited since the last sync is the base;
            # one edited since conflicts with every cell Smartsheet holds otherwise.
            base = local if entity.updated_at <= mapping.synced_at else UNKNOWN_BASE
        remote = self.cells(row)
        to_remote, to_local, conflict, agreed = self._plan(
            entity, mapping, local, row, remote, base
        )
        if conflict is not None:
            self.rec.count("conflicts")
            self.rec.overwrite(
                self._label(entity),
                # Ours kept: the next outbound sync writes it.
                "our later edit kept over Smartsheet's"
                if conflict.winner == planner.LOCAL
                else "Smartsheet's later edit overwrote ours",
            )
        editable = self.conversion.editable(type(entity))
        taken = {editable[key][0] for key in to_local if key in editable}
        proposed = {**local, **{key: after for key, (_, after) in to_local.items()}}
        changes = {
            field: value
            for field, value in self.conversion.inbound_changes(entity, proposed).items()
            if field in taken
        }
        with transaction.atomic():
            if changes:
                for field, value in changes.items():
                    setattr(entity, field, value)
                entity.save(update_fields=[*changes, "updated_at"])
                self.rec.count("updated")
            elif conflict is None:
                self.rec.count("unchanged")
            # The new base: what both sides now hold; a cell of ours still to be written keeps
            # Smartsheet's value (the next outbound sync sees ours as changed here); a cell of
            # theirs we could not take (it does not fit the entity) keeps ours.
            now_local = self.values(entity)
            synced = {
                **agreed,
                **{key: remote.get(key) for key in to_remote},
                **{key: now_local.get(key) for key in to_local},
            }
            RowMapping.objects.filter(pk=mapping.pk).update(
                remote_version=row.version,
                remote_modified_at=row.modified_at,
                content_hash=sheet.content_hash(synced),
                synced_values=synced,
                synced_at=timezone.now(),
            )

    def _keep_base(self, mapping: RowMapping, row: smartsheet.RowInfo) -> None:
        """A link made before synced_values was kept, read back as last synced: its cells are
        the base from now on."""
        values = self.cells(row)
        if sheet.content_hash(values) == mapping.content_hash:
            RowMapping.objects.filter(pk=mapping.pk).update(synced_values=values)

    def _unmapped(self, row: smartsheet.RowInfo) -> None:
        values = self.cells(row)
        record, made = UnmappedRow.objects.get_or_create(
            link=self.link,
            row_id=row.id,
            defaults={
                "workspace_id": self.project.workspace_id,
                "cells": values,
                "parent_row_id": row.parent_id,
                "row_version": row.version,
            },
        )
        if not made:
            UnmappedRow.objects.filter(pk=record.pk).update(
                cells=values,
                last_seen_at=timezone.now(),
                parent_row_id=row.parent_id,
                row_version=row.version,
            )
        if record.state == UnmappedRow.State.NEW:
            self.rec.count("unmapped")

    # --- helpers -------------------------------------------------------------------------------

    def _label(self, entity) -> str:
        return f"{capfirst(entity._meta.verbose_name)} “{entity}”"

    def _fail(self, entity, message: str) -> None:
        self.rec.count("failed")
        self.rec.error(self._label(entity), message)


def key_of(kind: str, entity_id: int) -> str:
    """An entry's key in the review queue (one change waits per entry)."""
    return f"{kind}:{entity_id}"


def _shown(values: dict) -> dict:
    """A row's cells as a reviewer reads them: by column title, the empty ones left out."""
    return {
        column.title: values.get(column.key)
        for column in sheet.SCHEMA
        if values.get(column.key) is not None
    }


def apply_change(change: OutboundChange) -> None:
    """The approvals applier: write one approved change (a row to add or update) in a run of
    its own, so it shows in the project's history with its outcome. Raises when the row could
    not be written, with the reason, and approvals.TryLater while another run of the project
    is going (the task then waits for it)."""
    payload = change.payload
    project = Project.objects.filter(pk=payload.get("project")).first()
    model = ENTITY_MODELS.get(payload.get("entity_type"))
    entity = (
        None
        if project is None or model is None
        else model.objects.filter(project=project, pk=payload.get("entity_id")).first()
    )
    if entity is None:
        raise ApplicationError(
            "The entry was deleted after the change was planned; nothing was written."
        )
    if change.connection is None:
        raise ApplicationError("The Smartsheet connection that planned this change is gone.")
    _parent_first(entity)
    try:
        run = request_run(
            ProjectSyncRun.objects.filter(project=project),
            task=None,  # this task does the run itself
            action="project.sync.approval",
            busy="A sync of this project is running; the change waits for it.",
            workspace=project.workspace,
            project=project,
            connection=change.connection,
            direction=ProjectSyncRun.Direction.OUTBOUND,
            trigger=SyncRun.Trigger.APPROVAL,
            requested_by=change.decided_by,
        )
    except Conflict as exc:
        raise approvals.TryLater(exc.message) from None
    run = execute(run.pk, approved=change)
    if run is not None and (run.status == SyncRun.Status.FAILED or run.failed):
        reasons = "; ".join(error["message"] for error in run.errors) or run.message
        raise ApplicationError(f"Smartsheet did not take the row: {reasons}")


def _parent_first(entity) -> None:
    """An entry under a task block goes in under the block's row: a block approved in the same
    breath is written first; one still waiting for review stops this change, saying so."""
    parent = getattr(entity, "task_block_id", None)
    if (
        parent is None
        or RowMapping.objects.filter(entity_type="taskblock", entity_id=parent).exists()
    ):
        return
    waiting = gate.waiting(OWNER, [key_of("taskblock", parent)]).get(key_of("taskblock", parent))
    if waiting is None:
        return  # the sync itself says what is missing
    if waiting.status == OutboundChange.Status.PENDING:
        raise ApplicationError(
            f"Its task block waits for review (change {waiting.pk}); approve that first."
        )
    approvals.apply(waiting.pk)


def execute(run_id: int, *, approved: OutboundChange | None = None) -> ProjectSyncRun | None:
    """Do a run (or resume it: a redelivered task finds it `running` and carries on).
    `approved`: the run writes that one approved change (apply_change)."""
    if not claim(ProjectSyncRun, run_id):
        return None
    run = ProjectSyncRun.objects.select_related("project", "connection").get(pk=run_id)
    with RunRecorder(run) as recorder:
        try:
            if run.connection is None:
                raise ApplicationError(
                    "The Smartsheet connection of this run is gone; connect Smartsheet and sync again."
                )
            sync = Sync(run, recorder, approved=approved)
            if run.direction == ProjectSyncRun.Direction.OUTBOUND:
                sync.outbound()
            else:
                sync.inbound()
        except (ApplicationError, http.ProviderError) as exc:
            return recorder.finish(
                status=SyncRun.Status.FAILED, message=f"{run.summary()} — stopped: {exc.message}"
            )
        except ProjectSheetLink.DoesNotExist:
            return recorder.finish(
                status=SyncRun.Status.FAILED, message="The project has no Smartsheet sheet yet."
            )
        except Exception:
            logger.exception("project sync run %s failed", run_id)
            return recorder.finish(
                status=SyncRun.Status.FAILED,
                message="The run stopped on an unexpected error; it is logged with the run id.",
            )
        return recorder.finish()
