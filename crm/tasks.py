"""Celery tasks of CRM sync: take ids, re-read, call a service."""

from celery import shared_task

from crm import runner, services, webhooks


@shared_task(name="crm.sync_run", ignore_result=True, acks_late=True)
def sync_run(run_id: int) -> None:
    """One queued run of one config's entity; then the next one, if HubSpot announced changes
    while it went."""
    run = runner.execute(run_id)
    if run is not None:
        webhooks.webhook_follow_up(run=run)


@shared_task(name="crm.webhook_sync", ignore_result=True)
def webhook_sync(config_id: int, entity: str) -> None:
    """HubSpot announced changes of a real-time config's entity: ask for a run reading them."""
    webhooks.webhook_sync(config_id=config_id, entity=entity)


@shared_task(name="crm.webhook_prune", ignore_result=True)
def webhook_prune() -> int:
    """Beat, daily: forget webhook notifications older than a few days."""
    return webhooks.webhook_events_prune()


@shared_task(name="crm.sync_due", ignore_result=True)
def sync_due() -> dict:
    """Beat, every minute: queue the runs of the configs whose schedule came due."""
    return services.sync_due()
