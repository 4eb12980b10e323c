"""The migration's sources: each reads projects from its system and normalises them into the
seed's entity model (migration.model.Extract), so the transform is written once.

    project_online   the ProjectData feed + ProjectServer REST of a PWA site (a Connection)
    file             an MS Project file (MPP, MSPDI XML, MPX, XER, ...) read with mpxj in a JVM
"""

from dataclasses import dataclass

from migration.model import Issue


@dataclass(frozen=True)
class ProjectSummary:
    """One project a source offers for migration (what a user picks from)."""

    id: str
    name: str | None
    modified: str | None


def iso_hours(hours: float | None) -> str | None:
    """Decimal hours as an ISO 8601 duration: 40 -> "PT40H", 7.5 -> "PT7H30M", 0 -> "PT0H"."""
    if hours is None:
        return None
    minutes = round(hours * 60)
    sign = "-" if minutes < 0 else ""
    whole, rest = divmod(abs(minutes), 60)
    text = (f"{whole}H" if whole else "") + (f"{rest}M" if rest else "")
    return f"{sign}PT{text or '0H'}"


class Findings:
    """What a source found while extracting, as the report's Issues (stage "extract")."""

    def __init__(self):
        self.issues: list[Issue] = []

    def _issue(self, severity, entity, entity_id, field, rule, value, message) -> None:
        self.issues.append(
            Issue(
                severity=severity,
                stage="extract",
                entity=entity,
                entity_id=entity_id or "",
                field=field,
                rule=rule,
                value=str(value)[:200] if value is not None else "",
                message=message,
            )
        )
