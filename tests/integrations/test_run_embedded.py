"""`manage.py run_embedded` (what `make run` runs): the embedded stack, started for real as a
new user starts it — web, worker, beat and sandboxes under supervisord, the SQLite broker —
then soaked, and its worker killed mid-task.

The stack runs in its own folder with its own database and broker, on free ports, whatever
DATABASE_URL / CELERY_BROKER_URL the suite itself was given (the embedded mode is the subject)."""

import configparser
import os
import re
import signal
import sys
import time
import uuid

import pytest

from tests.stack import PYTHON, Stack, migrated_sqlite

# The suite soaks for 12 s (a burst of 300 tasks and six beats): long enough to catch a lost
# or doubled message, short enough for CI. Endurance is a separate question, asked on demand:
# SOAK_SECONDS=180 .venv/bin/pytest -s <this test> (README, "Other commands").
SOAK_SECONDS = int(os.environ.get("SOAK_SECONDS", "12"))
# The burst grows with the soak: 25 tasks per second of it (300 in the suite, 4,500 in three
# minutes), so a longer soak is also a heavier one.
BURST = max(250, 25 * SOAK_SECONDS)


def test_the_runner_restarts_every_process_and_stops_each_with_its_group(settings, tmp_path):
    from integrations.management.commands.run_embedded import PROCESSES, supervisord_config

    settings.VAR_DIR = tmp_path
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(supervisord_config(port=8123))
    programs = {s.removeprefix("program:"): config[s] for s in config if s.startswith("program:")}
    assert set(programs) == set(PROCESSES) == {"web", "worker", "beat", "sandbox"}
    for program in programs.values():
        assert program["autorestart"] == "true"
        assert int(program["startretries"]) >= 100
        assert program["killasgroup"] == "true"
        assert program["command"].startswith(sys.executable)
    # The worker stops its own pool after a warm shutdown; the others stop with their groups.
    assert {name: p["stopasgroup"] for name, p in programs.items()} == {
        "web": "true",
        "worker": "false",
        "beat": "true",
        "sandbox": "true",
    }
    assert "127.0.0.1:8123" in programs["web"]["command"]
    assert config["unix_http_server"]["file"] == f"{tmp_path}/supervisor.sock"


@pytest.fixture
def stack(tmp_path_factory):
    # A short path: supervisord's control socket lives in it (108 bytes at most).
    var = tmp_path_factory.mktemp("stack")
    # Migrating is not this test's subject (`make run` in the README test migrates from
    # scratch): run_embedded's migrate finds the run's migrated template already applied.
    migrated_sqlite(var / "db.sqlite3")
    stack = Stack(
        var_dir=var,
        command=[PYTHON, "manage.py", "run_embedded", "--port", "{port}"],
        DEBUG="true",
        VAR_DIR=str(var),
        HUB_BASE_URL="http://127.0.0.1:{port}",
        # A killed worker's task comes back after 10 s instead of the default 30.
        CELERY_BROKER_VISIBILITY_TIMEOUT="10",
    )
    yield stack
    stack.kill()  # its orderly stop is the README test's (`make run`, stopped as a user does)


DATAVERSE = 6  # the Dataverse emulator's port: SANDBOX_BASE_PORT + 6
JOBS = 6000  # the killed import's approved jobs: two pages


def _exits(log: str) -> list[str]:
    # supervisord: "INFO exited: web (exit status 0; expected)", "WARN exited: worker (...)".
    return re.findall(r"(?:INFO|WARN) exited: (\w+) \(([^)]*)\)", log)


