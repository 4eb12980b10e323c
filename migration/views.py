"""Server-rendered pages of Project migration: a run's page with its progress per project and
stage (polled every second from the run's API), the end summary with links to the Smartsheet
workspaces made, the report, and a dry run's plan with its "Run for real" button."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from integrations.accounts import selectors as account_selectors
from integrations.errors import NotFound
from integrations.runs import SyncRun
from integrations.views import button
from migration import selectors, services
from migration.model import Plan
from migration.runs import MigrationIssue, MigrationRun

ISSUES_SHOWN = 200
PLAN_ROWS_SHOWN = 100


def _run(request, run_id: int) -> MigrationRun:
    try:
        return selectors.run_for(user=request.user, run_id=run_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _projects(run: MigrationRun) -> list[dict]:
    names = selectors.project_names(run)
    projects = []
    for pid in map(str, run.project_ids):
        cells = run.stages.get(pid, {})
        stages = [
            {"key": stage, "label": run.stage_labels[stage], **cells.get(stage, {})}
            for stage in run.stage_names
        ]
        projects.append(
            {"id": pid, "name": names[pid], "stages": stages, "result": run.results.get(pid, {})}
        )
    return projects


def _plan(run: MigrationRun) -> dict | None:
    """A dry run's plan as the page shows it: every workspace, sheet and column, the first
    rows of each sheet with their values and parents, and their predecessors."""
    if not run.plan:
        return None
    plan = Plan.from_json(run.plan)
    workspaces = []
    for workspace in plan.workspaces:
        sheets = []
        for sheet in workspace.sheets:
            titles = {column.key: column.title for column in sheet.columns}
            sheets.append(
                {
                    "sheet": sheet,
                    "row_count": len(sheet.rows),
                    "rows": [
                        {
                            "key": row.key,
                            "parent": row.parent_key,
                            "values": [
                                (titles.get(key, key), cell.object_value or cell.value)
                                for key, cell in row.cells.items()
                                if cell.value not in (None, "") or cell.object_value
                            ],
                        }
                        for row in sheet.rows[:PLAN_ROWS_SHOWN]
                    ],
                    "predecessor_count": len(sheet.predecessors),
                    "predecessors": sheet.predecessors[:PLAN_ROWS_SHOWN],
                }
            )
        workspaces.append({"workspace": workspace, "sheets": sheets})
    return {"workspaces": workspaces, "pmo": plan.pmo}


@login_required
def run_page(request, run_id: int):
    run = _run(request, run_id)
    severity = request.GET.get("severity", "")
    if severity not in MigrationIssue.Severity.values:
        severity = ""
    issues = selectors.issue_list(run=run, severity=severity)
    is_admin = account_selectors.is_workspace_admin(
        user=request.user, workspace_id=run.workspace_id
    )
    return render(
        request,
        "migration/run.html",
        {
            "run": run,
            "projects": _projects(run),
            "stage_labels": [run.stage_labels[s] for s in run.stage_names],
            "issues": issues[:ISSUES_SHOWN],
            "issue_count": issues.count(),
            "severity": severity,
            "plan": _plan(run) if run.dry_run and not run.is_active else None,
            "plan_rows_shown": PLAN_ROWS_SHOWN,
            "is_admin": is_admin,
            "refusal": services.plan_refusal(run, accept_errors=True) if run.dry_run else "",
            "may_resume": not run.dry_run
            and run.status in (SyncRun.Status.FAILED, SyncRun.Status.PARTIAL),
            "real_runs": run.real_runs.order_by("-pk")[:5] if run.dry_run else [],
        },
    )


def _act(request, run: MigrationRun, call, done: str):
    with button(request) as pressed:
        new = call()
    if pressed.failed:
        return redirect("migration-run", run_id=run.pk)
    messages.success(request, done.format(run=new.pk))
    return redirect("migration-run", run_id=new.pk)


@login_required
@require_POST
def run_for_real(request, run_id: int):
    run = _run(request, run_id)
    return _act(
        request,
        run,
        lambda: services.migration_run_from_plan(
            run=run,
            user=request.user,
            accept_errors=request.POST.get("accept_errors") == "on",
            trigger=SyncRun.Trigger.BUTTON,
        ),
        f"Running the plan of dry run {run.pk} for real: migration {{run}} started.",
    )


@login_required
@require_POST
def resume(request, run_id: int):
    run = _run(request, run_id)
    return _act(
        request,
        run,
        lambda: services.migration_resume(
            run=run, user=request.user, trigger=SyncRun.Trigger.BUTTON
        ),
        f"Run {run.pk} started again as run {{run}}: what it wrote is updated, not repeated.",
    )
