"""The stale-run sweep (integrations.runs.sweep, beat's `hub.sweep-runs`): a run whose worker
went silent is closed with the reason, in every app's run log; a scheduled one is queued again,
once; a live run is never touched, even one that writes while the sweep looks at it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app
from integrations import runs
from integrations.accounts.models import AuditEvent
from integrations.schedules import SCHEDULES
from projects.models import Project, ProjectSyncRun
from timetracker.models import JobSyncRun

pytestmark = pytest.mark.django_db

STALE = 300  # seconds, the default RUN_STALE_AFTER


@pytest.fixture(autouse=True)
def window(settings):
    settings.RUN_STALE_AFTER = STALE


@pytest.fixture
def queued(monkeypatch):
    """The tasks the sweep hands runs to, instead of the broker: (run id, task name)."""
    sent = []
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: sent.append((run.pk, task.task)))
    return sent


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """One sweep, as beat's task runs it: its runs are handed over once it commits."""

    def sweep_once() -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            return runs.sweep()

    return sweep_once


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def job_run(workspace, *, trigger="schedule", status="running", silent_for=STALE + 60, **fields):
    return JobSyncRun.objects.create(
        workspace=workspace,
        source="dataverse",
        direction="inbound",
        trigger=trigger,
        status=status,
        started_at=ago(silent_for + 30) if status == "running" else None,
        heartbeat_at=ago(silent_for) if status == "running" else None,
        **fields,
    )


def test_a_silent_run_is_closed_with_the_reason_and_a_live_one_is_left_alone(
    two_workspaces, queued, sweep
):
    silent = job_run(two_workspaces["a"], trigger="button")
    live = job_run(two_workspaces["b"], trigger="button", silent_for=STALE - 30)

    assert sweep() == {"closed": 1, "requeued": 0}

    silent.refresh_from_db()
    live.refresh_from_db()
    assert silent.status == "failed" and silent.finished_at is not None
    assert silent.message == "The worker stopped answering for 5 minutes; start it again."
    assert (live.status, live.finished_at, live.message) == ("running", None, "")
    assert queued == []  # a person's run is not repeated behind their back
    event = AuditEvent.objects.get(action="run.abandoned")
    assert (event.target_id, event.details["successor"]) == (str(silent.pk), None)


def test_a_run_no_worker_took_up_is_closed_too(two_workspaces, queued, sweep):
    lost = job_run(two_workspaces["a"], trigger="api", status="queued")
    JobSyncRun.objects.filter(pk=lost.pk).update(created_at=ago(STALE + 1))
    fresh = job_run(two_workspaces["b"], trigger="api", status="queued")

    sweep()

    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == "failed" and lost.message.startswith("No worker took the run up")
    assert fresh.status == "queued"


def test_a_scheduled_run_is_queued_again_once_as_a_new_run_of_the_same_scope(
    two_workspaces, queued, sweep
):
    workspace = two_workspaces["a"]
    dead = job_run(workspace, created=7, progress_done=7, progress_total=20, stage="Page 1")

    assert sweep() == {"closed": 1, "requeued": 1}
    assert sweep() == {"closed": 0, "requeued": 0}  # the successor is not stale

    dead.refresh_from_db()
    successor = JobSyncRun.objects.exclude(pk=dead.pk).get()
    assert dead.status == "failed"
    assert dead.message == (
        "The worker stopped answering for 5 minutes; queued again for its schedule "
        f"as run {successor.pk}."
    )
    # What to run is copied; what one attempt did is not.
    assert (successor.workspace, successor.source, successor.direction, successor.trigger) == (
        workspace,
        "dataverse",
        "inbound",
        "schedule",
    )
    assert (successor.status, successor.created, successor.progress_done, successor.stage) == (
        "queued",
        0,
        0,
        "",
    )
    assert queued == [(successor.pk, "timetracker.job_sync")]
    assert AuditEvent.objects.filter(action="run.requeued", target_id=str(successor.pk)).exists()


