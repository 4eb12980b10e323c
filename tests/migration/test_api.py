"""The migration API: starting dry and real runs, a run's progress, "Run for real" from a dry
run's plan and its refusals, resuming, the report as JSON and CSV and the plan — workspace by
workspace (another's run or connection is a 404; members read, admins start)."""

import csv
import io

import pytest

from integrations.accounts.models import AuditEvent
from migration.runs import MigrationIssue, MigrationRun
from tests.migration.helpers import finished_dry_run, small_plan

pytestmark = pytest.mark.django_db


def start(api, world, **body):
    return api.post(
        "/api/migration/runs",
        {
            "workspace": world["a"].pk,
            "source_connection": world["source"].pk,
            "target_connection": world["target"].pk,
            "project_ids": ["p-1", "p-2"],
            **body,
        },
        format="json",
    )


def test_an_admin_starts_a_dry_run_and_reads_its_progress(api, world):
    api.force_authenticate(world["a_admin"])
    response = start(api, world)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["dry_run"] is True  # the safe default
    assert body["status"] == "queued"
    assert body["project_ids"] == ["p-1", "p-2"]
    assert body["page_url"] == f"/migration/runs/{body['id']}/"
    run = MigrationRun.objects.get(pk=body["id"])
    assert run.requested_by == world["a_admin"] and run.trigger == "api"
    assert AuditEvent.objects.filter(action="migration.dry_run", actor=world["a_admin"]).exists()

    MigrationRun.objects.filter(pk=run.pk).update(
        status="running",
        stages={"p-1": {"rows": {"done": 500, "total": 1200, "state": "running"}}},
    )
    detail = api.get(f"/api/migration/runs/{run.pk}").json()
    assert detail["stages"]["p-1"]["rows"] == {"done": 500, "total": 1200, "state": "running"}


def test_a_real_run_is_asked_for_explicitly(api, world):
    api.force_authenticate(world["a_admin"])
    response = start(api, world, dry_run=False, accept_errors=True)
    assert response.status_code == 202
    run = MigrationRun.objects.get(pk=response.json()["id"])
    assert (run.dry_run, run.accept_errors) == (False, True)
    assert AuditEvent.objects.filter(action="migration.run").exists()


def test_a_member_may_read_but_not_start(api, world):
    run = finished_dry_run(world["a"], world["source"], world["target"])
    api.force_authenticate(world["a_member"])
    assert api.get(f"/api/migration/runs/{run.pk}").status_code == 200
    response = start(api, world)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert api.post(f"/api/migration/runs/{run.pk}/run-for-real", {}).status_code == 403
    assert MigrationRun.objects.count() == 1


def test_another_workspaces_runs_and_connections_are_not_found(api, world):
    run = finished_dry_run(world["a"], world["source"], world["target"])
    api.force_authenticate(world["b_admin"])
    for url in ("", "/report", "/report.csv", "/plan"):
        response = api.get(f"/api/migration/runs/{run.pk}{url}")
        assert response.status_code == 404, url
        assert response["Content-Type"].startswith("application/json")
    assert api.post(f"/api/migration/runs/{run.pk}/run-for-real", {}).status_code == 404
    assert api.post(f"/api/migration/runs/{run.pk}/resume").status_code == 404
    assert api.get("/api/migration/runs").json()["results"] == []
    # B's admin naming A's connections in B's workspace: not theirs.
    response = api.post(
        "/api/migration/runs",
        {
            "workspace": world["b"].pk,
            "source_connection": world["source"].pk,
            "target_connection": world["b_target"].pk,
            "project_ids": ["p-1"],
        },
        format="json",
    )
    assert response.status_code == 404
    assert api.get(f"/api/migration/connections/{world['source'].pk}/projects").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"project_ids": []}, "project_ids"),
        ({"source_connection": None}, "source_connection"),
        ({"dry_run": "maybe"}, "dry_run"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, world, body, field):
    api.force_authenticate(world["a_admin"])
    response = start(api, world, **body)
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert not MigrationRun.objects.exists()


