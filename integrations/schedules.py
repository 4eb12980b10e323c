"""The beat schedule, in code. `manage.py setup_periodic_tasks` writes it into
django-celery-beat's tables (idempotently); admins may pause a row in admin and a later run
of the command keeps it paused. Later apps add their entries to SCHEDULES."""

from dataclasses import dataclass, field
from datetime import timedelta

# Rows whose name starts with this are owned by this file: the command removes those that
# are no longer listed here and leaves hand-made rows alone.
MANAGED_PREFIX = "hub."


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    description: str
    every: timedelta | None = None
    crontab: str = ""  # "minute hour day-of-month month day-of-week", in `timezone`
    timezone: str = "UTC"
    kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.name.startswith(MANAGED_PREFIX):
            raise ValueError(f"schedule names start with {MANAGED_PREFIX!r}: {self.name}")
        if (self.every is None) == (not self.crontab):
            raise ValueError(f"{self.name}: give exactly one of every= or crontab=")


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        name="hub.heartbeat",
        task="integrations.heartbeat",
        every=timedelta(minutes=1),
        description="Proves beat → broker → worker end to end; /health/ shows its age.",
    ),
    Schedule(
        name="hub.refresh-connections",
        task="integrations.refresh_connections",
        every=timedelta(minutes=5),
        description="Refreshes OAuth tokens expiring within 15 minutes, and idle refresh tokens daily.",
    ),
    Schedule(
        name="hub.sweep-runs",
        task="integrations.sweep_runs",
        every=timedelta(minutes=1),
        description="Closes runs silent for RUN_STALE_AFTER (a dead worker's) as failed; "
        "queues scheduled ones again.",
    ),
    Schedule(
        name="hub.timetracker-daily-jobs",
        task="timetracker.daily_job_sync",
        # The seed's "6 AM EST" is New York wall-clock time: 11:00 UTC in winter, 10:00 in summer.
        crontab="0 6 * * *",
        timezone="America/New_York",
        description="Imports approved jobs into the TimeTracker at 06:00 New York time.",
    ),
)
