"""Server-rendered pages: the project list and a project's timeline."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from integrations.errors import ApplicationError, NotFound
from integrations.oauth.views import hub_origin, opens_oauth_popups
from projects import api, selectors, services
from projects.models import Status, TaskBlock


@login_required
def project_list(request):
    return render(
        request, "projects/list.html", {"projects": selectors.project_list(user=request.user)}
    )


def _project(request, project_id: int):
    """The project if the user's workspaces hold it; a plain 404 page otherwise."""
    try:
        return selectors.project_for(user=request.user, project_id=project_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@ensure_csrf_cookie
@opens_oauth_popups
def timeline(request, project_id: int):
    project = _project(request, project_id)
    connection = selectors.smartsheet_connection(user=request.user, workspace=project.workspace)
    context = {
        "project": project,
        "link": getattr(project, "sheet_link", None),
        "connection": connection,
        "entries": selectors.timeline(project=project),
        "task_blocks": TaskBlock.objects.filter(project=project).order_by("created_at"),
        "statuses": Status.choices,
        "runs": selectors.run_list(project=project)[:5],
        "page": {
            "project": project.pk,
            "workspace": project.workspace_id,
            "allowedOrigin": hub_origin(),
            "pollSeconds": 10,
        },
    }
    return render(request, "projects/timeline.html", context)


def _back(project_id: int):
    return redirect("project-timeline", project_id=project_id)


@login_required
@require_POST
def add_entry(request, project_id: int, segment: str):
    project = _project(request, project_id)
    data = {key: value for key, value in request.POST.items() if value != ""}
    if "file" in request.FILES:
        data["file"] = request.FILES["file"]
    if "is_custom" in data:
        data["is_custom"] = data["is_custom"] in ("on", "true", "1")
    try:
        entry = api.add_entry(user=request.user, project=project, segment=segment, data=data)
    except ValidationError as exc:
        problems = exc.detail if isinstance(exc.detail, dict) else {"": exc.detail}
        for field, errors in problems.items():
            messages.error(
                request,
                f"{field}: {' '.join(str(e) for e in errors)}"
                if field
                else " ".join(map(str, errors)),
            )
        return _back(project.pk)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(project.pk)
    messages.success(request, f"Added {entry._meta.verbose_name} “{entry}”.")
    return _back(project.pk)


@login_required
@require_POST
def provision(request, project_id: int):
    project = _project(request, project_id)
    try:
        link = services.sheet_provision(project=project, actor=request.user)
        messages.success(request, f"Created the sheet “{link.sheet_name}” from the template.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return _back(project.pk)


@login_required
@require_POST
def attach(request, project_id: int):
    project = _project(request, project_id)
    sheet_id = request.POST.get("sheet_id", "").strip()
    if not sheet_id.isdigit():
        messages.error(
            request, "Enter the sheet's id (a number, from the sheet's properties in Smartsheet)."
        )
        return _back(project.pk)
    try:
        link = services.sheet_attach(project=project, actor=request.user, sheet_id=int(sheet_id))
        messages.success(request, f"Attached the sheet “{link.sheet_name}”.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return _back(project.pk)
