"""Models of ShopBoss projects. Every model that holds business data subclasses
integrations.models.WorkspaceOwned."""
