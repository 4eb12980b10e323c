from django.apps import AppConfig


class TimetrackerConfig(AppConfig):
    """Time tracking (jobs, shifts, punch in/out) whose jobs come from Microsoft Dataverse
    (seed: timetracker-dataverse-migration-plan)."""

    name = "timetracker"
    verbose_name = "TimeTracker"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from timetracker import signals

        user_logged_in.connect(signals.sync_jobs_on_login, dispatch_uid="timetracker.login_sync")
