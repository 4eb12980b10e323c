"""Heartbeats of the background processes: the table /health/ reads, and its one write (beat's
scheduler and the `integrations.heartbeat` task call it). Part of no room."""

from django.db import models
from django.db.models import F
from django.utils import timezone


class Heartbeat(models.Model):
    """Last sign of life of a background process ("beat", "worker"), read by /health/."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()
    # How many times it was touched: a probe can tell a task that ran twice from one that ran
    # once (the embedded stack's soak test counts exactly-once delivery with it).
    beats = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


def heartbeat_touch(*, name: str) -> None:
    now = timezone.now()
    Heartbeat.objects.update_or_create(
        name=name,
        defaults={"at": now, "beats": F("beats") + 1},
        create_defaults={"at": now, "beats": 1},
    )
