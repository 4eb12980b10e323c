"""Celery tasks of the TimeTracker: thin, by id."""

from celery import shared_task

from timetracker import services, sync


@shared_task(name="timetracker.job_sync", ignore_result=True, acks_late=True)
def job_sync(run_id: int) -> None:
    """Import approved jobs for one queued run."""
    sync.execute(run_id)


@shared_task(name="timetracker.daily_job_sync", ignore_result=True)
def daily_job_sync() -> dict:
    """Beat, 06:00 America/New_York: queue a run for every workspace with a job source."""
    return services.job_sync_scheduled()
