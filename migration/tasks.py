"""Celery tasks of Project migration: take ids, re-read, call a service."""

from celery import shared_task

from migration import pipeline


@shared_task(name="migration.run", ignore_result=True, acks_late=True)
def run(run_id: int) -> None:
    """Do one queued migration run (dry or real). A redelivered task (its worker died) takes
    the run up again: the load is idempotent, so nothing is written twice."""
    pipeline.execute(run_id)
