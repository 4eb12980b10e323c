"""The project sheet's schema and how entities become rows and rows become edits.

The conversion itself is a mapping set of the mapping engine ("Projects: Smartsheet rows",
`mapping/smartsheet-rows.json`, made in each workspace with its Smartsheet setup and editable
in admin): every kind of entry is first described by the same fields (`entry`), the set turns
those into cells (push) and reads a person's edits back (pull); `EDITABLE` says which entry
fields each kind takes back and how.

Columns are known by title only when a sheet is provisioned or attached (the check); from
then on every read and write uses the column ids stored on the link. Values are normalized
the same way for what we send and what Smartsheet returns, so a row's content hash matches
whether it was computed from the entity or from the sheet (that is how a crashed batch is
recognized on resume, with no hidden id column).
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from integrations.mapping import engine, examples
from integrations.mapping.transforms import MappingError
from integrations.sync.models import digest
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
STATUSES = tuple(label for _, label in Status.choices)  # the Status picklist's options

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
    return digest(canonical)


# --- entries: what every kind of timeline entry says about itself -------------------------------
# One record shape for every kind (a task block's title and an order's number are both its
# `label`), so one mapping set turns them all into cells and reads cells back.


def entry(entity, project_number: str) -> dict:
    """An entity as the mapping set's source record."""
    record = {
        "project_number": project_number,
        "type": entity.sheet_type,
        "author": entity.ss_email or None,
    }
    if isinstance(entity, TaskBlock):
        record.update(
            label=entity.title,
            status=entity.status,
            start=entity.start_date,
            end=entity.end_date,
            amount=entity.amount,
            notes=entity.notes,
        )
    elif isinstance(entity, Comment):
        first_line = entity.text.strip().splitlines()[0] if entity.text.strip() else ""
        record.update(label=first_line[:120], notes=entity.text)
    elif isinstance(entity, Attachment):
        record.update(
            label=entity.name, notes=f"{entity.size} bytes, {entity.content_type or 'file'}"
        )
    elif isinstance(entity, PurchaseOrder):
        record.update(
            label=str(entity),
            status=entity.status,
            start=entity.order_date,
            amount=entity.amount,
            notes=entity.notes,
        )
    elif isinstance(entity, WorkOrder):
        record.update(
            label=str(entity),
            status=entity.status,
            end=entity.due_date,
            amount=entity.amount,
            notes=entity.notes,
        )
    return record


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


# --- inbound: which entry fields a person may edit in Smartsheet, per entity ----------------


def _required_text(value):
    text = str(value).strip() if value is not None else ""
    if not text:
        raise ValueError("a required text cannot be emptied from Smartsheet")
    return text


def _date(value):
    return date.fromisoformat(value) if value else None


def _amount(value):
    return Decimal(str(value)) if value not in (None, "") else None


def _status(value):
    if value not in Status.values:
        raise ValueError(f"{value!r} is not a status")  # an unknown label: ours stays
    return value


def _text(value):
    return "" if value is None else str(value)


# Entry field -> (the entity's field, how a cell's value becomes it).
EDITABLE = {
    TaskBlock: {
        "label": ("title", _required_text),
        "status": ("status", _status),
        "start": ("start_date", _date),
        "end": ("end_date", _date),
        "amount": ("amount", _amount),
        "notes": ("notes", _text),
    },
    Comment: {"notes": ("text", _required_text)},
    Attachment: {},
    PurchaseOrder: {
        "status": ("status", _status),
        "start": ("order_date", _date),
        "amount": ("amount", _amount),
        "notes": ("notes", _text),
    },
    WorkOrder: {
        "status": ("status", _status),
        "end": ("due_date", _date),
        "amount": ("amount", _amount),
        "notes": ("notes", _text),
    },
}


# --- the conversion: the workspace's mapping set, compiled for a run ------------------------

ROWS_MAPPING = Path(__file__).resolve().parent / "mapping" / "smartsheet-rows.json"
COLUMN_KEYS = tuple(column.key for column in SCHEMA)


class Conversion:
    """A mapping set's two directions: entries to cells (push), cells back to entry fields
    (pull, each column on its own, so one cell that does not convert leaves the others)."""

    def __init__(self, rows: list[dict], *, name: str = "the mapping set"):
        self.push = engine.compile_fields(rows, direction="push")
        unknown = [step.target for step in self.push.steps if step.target not in COLUMN_KEYS]
        if unknown:
            raise MappingError(
                f"{name}: “{unknown[0]}” is not a column of the project sheet "
                f"(its columns: {', '.join(COLUMN_KEYS)}).",
                field=unknown[0],
            )
        self.pull = [
            (step.sources[0], step.target, step.function)
            for step in engine.compile_fields(rows, direction="pull").steps
        ]
        # Asked for every row a sync merges: worked out once per kind of entry.
        self._editable = {
            model: {column: fields[key] for column, key, _ in self.pull if key in fields}
            for model, fields in EDITABLE.items()
        }

    def cells(self, entity, project_number: str) -> dict:
        """The cells of an entity's row, by column key (only the columns the set fills),
        normalized. MappingError names the field a transform refused."""
        values = self.push.map(entry(entity, project_number))
        return {key: normalize(value) for key, value in values.items()}

    def entry_of(self, cells: dict) -> dict:
        """Entry fields read back from a row's cells; a cell a transform refuses is left out."""
        found = {}
        for column, key, function in self.pull:
            try:
                found[key] = function(cells.get(column), cells)
            except MappingError:
                continue
        return found

    def editable(self, model) -> dict[str, tuple[str, object]]:
        """Column key -> (entity field, converter) for the cells a person may edit."""
        return self._editable[model]

    def inbound_changes(self, entity, cells: dict) -> dict:
        """Field → new value for the cells of a row that differ from the entity."""
        changes = {}
        values = self.entry_of(cells)
        for key, (field, convert) in EDITABLE[type(entity)].items():
            if key not in values:
                continue
            raw = values[key]
            try:
                new = convert(raw)
            except (ValueError, ArithmeticError, TypeError):
                continue  # a value that does not fit (a date column holding text): leave ours
            if new != getattr(entity, field):
                changes[field] = new
        return changes


def mapping_set_for(workspace):
    """The mapping set the workspace's Smartsheet setup names: the shipped one, made in the
    workspace and named in its setup on first use."""
    from projects.models import SmartsheetSetup

    setup, _ = SmartsheetSetup.objects.get_or_create(workspace=workspace)
    if setup.mapping_set is not None:
        return setup.mapping_set
    mapping_set = examples.load(workspace=workspace, path=ROWS_MAPPING)
    SmartsheetSetup.objects.filter(pk=setup.pk, mapping_set=None).update(mapping_set=mapping_set)
    return mapping_set


def conversion_for(workspace) -> tuple[Conversion, object]:
    """The workspace's conversion and its mapping set; MappingError names what is wrong."""
    mapping_set = mapping_set_for(workspace)
    rows = engine.field_rows(mapping_set)
    return Conversion(rows, name=f"Mapping set “{mapping_set.name}”"), mapping_set
