"""The three triggers — 06:00 New York time, the manual endpoint, sign-in — and the rollback
switch to the Smartsheet sheet."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from freezegun import freeze_time
from kombu.exceptions import OperationalError

from integrations import schedules
from tests.factories import PASSWORD, MembershipFactory
from tests.integrations.helpers import connect
from tests.timetracker.conftest import load_jobs, run_import
from timetracker import services, tasks
from timetracker.models import Job, JobSyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def sign_in(client, django_capture_on_commit_callbacks):
    """Sign in through the login form; what the request queues on commit is sent too."""

    def post(user):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    return post


# --- schedule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "six_in_new_york_utc"),
    [
        ("2027-01-15", "11:00"),  # EST, UTC-5
        ("2027-07-15", "10:00"),  # EDT, UTC-4
    ],
)
def test_the_daily_import_fires_at_six_in_new_york(day, six_in_new_york_utc):
    schedules.periodic_tasks_sync()
    entry = PeriodicTask.objects.get(name="hub.timetracker-daily-jobs")
    assert entry.task == "timetracker.daily_job_sync" and entry.enabled
    schedule = entry.schedule
    fire = datetime.fromisoformat(f"{day}T{six_in_new_york_utc}:00+00:00")
    last_run = fire - timedelta(days=1)

    def due_at(moment):
        schedule.nowfun = lambda: moment.astimezone(schedule.tz)
        return schedule.is_due(last_run).is_due

    assert not due_at(fire - timedelta(minutes=1))
    assert due_at(fire + timedelta(seconds=30))
    # An hour either side is wrong in one season or the other.
    assert not due_at(fire - timedelta(hours=1) + timedelta(seconds=30))


def test_the_daily_task_queues_one_run_per_workspace_with_a_source(
    sandbox, dataverse, two_workspaces
):
    outcome = tasks.daily_job_sync()
    assert outcome == {"queued": 1, "skipped": 1}  # workspace B has no Dataverse connection
    run = JobSyncRun.objects.get()
    assert (run.workspace, run.trigger, run.status) == (two_workspaces["a"], "schedule", "queued")


# --- manual endpoint -----------------------------------------------------------------------------


def test_an_admin_queues_an_import_and_reads_its_counts(api, sandbox, dataverse, admin, workspace):
    load_jobs(
        sandbox, records=[{"imi_imnumber": "M-1", "imi_submittalstatus": 826130004, "statecode": 0}]
    )
    api.force_authenticate(admin)
    response = api.post("/api/timetracker/process-approved-jobs", {}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["source"], body["trigger"]) == ("queued", "dataverse", "api")

    again = api.post("/api/timetracker/process-approved-jobs", {}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "run_in_progress"

    from timetracker import sync

    sync.execute(body["id"])
    run = api.get(f"/api/timetracker/runs/{body['id']}").json()
    assert (run["status"], run["created"], run["unchanged"], run["percent"]) == (
        "succeeded",
        1,
        0,
        100,
    )
    assert run["summary"] == "1 added, 0 skipped"


def test_members_and_strangers_cannot_start_an_import(api, sandbox, dataverse, two_workspaces):
    api.force_authenticate(two_workspaces["a_member"])
    response = api.post(
        "/api/timetracker/process-approved-jobs",
        {"workspace": two_workspaces["a"].pk},
        format="json",
    )
    assert response.status_code == 403
    api.force_authenticate(two_workspaces["b_admin"])
    response = api.post(
        "/api/timetracker/process-approved-jobs",
        {"workspace": two_workspaces["a"].pk},
        format="json",
    )
    assert response.status_code == 404
    # B's own workspace has no Dataverse connection: a clear 409, not a queued failure.
    response = api.post("/api/timetracker/process-approved-jobs", {}, format="json")
    assert response.status_code == 409
    assert "no usable Dataverse connection" in response.json()["error"]["message"]
    assert not JobSyncRun.objects.exists()


# --- sign-in ------------------------------------------------------------------------------------


def test_signing_in_queues_a_run_and_the_sign_in_does_not_run_it(
    sign_in, sandbox, dataverse, admin, workspace
):
    load_jobs(
        sandbox, records=[{"imi_imnumber": "L-1", "imi_submittalstatus": 826130004, "statecode": 0}]
    )
    sandbox.clear_calls("dataverse")
    response = sign_in(admin)
    assert response.status_code == 302
    run = JobSyncRun.objects.get()
    assert (run.trigger, run.status, run.workspace) == ("login", "queued", workspace)
    assert run.task_id  # handed to the broker
    # Nothing was read or stored while the sign-in was answered.
    assert sandbox.calls("dataverse")["total"] == 0
    assert not Job.objects.exists()


def test_many_sign_ins_start_one_run_per_ten_minutes(
    client, sign_in, sandbox, dataverse, admin, workspace
):
    people = [admin] + [MembershipFactory(workspace=workspace).user for _ in range(4)]
    start = timezone.now()
    with freeze_time(start):
        for person in people:
            assert sign_in(person).status_code == 302
            client.logout()
    assert JobSyncRun.objects.count() == 1
    JobSyncRun.objects.update(status="succeeded", finished_at=start)
    with freeze_time(start + timedelta(minutes=9)):
        sign_in(people[1])
        client.logout()
    assert JobSyncRun.objects.count() == 1
    with freeze_time(start + timedelta(minutes=11)):
        sign_in(people[2])
    assert JobSyncRun.objects.count() == 2


def test_a_broker_that_is_down_never_fails_a_sign_in(
    sign_in, sandbox, dataverse, admin, monkeypatch
):
    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.job_sync, "apply_async", down)
    assert sign_in(admin).status_code == 302
    run = JobSyncRun.objects.get()
    assert run.status == "failed" and "could not be queued" in run.message


def test_an_unexpected_error_never_fails_a_sign_in(sign_in, sandbox, admin, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "job_sync_on_login", broken)
    assert sign_in(admin).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_a_sign_in_run_goes_through_the_broker_to_a_worker(
    sign_in, sandbox, dataverse, admin, workspace, celery_worker
):
    load_jobs(
        sandbox, records=[{"imi_imnumber": "W-1", "imi_submittalstatus": 826130004, "statecode": 0}]
    )
    sign_in(admin)
    run = JobSyncRun.objects.get()
    deadline = timezone.now() + timedelta(seconds=60)
    while run.status in ("queued", "running") and timezone.now() < deadline:
        import time

        time.sleep(0.2)
        run.refresh_from_db()
    assert (run.status, run.created) == ("succeeded", 1)
    assert Job.objects.get().im_number == "W-1"


# --- the rollback switch --------------------------------------------------------------------------


def test_use_dataverse_false_reads_the_smartsheet_sheet(settings, sandbox, admin, workspace):
    settings.USE_DATAVERSE = False
    connect(sandbox, user=admin, workspace=workspace, provider="smartsheet")
    sandbox.clear_calls("dataverse")
    run = run_import(workspace, admin)
    assert (run.source, run.status) == ("smartsheet", "succeeded")
    jobs = {job.im_number: job for job in Job.objects.filter(workspace=workspace)}
    # The emulator's "TimeTracker Jobs" sheet: six approved rows with an IM number, one without.
    assert set(jobs) == {"24-0101", "24-0102", "24-0103", "24-0104", "24-0105", "24-0110"}
    assert (run.created, run.unmapped) == (6, 1)
    assert jobs["24-0103"].general_contractor == "Unknown"
    assert jobs["24-0104"].job_scope == jobs["24-0105"].job_scope == "See Work Order"
    assert {job.source for job in jobs.values()} == {"smartsheet"}
    assert sandbox.count("smartsheet", "GET /2.0/sheets/{sheet_id:int}") == 1
    assert sandbox.calls("dataverse")["total"] == 0


def test_the_rollback_reads_through_its_own_editable_mapping_set(
    settings, sandbox, admin, workspace
):
    from integrations.mapping import examples
    from timetracker.sources import SMARTSHEET_JOBS_MAPPING

    settings.USE_DATAVERSE = False
    connect(sandbox, user=admin, workspace=workspace, provider="smartsheet")
    # The set as an admin finds it (the first import would make it), edited before importing.
    rollback = examples.load(workspace=workspace, path=SMARTSHEET_JOBS_MAPPING)
    assert rollback.name == "TimeTracker: Smartsheet jobs (rollback)"
    contractor = rollback.fields.get(target_field="general_contractor")
    contractor.params = {"value": "To be assigned"}
    contractor.save()

    run_import(workspace, admin)

    assert Job.objects.get(workspace=workspace, im_number="24-0103").general_contractor == (
        "To be assigned"
    )


def test_use_dataverse_false_without_a_smartsheet_connection_says_so(
    settings, sandbox, admin, workspace
):
    settings.USE_DATAVERSE = False
    with pytest.raises(services.SourceNotConfigured, match="connected Smartsheet"):
        services.job_sync_request(workspace=workspace, actor=admin)


def test_the_switch_is_read_from_the_environment(tmp_path):
    from tests.config.test_settings import run, settings_of

    assert settings_of(tmp_path, "USE_DATAVERSE")["USE_DATAVERSE"] is True
    assert settings_of(tmp_path, "USE_DATAVERSE", USE_DATAVERSE="false")["USE_DATAVERSE"] is False
    typo = run(["manage.py", "check"], tmp_path, USE_DATAVERSE="flase")
    assert typo.returncode == 2 and "USE_DATAVERSE:" in typo.stderr
