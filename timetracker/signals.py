"""Signal receivers of the TimeTracker."""

import logging

from timetracker import services

logger = logging.getLogger(__name__)


def sync_jobs_on_login(sender, request, user, **kwargs) -> None:
    """The seed's login sync, queued. Whatever happens here, the sign-in goes on."""
    try:
        services.job_sync_on_login(user=user)
    except Exception:
        logger.exception("the sign-in job sync was not started")
