"""Models of Project migration. Every model that holds business data subclasses
integrations.accounts.models.WorkspaceOwned."""
