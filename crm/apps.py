from django.apps import AppConfig


class CrmConfig(AppConfig):
    """Accounts and contacts in two-way sync with Salesforce and HubSpot (seed: crm-native-
    integrations-f030)."""

    name = "crm"
    verbose_name = "CRM sync"

    def ready(self):
        from crm import sync, tasks  # noqa: F401 - tasks: registered in every process
        from integrations import approvals

        # Deletes this sync held for review come back here to be carried out once approved.
        approvals.register_applier(sync.OWNER, sync.apply_change)
        # Services queue the run task by its name (tasks import services, not the reverse);
        # registered here, it also runs in process where Celery is eager (benches, tests).
