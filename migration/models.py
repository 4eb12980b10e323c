"""Models of Project migration. Every model that holds business data subclasses
integrations.accounts.models.WorkspaceOwned. The run log and its report are in runs.py."""

from migration.runs import MigrationIssue, MigrationRun

__all__ = ["MigrationIssue", "MigrationRun"]
