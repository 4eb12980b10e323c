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

Crash safety: every write is preceded by committed PendingWrite intents and followed by a
transaction that turns them into RowMappings. A worker killed in between leaves intents; the
next run (or the same one, redelivered) reconciles them against the sheet — a row whose
location and content hash match an intent is adopted, not written again — so no row is ever
made twice. `checkpoint()` marks the points in between, where tests kill the worker.
"""

import logging
import uuid
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import capfirst

from integrations.connections import http, services
from integrations.connections.providers import smartsheet
from integrations.errors import ApplicationError
from integrations.runs import RunRecorder, SyncRun, claim
from integrations.sync import planner
from integrations.sync.models import Held, reconcile
from projects import sheet
from projects.models import (
    ENTITY_MODELS,
    Attachment,
    Comment,
    PendingWrite,
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


class _Unknown:
    """A base value nobody knows (a link made before synced_values was kept): equal to
    nothing but itself, so every cell that differs between the sides is a conflict and last
    write wins settles it, as it did for whole rows."""

    def __eq__(self, other) -> bool:
        return other is self

    __hash__ = object.__hash__


UNKNOWN_BASE = {key: _Unknown() for key in FIELDS}


def checkpoint(name: str) -> None:
    """A point between a write and its record (see the module doc). It does nothing: the crash
    tests put a function of their own in its place to stop a worker dead there."""


def entity_type(entity) -> str:
    return entity._meta.model_name


def target(row_id: int | None) -> str:
    """A write intent's target: the row a write lands under or on ("" for the top level)."""
    return "" if row_id is None else str(row_id)


class Sync:
    """One run's work. Holds the SDK client, the link and the run's recorder."""

    def __init__(self, run: ProjectSyncRun, recorder: RunRecorder):
        self.run = run
        self.rec = recorder
        self.project = run.project
        self.link: ProjectSheetLink = ProjectSheetLink.objects.get(project=self.project)
        self.columns = {key: int(value) for key, value in self.link.columns.items()}
        self.connection = run.connection
        self.client = services.client(self.connection)

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
        """An entity's cells, every column's (empty ones None): the planner's local side."""
        values = sheet.row_values(entity, self.project.number)
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
        found, held = {}, []
        for row in current.rows:  # in sheet order, which is the order a batch was sent in
            if row.id not in owned:
                values = self.cells(row)
                found[row.id] = (row, values)
                held.append(Held(row.id, target(row.parent_id), sheet.content_hash(values)))
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
        in Smartsheet (sheet.EDITABLE) count as unchanged there: ours overwrite them."""
        key = (entity_type(entity), entity.pk)
        remotes = {}
        if remote is not None:
            editable = sheet.EDITABLE[type(entity)]
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
        parents_first = sorted(
            entities.values(), key=lambda e: (not isinstance(e, TaskBlock), e.created_at, e.pk)
        )
        new, changed = [], []
        for entity in parents_first:
            mapping = mappings.get((entity_type(entity), entity.pk))
            values = self.values(entity)
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

        self._add(new)
        recreate = self._update(changed)
        if recreate:  # rows deleted in Smartsheet while the entity lives on: make them again
            self._add(recreate)
        self._side(self._side_work(self.entities()))
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
        checkpoint("intent_recorded")
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
        checkpoint("batch_accepted")
        failed = {failure.index: failure for failure in result.failures}
        written = iter(result.rows)
        with transaction.atomic():
            for index, (entity, values, _) in enumerate(items):
                if index in failed:
                    self._fail(
                        entity,
                        f"Smartsheet refused the row: {failed[index].message} (error {failed[index].code})",
                    )
                    continue
                row = next(written)
                RowMapping.objects.create(
                    link=self.link,
                    entity_type=entity_type(entity),
                    entity_id=entity.pk,
                    **self._mapping_fields(row, values, parent_row_id),
                )
                self.rec.count("created")
            PendingWrite.objects.filter(batch=batch).delete()
        self.rec.progress(add=len(items))
        checkpoint("batch_committed")

    def _update(self, changed: list) -> list:
        """Update changed rows, 500 per request, each merged field by field with what
        Smartsheet changed meanwhile. Returns entities whose row is gone."""
        if not changed:
            return []
        remote = self._changed_remotely()
        writable, recreate = [], []
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
            writable.append((entity, mapping, agreed, digest, values, bool(to_local)))
        for start in range(0, len(writable), smartsheet.ROWS_PER_REQUEST):
            chunk = writable[start : start + smartsheet.ROWS_PER_REQUEST]
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
                continue
            failed = {failure.index: failure for failure in result.failures}
            rows = {row.id: row for row in result.rows}
            gone = 0
            with transaction.atomic():
                for index, (entity, mapping, _, digest, values, waiting) in enumerate(chunk):
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
        return recreate

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
        checkpoint("discussion_intent")
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
        checkpoint("discussion_posted")
        with transaction.atomic():
            RowMapping.objects.filter(pk=mapping.pk).update(discussion_id=discussion_id)
            intent.delete()

    def _attachment(self, attachment: Attachment, mapping: RowMapping) -> None:
        digest = sheet.content_hash({"name": attachment.name})
        attempts = 3 if attachment.size <= SMALL_FILE else 1
        for attempt in range(1, attempts + 1):
            intent = self._intent(PendingWrite.Operation.ATTACHMENT, attachment, mapping, digest)
            checkpoint("attachment_intent")
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
            checkpoint("attachment_uploaded")
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
        local = self.values(entity)
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
        editable = sheet.EDITABLE[type(entity)]
        taken = {editable[key][0] for key in to_local if key in editable}
        proposed = {**local, **{key: after for key, (_, after) in to_local.items()}}
        changes = {
            field: value
            for field, value in sheet.inbound_changes(entity, proposed).items()
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


def execute(run_id: int) -> ProjectSyncRun | None:
    """Do a run (or resume it: a redelivered task finds it `running` and carries on)."""
    if not claim(ProjectSyncRun, run_id):
        return None
    run = ProjectSyncRun.objects.select_related("project", "connection").get(pk=run_id)
    with RunRecorder(run) as recorder:
        try:
            if run.connection is None:
                raise ApplicationError(
                    "The Smartsheet connection of this run is gone; connect Smartsheet and sync again."
                )
            sync = Sync(run, recorder)
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
