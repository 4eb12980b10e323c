"""The project sheet's schema and how entities become rows and rows become edits.

Columns are known by title only when a sheet is provisioned or attached (the check); from
then on every read and write uses the column ids stored on the link. Values are normalized
the same way for what we send and what Smartsheet returns, so a row's content hash matches
whether it was computed from the entity or from the sheet (that is how a crashed batch is
recognized on resume, with no hidden id column).
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from projects.models import Attachment, Comment, PurchaseOrder, Status, TaskBlock, WorkOrder

CELL_MAX = 4000  # Smartsheet silently truncates longer values: we truncate first, knowingly
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    type: str
    primary: bool = False
    options: tuple[str, ...] = ()


TYPES = ("Task Block", "Comment", "Attachment", "Purchase Order", "Work Order", "Custom Work Order")
STATUSES = tuple(label for _, label in Status.choices)

# The PRD's phase 3 columns (Project #, Name, Status, dates, amounts, notes), plus the Type
# that says which entity a row is and the Author of phase 1's attribution.
SCHEMA: tuple[Column, ...] = (
    Column("name", "Name", "TEXT_NUMBER", primary=True),
    Column("project_number", "Project #", "TEXT_NUMBER"),
    Column("type", "Type", "PICKLIST", options=TYPES),
    Column("status", "Status", "PICKLIST", options=STATUSES),
    Column("start_date", "Start Date", "DATE"),
    Column("end_date", "End Date", "DATE"),
    Column("amount", "Amount", "TEXT_NUMBER"),
    Column("notes", "Notes", "TEXT_NUMBER"),
    Column("author", "Author", "CONTACT_LIST"),
)
BY_TITLE = {column.title: column for column in SCHEMA}


def schema_problems(columns: list[dict]) -> list[str]:
    """What keeps a sheet from being a project sheet: missing columns or the wrong types."""
    found = {column["title"]: column for column in columns}
    problems = []
    for expected in SCHEMA:
        column = found.get(expected.title)
        if column is None:
            problems.append(f"missing column “{expected.title}” ({expected.type})")
        elif column["type"] != expected.type and not (
            expected.type == "CONTACT_LIST" and column["type"] == "TEXT_NUMBER"
        ):
            problems.append(
                f"column “{expected.title}” is {column['type']}, expected {expected.type}"
            )
        elif expected.primary and not column.get("primary"):
            problems.append(f"column “{expected.title}” must be the primary column")
    return problems


def column_ids(columns: list[dict]) -> dict[str, int]:
    return {
        BY_TITLE[column["title"]].key: int(column["id"])
        for column in columns
        if column["title"] in BY_TITLE
    }


# --- values ---------------------------------------------------------------------------------


def normalize(value):
    """One canonical form for a cell value, ours or Smartsheet's: None for empty, numbers
    without a trailing .0, dates as YYYY-MM-DD, text truncated at the cell limit."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | float | int):
        number = Decimal(str(value)).normalize()
        return int(number) if number == number.to_integral_value() else float(number)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)[:CELL_MAX]
    if NUMBER.match(text):
        # Smartsheet stores a number sent as text in a TEXT_NUMBER column as a number.
        return normalize(Decimal(text))
    return text


def content_hash(values: dict) -> str:
    """A digest over every schema column (a missing key counts as an empty cell), so an
    entity's row and the same row read back from the sheet digest alike."""
    canonical = {column.key: normalize(values.get(column.key)) for column in SCHEMA}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


def status_label(value: str) -> str:
    return dict(Status.choices).get(value, "")


def status_value(label) -> str | None:
    return {name: value for value, name in Status.choices}.get(label)


def row_values(entity, project_number: str) -> dict:
    """Cells of an entity's row, by column key (only the columns it fills)."""
    values = {
        "project_number": project_number,
        "type": entity.sheet_type,
        "author": entity.ss_email or None,
    }
    if isinstance(entity, TaskBlock):
        values.update(
            name=entity.title,
            status=status_label(entity.status),
            start_date=entity.start_date,
            end_date=entity.end_date,
            amount=entity.amount,
            notes=entity.notes,
        )
    elif isinstance(entity, Comment):
        first_line = entity.text.strip().splitlines()[0] if entity.text.strip() else ""
        values.update(name=first_line[:120], notes=entity.text)
    elif isinstance(entity, Attachment):
        values.update(
            name=entity.name, notes=f"{entity.size} bytes, {entity.content_type or 'file'}"
        )
    elif isinstance(entity, PurchaseOrder):
        values.update(
            name=str(entity),
            status=status_label(entity.status),
            start_date=entity.order_date,
            amount=entity.amount,
            notes=entity.notes,
        )
    elif isinstance(entity, WorkOrder):
        values.update(
            name=str(entity),
            status=status_label(entity.status),
            end_date=entity.due_date,
            amount=entity.amount,
            notes=entity.notes,
        )
    return {key: normalize(value) for key, value in values.items()}


def cells_for(values: dict, columns: dict[str, int], *, all_columns: bool = False) -> list[dict]:
    """Smartsheet cells by column id. On update, every schema column is sent (an emptied field
    must clear its cell); on add, only the filled ones."""
    cells = []
    for column in SCHEMA:
        if column.key not in columns:
            continue
        value = values.get(column.key)
        if value is None and not all_columns:
            continue
        cells.append({"columnId": columns[column.key], "value": "" if value is None else value})
    return cells


def values_of_row(row_cells: list[dict], columns: dict[str, int]) -> dict:
    """A sheet row's values by our column keys, normalized."""
    key_of = {column_id: key for key, column_id in columns.items()}
    values = {}
    for cell in row_cells:
        key = key_of.get(int(cell["columnId"]))
        if key is not None:
            values[key] = normalize(cell.get("value"))
    return values


# --- inbound: which cells a person may edit in Smartsheet, per entity -----------------------


def _required_text(value):
    text = str(value).strip() if value is not None else ""
    if not text:
        raise ValueError("a required text cannot be emptied from Smartsheet")
    return text


def _date(value):
    return date.fromisoformat(value) if value else None


def _amount(value):
    return Decimal(str(value)) if value not in (None, "") else None


EDITABLE = {
    TaskBlock: {
        "name": ("title", _required_text),
        "status": ("status", status_value),
        "start_date": ("start_date", _date),
        "end_date": ("end_date", _date),
        "amount": ("amount", _amount),
        "notes": ("notes", str),
    },
    Comment: {"notes": ("text", _required_text)},
    Attachment: {},
    PurchaseOrder: {
        "status": ("status", status_value),
        "start_date": ("order_date", _date),
        "amount": ("amount", _amount),
        "notes": ("notes", str),
    },
    WorkOrder: {
        "status": ("status", status_value),
        "end_date": ("due_date", _date),
        "amount": ("amount", _amount),
        "notes": ("notes", str),
    },
}


def inbound_changes(entity, values: dict) -> dict:
    """Field → new value for the cells of a row that differ from the entity."""
    changes = {}
    for key, (field, convert) in EDITABLE[type(entity)].items():
        raw = values.get(key)
        try:
            new = (
                convert(raw)
                if raw is not None or convert is _required_text
                else ("" if convert is str else None)
            )
        except (ValueError, ArithmeticError):
            continue  # a value that does not fit (a date column holding text): leave ours
        if field == "status" and new is None:
            continue
        if new != getattr(entity, field):
            changes[field] = new
    return changes
