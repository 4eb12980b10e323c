"""Tasks of connections."""

from celery import shared_task

from integrations.connections import services


@shared_task(name="integrations.refresh_connections", ignore_result=True)
def refresh_connections() -> dict:
    """Scheduled: refresh tokens that expire soon, and idle refresh tokens daily."""
    return services.connections_refresh_due()
