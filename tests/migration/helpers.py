"""What the migration run tests share: connections made as rows (no provider is called), a
small plan, and finished runs to act on."""

from datetime import timedelta

from django.utils import timezone

from integrations.connections.models import Connection
from migration.model import (
    CellPlan,
    ColumnPlan,
    Issue,
    Plan,
    PredecessorPlan,
    RowPlan,
    SheetPlan,
    WorkspacePlan,
)
from migration.runs import MigrationIssue, MigrationRun


def connection_row(workspace, provider: str, *, user=None, status="connected") -> Connection:
    """A connection as stored, for tests that never call the provider."""
    return Connection.objects.create(
        workspace=workspace,
        provider=provider,
        user=user,
        label=f"{provider} of {workspace.name}",
        status=status,
    )


def small_plan(project_id: str = "p-1", name: str = "Website Redesign") -> Plan:
    columns = [
        ColumnPlan(key="TaskName", title="Task Name", type="TEXT_NUMBER", primary=True),
        ColumnPlan(
            key="Priority", title="Priority", type="PICKLIST", options=["Low", "Medium", "High"]
        ),
    ]
    rows = [
        RowPlan(
            key="t-1", cells={"TaskName": CellPlan(value="Design"), "Priority": CellPlan("High")}
        ),
        RowPlan(key="t-2", parent_key="t-1", cells={"TaskName": CellPlan(value="Wireframes")}),
    ]
    sheet = SheetPlan(
        key="tasks",
        name=f"{name} - Tasks",
        columns=columns,
        rows=rows,
        predecessors=[
            PredecessorPlan(
                row_key="t-2", predecessors=[{"row_key": "t-1", "type": "FS", "lag_minutes": 0.0}]
            )
        ],
    )
    return Plan(
        workspaces=[
            WorkspacePlan(
                project_id=project_id, project_name=name, name=name, prefix="WRE", sheets=[sheet]
            )
        ],
        issues=[
            Issue(
                severity="warning",
                stage="transform",
                entity="Task",
                entity_id="t-2",
                field="PercentComplete",
                rule="task.percent.invalid",
                value="abc",
                message="Invalid PercentComplete, defaulting to 0",
            )
        ],
    )


def finished_dry_run(workspace, source, target, *, errors: int = 0, age_hours: float = 0, **fields):
    """A dry run that made `small_plan()` with one warning (and `errors` errors) in its report."""
    plan = small_plan()
    run = MigrationRun.objects.create(
        workspace=workspace,
        direction="outbound",
        trigger="api",
        status=fields.pop("status", "succeeded"),
        source_connection=source,
        target_connection=target,
        project_ids=["p-1"],
        dry_run=fields.pop("dry_run", True),
        plan=fields.pop("plan", plan.to_json()),
        plan_made_at=timezone.now() - timedelta(hours=age_hours),
        sources={"p-1": {"name": "Website Redesign", "modified": "2026-01-05T10:00:00"}},
        stages={
            "p-1": {
                s: {"done": 1, "total": 1, "state": "done"}
                for s in ("extract", "transform", "report")
            }
        },
        results={
            "p-1": {
                "name": "Website Redesign",
                "sheet_workspace_name": "Website Redesign",
                "sheets": [{"key": "tasks", "name": "Website Redesign - Tasks", "rows": 2}],
                "errors": errors,
                "warnings": 1,
            }
        },
        issue_errors=errors,
        issue_warnings=1,
        **fields,
    )
    issue = plan.issues[0]
    MigrationIssue.objects.create(
        workspace=workspace,
        run=run,
        project_id="p-1",
        severity=issue.severity,
        stage=issue.stage,
        entity=issue.entity,
        entity_id=issue.entity_id,
        field=issue.field,
        rule=issue.rule,
        value=issue.value,
        message=issue.message,
    )
    for n in range(errors):
        MigrationIssue.objects.create(
            workspace=workspace,
            run=run,
            project_id="p-1",
            severity="error",
            stage="transform",
            entity="Task",
            entity_id=f"t-missing-{n}",
            field="TaskName",
            rule="task.name.missing",
            value="",
            message="Task missing required field: TaskName",
        )
    return run
