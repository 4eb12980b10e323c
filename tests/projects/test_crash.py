"""No duplicates, ever: a worker killed (SIGKILL, no cleanup of any kind) at each point of a
multi-batch outbound run, then the run resumed, ends with exactly one row per entity, one
discussion per comment and one attachment per file.

And no run left "running": a scheduled run whose worker died is closed by the stale-run sweep
and queued again, once, and the new run adopts what the dead one wrote. First with the worker
forked here, then with real worker and beat processes on the embedded broker and on Redis."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connections
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from kombu import Connection

from integrations import runs
from integrations.connections import services as connection_services
from integrations.connections.providers import smartsheet
from integrations.errors import Conflict
from projects import services, sync, tasks
from projects.models import Attachment, Comment, PendingWrite, ProjectSyncRun, RowMapping
from tests.environment import BASE_DIR, clean_env
from tests.projects import crash_points
from tests.projects.helpers import timeline

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    # These tests play the worker themselves; nothing is put on the broker.
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(smartsheet, "ROWS_PER_REQUEST", 3)


def _worker(run_id: int, point: str, occurrence: int) -> None:
    """A forked worker that kills itself, like the OOM killer would, at the chosen point."""
    connections.close_all()  # a connection of its own, not the parent's socket
    # This forked process only.
    crash_points.at(point, occurrence, lambda: os.kill(os.getpid(), signal.SIGKILL))
    sync.execute(run_id)


def sheet_state(project, author) -> dict:
    sdk = smartsheet.client(connection_services.access_token(author.smartsheet), key="check")
    link = project.sheet_link
    rows = smartsheet.get_sheet(sdk, sheet_id=link.sheet_id).rows
    discussions = {
        row.id: len(smartsheet.row_discussion_texts(sdk, sheet_id=link.sheet_id, row_id=row.id))
        for row in rows
    }
    attachments = {
        row.id: len(smartsheet.row_attachment_names(sdk, sheet_id=link.sheet_id, row_id=row.id))
        for row in rows
    }
    return {"rows": rows, "discussions": discussions, "attachments": attachments}


POINTS = [
    ("intent_recorded", 1),
    ("batch_accepted", 1),  # Smartsheet took the first batch; our commit never happened
    ("batch_accepted", 4),  # ...a child batch, mid-run
    ("batch_committed", 2),
    ("discussion_intent", 1),
    ("discussion_posted", 2),  # the discussion exists; our record of it does not
    ("attachment_intent", 1),
    ("attachment_uploaded", 2),
]


@pytest.mark.parametrize(("point", "occurrence"), POINTS, ids=[f"{p}-{n}" for p, n in POINTS])
def test_killed_at_any_point_the_resumed_run_makes_each_row_once(
    linked, author, sandbox, small_batches, point, occurrence
):
    made = timeline(
        linked,
        author,
        task_blocks=2,
        per_block={"purchaseorder": 3, "comment": 2, "attachment": 2},
        top_level={"workorder": 2},
    )
    run = services.sync_request(project=linked, actor=author, direction="outbound")
    connections.close_all()

    worker = multiprocessing.get_context("fork").Process(
        target=_worker, args=(run.pk, point, occurrence)
    )
    worker.start()
    worker.join(120)
    assert worker.exitcode == -signal.SIGKILL  # it really died there
    run.refresh_from_db()
    assert run.status == "running"  # nobody closed it: the worker died mid-sentence

    sync.execute(run.pk)  # the broker redelivers the unacknowledged task to another worker

    run.refresh_from_db()
    assert run.status == "succeeded", (run.message, run.errors)
    state = sheet_state(linked, author)
    assert len(state["rows"]) == len(made) == RowMapping.objects.count()
    assert not PendingWrite.objects.exists()
    comment_rows = RowMapping.objects.filter(entity_type="comment").values_list("row_id", flat=True)
    attachment_rows = RowMapping.objects.filter(entity_type="attachment").values_list(
        "row_id", flat=True
    )
    assert [state["discussions"][row] for row in comment_rows] == [1] * Comment.objects.count()
    assert [state["attachments"][row] for row in attachment_rows] == [
        1
    ] * Attachment.objects.count()
    assert sum(state["discussions"].values()) == Comment.objects.count()
    assert sum(state["attachments"].values()) == Attachment.objects.count()


def test_a_new_run_takes_over_from_one_whose_worker_went_silent(
    linked, author, sandbox, small_batches
):
    made = timeline(linked, author, task_blocks=1, per_block={"workorder": 4})
    run = services.sync_request(project=linked, actor=author, direction="outbound")
    connections.close_all()
    worker = multiprocessing.get_context("fork").Process(
        target=_worker, args=(run.pk, "batch_accepted", 2)
    )
    worker.start()
    worker.join(120)

    with pytest.raises(Conflict):  # still looks alive: no second run
        services.sync_request(project=linked, actor=author, direction="outbound")
    ProjectSyncRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    takeover = services.sync_request(project=linked, actor=author, direction="outbound")
    sync.execute(takeover.pk)

    run.refresh_from_db()
    takeover.refresh_from_db()
    assert run.status == "failed" and "stopped answering" in run.message
    assert takeover.status == "succeeded"
    assert len(sheet_state(linked, author)["rows"]) == len(made) == RowMapping.objects.count()


def test_a_run_no_worker_took_up_is_replaced_and_its_late_task_does_nothing(
    linked, author, sandbox
):
    timeline(linked, author, task_blocks=1, per_block={"workorder": 2})
    lost = services.sync_request(project=linked, actor=author, direction="outbound")
    with pytest.raises(Conflict):
        services.sync_request(project=linked, actor=author, direction="outbound")
    ProjectSyncRun.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    fresh = services.sync_request(project=linked, actor=author, direction="outbound")
    sync.execute(fresh.pk)
    sync.execute(lost.pk)  # the lost task turns up after all
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert (lost.status, lost.created) == ("failed", 0) and "No worker" in lost.message
    assert (fresh.status, fresh.created) == ("succeeded", 3)


def test_a_scheduled_run_whose_worker_died_is_closed_by_the_sweep_and_run_again_once(
    linked, author, sandbox, small_batches, settings, monkeypatch
):
    made = timeline(linked, author, task_blocks=1, per_block={"workorder": 7, "comment": 1})
    run = services.sync_request(
        project=linked, actor=author, direction="outbound", trigger="schedule"
    )
    connections.close_all()
    worker = multiprocessing.get_context("fork").Process(
        target=_worker, args=(run.pk, "batch_accepted", 2)
    )
    worker.start()
    worker.join(120)
    assert worker.exitcode == -signal.SIGKILL
    assert PendingWrite.objects.exists()  # Smartsheet took a batch we never recorded

    assert runs.sweep() == {"closed": 0, "requeued": 0}  # silent, but not for long yet
    ProjectSyncRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.RUN_STALE_AFTER + 1)
    )
    queued = []
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: queued.append((run.pk, task.task)))
    assert runs.sweep() == {"closed": 1, "requeued": 1}
    assert runs.sweep() == {"closed": 0, "requeued": 0}

    successor = ProjectSyncRun.objects.exclude(pk=run.pk).get()
    assert queued == [(successor.pk, "projects.sync_run")]
    sync.execute(successor.pk)  # the task the sweep queued, on a worker
    sync.execute(run.pk)  # the dead worker's own task, redelivered late: it does nothing

    run.refresh_from_db()
    successor.refresh_from_db()
    assert run.status == "failed"
    assert f"queued again for its schedule as run {successor.pk}" in run.message
    assert (successor.trigger, successor.status) == ("schedule", "succeeded")
    state = sheet_state(linked, author)
    assert len(state["rows"]) == len(made) == RowMapping.objects.count()
    assert sum(state["discussions"].values()) == 1
    assert not PendingWrite.objects.exists()


# --- A real worker process on a real broker, killed with SIGKILL -----------------------------
# The worker (tests/projects/stalling_worker.py) stops where Smartsheet has taken a batch of
# rows and the run has not recorded them; the test kills its process group there, as the OOM
# killer would, and starts another worker, as supervisord or an orchestrator would. Beat
# sends the sweep every second; the worker's stale window is a few seconds instead of 5
# minutes (the HTTP timeouts below it shrink with it: settings refuse a window shorter than a
# live run's longest silence). The dead worker's own task comes back only after the broker's
# visibility timeout (30 s embedded, 26 minutes on Redis): the sweep, not redelivery, is what
# brings the run back within its window.

STALE = 6  # the workers' RUN_STALE_AFTER, seconds
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def _database_url() -> str:
    """The test database, for the worker and beat processes."""
    db = connections["default"].settings_dict
    if connections["default"].vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    login = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{login}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Broker:
    """One broker for one test, with a queue of its own."""

    def __init__(self, kind: str, tmp_path):
        self.kind = kind
        self.queue = f"crash-{uuid.uuid4().hex[:12]}"
        if kind == "embedded":
            import config.broker  # noqa: F401 - the sqlite:// transport, also on a Redis suite

            path = tmp_path / "broker.sqlite3"
            self.url = f"sqlite:///{path}"
            self.connection = Connection("sqlite://", transport_options={"path": str(path)})
        else:
            self.url = (
                django_settings.CELERY_BROKER_URL
                if django_settings.CELERY_BROKER_URL.startswith("redis")
                else LOCAL_REDIS
            )
            self.connection = Connection(self.url)

    def send(self, run: ProjectSyncRun) -> None:
        result = tasks.sync_run.apply_async((run.pk,), queue=self.queue, connection=self.connection)
        ProjectSyncRun.objects.filter(pk=run.pk).update(task_id=result.id)

    def close(self) -> None:
        if self.kind == "redis":
            # The dead worker's message waits in Redis' unacknowledged set until the visibility
            # timeout; nobody will consume this queue again, so it goes now.
            client = redis.Redis.from_url(self.url)
            for tag, payload in client.hgetall("unacked").items():
                if json.loads(payload)[2] == self.queue:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
            client.delete(self.queue, f"_kombu.binding.{self.queue}")
        self.connection.release()


@pytest.fixture(params=["embedded", "redis"])
def broker(request, tmp_path):
    broker = Broker(request.param, tmp_path)
    if broker.kind == "redis":
        try:
            redis.Redis.from_url(broker.url, socket_connect_timeout=2).ping()
        except redis.ConnectionError as exc:
            if django_settings.CELERY_BROKER_URL.startswith("redis"):
                raise  # the suite was given Redis: it must be there
            pytest.skip(f"no Redis at {broker.url} ({exc}); CI runs this case on its Redis")
    yield broker
    broker.close()


@pytest.fixture
def processes(tmp_path):
    """Start the hub's processes (worker, beat) in sessions of their own; all killed at the
    end, before the test database is cleaned."""
    started = []

    def start(name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = (tmp_path / f"{name}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=BASE_DIR,
            env=clean_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log = tmp_path / f"{name}.log"
        started.append(process)
        return process

    yield start
    for process in started:  # what they hold no longer matters: no clean stop to wait for
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _wait(what: str, condition, *, timeout: float, watch=()) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for process in watch:
            assert process.poll() is None, f"{process.args} exited:\n{process.log.read_text()}"
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.log.name}\n{p.log.read_text()[-3000:]}" for p in watch)
            pytest.fail(f"{what}: not within {timeout} s\n{logs}")
        time.sleep(0.1)


@pytest.mark.heavy
def test_a_worker_killed_mid_run_is_swept_within_its_window_and_the_run_completes_once(
    broker, processes, linked, author, sandbox, tmp_path
):
    made = timeline(linked, author, task_blocks=1, per_block={"workorder": 7})
    env = {
        "VAR_DIR": str(django_settings.VAR_DIR),  # keys (to read the token), the sandbox CA
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker.url,
        "WORKER_QUEUE": broker.queue,
        "SANDBOX_BASE_PORT": str(django_settings.SANDBOX_PORTS["smartsheet"] - 1),
        "SYNC_BATCH": "3",
        "RUN_STALE_AFTER": str(STALE),
        "HTTP_CONNECT_TIMEOUT": "1",
        "HTTP_READ_TIMEOUT": "3",
        "HTTP_MAX_RETRY_WAIT": "1",
        "LOG_FORMAT": "text",
    }
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    PeriodicTask.objects.create(
        name="sweep-fast", task="integrations.sweep_runs", interval=every_second, queue=broker.queue
    )
    beat = processes(
        "beat",
        ["-m", "celery", "-A", "config", "beat", "--loglevel=INFO", "--pidfile="],
        env,
    )
    marker = tmp_path / "stalled"
    first = processes(
        "worker-1",
        ["-m", "tests.projects.stalling_worker"],
        {**env, "STALL_AT": "batch_accepted:2", "STALL_MARKER": str(marker)},
    )
    _wait("worker 1 ready", lambda: " ready." in first.log.read_text(), timeout=60, watch=[first])

    run = services.sync_request(
        project=linked, actor=author, direction="outbound", trigger="schedule"
    )
    broker.send(run)
    _wait("the run reaching the checkpoint", marker.exists, timeout=60, watch=[first, beat])
    os.killpg(first.pid, signal.SIGKILL)
    killed_at = timezone.now()
    first.wait(10)
    run.refresh_from_db()
    assert run.status == "running"  # the sweep leaves a live run alone, every second
    assert PendingWrite.objects.exists()  # rows in Smartsheet, not recorded here

    second = processes("worker-2", ["-m", "tests.projects.stalling_worker"], env)
    _wait(
        "the sweep closing the run",
        lambda: ProjectSyncRun.objects.get(pk=run.pk).status != "running",
        timeout=STALE + 60,
        watch=[second, beat],
    )
    _wait(
        "the run queued again finishing",
        lambda: (
            ProjectSyncRun.objects.filter(trigger="schedule", finished_at__isnull=False)
            .exclude(pk=run.pk)
            .exists()
        ),
        timeout=60,
        watch=[second, beat],
    )

    run.refresh_from_db()
    successor = ProjectSyncRun.objects.exclude(pk=run.pk).get()  # queued again once
    assert run.status == "failed"
    assert run.message == (
        f"The worker stopped answering for {STALE} seconds; queued again for its schedule as "
        f"run {successor.pk}."
    )
    assert run.finished_at - run.heartbeat_at >= timedelta(seconds=STALE)  # not before its time
    assert (successor.trigger, successor.status) == ("schedule", "succeeded"), successor.message
    rows = sheet_state(linked, author)["rows"]
    assert len(rows) == len(made) == RowMapping.objects.count()  # none twice
    assert not PendingWrite.objects.exists()
    print(
        f"\n{broker.kind}: run {run.pk} closed {(run.finished_at - killed_at).total_seconds():.1f}"
        f" s after the SIGKILL (last heartbeat {(killed_at - run.heartbeat_at).total_seconds():.1f}"
        f" s before it); run {successor.pk} finished "
        f"{(successor.finished_at - killed_at).total_seconds():.1f} s after it: {successor.message}"
    )
