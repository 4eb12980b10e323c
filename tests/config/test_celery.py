"""The Celery app and its broker: tasks really travel through the broker to a worker."""

import time

from config.celery import app
from integrations import tasks
from integrations.heartbeats import Heartbeat


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_tasks_are_not_run_eagerly():
    assert app.conf.task_always_eager is False


def test_a_task_runs_through_the_broker_on_a_worker(celery_worker):
    assert not Heartbeat.objects.filter(name="worker").exists()

    tasks.heartbeat.delay()

    assert wait_for(lambda: Heartbeat.objects.filter(name="worker").exists())


def test_a_task_sent_without_a_worker_waits_on_the_broker(transactional_db):
    # Without the worker fixture nothing consumes the queue: delay() must not have run it inline.
    tasks.heartbeat.delay()
    time.sleep(0.5)
    assert not Heartbeat.objects.filter(name="worker").exists()
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")