def test_a_scheduled_run_is_not_queued_again_when_another_run_of_its_scope_is_going(
    two_workspaces, queued, monkeypatch, sweep
):
    workspace = two_workspaces["a"]
    dead = job_run(workspace)
    # Possible only once the dead run is closed: a person pressed the button meanwhile.
    original_close = runs.close_abandoned

    def close_then_start_another(*args, **kwargs):
        closed = original_close(*args, **kwargs)
        if closed:
            job_run(workspace, trigger="button", status="queued")
        return closed

    monkeypatch.setattr(runs, "close_abandoned", close_then_start_another)
    assert sweep() == {"closed": 1, "requeued": 0}
    dead.refresh_from_db()
    assert dead.message.endswith("; not queued again: another run of it is going.")
    assert dead.status == "failed" and queued == []


def test_every_apps_run_log_is_swept(two_workspaces, queued, sweep):
    workspace = two_workspaces["a"]
    project = Project.objects.create(workspace=workspace, number="7", name="Dock")
    project_run = ProjectSyncRun.objects.create(
        workspace=workspace,
        project=project,
        direction="outbound",
        trigger="schedule",
        status="running",
        heartbeat_at=ago(STALE + 60),
    )
    job = job_run(workspace)

    assert {ProjectSyncRun, JobSyncRun} <= set(runs.run_models())
    assert sweep() == {"closed": 2, "requeued": 2}

    project_successor = ProjectSyncRun.objects.exclude(pk=project_run.pk).get()
    job_successor = JobSyncRun.objects.exclude(pk=job.pk).get()
    assert (project_successor.project, project_successor.direction) == (project, "outbound")
    assert sorted(queued) == sorted(
        [
            (project_successor.pk, "projects.sync_run"),
            (job_successor.pk, "timetracker.job_sync"),
        ]
    )


def test_every_run_log_names_a_task_that_exists():
    app.loader.import_default_modules()
    for model in runs.run_models():
        assert model.run_task in app.tasks, model


def test_a_heartbeat_written_while_the_sweep_looks_keeps_the_run(two_workspaces, queued):
    run = job_run(two_workspaces["a"])
    scope = JobSyncRun.objects.all()

    class Racing:
        """The scope as the sweep reads it; the worker writes a heartbeat right after."""

        model = JobSyncRun

        def filter(self, **guard):
            found = list(scope.filter(**guard))
            JobSyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
            return found

    assert runs.close_abandoned(Racing()) == []
    run.refresh_from_db()
    assert run.status == "running"


def test_a_closed_run_stops_its_worker_at_the_next_write_and_keeps_the_reason(
    two_workspaces, sweep
):
    run = job_run(two_workspaces["a"], trigger="button", silent_for=0)
    with runs.RunRecorder(run) as recorder:
        recorder.progress(total=10, stage="Page 1")
        JobSyncRun.objects.filter(pk=run.pk).update(heartbeat_at=ago(STALE + 1))
        sweep()
        recorder.count("created", 3)
        recorder.finish()  # the worker did not know: the row must keep the sweep's verdict
        pytest.fail("the recorder went on writing to a closed run")
    run.refresh_from_db()
    assert (run.status, run.created) == ("failed", 0)
    assert "stopped answering" in run.message


def test_the_sweep_is_on_the_beat_schedule():
    assert any(
        schedule.task == "integrations.sweep_runs" and schedule.every == timedelta(minutes=1)
        for schedule in SCHEDULES
    )


@pytest.mark.parametrize(("seconds", "words"), [(300, "5 minutes"), (60, "1 minute"), (8, "8")])
def test_the_reason_names_the_window(two_workspaces, queued, settings, seconds, words, sweep):
    settings.RUN_STALE_AFTER = seconds
    run = job_run(two_workspaces["a"], trigger="button", silent_for=seconds + 1)
    sweep()
    run.refresh_from_db()
    assert f"stopped answering for {words}" in run.message
