"""Migration runs end to end through the emulators: a dry run reads the seeded Project Online
projects, plans them and keeps the plan and its report, writing nothing; the report of the
project with deliberate defects; a project that cannot be read or whose plan has errors is
left out, never an empty success; a dry run's plan is refused for real when a project changed
since; progress is kept per project and stage."""

import csv
import io

import pytest

from integrations.connections import http
from integrations.connections import services as connections
from integrations.connections.providers import smartsheet
from integrations.runs import SyncRun
from migration import pipeline, services
from migration.links import RowLink
from migration.load import Loader
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


# --- real runs: the load into the Smartsheet emulator ----------------------------------------


def sheet(po, sheet_id):
    client = smartsheet.client(connections.access_token(po["target"]), key="check")
    return smartsheet.sheet_objects(client, sheet_id=sheet_id)


def text(cell):
    return None if cell is None else cell.value


def test_a_dry_runs_plan_is_what_the_real_run_then_writes(po, sandbox):
    dry = run(po, WEBSITE)
    plan = Plan.from_json(dry.plan)
    sandbox.clear_calls("smartsheet")
    real = services.migration_run_from_plan(run=dry, user=po["admin"], queue=False)
    done = pipeline.execute(real.pk)

    assert done.status == SyncRun.Status.SUCCEEDED, done.message
    assert done.plan == dry.plan  # loaded unchanged
    pid = str(po["projects"][WEBSITE].id)
    result = done.results[pid]
    (workspace,) = plan.workspaces
    assert result["sheet_workspace_name"] == workspace.name
    assert result["sheet_workspace_id"] and result["permalink"].startswith("https://")
    assert {cell["state"] for cell in done.stages[pid].values()} == {"done"}
    assert done.created == result["rows_created"] == sum(len(s.rows) for s in workspace.sheets)
    # Each planned sheet, as Smartsheet now has it: its name, its columns (titles and types, in
    # the plan's order), one row per planned row in the plan's order under its planned parent,
    # the primary column's values, and the predecessors.
    for planned in workspace.sheets:
        written = sheet(po, result["sheet_ids"][planned.key])
        assert written.name == planned.name
        columns = list(written.columns)
        assert [c.title for c in columns][: len(planned.columns)] == [
            c.title for c in planned.columns
        ]
        by_title = {c.title: c for c in columns}
        for column in planned.columns:
            if column.options and not column.from_template:
                assert list(by_title[column.title].options) == column.options, column.title
        links = {link.key: link for link in RowLink.objects.filter(sheet__remote_id=written.id)}
        assert [r.id for r in written.rows] == [links[r.key].row_id for r in planned.rows]
        by_id = {r.id: r for r in written.rows}
        primary = next(c for c in planned.columns if c.primary)
        for row in planned.rows:
            got = by_id[links[row.key].row_id]
            parent = links[row.parent_key].row_id if row.parent_key else None
            assert got.parent_id == parent
            want = row.cells.get(primary.key)
            value = next(
                (c.value for c in got.cells if c.column_id == by_title[primary.title].id), None
            )
            assert value == (want.value if want else None), row.key
        if planned.predecessors:
            column = by_title["Predecessors"]
            for item in planned.predecessors:
                got = by_id[links[item.row_key].row_id]
                value = next(c for c in got.cells if c.column_id == column.id).object_value
                assert [p.row_id for p in value.predecessors] == [
                    links[p["row_key"]].row_id for p in item.predecessors
                ]
    # The real run's report: the dry run's findings, and the load's own.
    assert (
        MigrationIssue.objects.filter(run=done).count()
        >= MigrationIssue.objects.filter(run=dry).count()
    )


def test_running_the_same_plan_again_writes_nothing_new(po, sandbox):
    dry = run(po, WEBSITE)
    first = pipeline.execute(
        services.migration_run_from_plan(run=dry, user=po["admin"], queue=False).pk
    )
    pid = str(po["projects"][WEBSITE].id)
    again = pipeline.execute(
        services.migration_run_from_plan(run=dry, user=po["admin"], queue=False).pk
    )
    assert again.status == SyncRun.Status.SUCCEEDED, again.message
    assert again.created == 0 and again.results[pid]["rows_created"] == 0
    assert again.results[pid]["sheet_workspace_id"] == first.results[pid]["sheet_workspace_id"]


