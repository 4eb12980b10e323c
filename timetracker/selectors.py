"""Reads of the TimeTracker, narrowed to the caller's workspaces."""

from datetime import timedelta

from django.db.models import DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Now

from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import Membership, User, Workspace
from integrations.connections.models import Connection
from integrations.errors import NotFound
from integrations.runs import SyncRun
from timetracker.models import Employee, Job, JobSyncRun, Shift


def job_list(*, user: User, search: str = "") -> QuerySet[Job]:
    jobs = account_selectors.scope_to_user(
        Job.objects.select_related("workspace", "assigned_to"), user
    )
    search = search.strip()
    if search:
        jobs = jobs.filter(
            Q(im_number__icontains=search)
            | Q(general_contractor__icontains=search)
            | Q(job_scope__icontains=search)
        )
    return jobs


def job_for(*, user: User, job_id) -> Job:
    job = job_list(user=user).filter(pk=job_id).first() if str(job_id).isdigit() else None
    if job is None:
        raise NotFound("No such job.")
    return job


def open_jobs(*, workspace: Workspace) -> QuerySet[Job]:
    return Job.objects.filter(workspace=workspace).exclude(status=Job.Status.CLOSED)


def open_shift(*, employee: Employee) -> Shift | None:
    return (
        Shift.objects.select_related("job")
        .filter(employee=employee, punched_out_at__isnull=True)
        .first()
    )


def shifts_of(*, job: Job) -> QuerySet[Shift]:
    return job.shifts.select_related("employee").order_by("-punched_in_at")


def total_hours(*, job: Job) -> float:
    """Hours on a job: closed shifts as punched, an open one up to now."""
    worked = ExpressionWrapper(
        Coalesce(F("punched_out_at"), Now()) - F("punched_in_at"), output_field=DurationField()
    )
    total = job.shifts.aggregate(total=Sum(worked))["total"] or timedelta()
    return round(total.total_seconds() / 3600, 2)


def employee_of(*, user: User, workspace: Workspace) -> Employee | None:
    return Employee.objects.filter(workspace=workspace, user=user).first()


def dataverse_connection(*, workspace: Workspace) -> Connection | None:
    """The workspace's Dataverse connection, when it can be used (paused or disconnected
    ones are not)."""
    return Connection.objects.filter(
        workspace=workspace,
        provider=Connection.Provider.DATAVERSE,
        status__in=(
            Connection.Status.CONNECTED,
            Connection.Status.EXPIRED,
            Connection.Status.ERROR,
        ),
    ).first()


def smartsheet_source_connection(*, workspace: Workspace) -> Connection | None:
    """For the rollback source: a workspace admin's Smartsheet connection (the most recently
    connected), else any member's. Smartsheet links are personal; the sheet must be shared
    with whoever it is."""
    connections = Connection.objects.filter(
        workspace=workspace,
        provider=Connection.Provider.SMARTSHEET,
        status=Connection.Status.CONNECTED,
    )
    admins = Membership.objects.filter(workspace=workspace, role=Membership.Role.ADMIN).values_list(
        "user_id", flat=True
    )
    return (
        connections.filter(user_id__in=admins).order_by("-connected_at").first()
        or connections.order_by("-connected_at").first()
    )


def run_list(
    *, user: User, workspace_id: int | None = None, active: bool = False
) -> QuerySet[JobSyncRun]:
    """The runs of the user's workspaces, newest first: of one workspace, and only the one
    going now (queued or running: at most one per workspace), when asked."""
    runs = account_selectors.scope_to_user(JobSyncRun.objects.select_related("workspace"), user)
    if workspace_id is not None:
        runs = runs.filter(workspace_id=workspace_id)
    return runs.filter(status__in=SyncRun.ACTIVE) if active else runs


def run_for(*, user: User, run_id) -> JobSyncRun:
    run = run_list(user=user).filter(pk=run_id).first() if str(run_id).isdigit() else None
    if run is None:
        raise NotFound("No such run.")
    return run


def last_run(*, workspace: Workspace) -> JobSyncRun | None:
    return JobSyncRun.objects.filter(workspace=workspace).first()
