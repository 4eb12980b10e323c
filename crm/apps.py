from django.apps import AppConfig


class CrmConfig(AppConfig):
    """Accounts and contacts in two-way sync with Salesforce and HubSpot (seed: crm-native-
    integrations-f030)."""

    name = "crm"
    verbose_name = "CRM sync"
