"""Platform tasks. Tasks are thin: they call a service and return. Celery discovers this
module; it hands on each room's tasks so that they are registered under their names."""

from celery import shared_task

from integrations import heartbeats
from integrations.approvals.tasks import apply_outbound_change
from integrations.connections.tasks import refresh_connections
from integrations.runs.tasks import sweep_runs

__all__ = ["apply_outbound_change", "heartbeat", "refresh_connections", "sweep_runs"]


@shared_task(name="integrations.heartbeat", ignore_result=True)
def heartbeat(name: str = "worker") -> None:
    """Scheduled every minute: proves that beat, the broker and a worker all work together.
    Other names are probes (a soak test sends a thousand, each under its own name)."""
    heartbeats.heartbeat_touch(name=name[:40])
