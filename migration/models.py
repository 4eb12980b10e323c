"""Models of Project migration. Every model that holds business data subclasses
integrations.accounts.models.WorkspaceOwned.

The load's records live in migration/links.py (ContainerLink, RowLink, LoadIntent); the run log
and its report in migration/runs.py (MigrationRun, MigrationIssue); uploaded MS Project files
in migration/files.py (MigrationFile)."""

from migration.files import MigrationFile
from migration.links import ContainerLink, LoadIntent, RowLink
from migration.runs import MigrationIssue, MigrationRun

__all__ = [
    "ContainerLink",
    "LoadIntent",
    "MigrationFile",
    "MigrationIssue",
    "MigrationRun",
    "RowLink",
]
