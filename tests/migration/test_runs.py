"""Migration runs end to end through the emulators: a dry run reads the seeded Project Online
projects, plans them and keeps the plan and its report, writing nothing; the report of the
project with deliberate defects; a project that cannot be read or whose plan has errors is
left out, never an empty success; a dry run's plan is refused for real when a project changed
since; progress is kept per project and stage."""

import pytest

from integrations.runs import SyncRun
from migration import pipeline, services
from migration.model import Plan
from migration.runs import DRY_RUN_STAGES, MigrationIssue, MigrationRun
from migration.sources.project_online import extract_project, list_projects
from migration.transform import TransformSettings, plan_migration
from tests.integrations.helpers import connect, connect_project_online

pytestmark = pytest.mark.django_db

DEFECTS = "Data Centre Move (Defects)"
WEBSITE = "Website Redesign 2024"


@pytest.fixture
def po(sandbox, two_workspaces):
    a, admin = two_workspaces["a"], two_workspaces["a_admin"]
    source = connect_project_online(user=admin, workspace=a)
    target = connect(sandbox, user=admin, workspace=a, provider="smartsheet")
    projects = {p.name: p for p in list_projects(source)}
    return {
        "workspace": a,
        "admin": admin,
        "source": source,
        "target": target,
        "projects": projects,
    }


def run(po, *names, dry_run=True, accept_errors=False, ids=None) -> MigrationRun:
    started = services.migration_start(
        hub_workspace=po["workspace"],
        user=po["admin"],
        source_connection=po["source"],
        target_connection=po["target"],
        project_ids=ids or [po["projects"][name].id for name in names],
        dry_run=dry_run,
        accept_errors=accept_errors,
        queue=False,
    )
    return pipeline.execute(started.pk)


def writes(sandbox, name="smartsheet") -> int:
    return sum(
        count
        for endpoint, count in sandbox.calls(name)["by_endpoint"].items()
        if not endpoint.upper().startswith("GET")
    )


def test_a_dry_run_keeps_the_plan_and_report_and_writes_nothing(po, sandbox):
    sandbox.clear_calls("smartsheet")
    steps = []
    started = services.migration_start(
        hub_workspace=po["workspace"],
        user=po["admin"],
        source_connection=po["source"],
        target_connection=po["target"],
        project_ids=[po["projects"][WEBSITE].id],
        dry_run=True,
        queue=False,
    )
    done = pipeline.execute(started.pk, listener=lambda *step: steps.append(step))

    assert done.status == SyncRun.Status.SUCCEEDED, done.message
    assert writes(sandbox) == 0
    pid = str(po["projects"][WEBSITE].id)
    # The plan is what the transform makes of the project, kept whole.
    expected = plan_migration(
        [extract_project(po["source"], pid)],
        settings=TransformSettings.from_settings(hub_workspace=po["workspace"]),
    )
    kept = Plan.from_json(done.plan)
    assert kept.to_json()["workspaces"] == expected.to_json()["workspaces"]
    assert kept.pmo == expected.pmo
    assert done.plan_made_at is not None
    # Every stage of a dry run done, in order, and the bar full.
    assert list(done.stages[pid]) == list(DRY_RUN_STAGES)
    assert {cell["state"] for cell in done.stages[pid].values()} == {"done"}
    assert done.percent == 100
    assert [s[1] for s in steps if s[4] == "done"] == list(DRY_RUN_STAGES)
    # The summary names the Smartsheet workspace and sheets it would make.
    result = done.results[pid]
    assert result["sheet_workspace_name"] == "Website Redesign 2024"
    assert [s["name"] for s in result["sheets"]][:2] == [
        "Website Redesign 2024 - Tasks",
        "Website Redesign 2024 - Resources",
    ]
    assert result["sheets"][0]["rows"] == 21
    # The report is the plan's findings, row for row.
    stored = list(MigrationIssue.objects.filter(run=done).values_list("rule", "entity_id"))
    assert stored == [(i.rule, i.entity_id) for i in kept.issues]
    assert done.issue_errors == sum(i.severity == "error" for i in kept.issues)


