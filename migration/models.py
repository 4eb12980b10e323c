"""Models of Project migration. Every model that holds business data subclasses
integrations.accounts.models.WorkspaceOwned.

The load's records live in migration/links.py (ContainerLink, RowLink, LoadIntent)."""

from migration.links import ContainerLink, LoadIntent, RowLink

__all__ = ["ContainerLink", "LoadIntent", "RowLink"]
