"""A migration run's page in a real browser, 390 px wide (a phone): progress per project and
stage that follows the run within 2 s, a dry run done by a real Celery worker against the
Project Online emulator (slowed by its control plane, never by sleeping here) ending in its
plan and report, and the end summary's links to the Smartsheet workspaces."""

import time

import pytest
from django.test import Client

from migration import services
from migration.runs import MigrationRun
from migration.sources.project_online import list_projects
from tests.e2e.helpers import console_errors
from tests.integrations.helpers import connect, connect_project_online

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
WEBSITE, DEFECTS = "Website Redesign 2024", "Data Centre Move (Defects)"


@pytest.fixture
def phone(browser, hub):
    contexts = []

    def open_as(user):
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport=PHONE)
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": hub.url}]
        )
        contexts.append(context)
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def po(sandbox, hub, two_workspaces):
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


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_page_shows_progress_written_to_the_run_within_two_seconds(phone, hub, po):
    run = MigrationRun.objects.create(
        workspace=po["workspace"],
        direction="outbound",
        trigger="api",
        status="running",
        project_ids=["p-1"],
        sources={"p-1": {"name": WEBSITE}},
        stage=f"{WEBSITE}: Rows",
        stages={
            "p-1": {
                **{s: {"done": 1, "total": 1, "state": "done"} for s in ("extract", "transform")},
                "rows": {"done": 0, "total": 1200, "state": "running"},
            }
        },
    )
    page = phone(po["admin"])
    errors = console_errors(page)
    page.goto(f"{hub.url}/migration/runs/{run.pk}/")
    rows = page.locator('li[data-stage="rows"] .count')
    assert rows.inner_text() == "0/1200"
    assert fits(page)

    lags = []
    for done in (500, 1000):
        stages = run.stages
        stages["p-1"]["rows"]["done"] = done
        MigrationRun.objects.filter(pk=run.pk).update(stages=stages, progress_done=done)
        written = time.monotonic()
        page.wait_for_function(
            f"document.querySelector('li[data-stage=\"rows\"] .count').textContent === '{done}/1200'",
            timeout=2_000,
        )
        lags.append(time.monotonic() - written)
    assert max(lags) < 2.0, lags

    # The run ends: the page reloads with the summary and its link to the Smartsheet workspace.
    MigrationRun.objects.filter(pk=run.pk).update(
        status="succeeded",
        message="1 Smartsheet workspace written.",
        results={
            "p-1": {
                "name": WEBSITE,
                "sheet_workspace_name": WEBSITE,
                "sheet_workspace_id": 7001,
                "permalink": "https://app.smartsheet.com/workspaces/7001",
                "sheets": [{"key": "tasks", "name": f"{WEBSITE} - Tasks", "rows": 1200}],
                "rows_created": 1200,
                "rows_updated": 0,
                "errors": 0,
                "warnings": 3,
            }
        },
    )
    page.wait_for_selector("#run-message", timeout=4_000)
    link = page.locator("a.workspace-link")
    assert link.inner_text() == WEBSITE
    assert link.get_attribute("href") == "https://app.smartsheet.com/workspaces/7001"
    assert "1200 created, 0 updated" in page.inner_text(".mig-result")
    assert fits(page)
    assert errors == []


def test_a_dry_run_done_by_a_worker_is_followed_to_its_plan(phone, hub, po, sandbox, celery_worker):
    # Each Project Online read takes a moment: the run lasts long enough to watch.
    sandbox.fault("project-online", kind="latency", seconds=0.3, method="GET")
    run = services.migration_start(
        hub_workspace=po["workspace"],
        user=po["admin"],
        source_connection=po["source"],
        target_connection=po["target"],
        project_ids=[po["projects"][WEBSITE].id, po["projects"][DEFECTS].id],
        dry_run=True,
    )
    page = phone(po["admin"])
    errors = console_errors(page)
    page.goto(f"{hub.url}/migration/runs/{run.pk}/")
    # While the run goes, the page shows a project's reading done and the run still going.
    page.wait_for_function(
        "document.getElementById('migration-run').dataset.status === 'running' && "
        'document.querySelector(\'li[data-stage="extract"][data-state="done"]\') !== null',
        timeout=60_000,
    )
    page.wait_for_selector("#run-message", timeout=90_000)  # the page reloaded at the end
    run.refresh_from_db()
    assert run.status == "succeeded", run.message
    for project in (WEBSITE, DEFECTS):
        card = page.locator(".mig-project", has_text=project)
        assert card.locator('li[data-stage="report"]').get_attribute("data-state") == "done"
    assert page.locator("#plan").is_visible()
    assert page.locator("#plan summary", has_text=f"Workspace “{WEBSITE}”").count() == 1
    assert page.locator("#issues td", has_text="task.name.missing").count() >= 1
    # Run for real, with the choice to accept the defects' errors.
    assert page.locator("#run-for-real button").is_visible()
    assert page.locator('input[name="accept_errors"]').count() == 1
    assert fits(page)
    assert errors == []
