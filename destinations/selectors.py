"""Reads of the destinations app, always narrowed to the caller's workspaces."""

from django.db.models import QuerySet

from destinations.models import Destination, RecordWrite
from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import User
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
