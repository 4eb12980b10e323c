from django.apps import AppConfig


class DestinationsConfig(AppConfig):
    """Records arriving through the API, mapped, checked, approved where required and written
    into a Supabase project's tables in its frontend's format (seed: integration-status-tracker)."""

    name = "destinations"
    verbose_name = "Destinations"

    def ready(self):
        from destinations import checks, services, tasks  # noqa: F401 - checks and tasks register
        from integrations import approvals

        # Records held for review (emails, offers) come back here to be written once approved.
        approvals.register_applier(services.OWNER, services.apply_change)
