"""The TimeTracker in a real browser: "Sync jobs now" runs an import through the API and a
real Celery worker against the Dataverse emulator, with progress to 100 % and a summary; the
dashboard punches in, counts the shift's time up, and punches out."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.e2e.helpers import console_errors, press_and_follow
from tests.integrations.helpers import connect_dataverse
from timetracker.models import Job, JobSyncRun, Shift

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_jobs_now_shows_progress_and_the_summary(
    signed_in, hub, two_workspaces, sandbox, celery_worker
):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    # Signed in before Dataverse is connected: the sign-in's own import has no source and
    # stays away, so the button's press is the one that runs.
    page = signed_in(admin)
    connect_dataverse(user=admin, workspace=workspace)
    sandbox.control(
        "dataverse",
        "POST",
        "dataverse/jobs",
        {
            "records": [
                {"imi_imnumber": f"E-{n:05d}", "imi_submittalstatus": 826130004, "statecode": 0}
                for n in range(12_000)
            ]
            + [{"imi_imnumber": None, "imi_submittalstatus": 826130004, "statecode": 0}]
        },
    )
    # Each page takes a moment at Dataverse: the bar has steps to show on the way.
    sandbox.fault("dataverse", kind="latency", seconds=0.6, path="/api/data/v9.2/imi_jobs")
    page.goto(f"{hub.url}/timetracker/jobs/")
    summary, progress = press_and_follow(page, "#sync-jobs")
    assert summary == "Done: 12000 added, 0 skipped, 1 without an IM number"
    assert progress[-1] == 100
    assert any(0 < value < 100 for value in progress)
    assert progress == sorted(progress)
    assert Job.objects.filter(workspace=workspace).count() == 12_000
    assert page.locator("#sync-jobs").is_enabled()

    # A second press while nothing runs starts a new import, which adds nothing.
    sandbox.control("dataverse", "DELETE", "faults")
    summary, _ = press_and_follow(page, "#sync-jobs")
    assert summary == "Done: 0 added, 12000 skipped, 1 without an IM number"


def test_punch_in_watch_the_time_and_punch_out(signed_in, hub, two_workspaces):
    member, workspace = two_workspaces["a_member"], two_workspaces["a"]
    Job.objects.create(workspace=workspace, im_number="24-0777", general_contractor="Turner")
    page = signed_in(member)
    page.goto(f"{hub.url}/timetracker/")
    page.select_option("#job", label="24-0777 — Turner")
    page.fill("#note-in", "Level 3 casework")
    page.click("button:has-text('Punch in')")
    page.wait_for_selector("#current-shift")
    first = page.inner_text("#running-time")
    assert re.fullmatch(r"0:00:0\d", first)
    time.sleep(1.5)
    assert page.inner_text("#running-time") != first  # it counts up by itself
    page.click("button:has-text('Punch out')")
    page.wait_for_selector("text=Punched out of 24-0777")
    shift = Shift.objects.get()
    assert shift.punched_out_at is not None and shift.note == "Level 3 casework"


def test_after_a_sync_the_jobs_page_shows_only_the_new_summary(
    signed_in, hub, two_workspaces, sandbox, celery_worker
):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    page = signed_in(admin)  # before Dataverse is connected: no sign-in import
    connect_dataverse(user=admin, workspace=workspace)
    sandbox.control(
        "dataverse",
        "POST",
        "dataverse/jobs",
        {
            "records": [
                {"imi_imnumber": "E-00001", "imi_submittalstatus": 826130004, "statecode": 0}
            ]
        },
    )
    JobSyncRun.objects.create(
        workspace=workspace,
        source="dataverse",
        status="failed",
        message="Dataverse did not answer",
        created_at=timezone.now() - timedelta(days=1),
    )
    page.goto(f"{hub.url}/timetracker/jobs/")
    assert "Last import" in page.inner_text("main")  # yesterday's run, before the press

    summary, _ = press_and_follow(page, "#sync-jobs")
    assert summary == "Done: 1 added, 0 skipped"
    text = page.inner_text("main")
    assert "Last import" not in text and "Dataverse did not answer" not in text


def test_the_job_picker_finds_a_job_by_its_im_number(signed_in, hub, two_workspaces):
    member, workspace = two_workspaces["a_member"], two_workspaces["a"]
    for n in range(78):
        Job.objects.create(
            workspace=workspace, im_number=f"24-{n:04d}", general_contractor="Turner"
        )
    wanted = Job.objects.create(
        workspace=workspace, im_number="25-0412", general_contractor="Skanska"
    )
    page = signed_in(member)
    page.goto(f"{hub.url}/timetracker/")
    assert page.locator("#job option").count() == 80  # every job, and "Choose a job…"

    page.fill("#job-search", "0412")
    assert page.locator("#job option").count() == 2
    assert page.input_value("#job") == str(wanted.pk)  # the match is chosen
    assert page.inner_text("#job-matches") == "1 of 79 jobs match."
    page.fill("#job-search", "skanska 25-")  # every word, any field
    assert page.input_value("#job") == str(wanted.pk)
    page.fill("#job-search", "no such job")
    assert page.input_value("#job") == ""
    assert page.inner_text("#job-matches") == "No job matches."
    page.fill("#job-search", "25-0412")
    page.press("#job-search", "Enter")  # moves on to the list; it does not punch in yet
    assert not Shift.objects.exists()

    page.fill("#note-in", "Templates")
    page.click("button:has-text('Punch in')")
    page.wait_for_selector("#current-shift")
    assert Shift.objects.get().job == wanted  # the form posted the job's id


def test_a_second_import_is_named_without_a_409_in_the_console(signed_in, hub, two_workspaces):
    # An import already queued (no worker here takes it): the button is told which run is in
    # the way, by asking first, so the browser never logs the API's 409 as an error.
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    page = signed_in(admin)
    connect_dataverse(user=admin, workspace=workspace)
    JobSyncRun.objects.create(
        workspace=workspace,
        source="dataverse",
        direction="inbound",
        trigger="api",
        status="running",
        requested_by=two_workspaces["a_member"],
    )
    page.goto(f"{hub.url}/timetracker/jobs/")
    errors = console_errors(page)
    page.click("#sync-jobs")
    page.wait_for_selector("#run-summary[data-status='busy']", timeout=10_000)
    said = page.inner_text("#run-summary")
    assert said.startswith("Another run is in progress")
    assert f"started by {two_workspaces['a_member'].email}" in said
    assert errors == []
    assert JobSyncRun.objects.filter(workspace=workspace).count() == 1
