"""Tasks of the run log."""

from celery import shared_task

from integrations import runs


@shared_task(name="integrations.sweep_runs", ignore_result=True)
def sweep_runs() -> dict:
    """Scheduled: close the runs whose worker went silent, and queue scheduled ones again."""
    return runs.sweep()
