"""Tasks of the approval gate."""

from celery import shared_task

from integrations import approvals


@shared_task(name="integrations.apply_outbound_change", ignore_result=True, acks_late=True)
def apply_outbound_change(change_id: int) -> None:
    """Apply one approved change through the sync that planned it."""
    approvals.apply(change_id)
