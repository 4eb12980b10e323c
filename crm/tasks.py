"""Celery tasks of CRM sync: take ids, re-read, call a service."""

from celery import shared_task

from crm import sync


@shared_task(name="crm.sync_run", ignore_result=True, acks_late=True)
def sync_run(run_id: int) -> None:
    """One queued run of one config's entity."""
    sync.execute(run_id)
