"""The approval gate for outgoing writes (the seed's "human in the loop for every message",
for any sync). A connection or a mapping set may require approval: a sync then calls `plan()`
instead of writing, and the change waits as an OutboundChange, field by field, until a person
approves or rejects it (admin, the review page or the API). An approved change is applied by
the sync that planned it — its applier, registered under its `owner` name — in a task; a
rejected one never is. Every decision and every application is audited.

Decided in the seed's open questions: approvals come through our API and admin (option A),
and pages learn of new changes by polling every 2 s (option B).
"""

import logging
from collections.abc import Callable, Iterable

from celery import current_app
from django.db import transaction
from django.utils import timezone

from integrations.accounts.audit import audit_record, audited
from integrations.accounts.models import User, Workspace
from integrations.accounts.services import require_workspace_admin
from integrations.approvals.models import OutboundChange
from integrations.connections import http
from integrations.connections.models import Connection
from integrations.errors import ApplicationError
from integrations.mapping.models import MappingSet
from integrations.redaction import redact_text

logger = logging.getLogger(__name__)

# owner name -> function(change) that performs the write (raises on failure).
APPLIERS: dict[str, Callable[[OutboundChange], None]] = {}


def register_applier(owner: str, applier: Callable[[OutboundChange], None]) -> None:
    APPLIERS[owner] = applier


def requires_approval(
    *, connection: Connection | None = None, mapping_set: MappingSet | None = None
) -> bool:
    return bool(
        (connection is not None and connection.requires_approval)
        or (mapping_set is not None and mapping_set.requires_approval)
    )


def field_changes(before: dict | None, after: dict) -> dict:
    """{"field": {"before", "after"}} for the fields that change (all of them on a create)."""
    before = before or {}
    return {
        key: {"before": before.get(key), "after": value}
        for key, value in after.items()
        if key not in before or before[key] != value
    } | {key: {"before": before[key], "after": None} for key in before if key not in after}


@audited
def plan(
    *,
    workspace: Workspace,
    owner: str,
    target_entity: str,
    operation: str,
    after: dict,
    before: dict | None = None,
    target_id: str = "",
    target_label: str = "",
    connection: Connection | None = None,
    mapping_set: MappingSet | None = None,
    payload: dict | None = None,
    replaces: OutboundChange | None = None,
) -> OutboundChange | None:
    """Hold a planned write for review if the connection or mapping set requires approval,
    and return it; None means no approval is needed and the caller writes now.

    `payload` is what the owner's applier needs (by default `after`). `replaces`: the record's
    change still waiting from an earlier run; a sync planning the same record again refreshes
    it in place, so a record never has two changes waiting (the newer plan is what a person
    decides on)."""
    if not requires_approval(connection=connection, mapping_set=mapping_set):
        return None
    if owner not in APPLIERS:
        raise ApplicationError(f"No sync named {owner!r} can apply approved changes.")
    fields = {
        "connection": connection,
        "mapping_set": mapping_set,
        "target_entity": target_entity,
        "target_id": str(target_id),
        "target_label": target_label[:255],
        "operation": operation,
        "changes": field_changes(before, after) if operation != "delete" else {},
        "payload": after if payload is None else payload,
    }
    with transaction.atomic():
        change = None
        if replaces is not None:
            change = (
                OutboundChange.objects.select_for_update()
                .filter(pk=replaces.pk, status=OutboundChange.Status.PENDING)
                .first()
            )
        if change is None:
            change = OutboundChange.objects.create(workspace=workspace, owner=owner, **fields)
            action = "outbound_change.planned"
        elif all(getattr(change, name) == value for name, value in fields.items()):
            return change  # planned again as it stands: nothing new for the reviewer
        else:
            for name, value in fields.items():
                setattr(change, name, value)
            change.created_at = timezone.now()
            change.save()
            action = "outbound_change.replanned"
        audit_record(action=action, target=change, workspace=workspace.pk)
    return change


def _decide(
    *, changes: Iterable[OutboundChange], actor: User, status: str, note: str
) -> tuple[list[OutboundChange], list[int]]:
    """Set the decision on every pending change the actor may decide; the others (already
    decided, or in a workspace where the actor is no admin) are returned as skipped ids."""
    decided, skipped = [], []
    with transaction.atomic():
        for change in changes:
            locked = OutboundChange.objects.select_for_update().get(pk=change.pk)
            if locked.status != OutboundChange.Status.PENDING:
                skipped.append(locked.pk)
                continue
            require_workspace_admin(
                actor=actor, workspace=locked.workspace, doing="approve or reject changes"
            )
            locked.status = status
            locked.decided_by, locked.decided_at = actor, timezone.now()
            locked.note = note[:500]
            locked.save(update_fields=["status", "decided_by", "decided_at", "note"])
            audit_record(
                action=f"outbound_change.{'approve' if status == 'approved' else 'reject'}",
                actor=actor,
                target=locked,
                workspace=locked.workspace_id,
                details={"note": note[:500]} if note else None,
            )
            decided.append(locked)
    return decided, skipped


@audited
def approve(
    *, changes: Iterable[OutboundChange], actor: User, note: str = ""
) -> tuple[list[OutboundChange], list[int]]:
    decided, skipped = _decide(
        changes=changes, actor=actor, status=OutboundChange.Status.APPROVED, note=note
    )
    for change in decided:
        transaction.on_commit(lambda pk=change.pk: _enqueue(pk))
    return decided, skipped


@audited
def reject(
    *, changes: Iterable[OutboundChange], actor: User, note: str = ""
) -> tuple[list[OutboundChange], list[int]]:
    return _decide(changes=changes, actor=actor, status=OutboundChange.Status.REJECTED, note=note)


def _enqueue(change_id: int) -> None:
    # The task by its name: approvals/tasks.py imports this module, not the other way round.
    current_app.signature("integrations.apply_outbound_change").delay(change_id)


class TryLater(ApplicationError):
    """Raised by an applier that cannot write now (its record's sync is busy): the change
    stays approved and the task tries again later."""


def apply(change_id: int) -> OutboundChange | None:
    """The task's body: apply one approved change through its owner. Only an `approved` change
    is ever applied (a rejected or pending one is left alone).

    The owner writes outside any transaction here: its own crash-safe write (commit an
    intent, write, adopt on resume) needs its intent committed before the provider sees the
    write. So a worker that dies after the write and before the change is marked leaves it
    approved; the redelivered task applies it again, and the owner's intents make that second
    application adopt the first write instead of writing twice."""
    change = OutboundChange.objects.filter(pk=change_id).first()
    if change is None or change.status != OutboundChange.Status.APPROVED:
        return change
    applier = APPLIERS.get(change.owner)
    try:
        if applier is None:
            raise ApplicationError(f"No sync named {change.owner!r} is installed here.")
        applier(change)
    except TryLater:
        raise
    except (ApplicationError, http.ProviderError) as exc:
        outcome = {"status": OutboundChange.Status.FAILED, "error": redact_text(exc.message)[:2000]}
        action = "outbound_change.failed"
    else:
        outcome = {
            "status": OutboundChange.Status.APPLIED,
            "applied_at": timezone.now(),
            "error": "",
        }
        action = "outbound_change.applied"
    with transaction.atomic():
        # Marked once: a second application of the same change (a redelivered task) finds it
        # marked already and records nothing more.
        if not OutboundChange.objects.filter(
            pk=change_id, status=OutboundChange.Status.APPROVED
        ).update(**outcome):
            return OutboundChange.objects.get(pk=change_id)
        change.refresh_from_db()
        audit_record(action=action, target=change, workspace=change.workspace_id)
    return change
