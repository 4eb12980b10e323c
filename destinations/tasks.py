"""Celery tasks of the destinations app: take ids, re-read, call a service."""

from celery import shared_task

from destinations import services
from destinations.models import RecordWrite


@shared_task(name="destinations.write_retry", ignore_result=True, acks_late=True)
def write_retry(write_id: int) -> None:
    """Write a failed record again (admin's retry of many queues one each)."""
    write = RecordWrite.objects.filter(pk=write_id, status=RecordWrite.Status.FAILED).first()
    if write is None:
        return
    services.write_retry(write=write, actor=None)
