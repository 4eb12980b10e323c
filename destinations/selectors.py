"""Reads of the destinations app, always narrowed to the caller's workspaces."""

from django.db.models import QuerySet

from destinations.models import Destination, RecordRequest, RecordWrite
from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import User
from integrations.approvals.models import OutboundChange
from integrations.errors import NotFound


def destination_list(*, user: User) -> QuerySet[Destination]:
    return account_selectors.scope_to_user(
        Destination.objects.select_related("workspace"), user
    ).order_by("workspace_id", "name")


def destination_for(*, user: User, destination_id) -> Destination:
    found = (
        destination_list(user=user).filter(pk=destination_id).first()
        if str(destination_id).isdigit()
        else None
    )
    if found is None:
        raise NotFound("No such destination.")
    return found


def write_list(*, user: User, destination: Destination | None = None) -> QuerySet[RecordWrite]:
    writes = account_selectors.scope_to_user(
        RecordWrite.objects.select_related("destination", "change"), user
    )
    if destination is not None:
        writes = writes.filter(destination=destination)
    return writes


def request_list(*, user: User, destination: Destination) -> QuerySet[RecordRequest]:
    """The destination's requests, newest first."""
    return account_selectors.scope_to_user(RecordRequest.objects.all(), user).filter(
        destination=destination
    )


# A write's state as pages show it: RecordWrite's statuses, and "rejected" for one that waited
# for a reviewer who refused it (it stays `waiting` in the table: it is never written).
WRITE_STATES = {
    "written": "written",
    "waiting": "waiting for approval",
    "rejected": "rejected",
    "refused": "refused",
    "failed": "failed",
}


def write_states(
    *, user: User, destination: Destination, status: str = "", limit: int = 50
) -> list[RecordWrite]:
    """The destination's latest writes (of one state when `status` names one), each with
    `state` and `state_label` set as WRITE_STATES says."""
    writes = write_list(user=user, destination=destination).select_related("request")
    rejected = {"change__status": OutboundChange.Status.REJECTED}
    if status == "rejected":
        writes = writes.filter(status=RecordWrite.Status.WAITING, **rejected)
    elif status == "waiting":
        writes = writes.filter(status=RecordWrite.Status.WAITING).exclude(**rejected)
    elif status:
        writes = writes.filter(status=status)
    found = list(writes.order_by("-created_at", "-pk")[:limit])
    for write in found:
        write.state = (
            "rejected"
            if write.status == RecordWrite.Status.WAITING
            and write.change is not None
            and write.change.status == OutboundChange.Status.REJECTED
            else write.status
        )
        write.state_label = WRITE_STATES[write.state]
    return found


def request_for(*, user: User, destination: Destination, key: str) -> RecordRequest:
    found = (
        account_selectors.scope_to_user(RecordRequest.objects.all(), user)
        .filter(destination=destination, key=key)
        .first()
    )
    if found is None:
        raise NotFound("No request of records with this key.")
    return found


def request_answer(*, request: RecordRequest) -> dict:
    """A request's records as they stand now: a record that waited may since have been
    written (approved), rejected, or failed."""
    answers = []
    writes = request.writes.select_related("change").order_by("position")
    for write in writes:
        answer = {"position": write.position, "entity": write.entity, "status": write.status}
        rejected = (
            write.status == RecordWrite.Status.WAITING
            and write.change is not None
            and write.change.status == OutboundChange.Status.REJECTED
        )
        if rejected:
            answer["status"] = "rejected"
        if write.status == RecordWrite.Status.WRITTEN:
            answer["id"] = write.remote_id
        if write.change_id:
            answer["change_id"] = write.change_id
        if write.status in (RecordWrite.Status.REFUSED, RecordWrite.Status.FAILED):
            answer["error"] = write.error
            if write.error_code:
                answer["code"] = write.error_code
        answers.append(answer)
    counts: dict[str, int] = {}
    for answer in answers:
        counts[answer["status"]] = counts.get(answer["status"], 0) + 1
    return {"key": request.key, "records": answers, "counts": counts}
