"""Models of TimeTracker. Every model that holds business data subclasses
integrations.models.WorkspaceOwned."""
