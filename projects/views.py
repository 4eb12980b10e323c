"""Server-rendered pages: the project list, a project's timeline, its unmapped rows, and the
download of an attachment. Writes go through the services (the role checks live there)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from integrations.accounts import selectors as account_selectors
from integrations.connections.oauth.views import hub_origin, opens_oauth_popups
from integrations.errors import ApplicationError, NotFound
from integrations.views import button
from projects import api, selectors, services
from projects.models import Status, TaskBlock

# Each timeline form: its title, and per field the label people see and what to say when the
# field is left empty (the page never shows a field's internal name).
FORMS = {
    "comments": ("Comment", {"text": ("Text", "enter the comment's text")}),
    "attachments": ("Attachment", {"file": ("File", "choose a file to attach")}),
    "purchase-orders": (
        "Purchase order",
        {
            "number": ("PO #", "enter the PO number"),
            "vendor": ("Vendor", "enter the vendor"),
            "amount": ("Amount", ""),
        },
    ),
    "work-orders": (
        "Work order",
        {
            "number": ("WO #", "enter the WO number"),
            "description": ("Description", "describe the work"),
            "amount": ("Amount", ""),
        },
    ),
    "task-blocks": (
        "Task block",
        {
            "title": ("Title", "enter a title"),
            "start_date": ("Start date", ""),
            "end_date": ("End date", ""),
        },
    ),
}
COMMON_FIELDS = {"task_block": ("Task block", ""), "non_field_errors": ("", "")}
EMPTY_CODES = {"required", "blank", "null"}


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


def _entries(project) -> list:
    entries = selectors.timeline(project=project)
    for entry in entries:
        # What the template cannot reach by itself (_meta) or must not guess (a comment has
        # no amount; a purchase order's may be empty).
        entry.kind = entry._meta.model_name
        entry.shown_amount = getattr(entry, "amount", None)
    return entries


def _render_timeline(request, project, *, status: int = 200, values=None, errors=None, attach=None):
    connection = selectors.smartsheet_connection(user=request.user, workspace=project.workspace)
    link = getattr(project, "sheet_link", None)
    active = selectors.active_run(project=project) if link else None
    context = {
        "project": project,
        "link": link,
        "connection": connection,
        "is_admin": account_selectors.is_workspace_admin(
            user=request.user, workspace_id=project.workspace_id
        ),
        "entries": _entries(project),
        "task_blocks": TaskBlock.objects.filter(project=project).order_by("created_at"),
        "statuses": Status.choices,
        "runs": selectors.run_list(project=project)[:5],
        "active_run": active,
        "unmapped_count": selectors.unmapped_list(project=project).count() if link else 0,
        # Keys without dashes: the template reaches them as values.purchase_orders.number.
        "values": {key.replace("-", "_"): value for key, value in (values or {}).items()},
        "errors": {key.replace("-", "_"): value for key, value in (errors or {}).items()},
        "attach": attach or {},
        "upload_max_mb": settings.UPLOAD_MAX_MB,
        "upload_accept": ",".join(f".{e}" for e in settings.UPLOAD_ALLOWED_EXTENSIONS),
        "page": {
            "project": project.pk,
            "workspace": project.workspace_id,
            "allowedOrigin": hub_origin(),
            "pollSeconds": settings.OAUTH_STATUS_POLL_SECONDS,
            "pageUrl": reverse("project-timeline", args=[project.pk]),
            "unmappedUrl": reverse("project-unmapped", args=[project.pk]),
            "reviewUrl": reverse("review-queue"),
            "activeRun": api.RunSerializer(active).data if active else None,
        },
    }
    return render(request, "projects/timeline.html", context, status=status)


@login_required
@ensure_csrf_cookie
@opens_oauth_popups
def timeline(request, project_id: int):
    return _render_timeline(request, _project(request, project_id))


def _back(project_id: int):
    return redirect("project-timeline", project_id=project_id)


def _field_messages(segment: str, problems: dict) -> list[str]:
    """A serializer's field errors in the form's words: "Comment: enter the comment's text"."""
    title, fields = FORMS[segment]
    labels = {**COMMON_FIELDS, **fields}
    said = []
    for field, errors in problems.items():
        label, when_empty = labels.get(field, (field.replace("_", " ").capitalize(), ""))
        for error in errors:
            if when_empty and getattr(error, "code", "") in EMPTY_CODES:
                said.append(f"{title}: {when_empty}.")
            else:
                said.append(f"{title}: {label}: {error}" if label else f"{title}: {error}")
    return said


@login_required
@require_POST
def add_entry(request, project_id: int, segment: str):
    """Add an entry from one of the timeline's forms. A refusal re-renders the page with the
    form as it was typed and the reason in the form's own words."""
    project = _project(request, project_id)
    if segment not in FORMS:
        raise Http404("No such kind of timeline entry.")
    typed = {key: value for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
    data = {key: value for key, value in typed.items() if value != ""}
    if "file" in request.FILES:
        data["file"] = request.FILES["file"]
    if "is_custom" in data:
        data["is_custom"] = data["is_custom"] in ("on", "true", "1")
    try:
        entry = api.add_entry(user=request.user, project=project, segment=segment, data=data)
    except ValidationError as exc:
        problems = exc.detail if isinstance(exc.detail, dict) else {"": exc.detail}
        said = _field_messages(segment, problems)
    except ApplicationError as exc:
        said = [f"{FORMS[segment][0]}: {exc.message}"]
    else:
        messages.success(request, f"Added {entry._meta.verbose_name} “{entry}”.")
        return _back(project.pk)
    return _render_timeline(
        request, project, status=400, values={segment: typed}, errors={segment: said}
    )


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
    """Attach an existing sheet. A sheet another project of the workspace uses is refused,
    naming it; workspace admins get an "Attach anyway" button that sends `force`."""
    project = _project(request, project_id)
    sheet_id = request.POST.get("sheet_id", "").strip()
    if not sheet_id.isdigit():
        return _render_timeline(
            request,
            project,
            status=400,
            attach={
                "sheet_id": sheet_id,
                "error": "Enter the sheet's id (a number, from the sheet's properties in "
                "Smartsheet).",
            },
        )
    try:
        link = services.sheet_attach(
            project=project,
            actor=request.user,
            sheet_id=int(sheet_id),
            force=request.POST.get("force") == "1",
        )
    except ApplicationError as exc:
        return _render_timeline(
            request,
            project,
            status=exc.status_code,
            attach={
                "sheet_id": sheet_id,
                "error": exc.message,
                "holder": exc.details.get("project"),
            },
        )
    messages.success(request, f"Attached the sheet “{link.sheet_name}”.")
    return _back(project.pk)


@login_required
def attachment_download(request, project_id: int, attachment_id: int):
    """An attachment's file, for members of the project's workspace only (media files are
    never served from a public URL). Always a download, never shown inline: an uploaded
    file must not run as a page of the hub."""
    project = _project(request, project_id)
    try:
        attachment = selectors.attachment_for(project=project, attachment_id=attachment_id)
        stream = attachment.file.open("rb")
    except (NotFound, FileNotFoundError) as exc:
        raise Http404("No such attachment.") from exc
    return FileResponse(
        stream,
        as_attachment=True,
        filename=attachment.name,
        content_type="application/octet-stream",
    )


@login_required
@ensure_csrf_cookie
def unmapped(request, project_id: int):
    """The rows of the project's sheet that nobody here owns, with import / link / ignore for
    workspace admins."""
    project = _project(request, project_id)
    rows = list(selectors.unmapped_list(project=project))
    return render(
        request,
        "projects/unmapped.html",
        {
            "project": project,
            "rows": rows,
            "is_admin": account_selectors.is_workspace_admin(
                user=request.user, workspace_id=project.workspace_id
            ),
            "entries": [
                (f"{entry._meta.model_name}:{entry.pk}", f"{entry.sheet_type}: {entry}")
                for entry in selectors.unlinked_entries(project=project)
            ]
            if rows
            else [],
        },
    )


@login_required
@require_POST
def unmapped_action(request, project_id: int, row_id: int, action: str):
    project = _project(request, project_id)
    try:
        row = selectors.unmapped_for(project=project, row_id=row_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    name = row.cells.get("name") or f"row {row.row_id}"
    with button(request, prefix=f"“{name}”: ") as pressed:
        if action == "import":
            entry = services.unmapped_import(row=row, actor=request.user)
            said = f"Imported “{name}” as {entry._meta.verbose_name} “{entry}”."
        elif action == "link":
            entity_type, _, entity_id = request.POST.get("entry", "").partition(":")
            if not entity_id.isdigit():
                raise ApplicationError("Choose the entry this row is.")
            services.unmapped_link(
                row=row, actor=request.user, entity_type=entity_type, entity_id=int(entity_id)
            )
            said = f"Linked “{name}”: the next Sync to Smartsheet writes the entry onto it."
        elif action == "ignore":
            services.unmapped_ignore(row=row, actor=request.user)
            said = f"Ignored “{name}”."
        else:
            raise Http404("No such action.")
    if not pressed.failed:
        messages.success(request, said)
    return redirect("project-unmapped", project_id=project.pk)
