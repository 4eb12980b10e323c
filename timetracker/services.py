"""Writes of the TimeTracker: employees, punch in and out, and job sync runs with their three
triggers (the daily schedule, the manual endpoint and button, and sign-in)."""

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.accounts import audit
from integrations.accounts import services as accounts
from integrations.accounts.models import Membership, User, Workspace
from integrations.connections.models import Connection
from integrations.errors import ApplicationError, Conflict, PermissionDenied
from integrations.runs import SyncRun, request_run
from timetracker import selectors
from timetracker.models import Employee, Job, JobSyncRun, Shift

logger = logging.getLogger(__name__)

NOTE_MAX = 2000


# --- employees and shifts ------------------------------------------------------------------------


def employee_for(*, user: User, workspace: Workspace) -> Employee:
    """The signed-in person's employee record, made from their login the first time."""
    employee = Employee.objects.filter(workspace=workspace, user=user).first()
    if employee is None:
        employee = Employee.objects.filter(workspace=workspace, email__iexact=user.email).first()
        if employee is not None and employee.user_id is None:
            employee.user = user
            employee.save(update_fields=["user", "updated_at"])
    if employee is None:
        first, _, last = (user.get_full_name() or user.email.split("@")[0]).partition(" ")
        try:
            with transaction.atomic():
                employee = Employee.objects.create(
                    workspace=workspace,
                    user=user,
                    email=user.email,
                    first_name=first,
                    last_name=last,
                )
        except IntegrityError:  # made by a parallel request of the same person
            employee = Employee.objects.get(workspace=workspace, user=user)
    if employee.is_deleted:
        raise PermissionDenied(
            "Your TimeTracker profile was removed; ask an administrator to restore it.",
            code="employee_deleted",
        )
    return employee


@audit.audited
def employee_soft_delete(*, employee: Employee, actor: User | None) -> Employee:
    """Hide a person (the seed's `deleted_date`); an open shift is closed first, and every
    shift stays for the hours reports."""
    accounts.require_workspace_admin(
        actor=actor, workspace=employee.workspace, doing="remove employees"
    )
    with transaction.atomic():
        Shift.objects.filter(employee=employee, punched_out_at__isnull=True).update(
            punched_out_at=timezone.now()
        )
        employee.deleted_date = timezone.now()
        employee.save(update_fields=["deleted_date", "updated_at"])
        audit.audit_record(action="timetracker.employee.delete", actor=actor, target=employee)
    return employee


@audit.audited
def employee_restore(*, employee: Employee, actor: User | None) -> Employee:
    """Undo a removal: the person can punch in again, their shifts never left."""
    accounts.require_workspace_admin(
        actor=actor, workspace=employee.workspace, doing="restore employees"
    )
    if employee.deleted_date is not None:
        employee.deleted_date = None
        employee.save(update_fields=["deleted_date", "updated_at"])
        audit.audit_record(action="timetracker.employee.restore", actor=actor, target=employee)
    return employee


def _note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ApplicationError(
            f"The note is {len(note)} characters long; at most {NOTE_MAX} are kept.",
            details={"note": [f"At most {NOTE_MAX} characters."]},
        )
    return note


def punch_in(*, user: User, job: Job, note: str = "") -> Shift:
    """Start a shift on a job. One open shift per person, held by a database constraint."""
    employee = employee_for(user=user, workspace=job.workspace)
    if job.status == Job.Status.CLOSED:
        raise Conflict(f"Job {job.im_number} is closed; pick an open job.", code="job_closed")
    open_shift = selectors.open_shift(employee=employee)
    if open_shift is not None:
        raise Conflict(
            f"You are already punched in to {open_shift.job.im_number}; punch out first.",
            code="already_punched_in",
        )
    try:
        with transaction.atomic():
            return Shift.objects.create(
                workspace=job.workspace, job=job, employee=employee, note=_note(note)
            )
    except IntegrityError:  # a second tab punched in at the same moment
        raise Conflict(
            "You are already punched in; punch out first.", code="already_punched_in"
        ) from None


def punch_out(*, user: User, workspace: Workspace, note: str = "") -> Shift:
    employee = employee_for(user=user, workspace=workspace)
    note = _note(note)
    with transaction.atomic():
        shift = (
            Shift.objects.select_for_update()
            .filter(employee=employee, punched_out_at__isnull=True)
            .first()
        )
        if shift is None:
            raise Conflict("You are not punched in.", code="not_punched_in")
        shift.punched_out_at = timezone.now()
        if note:
            shift.note = f"{shift.note}\n{note}".strip() if shift.note else note
        shift.save(update_fields=["punched_out_at", "note"])
    return shift


