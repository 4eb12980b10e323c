"""The migration's run log and its report: a `MigrationRun` (the platform's SyncRun) per dry
run or real run, with its picked projects, the plan it made (`Plan.to_json()`), progress per
project and stage, and the end summary; a `MigrationIssue` per finding (`migration.model.Issue`)
of its extract, transform and load — the report shown in admin and downloaded as CSV or JSON.

Models live here, imported by migration/models.py, so that the load's link and intent models
(migration/links.py) and these never edit the same lines."""

from django.db import models

from integrations.accounts.models import WorkspaceOwned
from integrations.connections.models import Connection
from integrations.runs import SyncRun

# The stages a project goes through, in order; a dry run stops after the transform and only
# writes its report.
STAGES = ("extract", "transform", "workspace", "sheets", "rows", "predecessors", "report")
DRY_RUN_STAGES = ("extract", "transform", "report")
STAGE_LABELS = {
    "extract": "Reading from Project Online",
    "transform": "Planning",
    "workspace": "Smartsheet workspace",
    "sheets": "Sheets and columns",
    "rows": "Rows",
    "predecessors": "Predecessors",
    "report": "Report",
}


FILE_STAGE_LABELS = {**STAGE_LABELS, "extract": "Reading the file"}


class MigrationRun(SyncRun):
    """One migration of picked Project Online projects into Smartsheet workspaces.

    A dry run extracts and transforms, keeps the plan and its report, and writes nothing; a
    real run loads the plan (`runs_plan`: the dry run whose plan it loads unchanged, else one
    made in the run). Counts: `created` / `updated` = Smartsheet rows, `failed` = projects that
    could not be migrated. `stages` is `{project_id: {stage: {"done": n, "total": n}}}`;
    `results` is `{project_id: {name, sheet_workspace_id, permalink, sheets, rows_created,
    rows_updated, errors, warnings}}`."""

    class Source(models.TextChoices):
        PROJECT_ONLINE = "project_online", "Project Online"
        FILE = "file", "MS Project files"

    source_kind = models.CharField(
        max_length=20,
        choices=Source.choices,
        default=Source.PROJECT_ONLINE,
        help_text="Where the projects are read from: a Project Online connection, or uploaded "
        'MS Project files (their ids in project_ids as "file:<id>").',
    )
    source_connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The Project Online connection read from.",
    )
    target_connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The Smartsheet connection written to.",
    )
    project_ids = models.JSONField(default=list, help_text="The picked Project Online projects.")
    dry_run = models.BooleanField(default=False, help_text="Plan and report only; write nothing.")
    accept_errors = models.BooleanField(
        default=False,
        help_text="Load a plan even though its report has errors (the rows in error are not "
        "in the plan).",
    )
    runs_plan = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="real_runs",
        help_text="The dry run whose plan this run loads, unchanged.",
    )
    plan = models.JSONField(null=True, blank=True, help_text="Plan.to_json() of this run.")
    plan_made_at = models.DateTimeField(null=True, blank=True)
    sources = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per project: its name and modified time as read, to tell a stale plan.",
    )
    stages = models.JSONField(default=dict, blank=True)
    results = models.JSONField(default=dict, blank=True)
    issue_errors = models.PositiveIntegerField(default=0)
    issue_warnings = models.PositiveIntegerField(default=0)

    run_task = "migration.run"

    class Meta(SyncRun.Meta):
        verbose_name = "migration run"
        constraints = [
            # One migration at a time per hub workspace: they share its PMO Standards workspace
            # and the load's links.
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_migration_per_workspace",
            )
        ]

    def __str__(self) -> str:
        kind = "dry run" if self.dry_run else "migration"
        return f"{kind} {self.pk} ({self.get_status_display().lower()})"

    @property
    def stage_labels(self) -> dict[str, str]:
        return FILE_STAGE_LABELS if self.source_kind == self.Source.FILE else STAGE_LABELS

    @property
    def source_label(self) -> str:
        return self.get_source_kind_display()

    @property
    def stage_names(self) -> tuple[str, ...]:
        return DRY_RUN_STAGES if self.dry_run else STAGES

    def summary(self) -> str:
        projects = len(self.project_ids)
        parts = [f"{projects} project{'s' if projects != 1 else ''}"]
        if self.dry_run:
            parts.append("planned, nothing written")
        else:
            parts += [f"{self.created} rows created", f"{self.updated} updated"]
        parts.append(f"{self.issue_errors} errors, {self.issue_warnings} warnings")
        if self.failed:
            parts.append(f"{self.failed} project{'s' if self.failed != 1 else ''} failed")
        return ", ".join(parts)


class MigrationIssue(WorkspaceOwned):
    """One finding of a run (a `migration.model.Issue`): the report, row by row."""

    class Severity(models.TextChoices):
        ERROR = "error", "Error"
        WARNING = "warning", "Warning"

    class Stage(models.TextChoices):
        EXTRACT = "extract", "Extract"
        TRANSFORM = "transform", "Transform"
        LOAD = "load", "Load"

    run = models.ForeignKey(MigrationRun, on_delete=models.CASCADE, related_name="issues")
    project_id = models.CharField(max_length=64, blank=True, db_index=True)
    severity = models.CharField(max_length=7, choices=Severity.choices, db_index=True)
    stage = models.CharField(max_length=10, choices=Stage.choices)
    entity = models.CharField(max_length=40)
    entity_id = models.CharField(max_length=200, blank=True)
    field = models.CharField(max_length=200, blank=True)
    rule = models.CharField(max_length=100, db_index=True)
    value = models.TextField(blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["run", "pk"]

    def __str__(self) -> str:
        return f"{self.severity}: {self.rule} ({self.entity} {self.entity_id})"
