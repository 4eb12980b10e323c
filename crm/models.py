"""Models of CRM sync. Every model that holds business data subclasses
integrations.accounts.models.WorkspaceOwned."""