def test_a_direct_real_run_accepting_errors_migrates_the_project_with_defects(po):
    done = run(po, DEFECTS, dry_run=False, accept_errors=True)
    assert done.status == SyncRun.Status.SUCCEEDED, done.message
    pid = str(po["projects"][DEFECTS].id)
    assert done.results[pid]["sheet_workspace_id"]
    assert done.results[pid]["errors"] > 0
    plan = Plan.from_json(done.plan)
    tasks = next(s for s in plan.workspaces[0].sheets if s.key == "tasks")
    assert done.results[pid]["sheets"][0]["rows"] == len(tasks.rows)


def test_a_project_smartsheet_refuses_is_named_never_an_empty_success(po, monkeypatch):
    def refused(self, plan, result):
        raise http.ProviderError("Not enough room in the workspace", provider="smartsheet")

    monkeypatch.setattr(Loader, "_project", refused)
    done = run(po, WEBSITE, dry_run=False)
    assert done.status == SyncRun.Status.FAILED
    pid = str(po["projects"][WEBSITE].id)
    assert done.results[pid]["left_out"].startswith(
        "Smartsheet refused part of it: Not enough room in the workspace"
    )
    assert done.errors == [{"item": f"project {WEBSITE}", "message": done.results[pid]["left_out"]}]
    assert done.stages[pid]["rows"]["state"] == "failed"
    assert MigrationIssue.objects.filter(run=done, stage="load", severity="error").exists()


def test_a_run_stopped_by_smartsheet_fails_with_its_reason_and_resumes(po, monkeypatch):
    dry = run(po, WEBSITE)

    def stopped(self, workspace):
        raise http.RateLimited("Smartsheet kept answering 429", provider="smartsheet")

    monkeypatch.setattr(Loader, "project", stopped)
    done = pipeline.execute(
        services.migration_run_from_plan(run=dry, user=po["admin"], queue=False).pk
    )
    assert done.status == SyncRun.Status.FAILED
    assert "Smartsheet kept answering 429" in done.message
    assert "Start the run again to resume it" in done.message
    resumed = services.migration_resume(run=done, user=po["admin"])
    assert resumed.runs_plan == dry and resumed.status == "queued"


def test_the_defects_report_in_admin_csv_and_json(po, client, api):
    done = run(po, DEFECTS)
    expected = set(MigrationIssue.objects.filter(run=done).values_list("rule", "entity_id"))
    assert (
        "task.name.missing",
        next(e for r, e in expected if r == "task.name.missing"),
    ) in expected

    api.force_authenticate(po["admin"])
    report = api.get(f"/api/migration/runs/{done.pk}/report").json()
    assert {(i["rule"], i["entity_id"]) for i in report["issues"]} == expected
    rows = list(
        csv.DictReader(
            io.StringIO(api.get(f"/api/migration/runs/{done.pk}/report.csv").content.decode())
        )
    )
    assert {(r["rule"], r["entity_id"]) for r in rows} == expected

    admin = po["admin"]
    admin.is_superuser = admin.is_staff = True
    admin.save()
    client.force_login(admin)
    listed = client.get(
        f"/admin/migration/migrationissue/?run__id__exact={done.pk}&severity__exact=error"
    ).context["cl"]
    assert {(i.rule, i.entity_id) for i in listed.result_list} == {
        (i.rule, i.entity_id) for i in MigrationIssue.objects.filter(run=done, severity="error")
    }
    assert "task.name.missing" in {i.rule for i in listed.result_list}