def test_connections_must_be_of_the_right_kind_and_usable(api, world):
    api.force_authenticate(world["a_admin"])
    # A Smartsheet connection as the source: no such Project Online connection.
    assert start(api, world, source_connection=world["target"].pk).status_code == 404
    world["source"].status = "paused"
    world["source"].save()
    response = start(api, world)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "connection_not_usable"


def test_too_many_projects_are_refused(api, world, settings):
    settings.MIGRATION_MAX_PROJECTS = 1
    api.force_authenticate(world["a_admin"])
    response = start(api, world)
    assert response.status_code == 400
    assert "MIGRATION_MAX_PROJECTS" in response.json()["error"]["message"]


def test_one_migration_at_a_time_per_workspace(api, world):
    api.force_authenticate(world["a_admin"])
    first = start(api, world).json()
    response = start(api, world)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "run_in_progress"
    assert error["details"]["run"] == first["id"]


def test_the_report_as_json_and_csv(api, world):
    run = finished_dry_run(world["a"], world["source"], world["target"], errors=2)
    api.force_authenticate(world["a_member"])
    report = api.get(f"/api/migration/runs/{run.pk}/report").json()
    assert (report["errors"], report["warnings"]) == (2, 1)
    assert [i["rule"] for i in report["issues"]] == [
        "task.percent.invalid",
        "task.name.missing",
        "task.name.missing",
    ]
    assert report["issues"][0] == {
        "project_id": "p-1",
        "severity": "warning",
        "stage": "transform",
        "entity": "Task",
        "entity_id": "t-2",
        "field": "PercentComplete",
        "rule": "task.percent.invalid",
        "value": "abc",
        "message": "Invalid PercentComplete, defaulting to 0",
    }
    only_errors = api.get(f"/api/migration/runs/{run.pk}/report?severity=error").json()
    assert {i["severity"] for i in only_errors["issues"]} == {"error"}

    response = api.get(f"/api/migration/runs/{run.pk}/report.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 3
    assert rows[1]["rule"] == "task.name.missing" and rows[1]["entity_id"] == "t-missing-0"
    assert list(rows[0]) == [
        "project_id",
        "severity",
        "stage",
        "entity",
        "entity_id",
        "field",
        "rule",
        "value",
        "message",
    ]


def test_the_csv_report_describes_itself_in_json(api, world):
    run = finished_dry_run(world["a"], world["source"], world["target"])
    api.force_authenticate(world["a_member"])
    response = api.options(f"/api/migration/runs/{run.pk}/report.csv")
    assert response.status_code == 200
    assert response.json()["name"] == "Report Csv"


def test_the_plan_as_json(api, world):
    run = finished_dry_run(world["a"], world["source"], world["target"])
    api.force_authenticate(world["a_member"])
    assert api.get(f"/api/migration/runs/{run.pk}/plan").json() == small_plan().to_json()
    MigrationRun.objects.filter(pk=run.pk).update(plan=None)
    response = api.get(f"/api/migration/runs/{run.pk}/plan")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_plan"


def test_run_for_real_loads_the_dry_runs_plan_unchanged(api, world):
    dry = finished_dry_run(world["a"], world["source"], world["target"])
    api.force_authenticate(world["a_admin"])
    response = api.post(f"/api/migration/runs/{dry.pk}/run-for-real", {}, format="json")
    assert response.status_code == 202, response.content
    real = MigrationRun.objects.get(pk=response.json()["id"])
    assert real.dry_run is False
    assert real.runs_plan == dry
    assert real.plan == dry.plan
    assert real.sources == dry.sources
    assert real.project_ids == dry.project_ids
    assert AuditEvent.objects.filter(action="migration.run_from_plan").exists()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda w: finished_dry_run(w["a"], w["source"], w["target"], errors=2), "has 2 errors"),
        (lambda w: finished_dry_run(w["a"], w["source"], w["target"], age_hours=25), "older than"),
        (
            lambda w: finished_dry_run(
                w["a"], w["source"], w["target"], status="failed", plan=None, message="boom"
            ),
            "made no plan",
        ),
        (
            lambda w: finished_dry_run(w["a"], w["source"], w["target"], dry_run=False),
            "not a dry run",
        ),
    ],
    ids=["errors", "stale", "failed", "not-a-dry-run"],
)
def test_run_for_real_refuses_a_plan_it_cannot_trust(api, world, make, words):
    dry = make(world)
    api.force_authenticate(world["a_admin"])
    response = api.post(f"/api/migration/runs/{dry.pk}/run-for-real", {}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "plan_not_usable"
    assert words in error["message"]
    assert MigrationRun.objects.count() == 1


def test_errors_can_be_accepted(api, world):
    dry = finished_dry_run(world["a"], world["source"], world["target"], errors=2)
    api.force_authenticate(world["a_admin"])
    response = api.post(
        f"/api/migration/runs/{dry.pk}/run-for-real", {"accept_errors": True}, format="json"
    )
    assert response.status_code == 202
    assert MigrationRun.objects.get(pk=response.json()["id"]).accept_errors is True


def test_a_stopped_run_is_started_again(api, world):
    dry = finished_dry_run(world["a"], world["source"], world["target"])
    failed = MigrationRun.objects.create(
        workspace=world["a"],
        direction="outbound",
        trigger="api",
        status="failed",
        source_connection=world["source"],
        target_connection=world["target"],
        project_ids=["p-1"],
        runs_plan=dry,
        plan=dry.plan,
        plan_made_at=dry.plan_made_at,
    )
    api.force_authenticate(world["a_admin"])
    response = api.post(f"/api/migration/runs/{failed.pk}/resume")
    assert response.status_code == 202, response.content
    again = MigrationRun.objects.get(pk=response.json()["id"])
    assert (again.runs_plan, again.plan, again.dry_run) == (dry, dry.plan, False)
    assert api.post(f"/api/migration/runs/{again.pk}/resume").status_code == 409


def test_the_runs_list_says_which_is_going(api, world):
    finished_dry_run(world["a"], world["source"], world["target"])
    api.force_authenticate(world["a_admin"])
    going = start(api, world).json()
    listed = api.get(f"/api/migration/runs?workspace={world['a'].pk}&active=true").json()
    assert [r["id"] for r in listed["results"]] == [going["id"]]
    assert len(api.get("/api/migration/runs").json()["results"]) == 2


def test_issue_rows_belong_to_their_run(world):
    run = finished_dry_run(world["a"], world["source"], world["target"], errors=1)
    assert MigrationIssue.objects.filter(run=run).count() == 2


def test_the_source_projects_of_a_connection(api, sandbox, two_workspaces):
    from tests.integrations.helpers import connect_project_online

    source = connect_project_online(user=two_workspaces["a_admin"], workspace=two_workspaces["a"])
    api.force_authenticate(two_workspaces["a_member"])
    projects = api.get(f"/api/migration/connections/{source.pk}/projects").json()
    names = {p["name"]: p for p in projects}
    assert "Website Redesign 2024" in names and "Data Centre Move (Defects)" in names
    assert all(p["id"] and p["modified"] for p in projects)
    api.force_authenticate(two_workspaces["b_admin"])
    assert api.get(f"/api/migration/connections/{source.pk}/projects").status_code == 404


def test_a_run_whose_worker_died_is_closed_by_the_sweep_and_started_again(api, world, settings):
    from datetime import timedelta

    from django.utils import timezone

    from integrations import runs

    dry = finished_dry_run(world["a"], world["source"], world["target"])
    dead = MigrationRun.objects.create(
        workspace=world["a"],
        direction="outbound",
        trigger="api",
        status="running",
        source_connection=world["source"],
        target_connection=world["target"],
        project_ids=["p-1"],
        runs_plan=dry,
        plan=dry.plan,
        plan_made_at=dry.plan_made_at,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.RUN_STALE_AFTER + 5),
    )
    assert runs.sweep()["closed"] == 1
    dead.refresh_from_db()
    assert dead.status == "failed" and "stopped answering" in dead.message
    api.force_authenticate(world["a_admin"])
    again = api.post(f"/api/migration/runs/{dead.pk}/resume").json()
    assert (again["runs_plan"], again["status"], again["dry_run"]) == (dry.pk, "queued", False)
