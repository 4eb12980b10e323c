"""Tasks of the approval gate."""

from celery import shared_task

from integrations import approvals


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
    try:
        approvals.apply(change_id)
    except approvals.TryLater as exc:
        raise self.retry(countdown=15) from exc
