"""Server-rendered pages of the destinations app: a workspace's destinations, and one
destination's recent requests and record writes with their outcome (written, waiting for
approval, rejected, refused, failed), where a workspace admin retries a failed write."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from destinations import selectors, services
from destinations.models import RecordWrite
from integrations.accounts import selectors as account_selectors
from integrations.errors import ApplicationError, NotFound
from integrations.views import page_workspace

RECENT_REQUESTS = 20
RECENT_WRITES = 50


def _destination(request, destination_id: int):
    try:
        return selectors.destination_for(user=request.user, destination_id=destination_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
def destination_list(request):
    workspace = page_workspace(request)
    return render(
        request,
        "destinations/list.html",
        {
            "workspace": workspace,
            "workspaces": account_selectors.workspace_list(user=request.user),
            "destinations": selectors.destination_list(user=request.user).filter(
                workspace=workspace
            ),
        },
    )


@login_required
def destination_page(request, destination_id: int):
    destination = _destination(request, destination_id)
    status = request.GET.get("status", "")
    if status not in selectors.WRITE_STATES:
        status = ""
    writes = selectors.write_states(
        user=request.user, destination=destination, status=status, limit=RECENT_WRITES
    )
    return render(
        request,
        "destinations/destination.html",
        {
            "destination": destination,
            "requests": selectors.request_list(user=request.user, destination=destination)[
                :RECENT_REQUESTS
            ],
            "writes": writes,
            "status": status,
            "states": selectors.WRITE_STATES,
            "is_admin": account_selectors.is_workspace_admin(
                user=request.user, workspace_id=destination.workspace_id
            ),
        },
    )


@login_required
@require_POST
def write_retry(request, destination_id: int, write_id: int):
    destination = _destination(request, destination_id)
    write = (
        selectors.write_list(user=request.user, destination=destination).filter(pk=write_id).first()
    )
    if write is None:
        raise Http404("No such write.")
    try:
        done = services.write_retry(write=write, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if done.status == RecordWrite.Status.WRITTEN:
            messages.success(request, f"Written: {done.get_entity_display()} {done.remote_id}.")
        else:
            messages.error(request, f"Failed again: {done.error}")
    back = reverse("destination-page", args=[destination.pk])
    return redirect(f"{back}?status={request.POST.get('status', '')}")