def test_the_report_of_the_project_with_defects(po):
    done = run(po, DEFECTS)
    assert done.status == SyncRun.Status.SUCCEEDED  # a dry run reports; it does not refuse
    pid = str(po["projects"][DEFECTS].id)
    issues = MigrationIssue.objects.filter(run=done)
    rules = set(issues.values_list("severity", "rule"))
    assert ("error", "task.name.missing") in rules
    assert ("warning", "task.parent.missing") in rules
    assert any(rule.startswith("task.percent") for _, rule in rules)
    assert any(rule.startswith("link.task.missing") for _, rule in rules)
    assert any("circular" in rule or "cycle" in rule for _, rule in rules), rules
    assert any("notes" in rule or "too_long" in rule for _, rule in rules), rules
    # Every finding is the project's, with its entity, field and value.
    assert set(issues.values_list("project_id", flat=True)) == {pid}
    parent = issues.get(rule="task.parent.missing")
    assert (parent.entity, parent.field) == ("Task", "ParentTaskId")
    assert done.results[pid]["errors"] == issues.filter(severity="error").count() > 0
    assert done.results[pid]["warnings"] == issues.filter(severity="warning").count() > 0


def test_a_real_run_leaves_out_a_project_whose_plan_has_errors(po, sandbox):
    sandbox.clear_calls("smartsheet")
    done = run(po, DEFECTS, dry_run=False)
    assert done.status == SyncRun.Status.FAILED
    assert "its plan has" in done.message and "errors" in done.message
    assert done.failed == 1
    assert done.errors[0]["item"] == f"project {DEFECTS}"
    assert writes(sandbox) == 0
    pid = str(po["projects"][DEFECTS].id)
    assert done.stages[pid]["rows"]["state"] == "skipped"
    assert done.results[pid]["left_out"].startswith("Not migrated: its plan has")
    # ... and its report is there to read.
    assert MigrationIssue.objects.filter(run=done, severity="error").exists()


def test_a_project_that_cannot_be_read_is_named_and_the_rest_go_on(po):
    missing = "00000000-0000-0000-0000-00000000dead"
    done = run(po, ids=[missing, po["projects"][WEBSITE].id])
    assert done.status == SyncRun.Status.PARTIAL
    assert done.failed == 1
    assert done.errors[0]["item"] == f"project {missing}"
    assert done.stages[missing]["extract"]["state"] == "failed"
    assert done.results[missing]["left_out"].startswith("Could not be read")
    assert done.plan and len(done.plan["workspaces"]) == 1


def test_no_project_read_is_a_failed_run_not_an_empty_success(po):
    done = run(po, ids=["00000000-0000-0000-0000-00000000dead"])
    assert done.status == SyncRun.Status.FAILED
    assert done.message.startswith("No project could be read from Project Online")
    assert done.plan is None


def test_a_plan_is_not_run_for_real_once_its_project_changed(po, sandbox):
    dry = run(po, WEBSITE)
    pid = str(po["projects"][WEBSITE].id)
    # As if the project had been read before its last change in Project Online.
    dry.sources[pid]["modified"] = "2020-01-01T00:00:00"
    dry.save(update_fields=["sources"])
    sandbox.clear_calls("smartsheet")
    real = services.migration_run_from_plan(run=dry, user=po["admin"], queue=False)
    done = pipeline.execute(real.pk)
    assert done.status == SyncRun.Status.FAILED
    assert "Changed in Project Online since the plan was made" in done.message
    assert writes(sandbox) == 0


def test_progress_is_kept_per_project_and_stage_as_it_goes(po):
    seen = []
    started = services.migration_start(
        hub_workspace=po["workspace"],
        user=po["admin"],
        source_connection=po["source"],
        target_connection=po["target"],
        project_ids=[po["projects"][WEBSITE].id, po["projects"][DEFECTS].id],
        dry_run=True,
        queue=False,
    )

    def listener(name, stage, done, total, state):
        row = MigrationRun.objects.get(pk=started.pk)
        seen.append((name, stage, state, row.percent, row.stage))

    pipeline.execute(started.pk, listener=listener)
    percents = [s[3] for s in seen]
    assert percents == sorted(percents)  # the bar never goes back
    assert (WEBSITE, "extract", "running") in {s[:3] for s in seen}
    assert any(s[4] == f"{DEFECTS}: Reading from Project Online" for s in seen)
    # Written to the row while it went, not only at the end.
    assert 0 < percents[len(percents) // 2] < 100
