"""Reads of Project migration, always narrowed with integrations.accounts.selectors.scope_to_user."""

from django.db.models import QuerySet

from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import User, Workspace
from integrations.connections.models import Connection
from integrations.errors import NotFound
from integrations.runs import SyncRun
from migration.runs import MigrationIssue, MigrationRun

SOURCE_PROVIDER = "project_online"
TARGET_PROVIDER = "smartsheet"
# A connection a run may use: paused or disconnected ones may not (an expired or erroring one
# gets its refresh on the first call, as every sync's).
USABLE = (Connection.Status.CONNECTED, Connection.Status.EXPIRED, Connection.Status.ERROR)


def run_list(
    *, user: User, workspace_id: int | None = None, active: bool = False
) -> QuerySet[MigrationRun]:
    """The migration runs of the user's workspaces, newest first."""
    runs = account_selectors.scope_to_user(
        MigrationRun.objects.select_related("workspace", "requested_by"), user
    )
    if workspace_id is not None:
        runs = runs.filter(workspace_id=workspace_id)
    return runs.filter(status__in=SyncRun.ACTIVE) if active else runs


def run_for(*, user: User, run_id) -> MigrationRun:
    """One run of the user's workspaces, or NotFound (another workspace's run too)."""
    run = run_list(user=user).filter(pk=run_id).first() if str(run_id).isdigit() else None
    if run is None:
        raise NotFound("No such migration run.")
    return run


def issue_list(
    *, run: MigrationRun, severity: str = "", project_id: str = "", stage: str = ""
) -> QuerySet[MigrationIssue]:
    """A run's report, in the order its findings were made."""
    issues = MigrationIssue.objects.filter(run=run)
    if severity:
        issues = issues.filter(severity=severity)
    if project_id:
        issues = issues.filter(project_id=project_id)
    if stage:
        issues = issues.filter(stage=stage)
    return issues.order_by("pk")


def connections_of(*, workspace: Workspace, provider: str) -> QuerySet[Connection]:
    """The workspace's usable connections to a provider, newest first."""
    return Connection.objects.filter(
        workspace=workspace, provider=provider, status__in=USABLE
    ).order_by("-pk")


def connection_for(*, user: User, connection_id, provider: str) -> Connection:
    """A connection of the user's workspaces to `provider`, or NotFound."""
    connections = account_selectors.scope_to_user(
        Connection.objects.select_related("workspace").filter(provider=provider), user
    )
    connection = (
        connections.filter(pk=connection_id).first() if str(connection_id).isdigit() else None
    )
    if connection is None:
        raise NotFound("No such connection.")
    return connection


def project_names(run: MigrationRun) -> dict[str, str]:
    """Project id -> name as read by the run (its id until it was read)."""
    return {
        pid: (run.sources.get(pid) or {}).get("name") or pid for pid in map(str, run.project_ids)
    }
