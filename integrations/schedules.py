"""The beat schedule, in code. `manage.py setup_periodic_tasks` writes it into
django-celery-beat's tables (idempotently); admins may pause a row in admin and a later run
of the command keeps it paused. Later apps add their entries to SCHEDULES;
`periodic_tasks_sync` is the writer."""

import json
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from integrations.accounts.audit import audit_record, audited

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
        name="hub.crm-due-syncs",
        task="crm.sync_due",
        every=timedelta(minutes=1),
        description="Queues the CRM syncs whose schedule came due (realtime: every minute, "
        "hourly, daily at the config's time; manual: never) and resumes configs paused for a "
        "spent API quota once their time is up.",
    ),
    Schedule(
        name="hub.crm-webhook-prune",
        task="crm.webhook_prune",
        crontab="17 3 * * *",
        description="Deletes HubSpot webhook notifications older than 3 days (kept that long "
        "so a copy HubSpot sends again within its 24 hours of retries is still recognised).",
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


@audited
@transaction.atomic
def periodic_tasks_sync(*, schedules: tuple[Schedule, ...] = SCHEDULES) -> dict[str, list[str]]:
    """Make django-celery-beat's rows match `schedules`. Idempotent: a second run changes
    nothing. `enabled` is never touched on an existing row, so an admin's pause survives."""
    outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "removed": []}
    for schedule in schedules:
        fields = {
            **_schedule_rows(schedule),
            "task": schedule.task,
            "kwargs": json.dumps(schedule.kwargs, sort_keys=True),
            "description": schedule.description,
        }
        task = PeriodicTask.objects.filter(name=schedule.name).first()
        if task is None:
            PeriodicTask.objects.create(name=schedule.name, **fields)
            outcome["created"].append(schedule.name)
            continue
        changed = [key for key, value in fields.items() if getattr(task, key) != value]
        if changed:
            for key in changed:
                setattr(task, key, fields[key])
            task.save()
            outcome["updated"].append(schedule.name)
        else:
            outcome["unchanged"].append(schedule.name)
    stale = PeriodicTask.objects.filter(name__startswith=MANAGED_PREFIX).exclude(
        name__in=[schedule.name for schedule in schedules]
    )
    outcome["removed"] = sorted(stale.values_list("name", flat=True))
    stale.delete()
    if outcome["created"] or outcome["updated"] or outcome["removed"]:
        audit_record(action="schedule.sync", details=outcome)
    return outcome


def _schedule_rows(schedule: Schedule) -> dict:
    if schedule.every is not None:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=int(schedule.every.total_seconds()), period=IntervalSchedule.SECONDS
        )
        return {"interval": interval, "crontab": None}
    minute, hour, day_of_month, month_of_year, day_of_week = schedule.crontab.split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=ZoneInfo(schedule.timezone),
    )
    return {"interval": None, "crontab": crontab}
