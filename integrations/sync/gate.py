"""The write step's gate: where the connection or the mapping set requires approval, a sync
hands its planned writes here instead of to the provider. Each becomes one change in the
review queue (integrations.approvals), keyed by the record it writes, so a record never has two
changes waiting: planning it again refreshes the waiting one, and one approved but not yet
applied is left to its applier. The owning app's applier (registered in its AppConfig.ready())
writes an approved change; a rejected one is never written.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from integrations import approvals
from integrations.approvals.models import OutboundChange

WAITING = (OutboundChange.Status.PENDING, OutboundChange.Status.APPROVED)


@dataclass(frozen=True)
class Outgoing:
    """One planned write, as a reviewer reads it and as the applier needs it."""

    key: str  # the record's identity within its owner ("taskblock:12")
    operation: str  # OutboundChange.Operation
    target_entity: str
    target_id: str  # the remote record ("" for a create)
    label: str
    before: dict | None  # what the target holds now, field by field (None for a create)
    after: dict  # what it will hold
    payload: dict  # what the applier writes


def waiting(owner: str, keys: Iterable[str]) -> dict[str, OutboundChange]:
    """The changes still waiting (for review, or approved and not yet applied), by key."""
    return {
        change.payload.get("key"): change
        for change in OutboundChange.objects.filter(
            owner=owner, status__in=WAITING, payload__key__in=list(keys)
        ).order_by("created_at", "pk")
    }


def hold(
    outgoing: Iterable[Outgoing], *, workspace, owner: str, connection=None, mapping_set=None
) -> list[OutboundChange]:
    """Put each planned write in the review queue (or refresh the one waiting for its record);
    returns the changes, one per write."""
    outgoing = list(outgoing)
    earlier = waiting(owner, (write.key for write in outgoing))
    changes = []
    for write in outgoing:
        change = earlier.get(write.key)
        if change is None or change.status == OutboundChange.Status.PENDING:
            change = approvals.plan(
                workspace=workspace,
                owner=owner,
                connection=connection,
                mapping_set=mapping_set,
                target_entity=write.target_entity,
                target_id=write.target_id,
                target_label=write.label,
                operation=write.operation,
                before=write.before,
                after=write.after,
                payload={**write.payload, "key": write.key},
                replaces=change,
            )
        changes.append(change)  # an approved one is about to be written: not planned again
    return changes
