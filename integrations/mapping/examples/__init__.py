"""Ready mapping sets shipped with the hub (JSON exports, importable in admin or the API)."""

import json
from pathlib import Path

from integrations.mapping.models import MappingSet

HERE = Path(__file__).resolve().parent
A1_COLUMN_RENAMES = HERE / "a1-column-renames.json"


def load(*, workspace, path: Path = A1_COLUMN_RENAMES) -> MappingSet:
    """Import an example set into a workspace once (an existing one of that name is kept)."""
    from integrations.mapping.engine import import_set

    data = json.loads(path.read_text())
    existing = MappingSet.objects.filter(workspace=workspace, name=data["name"]).first()
    return existing or import_set(data, workspace=workspace)
