"""Sync of a project with its Smartsheet sheet, run by a worker (projects.tasks.sync_run).

Outbound ("Sync to Smartsheet"): entities are diffed against what was last synced (content
hash in RowMapping); new ones are added in batches of up to 500 rows, one request per
location (Smartsheet allows one location per Add Rows: the bottom of the sheet, or under one
parent), TaskBlocks first as parent rows, the rest as their children; changed ones are updated
in batches of 500; comments get a row discussion, attachments a streamed upload. Every write
carries the change agent. Before an update, rows changed in Smartsheet since our last sync are
read, and last-write-wins decides (Smartsheet modifiedAt vs our updated_at).

Inbound ("Sync from Smartsheet"): rows modified since the last read come back; a row at the
version we last wrote is our own echo; other changes are applied with last-write-wins; rows
nobody here owns are listed as unmapped.

Crash safety: every write is preceded by committed PendingWrite intents and followed by a
transaction that turns them into RowMappings. A worker killed in between leaves intents; the
next run (or the same one, redelivered) reconciles them against the sheet — a row whose
location and content hash match an intent is adopted, not written again — so no row is ever
made twice. `checkpoint()` marks the points in between, where tests kill the worker.
"""

import logging
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import capfirst

from integrations import http, services
from integrations.errors import ApplicationError
from integrations.providers import smartsheet
from integrations.runs import RunRecorder, SyncRun, claim
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

# Where tests stop a worker dead (see module doc). Production has no hooks: a no-op loop.
checkpoint_hooks: list[Callable[[str], None]] = []
SMALL_FILE = 5 * 1024 * 1024  # attachments up to this size are retried in place
# Errors that end the whole run (the rest would fail the same way); others fail one item.
STOP_RUN = (http.Unauthorized, http.RateLimited)
RECONCILE_SKEW = timedelta(seconds=5)  # clock slack when asking for rows made since an intent


def checkpoint(name: str) -> None:
    for hook in checkpoint_hooks:
        hook(name)


