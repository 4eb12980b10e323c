"""The migration's sources: each reads projects from its system and normalises them into the
seed's entity model (migration.model.Extract), so the transform is written once.

    project_online   the ProjectData feed + ProjectServer REST of a PWA site (a Connection)
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectSummary:
    """One project a source offers for migration (what a user picks from)."""

    id: str
    name: str | None
    modified: str | None
