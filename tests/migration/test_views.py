"""A migration run's page: progress per project and stage, the end summary with links to the
Smartsheet workspaces, the report, a dry run's plan, and "Run for real" / "Start it again"."""

import pytest

from migration.runs import MigrationRun
from tests.migration.helpers import finished_dry_run

pytestmark = pytest.mark.django_db


def test_a_dry_runs_page_shows_the_plan_and_the_report(client, world):
    run = finished_dry_run(world["a"], world["source"], world["target"])
    client.force_login(world["a_member"])
    page = client.get(f"/migration/runs/{run.pk}/").content.decode()
    assert f"Dry run {run.pk}" in page
    assert 'data-stage="transform" data-state="done"' in page
    # The plan: workspace, sheet, columns with types and options, rows with values and parents,
    # predecessors, and the warnings.
    assert "Workspace “Website Redesign”" in page
    assert "Website Redesign - Tasks" in page
    assert "<code>PICKLIST</code>" in page and "Low, Medium, High" in page
    assert "<strong>Task Name</strong>: Wireframes" in page
    assert "<code>t-2</code></td><td><code>t-1</code>" in page  # t-2's parent is t-1
    assert "<code>t-2</code> ← <code>t-1</code> FS" in page
    assert "task.percent.invalid" in page
    assert f"/api/migration/runs/{run.pk}/report.csv" in page
    # A member reads it but may not run it for real.
    assert 'id="run-for-real"' not in page
    assert "Only a workspace admin can run it for real." in page


def test_an_admin_runs_it_for_real_from_the_page(client, world):
    run = finished_dry_run(world["a"], world["source"], world["target"])
    client.force_login(world["a_admin"])
    assert 'id="run-for-real"' in client.get(f"/migration/runs/{run.pk}/").content.decode()
    response = client.post(f"/migration/runs/{run.pk}/run-for-real")
    real = MigrationRun.objects.get(runs_plan=run)
    assert response.status_code == 302 and response["Location"] == f"/migration/runs/{real.pk}/"
    assert real.trigger == "button" and real.requested_by == world["a_admin"]


def test_a_member_cannot_run_it_for_real(client, world):
    run = finished_dry_run(world["a"], world["source"], world["target"])
    client.force_login(world["a_member"])
    assert client.post(f"/migration/runs/{run.pk}/run-for-real").status_code == 403
    assert MigrationRun.objects.count() == 1


def test_a_plan_with_errors_needs_them_accepted(client, world):
    run = finished_dry_run(world["a"], world["source"], world["target"], errors=1)
    client.force_login(world["a_admin"])
    page = client.get(f"/migration/runs/{run.pk}/").content.decode()
    assert 'name="accept_errors"' in page
    response = client.post(f"/migration/runs/{run.pk}/run-for-real", follow=True)
    assert "has 1 error" in response.content.decode()
    assert MigrationRun.objects.count() == 1
    client.post(f"/migration/runs/{run.pk}/run-for-real", {"accept_errors": "on"})
    assert MigrationRun.objects.get(runs_plan=run).accept_errors is True


def test_a_finished_real_run_links_to_its_smartsheet_workspaces(client, world):
    run = finished_dry_run(
        world["a"],
        world["source"],
        world["target"],
        dry_run=False,
        status="partial",
        message="1 Smartsheet workspace written.",
    )
    run.stages = {
        "p-1": {s: {"done": 3, "total": 3, "state": "done"} for s in run.stage_names},
        "p-2": {"extract": {"done": 0, "total": 0, "state": "failed"}},
    }
    run.project_ids = ["p-1", "p-2"]
    run.results["p-1"].update(
        sheet_workspace_id=7001,
        permalink="https://app.smartsheet.com/b/home?lx=abc",
        rows_created=3,
    )
    run.results["p-2"] = {"name": "p-2", "left_out": "Could not be read: 404", "errors": 0}
    run.save()
    client.force_login(world["a_admin"])
    page = client.get(f"/migration/runs/{run.pk}/").content.decode()
    assert (
        '<a class="workspace-link" href="https://app.smartsheet.com/b/home?lx=abc" '
        'target="_blank" rel="noopener">Website Redesign</a>'
    ) in page
    assert "3 created, 0 updated" in page
    assert "Could not be read: 404" in page
    assert 'id="resume"' in page
    assert 'id="plan"' not in page  # a real run's page shows what it did, not the plan


def test_a_running_runs_page_follows_it(client, world):
    run = MigrationRun.objects.create(
        workspace=world["a"],
        direction="outbound",
        trigger="api",
        status="running",
        project_ids=["p-1"],
        stage="Website Redesign: Rows",
        stages={"p-1": {"rows": {"done": 500, "total": 1200, "state": "running"}}},
    )
    client.force_login(world["a_member"])
    page = client.get(f"/migration/runs/{run.pk}/").content.decode()
    assert f'data-url="/api/migration/runs/{run.pk}"' in page
    assert 'data-status="running"' in page
    assert "500/1200" in page
    assert "migration/migration.js" in page


def test_another_workspaces_run_page_is_not_found(client, world):
    run = finished_dry_run(world["a"], world["source"], world["target"])
    client.force_login(world["b_admin"])
    assert client.get(f"/migration/runs/{run.pk}/").status_code == 404
    assert client.post(f"/migration/runs/{run.pk}/run-for-real").status_code == 404
