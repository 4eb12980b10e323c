"""The migration's column rules as mapping sets of the platform's mapping engine, one per
target sheet (tasks.json, resources.json, summary.json), shipped like crm/mapping/*.json: made
in a hub workspace on first use and editable in admin; the next plan uses the edit.

The transform itself is pure: it takes the field rows (`shipped_rows()` or, for a hub
workspace, `workspace_rows(hub_workspace)`) through `TransformSettings.mappings`."""

from __future__ import annotations

import functools
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIPPED = {"tasks": HERE / "tasks.json", "resources": HERE / "resources.json",
           "summary": HERE / "summary.json"}  # fmt: skip


@functools.cache
def _shipped(sheet: str) -> tuple[dict, ...]:
    data = json.loads(SHIPPED[sheet].read_text())
    return tuple(data["fields"])


def shipped_rows() -> dict[str, list[dict]]:
    """The shipped field rows per sheet ({"source", "target", "transform", "params",
    "direction"}), read once per process."""
    return {sheet: [dict(row) for row in _shipped(sheet)] for sheet in SHIPPED}


def workspace_rows(hub_workspace) -> dict[str, list[dict]]:
    """The hub workspace's field rows per sheet: its mapping sets of these names, each made
    from the shipped file on first use (integrations.mapping.examples.load)."""
    from integrations.mapping import engine, examples

    return {
        sheet: engine.field_rows(examples.load(workspace=hub_workspace, path=path))
        for sheet, path in SHIPPED.items()
    }
