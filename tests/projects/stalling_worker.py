"""A real Celery worker (prefork, one process) for the crash tests, started as
`python -m tests.projects.stalling_worker` with the hub's environment plus:

- `WORKER_QUEUE`: the queue it consumes, and where the tasks it sends go (the sweep's runs
  queued again), so a test's tasks never meet another test's worker on a shared broker;
- `SYNC_BATCH`: rows per Add Rows request (small, so a run has several batches);
- `STALL_AT=<point>:<n>` and `STALL_MARKER=<path>`: at the n-th pass of that point of an
  outbound run (tests/projects/crash_points.py) the task writes the marker and waits there,
  for the test to kill the worker with SIGKILL at exactly that point (the rows sent, say, and
  not yet recorded).
"""

import os
import time
from pathlib import Path


def main() -> None:
    import django

    from config.celery import app  # loads the settings, as `celery -A config` does

    django.setup()
    from integrations.connections.providers import smartsheet
    from tests.projects import crash_points

    queue = os.environ["WORKER_QUEUE"]
    app.conf.task_default_queue = queue
    if batch := os.environ.get("SYNC_BATCH"):
        smartsheet.ROWS_PER_REQUEST = int(batch)
    if stall := os.environ.get("STALL_AT"):
        point, occurrence = stall.split(":")
        marker = Path(os.environ["STALL_MARKER"])

        def stall_there() -> None:
            marker.write_text(str(os.getpid()))
            time.sleep(600)  # until the test's SIGKILL

        crash_points.at(point, int(occurrence), stall_there)  # inherited by the pool's process
    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            "--pool=prefork",
            "--concurrency=1",
            # Nothing to meet or gossip with: start in a second, not after mingle's wait.
            "--without-mingle",
            "--without-gossip",
            f"--queues={queue}",
            f"--hostname={queue}-{os.getpid()}@%h",
        ]
    )


if __name__ == "__main__":
    main()
