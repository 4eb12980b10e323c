"""The TimeTracker's job import against 20,000 approved jobs in the Dataverse emulator.

The import runs as the Celery task's body in a separate worker process (this script's
`--worker` mode), so its peak memory is the worker's own (VmHWM). It runs twice, on 5,000
jobs (one page) and on 20,000 (four pages): memory must not grow with the number of pages,
because each page is stored and dropped before the next is read.

Call floor, from the API's rules: ceil(20,000 / 5,000) pages (5,000 is Dataverse's largest
odata.maxpagesize) + 1 token from Azure AD (client credentials). Counts come from the
emulators' control planes.

Last line: RESULT calls=<n> floor=<n> calls_ratio=<x> peak_rss_mb=<x>
"""

import json
import math
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

from _setup import bench_database, django_setup, fresh_database, scaled, start_sandbox

JOBS = scaled(20_000)
SMALL = scaled(5_000)
PAGE = 5_000
DB_NAME = "timetracker-sync"


def jobs(count: int) -> list[dict]:
    return [
        {
            "imi_jobid": str(uuid.UUID(int=n + 1)),
            "imi_imnumber": f"{24 + n // 10_000}-{n % 10_000:04d}",
            "imi_jobnameaddress": f"Job {n}, {100 + n % 900} Main St",
            "imi_gc": ("Turner Construction", "Skanska USA", None, "Gilbane")[n % 4],
            "imi_scopesummary": "Casework and millwork " * (1 + n % 15),
            "imi_submittalstatus": 826130004,
            "imi_productionphase": 826130000 + n % 5,
            "statecode": 0,
            "createdon": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
        }
        for n in range(count)
    ]


def worker(run_id: int) -> None:
    """The worker: one run, then its own peak memory on stdout. DEBUG off, as a production
    worker runs (DEBUG keeps every SQL statement in memory)."""
    os.environ["DATABASE_URL"] = f"sqlite:///{bench_database(DB_NAME)}"
    os.environ.update(DEBUG="false", ALLOWED_HOSTS="localhost")
    django_setup()

    from integrations import sandbox

    sandbox.use_ports(json.loads(os.environ["BENCH_SANDBOX_PORTS"]))
    from timetracker import tasks

    tasks.job_sync(run_id)  # the task's body, as the worker runs it
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM of its own address space. (ru_maxrss would
    not do: Linux carries the parent's high-water mark into a child across exec.)"""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)[1]) / 1024


def main() -> None:
    fresh_database(DB_NAME)
    from django.conf import settings

    from integrations import runs
    from integrations.accounts import services as accounts
    from integrations.accounts.models import User
    from integrations.connections.models import Connection
    from integrations.sandbox.client import SandboxClient
    from tests.integrations.helpers import connect_dataverse
    from timetracker import services
    from timetracker.models import Job, JobSyncRun

    server = start_sandbox(["dataverse"])
    sandbox = SandboxClient(server)
    user = User.objects.create_user(email="bench@example.com", password=None)
    workspace = accounts.workspace_create(name="Bench", creator=user)
    connect_dataverse(user=user, workspace=workspace)
    # This script starts the worker process itself: the run is not also sent to the broker.
    runs._enqueue = lambda run, task: None
    environment = {**os.environ, "BENCH_SANDBOX_PORTS": json.dumps(settings.SANDBOX_PORTS)}

    def measure(count: int) -> dict:
        Job.objects.all().delete()
        # A cold start: the worker fetches its token (the floor counts it).
        Connection.objects.filter(provider="dataverse").update(access_token="", expires_at=None)
        sandbox.control("dataverse", "POST", "dataverse/jobs", {"records": jobs(count)})
        for name in ("azure", "dataverse"):
            sandbox.clear_calls(name)
        run = services.job_sync_request(workspace=workspace, actor=user, trigger="command")
        began = time.monotonic()
        child = subprocess.run(
            [sys.executable, __file__, "--worker", str(run.pk)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        seconds = time.monotonic() - began
        if child.returncode != 0:
            raise SystemExit(f"the worker failed:\n{child.stderr[-3000:]}")
        run = JobSyncRun.objects.get(pk=run.pk)
        if (run.status, run.created) != ("succeeded", count):
            raise SystemExit(f"the run did not import {count} jobs: {run.status}: {run.message}")
        pages = sandbox.count("dataverse", "GET /api/data/v9.2/imi_jobs")
        tokens = sum(
            n
            for endpoint, n in sandbox.calls("azure")["by_endpoint"].items()
            if endpoint.endswith("/token")
        )
        peak = json.loads(child.stdout.strip().splitlines()[-1])["peak_rss_mb"]
        floor = math.ceil(count / PAGE) + 1
        print(
            f"  {count:>6} jobs: {pages} pages + {tokens} token = {pages + tokens} calls "
            f"(floor {floor}); run {run.duration:.1f} s, worker process {seconds:.1f} s; "
            f"peak RSS {peak:.1f} MB; {run.message}"
        )
        return {"calls": pages + tokens, "floor": floor, "peak": peak, "seconds": seconds}

    print(f"Importing {SMALL:,} then {JOBS:,} approved jobs from the Dataverse emulator...")
    small = measure(SMALL)
    large = measure(JOBS)
    growth = large["peak"] - small["peak"]
    print(
        f"  memory: {large['peak']:.1f} MB for {JOBS // PAGE} pages vs {small['peak']:.1f} MB "
        f"for one: {growth:+.1f} MB ({100 * growth / small['peak']:+.1f} %)"
    )
    server.stop()
    print(
        f"RESULT calls={large['calls']} floor={large['floor']} "
        f"calls_ratio={large['calls'] / large['floor']:.3f} peak_rss_mb={large['peak']:.1f}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]))
    else:
        main()
