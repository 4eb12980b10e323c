from django.apps import AppConfig


class TimetrackerConfig(AppConfig):
    """Time tracking (jobs, shifts, punch in/out) whose jobs come from Microsoft Dataverse
    (seed: timetracker-dataverse-migration-plan)."""

    name = "timetracker"
    verbose_name = "TimeTracker"