def test_load_progress_never_goes_back_when_rows_and_predecessors_overlap(po):
    from integrations.runs import RunRecorder
    from migration.pipeline import Stages

    run = MigrationRun.objects.create(
        workspace=po["workspace"],
        direction="outbound",
        trigger="api",
        status="running",
        project_ids=["p-1"],
    )
    with RunRecorder(run) as recorder:
        stages = Stages(run, recorder, {"p-1": WEBSITE})
        percents = []
        for step in [
            ("workspace", 0, 1),
            ("workspace", 1, 1),
            ("sheets", 3, 3),
            ("rows", 500, 1000),
            ("predecessors", 200, 400),  # during the rows
            ("rows", 700, 1000),
            ("rows", 1000, 1000),
            ("predecessors", 400, 400),
            ("rows", 1000, 1000),  # said again: still done
        ]:
            stages.load_progress("p-1", *step)
            percents.append(run.percent)
            states = {k: v["state"] for k, v in run.stages["p-1"].items()}
        assert percents == sorted(percents)
        assert run.stages["p-1"]["rows"]["state"] == "done"
        assert states["workspace"] == states["sheets"] == states["predecessors"] == "done"
        recorder.finish()


class Killed(BaseException):
    """The worker dying (not an error the run could record)."""


def test_every_seeded_project_migrates_a_rerun_adds_nothing_and_a_killed_run_resumes_once(
    po, sandbox, monkeypatch
):
    """The issue's scenario through the whole pipeline (feed, transform, SDK; every exchange
    contract-checked by the suite): every seeded project migrated; the same projects again
    create nothing; a run killed between Smartsheet's answer to an Add Rows and our commit,
    then started again, leaves exactly one row per task."""
    names = sorted(po["projects"])
    first = run(po, *names, dry_run=False, accept_errors=True)
    assert first.status == SyncRun.Status.SUCCEEDED, first.message
    plan = Plan.from_json(first.plan)
    assert len(plan.workspaces) == len(names) == len(first.results)
    for workspace in plan.workspaces:
        result = first.results[workspace.project_id]
        for planned in workspace.sheets:
            written = sheet(po, result["sheet_ids"][planned.key])
            assert len(list(written.rows)) == len(planned.rows), (workspace.name, planned.key)

    again = run(po, *names, dry_run=False, accept_errors=True)
    assert again.status == SyncRun.Status.SUCCEEDED, again.message
    assert again.created == 0
    assert {p: r["sheet_workspace_id"] for p, r in again.results.items()} == {
        p: r["sheet_workspace_id"] for p, r in first.results.items()
    }

    # A project not migrated yet, killed on its Tasks sheet's third Add Rows (after the PMO
    # sheets are verified: they need none).
    generated = sandbox.control(
        "project-online",
        "POST",
        "project-online/generate",
        {"name": "Killed Midway", "tasks": 120, "depth": 4, "resources": 8, "assignments": 150,
         "links": 60},
    )  # fmt: skip
    real, seen = smartsheet.add_rows, {"count": 0}

    def answered_then_killed(*args, **kwargs):
        answer = real(*args, **kwargs)
        seen["count"] += 1
        if seen["count"] == 3:
            raise Killed
        return answer

    monkeypatch.setattr(smartsheet, "add_rows", answered_then_killed)
    started = services.migration_start(
        hub_workspace=po["workspace"],
        user=po["admin"],
        source_connection=po["source"],
        target_connection=po["target"],
        project_ids=[generated["project_id"]],
        dry_run=False,
        queue=False,
    )
    with pytest.raises(Killed):
        pipeline.execute(started.pk)
    monkeypatch.setattr(smartsheet, "add_rows", real)
    MigrationRun.objects.filter(pk=started.pk).update(status=SyncRun.Status.FAILED)
    # The stale-run sweep closes a dead worker's run; started again (as its page's button does):
    resumed = services.migration_resume(
        run=MigrationRun.objects.get(pk=started.pk), user=po["admin"]
    )
    done = pipeline.execute(resumed.pk)
    assert done.status == SyncRun.Status.SUCCEEDED, done.message
    result = done.results[generated["project_id"]]
    tasks = sheet(po, result["sheet_ids"]["tasks"])
    guid = next(c.id for c in tasks.columns if c.title == "Project Online Task ID")
    keys = [text(next(c for c in row.cells if c.column_id == guid)) for row in tasks.rows]
    assert len(keys) == len(set(keys)) == generated["tasks"]
