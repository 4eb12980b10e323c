"""Platform tasks. Tasks are thin: they call a service and return."""

from celery import shared_task

from integrations import runs, services


@shared_task(name="integrations.heartbeat", ignore_result=True)
def heartbeat(name: str = "worker") -> None:
    """Scheduled every minute: proves that beat, the broker and a worker all work together.
    Other names are probes (a soak test sends a thousand, each under its own name)."""
    services.heartbeat_touch(name=name[:40])


@shared_task(name="integrations.refresh_connections", ignore_result=True)
def refresh_connections() -> dict:
    """Scheduled: refresh tokens that expire soon, and idle refresh tokens daily."""
    return services.connections_refresh_due()


@shared_task(name="integrations.sweep_runs", ignore_result=True)
def sweep_runs() -> dict:
    """Scheduled: close the runs whose worker went silent, and queue scheduled ones again."""
    return runs.sweep()


@shared_task(
    bind=True,
    name="integrations.apply_outbound_change",
    ignore_result=True,
    acks_late=True,
    max_retries=40,
)
def apply_outbound_change(self, change_id: int) -> None:
    """Apply one approved change through the sync that planned it; while that sync is busy
    (a run of the same project going), try again in 15 s, for up to 10 minutes."""
    from integrations import approvals

    try:
        approvals.apply(change_id)
    except approvals.TryLater as exc:
        raise self.retry(countdown=15) from exc
