"""Reads of the projects app, narrowed to the caller's workspaces."""

from django.db.models import QuerySet

from integrations import selectors as platform
from integrations.errors import NotFound
from integrations.models import Connection, User, Workspace
from projects.models import ENTITY_MODELS, Project, ProjectSyncRun


def project_list(*, user: User) -> QuerySet[Project]:
    return platform.scope_to_user(Project.objects.select_related("workspace"), user)


def project_for(*, user: User, project_id) -> Project:
    project = (
        project_list(user=user).filter(pk=project_id).first() if str(project_id).isdigit() else None
    )
    if project is None:
        raise NotFound("No such project.")
    return project


def smartsheet_connection(*, user: User, workspace: Workspace) -> Connection | None:
    """The user's own Smartsheet connection in the workspace, if it is usable."""
    connection = platform.connection_for(
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
    return ProjectSyncRun.objects.filter(project=project)


def run_for(*, project: Project, run_id) -> ProjectSyncRun:
    run = run_list(project=project).filter(pk=run_id).first() if str(run_id).isdigit() else None
    if run is None:
        raise NotFound("No such run.")
    return run
