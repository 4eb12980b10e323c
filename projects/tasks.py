"""Celery tasks of the projects app: thin, by id."""

from celery import shared_task

from projects import sync


@shared_task(name="projects.sync_run", ignore_result=True, acks_late=True)
def sync_run(run_id: int) -> None:
    """Run (or, redelivered after a worker died, resume) one project sync."""
    sync.execute(run_id)