@pytest.mark.slow
@pytest.mark.waits  # ~4 s of CPU in its ~35 s
def test_the_embedded_stack_survives_a_soak_and_a_killed_worker(stack):
    stack.wait_for(timeout=120)

    # --- Soak: beat every 2 s and BURST queued tasks, for SOAK_SECONDS ---------------------
    stack.shell(
        "from django_celery_beat.models import IntervalSchedule, PeriodicTask\n"
        "every, _ = IntervalSchedule.objects.get_or_create(every=2, period='seconds')\n"
        "PeriodicTask.objects.create(name='soak-beat', task='integrations.heartbeat',"
        " interval=every, kwargs=json.dumps({'name': 'soak-beat'}))\n"
        "from integrations.tasks import heartbeat\n"
        f"for n in range({BURST}):\n"
        "    heartbeat.delay(name=f'soak-{n}')\n"
    )
    soak_ends = time.monotonic() + SOAK_SECONDS
    while time.monotonic() < soak_ends:
        time.sleep(min(1, max(0, soak_ends - time.monotonic())))
        assert stack.process.poll() is None, stack.log()[-3000:]

    def sent_by_beat() -> int:
        return len(
            re.findall(r"Sending due task soak-beat \(integrations\.heartbeat\)", stack.log())
        )

    def reloads() -> int:
        return stack.log().count("DatabaseScheduler: Schedule changed.")

    # Stop the fast schedule. Beat reloads it at its next tick (2 s here) and says so before
    # it sends anything in that tick: what it sent before that line is all it ever sends, and
    # every one of those must be done (a lost one keeps the count short until the deadline).
    # The test's end checks that it sent none after (it would have sent about ten).
    reloaded = reloads()
    stack.shell(
        "from django_celery_beat.models import PeriodicTask\n"
        # save(), not update(): beat reloads its schedule on the change signal save() sends.
        "task = PeriodicTask.objects.get(name='soak-beat')\n"
        "task.enabled = False\n"
        "task.save()"
    )
    stopped_at = time.monotonic()
    while reloads() == reloaded:
        assert time.monotonic() - stopped_at < 60, "beat never reloaded the changed schedule"
        time.sleep(0.2)
    sent = sent_by_beat()
    # Polled inside the stack's shell (Stack.shell: one Django process answers every call).
    beats = stack.shell(
        "import time\n"
        "from integrations.models import Heartbeat\n"
        "deadline = time.monotonic() + 30\n"
        "while True:\n"
        "    out = dict(Heartbeat.objects.filter(name__startswith='soak-')"
        ".values_list('name', 'beats'))\n"
        f"    if out.get('soak-beat') == {sent} or time.monotonic() > deadline:\n"
        "        break\n"
        "    time.sleep(0.5)\n"
    )
    log = stack.log()

    assert "Unrecoverable error" not in log and "JSONDecodeError" not in log
    assert _exits(log) == []  # no process died
    burst = {name: n for name, n in beats.items() if name != "soak-beat"}
    assert len(burst) == BURST and set(burst.values()) == {1}  # each task done exactly once
    assert sent >= SOAK_SECONDS // 2 - 5  # beat kept its 2 s pace
    assert beats["soak-beat"] == sent  # and every one it sent was done, once
    print(
        f"\nsoak: {SOAK_SECONDS}s, {BURST} burst tasks done once, beat sent {sent}, all done once"
    )

    # --- kill -9 of the worker in the middle of a real task --------------------------------
    # A job import caught in the act: its first request for a page (of two: 5,000 records
    # each) answers after 8 s, and the worker is killed while it waits; the redelivered
    # run's pages come at once.
    records = [
        {
            "imi_jobid": str(uuid.UUID(int=n + 1)),
            "imi_imnumber": f"{24 + n // 10_000}-{n % 10_000:04d}",
            "imi_submittalstatus": 826130004,  # Approved
            "statecode": 0,
        }
        for n in range(JOBS)
    ]
    stack.sandbox(DATAVERSE, "POST", "dataverse/jobs", {"records": records})
    stack.sandbox(
        DATAVERSE,
        "POST",
        "faults",
        {"kind": "latency", "path": "/api/data/v9.2/imi_jobs", "seconds": 8, "count": 1},
    )
    # Requested and watched in one call of the stack's shell, which polls.
    status = stack.shell(
        "import time\n"
        "from integrations.models import Workspace\n"
        "from timetracker import services\n"
        "from timetracker.models import JobSyncRun\n"
        "run = services.job_sync_request(workspace=Workspace.objects.get(slug='demo'),"
        " trigger='command')\n"
        "deadline = time.monotonic() + 60\n"
        "while True:\n"
        "    out = JobSyncRun.objects.filter(pk=run.pk).values('id', 'status', 'created')[0]\n"
        "    if out['status'] != 'queued' or time.monotonic() > deadline:\n"
        "        break\n"
        "    time.sleep(0.1)\n"
    )
    assert status.get("status") == "running", status
    run_id = status["id"]
    # The latency taken (a fault leaves the list as its last request starts): the worker is
    # inside that request, not just past "running" (killed before it, the redelivered run
    # met the 8 s instead).
    asked_at = time.monotonic()
    while stack.sandbox(DATAVERSE, "GET", "faults", None)["faults"]:
        assert time.monotonic() - asked_at < 30, "the job import never asked for its first page"
        time.sleep(0.1)
    worker = stack.pid("worker")
    # The worker and its pool, as the OOM killer would.
    os.killpg(os.getpgid(worker), signal.SIGKILL)
    killed_at = time.monotonic()

    # /health/ pings a worker through the broker: after the kill only the new one can answer
    # (waiting first for a 503 waited out 10 s when the new worker was up within the ping's
    # 2 s and /health/ never failed).
    stack.wait_for(timeout=30)
    back_after = time.monotonic() - killed_at
    assert back_after <= 30  # the worker back, answering pings, within 30 s of the kill
    assert stack.pid("worker") != worker

    run = stack.shell(
        "import time\n"
        "from timetracker.models import Job, JobSyncRun\n"
        "deadline = time.monotonic() + 120\n"
        "while True:\n"
        f"    run = JobSyncRun.objects.get(pk={run_id})\n"
        "    if run.status in ('succeeded', 'partial', 'failed') or time.monotonic() > deadline:\n"
        "        break\n"
        "    time.sleep(0.5)\n"
        "out = {'status': run.status, 'created': run.created, 'message': run.message,"
        " 'jobs': Job.objects.filter(workspace=run.workspace, dataverse_id__isnull=False)"
        ".count()}\n"
    )
    log = stack.log()
    received = re.findall(r"Task timetracker\.job_sync\[([0-9a-f-]+)\] received", log)
    assert run["status"] == "succeeded", run
    assert run["jobs"] == run["created"] == JOBS  # every approved job, none twice
    assert len(received) == 2 and received[0] == received[1]  # the same task, redelivered
    assert [name for name, _ in _exits(log)] == ["worker"]  # only what we killed
    assert sent_by_beat() == sent  # beat never sent the disabled task again
    print(
        f"kill -9 of the worker mid-run: /health/ 200 again {back_after:.1f}s after the kill, "
        f"run {run_id} redelivered and finished: {run['message']}"
    )
