"""The TimeTracker: employees punch in to jobs and out again; jobs come from Microsoft
Dataverse (or, with USE_DATAVERSE=false, from a Smartsheet sheet) through JobSyncRun.

Seed: timetracker-dataverse-migration-plan ("Current Data Models"): users with a soft delete,
jobs keyed by IM number, shifts whose punch-in/out were the row's created/updated times —
here they are explicit columns, so editing a note never moves a punch.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations.accounts.models import WorkspaceOwned
from integrations.connections.models import Connection
from integrations.runs import SyncRun

SCOPE_MAX = 255
SEE_WORK_ORDER = "See Work Order"

# Dataverse option set imi_submittalstatus (seed, Phase 2 SUBMITTAL_STATUS_LABELS).
SUBMITTAL_STATUS_LABELS = {
    826130000: "Needed",
    826130001: "Ready to Submit",
    826130002: "AWT Approval",
    826130003: "Update with Field #'s",
    826130004: "Approved",
    826130005: "N/A",
}
SUBMITTAL_STATUS_APPROVED = 826130004


class Employee(WorkspaceOwned):
    """A person who tracks time (the seed's `users` table). Linked to a hub login when they
    sign in; `deleted_date` hides them without losing their shifts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="employees",
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField()
    department = models.CharField(max_length=100, blank=True)
    deleted_date = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "email"], name="employee_email_unique"),
            models.UniqueConstraint(
                fields=["workspace", "user"],
                condition=models.Q(user__isnull=False),
                name="employee_user_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_deleted(self) -> bool:
        return self.deleted_date is not None


class Job(WorkspaceOwned):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ON_HOLD = "on_hold", "On hold"
        CLOSED = "closed", "Closed"

    class Source(models.TextChoices):
        DATAVERSE = "dataverse", "Dataverse"
        SMARTSHEET = "smartsheet", "Smartsheet"
        MANUAL = "manual", "Entered here"

    im_number = models.CharField("IM number", max_length=50)
    general_contractor = models.CharField(max_length=255, default="Unknown")
    job_scope = models.CharField(max_length=SCOPE_MAX, default=SEE_WORK_ORDER)
    estimated_hours = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    assigned_to = models.ForeignKey(
        Employee, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_jobs"
    )
    context = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    dataverse_id = models.UUIDField(null=True, blank=True)
    submittal_status = models.IntegerField(null=True, blank=True)
    submittal_status_label = models.CharField(max_length=100, blank=True)
    production_phase = models.IntegerField(null=True, blank=True)
    production_phase_label = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "im_number"], name="job_im_number_unique"),
            models.UniqueConstraint(
                fields=["workspace", "dataverse_id"],
                condition=models.Q(dataverse_id__isnull=False),
                name="job_dataverse_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.im_number} — {self.general_contractor}"


class Shift(WorkspaceOwned):
    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="shifts")
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="shifts")
    punched_in_at = models.DateTimeField(default=timezone.now)
    punched_out_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-punched_in_at"]
        constraints = [
            # At most one open shift per person, kept by the database under any race.
            models.UniqueConstraint(
                fields=["employee"],
                condition=models.Q(punched_out_at__isnull=True),
                name="one_open_shift_per_employee",
            ),
            models.CheckConstraint(
                condition=models.Q(punched_out_at__isnull=True)
                | models.Q(punched_out_at__gte=models.F("punched_in_at")),
                name="shift_out_after_in",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employee} on {self.job.im_number} at {self.punched_in_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.punched_out_at is None

    @property
    def seconds(self) -> int:
        end = self.punched_out_at or timezone.now()
        return max(0, int((end - self.punched_in_at).total_seconds()))

    @property
    def hours(self) -> float:
        return round(self.seconds / 3600, 2)


class JobSyncRun(SyncRun):
    """One import of approved jobs. `created` = jobs added, `unchanged` = skipped (IM number
    known), `updated` = existing jobs that got their Dataverse id recorded, `unmapped` = source
    rows without an IM number, `failed` = rows that could not be stored."""

    class Source(models.TextChoices):
        DATAVERSE = "dataverse", "Dataverse"
        SMARTSHEET = "smartsheet", "Smartsheet"

    source = models.CharField(max_length=10, choices=Source.choices)
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    run_task = "timetracker.job_sync"

    class Meta(SyncRun.Meta):
        verbose_name = "job sync run"
        constraints = [
            # Two runs of one workspace never overlap, whatever triggered them.
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_job_sync_per_workspace",
            )
        ]

    def summary(self) -> str:
        parts = [f"{self.created} added", f"{self.unchanged} skipped"]
        if self.updated:
            parts.append(f"{self.updated} linked to their Dataverse job")
        if self.unmapped:
            parts.append(f"{self.unmapped} without an IM number")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts)