# --- job sync runs -------------------------------------------------------------------------------


class SourceNotConfigured(ApplicationError):
    status_code = 409
    code = "source_not_configured"


def job_source(*, workspace: Workspace) -> tuple[str, Connection]:
    """Which source a run of this workspace reads, and through which connection. The switch is
    USE_DATAVERSE, read at start-up: changing it needs only the variable and a restart."""
    if settings.USE_DATAVERSE:
        connection = selectors.dataverse_connection(workspace=workspace)
        if connection is None:
            raise SourceNotConfigured(
                "This workspace has no usable Dataverse connection; add one under Connections."
            )
        return JobSyncRun.Source.DATAVERSE, connection
    if not settings.TIMETRACKER_SMARTSHEET_SHEET_ID or not all(
        settings.TIMETRACKER_SMARTSHEET_COLUMNS.values()
    ):
        raise SourceNotConfigured(
            "USE_DATAVERSE is false but the Smartsheet jobs sheet is not configured: set "
            "TIMETRACKER_SMARTSHEET_SHEET_ID and the four TIMETRACKER_*_COLUMN_ID variables."
        )
    connection = selectors.smartsheet_source_connection(workspace=workspace)
    if connection is None:
        raise SourceNotConfigured(
            "USE_DATAVERSE is false and nobody in this workspace has connected Smartsheet; "
            "a workspace admin should connect it."
        )
    return JobSyncRun.Source.SMARTSHEET, connection


@audit.audited
def job_sync_request(
    *, workspace: Workspace, actor: User | None = None, trigger: str = SyncRun.Trigger.BUTTON
) -> JobSyncRun:
    """Queue a run of the workspace's job import. Two runs of a workspace never overlap (a
    database constraint). A sign-in queues one for whoever signs in; any other request (the
    button, the API, Django admin, a command run as someone) needs a workspace admin."""
    if trigger != SyncRun.Trigger.LOGIN:
        accounts.require_workspace_admin(actor=actor, workspace=workspace, doing="start a job sync")
    source, connection = job_source(workspace=workspace)
    return request_run(
        JobSyncRun.objects.filter(workspace=workspace),
        # The task by its name: timetracker/tasks.py imports this module, not the other way.
        task=current_app.signature("timetracker.job_sync"),
        action="timetracker.jobs.sync",
        busy="A job sync of this workspace is already running; wait for it to finish.",
        workspace=workspace,
        source=source,
        connection=connection,
        direction="inbound",
        trigger=trigger,
        requested_by=actor,
    )


def job_sync_on_login(*, user: User) -> list[JobSyncRun]:
    """Sign-in trigger (the seed's login sync), queued: it never slows or fails a sign-in, and
    a workspace gets at most one such run per TIMETRACKER_LOGIN_SYNC_MINUTES however many
    people sign in. Workspaces without a configured source are skipped quietly."""
    window = timezone.now() - timedelta(minutes=settings.TIMETRACKER_LOGIN_SYNC_MINUTES)
    runs = []
    for membership in Membership.objects.filter(user=user).select_related("workspace"):
        workspace = membership.workspace
        try:
            if JobSyncRun.objects.filter(workspace=workspace, created_at__gte=window).exists():
                continue  # a recent run (any trigger) already covers this sign-in
            runs.append(
                job_sync_request(workspace=workspace, actor=user, trigger=SyncRun.Trigger.LOGIN)
            )
        except (SourceNotConfigured, Conflict):
            continue
        except Exception:
            logger.exception("the sign-in job sync of workspace %s was not started", workspace.pk)
    return runs


def job_sync_scheduled() -> dict[str, int]:
    """The daily run (06:00 New York time): one run per workspace that has a source."""
    outcome = {"queued": 0, "skipped": 0}
    for workspace in Workspace.objects.order_by("pk"):
        try:
            job_sync_request(workspace=workspace, trigger=SyncRun.Trigger.SCHEDULE)
            outcome["queued"] += 1
        except (SourceNotConfigured, Conflict):
            outcome["skipped"] += 1
    return outcome
