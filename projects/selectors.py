"""Reads of the projects app, narrowed to the caller's workspaces."""

from django.db.models import QuerySet

from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import User, Workspace
from integrations.connections import selectors as connection_selectors
from integrations.connections.models import Connection
from integrations.errors import NotFound
from integrations.runs import SyncRun
from projects.models import ENTITY_MODELS, Attachment, Project, ProjectSyncRun, UnmappedRow


def project_list(*, user: User) -> QuerySet[Project]:
    return account_selectors.scope_to_user(Project.objects.select_related("workspace"), user)


def project_for(*, user: User, project_id) -> Project:
    project = (
        project_list(user=user).filter(pk=project_id).first() if str(project_id).isdigit() else None
    )
    if project is None:
        raise NotFound("No such project.")
    return project


def smartsheet_connection(*, user: User, workspace: Workspace) -> Connection | None:
    """The user's own Smartsheet connection in the workspace, if it is usable."""
    connection = connection_selectors.connection_for(
        user=user, workspace=workspace, provider=Connection.Provider.SMARTSHEET
    )
    return (
        connection
        if connection is not None and connection.status == Connection.Status.CONNECTED
        else None
    )


def timeline(*, project: Project) -> list:
    """Every entry of a project, oldest first (the timeline page and API)."""
    entries = []
    for model in ENTITY_MODELS.values():
        entries.extend(model.objects.filter(project=project).select_related("author"))
    return sorted(entries, key=lambda entry: (entry.created_at, entry._meta.model_name, entry.pk))


def run_list(*, project: Project) -> QuerySet[ProjectSyncRun]:
    return ProjectSyncRun.objects.filter(project=project).select_related("requested_by")


def active_run(*, project: Project) -> ProjectSyncRun | None:
    """The project's queued or running run (at most one, by a database constraint)."""
    return run_list(project=project).filter(status__in=SyncRun.ACTIVE).first()


def run_for(*, project: Project, run_id) -> ProjectSyncRun:
    run = run_list(project=project).filter(pk=run_id).first() if str(run_id).isdigit() else None
    if run is None:
        raise NotFound("No such run.")
    return run


def attachment_for(*, project: Project, attachment_id) -> Attachment:
    attachment = (
        Attachment.objects.filter(project=project, pk=attachment_id).first()
        if str(attachment_id).isdigit()
        else None
    )
    if attachment is None or not attachment.file:
        raise NotFound("No such attachment.")
    return attachment


def unmapped_list(*, project: Project) -> QuerySet[UnmappedRow]:
    """The rows of the project's sheet that nobody here owns and nobody has dealt with yet."""
    return UnmappedRow.objects.filter(link__project=project, state=UnmappedRow.State.NEW).order_by(
        "first_seen_at", "row_id"
    )


def unmapped_for(*, project: Project, row_id) -> UnmappedRow:
    row = (
        UnmappedRow.objects.select_related("link__project", "workspace")
        .filter(link__project=project, pk=row_id)
        .first()
        if str(row_id).isdigit()
        else None
    )
    if row is None:
        raise NotFound("No such unmapped row.")
    return row


def unlinked_entries(*, project: Project) -> list:
    """Entries without a row in the project's sheet: what an unmapped row may be linked to."""
    link = getattr(project, "sheet_link", None)
    mapped = set(link.row_mappings.values_list("entity_type", "entity_id")) if link else set()
    return [
        entry
        for entry in timeline(project=project)
        if (entry._meta.model_name, entry.pk) not in mapped
    ]
