"""Celery tasks of CRM sync: take ids, re-read, call a service."""

from celery import shared_task

from crm import services, sync


@shared_task(name="crm.sync_run", ignore_result=True, acks_late=True)
def sync_run(run_id: int) -> None:
    """One queued run of one config's entity."""
    sync.execute(run_id)


@shared_task(name="crm.sync_due", ignore_result=True)
def sync_due() -> dict:
    """Beat, every minute: queue the runs of the configs whose schedule came due."""
    return services.sync_due()
