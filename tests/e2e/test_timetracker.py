"""The TimeTracker in a real browser: "Sync jobs now" runs an import through the API and a
real Celery worker against the Dataverse emulator, with progress to 100 % and a summary; the
dashboard punches in, counts the shift's time up, and punches out."""

import re
import time

import pytest

from tests.e2e.helpers import press_and_follow
from tests.integrations.helpers import connect_dataverse
from timetracker.models import Job, Shift

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_jobs_now_shows_progress_and_the_summary(
    signed_in, hub, two_workspaces, sandbox, celery_worker
):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
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
    page = signed_in(admin)
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