def entity_type(entity) -> str:
    return entity._meta.model_name


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
        return sheet.row_values(entity, self.project.number)

    # --- reconciliation of a run that died ---------------------------------------------------

    def reconcile(self) -> int:
        """Adopt what an interrupted run wrote but did not record. Returns rows recovered."""
        pending = list(self.link.pending_writes.all())
        if not pending:
            return 0
        self.rec.progress(stage="Checking what an interrupted run already wrote")
        recovered = self._reconcile_rows([p for p in pending if p.kind == PendingWrite.Kind.ROW])
        for intent in (p for p in pending if p.kind != PendingWrite.Kind.ROW):
            self._reconcile_side(intent)
        return recovered

    def _reconcile_rows(self, intents: list[PendingWrite]) -> int:
        if not intents:
            return 0
        since = min(intent.created_at for intent in intents) - RECONCILE_SKEW
        current = self.call(smartsheet.get_sheet, sheet_id=self.link.sheet_id, modified_since=since)
        owned = set(self.link.row_mappings.values_list("row_id", flat=True))
        candidates: dict[tuple, deque] = defaultdict(deque)
        for row in current.rows:  # in sheet order, which is the order a batch was sent in
            if row.id not in owned:
                key = (
                    row.parent_id,
                    sheet.content_hash(sheet.values_of_row(row.cells, self.columns)),
                )
                candidates[key].append(row)
        entities = self.entities()
        recovered = 0
        with transaction.atomic():
            for intent in intents:
                row_queue = candidates.get((intent.parent_row_id, intent.content_hash))
                entity = entities.get((intent.entity_type, intent.entity_id))
                if row_queue and entity is not None:
                    row = row_queue.popleft()
                    _, made = RowMapping.objects.get_or_create(
                        link=self.link,
                        entity_type=intent.entity_type,
                        entity_id=intent.entity_id,
                        defaults=self._mapping_fields(
                            row, intent.content_hash, intent.parent_row_id
                        ),
                    )
                    recovered += made
                intent.delete()
        if recovered:
            self.rec.count("created", recovered)
        return recovered

    def _reconcile_side(self, intent: PendingWrite) -> None:
        mapping = RowMapping.objects.filter(
            link=self.link, entity_type=intent.entity_type, entity_id=intent.entity_id
        ).first()
        if mapping is not None:
            if intent.kind == PendingWrite.Kind.DISCUSSION:
                texts = self.call(
                    smartsheet.row_discussion_texts,
                    sheet_id=self.link.sheet_id,
                    row_id=intent.row_id,
                )
                taken = set(
                    self.link.row_mappings.exclude(discussion_id=None).values_list(
                        "discussion_id", flat=True
                    )
                )
                found = next(
                    (
                        d
                        for d, text in texts.items()
                        if sheet.content_hash({"notes": text}) == intent.content_hash
                        and d not in taken
                    ),
                    None,
                )
                if found:
                    RowMapping.objects.filter(pk=mapping.pk).update(discussion_id=found)
            else:
                names = self.call(
                    smartsheet.row_attachment_names,
                    sheet_id=self.link.sheet_id,
                    row_id=intent.row_id,
                )
                taken = set(
                    self.link.row_mappings.exclude(attachment_id=None).values_list(
                        "attachment_id", flat=True
                    )
                )
                found = next(
                    (
                        a
                        for a, (name, _) in names.items()
                        if sheet.content_hash({"name": name}) == intent.content_hash
                        and a not in taken
                    ),
                    None,
                )
                if found:
                    RowMapping.objects.filter(pk=mapping.pk).update(
                        attachment_id=found, attachment_status="uploaded", attachment_error=""
                    )
        intent.delete()

    def _mapping_fields(self, row: smartsheet.RowInfo, content_hash: str, parent_row_id) -> dict:
        return {
            "workspace_id": self.project.workspace_id,
            "sheet_id": self.link.sheet_id,
            "row_id": row.id,
            "parent_row_id": parent_row_id,
            "row_version": row.version,
            "row_modified_at": row.modified_at,
            "content_hash": content_hash,
            "synced_at": timezone.now(),
        }

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
                        kind=PendingWrite.Kind.ROW,
                        entity_type=entity_type(entity),
                        entity_id=entity.pk,
                        batch=batch,
                        position=index,
                        parent_row_id=parent_row_id,
                        content_hash=digest,
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
            for index, (entity, _, digest) in enumerate(items):
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
                    **self._mapping_fields(row, digest, parent_row_id),
                )
                self.rec.count("created")
            PendingWrite.objects.filter(batch=batch).delete()
        self.rec.progress(add=len(items))
        checkpoint("batch_committed")

    def _update(self, changed: list) -> list:
        """Update changed rows, 500 per request. Returns entities whose row is gone."""
        if not changed:
            return []
        remote = self._changed_remotely()
        writable, recreate = [], []
        for entity, mapping, values, digest in changed:
            row = remote.get(mapping.row_id)
            if (
                row is not None
                and row.version > mapping.row_version
                and row.modified_at
                and row.modified_at > entity.updated_at
            ):
                # Both sides changed since our last sync and Smartsheet's edit is the later one.
                self.rec.count("conflicts")
                self.rec.overwrite(
                    self._label(entity),
                    "Smartsheet's later edit kept; ours waits for Sync from Smartsheet",
                )
                self.rec.progress(add=1)
                continue
            if row is not None and row.version > mapping.row_version:
                self.rec.count("conflicts")
                self.rec.overwrite(self._label(entity), "our later edit overwrote Smartsheet's")
            writable.append((entity, mapping, values, digest))
        for start in range(0, len(writable), smartsheet.ROWS_PER_REQUEST):
            chunk = writable[start : start + smartsheet.ROWS_PER_REQUEST]
            try:
                result = self.call(
                    smartsheet.update_rows,
                    sheet_id=self.link.sheet_id,
                    rows=[
                        (mapping.row_id, sheet.cells_for(values, self.columns, all_columns=True))
                        for _, mapping, values, _ in chunk
                    ],
                )
            except STOP_RUN:
                raise
            except http.ProviderError as exc:  # an update is safe to repeat: the next run does
                for entity, _, _, _ in chunk:
                    self._fail(entity, exc.message)
                self.rec.progress(add=len(chunk))
                continue
            failed = {failure.index: failure for failure in result.failures}
            rows = {row.id: row for row in result.rows}
            gone = 0
            with transaction.atomic():
                for index, (entity, mapping, values, digest) in enumerate(chunk):
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
                        RowMapping.objects.filter(pk=mapping.pk).update(
                            content_hash=digest,
                            row_version=row.version,
                            row_modified_at=row.modified_at,
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

    def _intent(self, kind: str, entity, mapping: RowMapping, digest: str) -> PendingWrite:
        return PendingWrite.objects.create(
            workspace_id=self.project.workspace_id,
            link=self.link,
            kind=kind,
            entity_type=entity_type(entity),
            entity_id=entity.pk,
            batch=str(uuid.uuid4()),
            row_id=mapping.row_id,
            content_hash=digest,
        )

    def _discussion(self, comment: Comment, mapping: RowMapping) -> None:
        intent = self._intent(
            PendingWrite.Kind.DISCUSSION,
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
            intent = self._intent(PendingWrite.Kind.ATTACHMENT, attachment, mapping, digest)
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
            elif row.version <= mapping.row_version:
                self.rec.count("unchanged")  # our own write coming back, or nothing new
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
        changes = sheet.inbound_changes(entity, sheet.values_of_row(row.cells, self.columns))
        edited_here = entity.updated_at > mapping.synced_at
        if changes and edited_here and row.modified_at and entity.updated_at > row.modified_at:
            # Both sides changed; ours is later: keep it (the next outbound sync writes it).
            self.rec.count("conflicts")
            self.rec.overwrite(self._label(entity), "our later edit kept over Smartsheet's")
            return
        with transaction.atomic():
            if changes:
                for field, value in changes.items():
                    setattr(entity, field, value)
                entity.save(update_fields=[*changes, "updated_at"])
                if edited_here:
                    self.rec.count("conflicts")
                    self.rec.overwrite(
                        self._label(entity), "Smartsheet's later edit overwrote ours"
                    )
                self.rec.count("updated")
            else:
                self.rec.count("unchanged")
            RowMapping.objects.filter(pk=mapping.pk).update(
                row_version=row.version,
                row_modified_at=row.modified_at,
                content_hash=sheet.content_hash(self.values(entity)),
                synced_at=timezone.now(),
            )

    def _unmapped(self, row: smartsheet.RowInfo) -> None:
        values = sheet.values_of_row(row.cells, self.columns)
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
