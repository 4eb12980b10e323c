"""Beat's scheduler: django-celery-beat's DatabaseScheduler that also leaves a heartbeat, so
/health/ can tell a running beat from a dead one."""

import logging
import time

from django.db import DatabaseError
from django_celery_beat.schedulers import DatabaseScheduler

from integrations import heartbeats

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 15.0  # seconds; /health/ allows HEALTH_BEAT_MAX_AGE before it complains


class HubScheduler(DatabaseScheduler):
    _last_heartbeat = 0.0

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_EVERY:
            try:
                heartbeats.heartbeat_touch(name="beat")
                self._last_heartbeat = now
            except DatabaseError:
                # A busy database must not stop the schedule; /health/ will show the gap.
                logger.warning("beat could not record its heartbeat", exc_info=True)
        return interval
