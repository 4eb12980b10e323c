"""Extracts → Plan: the seed's mapping, pure (no I/O, no database, no clock).

One Smartsheet workspace per project with a Tasks sheet (a project sheet made from a template:
Gantt and dependencies), a Resources sheet and, when enabled, a Summary sheet; the PMO
Standards reference sheets whose values the picklist columns copy; and every finding as an
Issue. The standard columns' values come from the mapping sets (migration/mapping/*.json, or a
hub workspace's edited copies), compiled once per plan; custom fields (section 5) and
assignments (section 4) are planned here.

Conventions the load follows are in the report and in `ColumnPlan`/`CellPlan`'s docs
(migration/model.py): a cell with `object_value` is written with its objectValue only; the
columns marked `from_template` are the template's own (matched by title, never created); the
predecessors are written in a second pass from `SheetPlan.predecessors`.

# Reference: ../shared/seeds/project-online-to-smartsheet-mapping-spec.md sections 1-5,
# "Naming Conventions"; ../shared/spec-notes.md "Seed 001"; ../shared/providers/smartsheet.md
# sections 3 (dependencies, project settings) and 4 (no sheet-sourced picklists).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from integrations.mapping import engine
from integrations.mapping.transforms import MappingError
from migration import rules
from migration.mapping import shipped_rows
from migration.mapping import transforms as _registered  # noqa: F401 - the named transforms
from migration.model import (
    CellPlan,
    ColumnPlan,
    CustomField,
    Extract,
    Plan,
    PmoSheetPlan,
    PredecessorPlan,
    RowPlan,
    SheetPlan,
    SourceResource,
    WorkspacePlan,
)
from migration.validation import (
    Findings,
    check_guid,
    check_links,
    check_sheet,
    check_workspace_name,
    cut_cell,
    order_tasks,
    task_percent,
    task_priority,
)

# --- settings ------------------------------------------------------------------------------------


@dataclass
class TransformSettings:
    hours_per_day: float = rules.DEFAULT_HOURS_PER_DAY  # a project's own calendar wins
    summary_sheet: bool = True
    custom_fields_enabled: bool = True
    custom_fields_filter_empty: bool = True
    custom_fields_prefix: str = "Custom - "
    custom_fields_include_pattern: str = ""
    custom_fields_exclude_pattern: str = ""
    custom_fields_max_per_sheet: int = 50
    # A text custom field whose values repeat and number at most this many becomes a picklist.
    custom_fields_picklist_max_options: int = 25
    # Field rows per sheet ("tasks", "resources", "summary"); None: the shipped mapping sets.
    mappings: dict[str, list[dict]] | None = None

    @classmethod
    def from_settings(cls, *, hub_workspace=None) -> TransformSettings:
        """From Django settings (MIGRATION_*, CUSTOM_FIELDS_*); with a hub workspace, its
        mapping sets (made from the shipped ones on first use) instead of the shipped files."""
        from django.conf import settings

        from migration.mapping import workspace_rows

        return cls(
            hours_per_day=settings.MIGRATION_HOURS_PER_DAY,
            summary_sheet=settings.MIGRATION_SUMMARY_SHEET,
            custom_fields_enabled=settings.CUSTOM_FIELDS_ENABLED,
            custom_fields_filter_empty=settings.CUSTOM_FIELDS_FILTER_EMPTY,
            custom_fields_prefix=settings.CUSTOM_FIELDS_PREFIX,
            custom_fields_include_pattern=settings.CUSTOM_FIELDS_INCLUDE_PATTERN,
            custom_fields_exclude_pattern=settings.CUSTOM_FIELDS_EXCLUDE_PATTERN,
            custom_fields_max_per_sheet=settings.CUSTOM_FIELDS_MAX_PER_SHEET,
            custom_fields_picklist_max_options=settings.CUSTOM_FIELDS_PICKLIST_MAX_OPTIONS,
            mappings=workspace_rows(hub_workspace) if hub_workspace is not None else None,
        )


# --- the sheets' columns (seed tables) ---------------------------------------------------------

PMO = "PMO Standards"
STANDARD_REFERENCE_SHEETS = {
    "Project - Status": ["Active", "Planning", "Completed", "On Hold", "Cancelled"],
    "Project - Priority": list(rules.PRIORITY_LEVELS),
    "Task - Status": list(rules.STATUSES),
    "Task - Priority": list(rules.PRIORITY_LEVELS),
    "Task - Constraint Type": list(rules.CONSTRAINT_TYPES),
    "Resource - Type": ["Work", "Material", "Cost"],
}
DEPARTMENT_SHEET = "Resource - Department"
SYSTEM_COLUMNS = [  # (key, title, type, systemColumnType, width)
    ("system:CREATED_DATE", "Created Date", "DATETIME", "CREATED_DATE", 120),
    ("system:MODIFIED_DATE", "Modified Date", "DATETIME", "MODIFIED_DATE", 120),
    ("system:CREATED_BY", "Created By", "CONTACT_LIST", "CREATED_BY", 150),
    ("system:MODIFIED_BY", "Modified By", "CONTACT_LIST", "MODIFIED_BY", 150),
]


def _col(key, title, type_, width, **extra) -> ColumnPlan:
    return ColumnPlan(key=key, title=title, type=type_, width=width, **extra)


def task_columns(prefix: str) -> list[ColumnPlan]:
    """The Tasks sheet's standard columns in the seed's order (section 2's table). Task Name,
    Start Date, End Date, Duration and Predecessors are the project-sheet template's own."""
    return [
        _col("TaskName", "Task Name", "TEXT_NUMBER", 300, primary=True, from_template=True,
             source="Task.TaskName"),
        _col("AutoNumber", "Task ID", "TEXT_NUMBER", 80, locked=True,
             system_column_type="AUTO_NUMBER", auto_number_format=auto_number_format(prefix),
             source="Auto-generated"),
        _col("Id", "Project Online Task ID", "TEXT_NUMBER", 150, hidden=True, locked=True,
             source="Task.Id"),
        _col("Start", "Start Date", "DATE", 120, from_template=True, source="Task.Start"),
        _col("Finish", "End Date", "DATE", 120, from_template=True, source="Task.Finish"),
        _col("Duration", "Duration", "DURATION", 80, from_template=True, source="Task.Duration"),
        _col("PercentComplete", "% Complete", "TEXT_NUMBER", 100, format=rules.PERCENT_FORMAT,
             source="Task.PercentComplete"),
        _col("Status", "Status", "PICKLIST", 120, options=list(rules.STATUSES),
             source=f"{PMO}/Task - Status"),
        _col("Priority", "Priority", "PICKLIST", 120, options=list(rules.PRIORITY_LEVELS),
             source=f"{PMO}/Task - Priority"),
        _col("Work", "Work (hrs)", "TEXT_NUMBER", 100, source="Task.Work"),
        _col("ActualWork", "Actual Work (hrs)", "TEXT_NUMBER", 100, source="Task.ActualWork"),
        _col("IsMilestone", "Milestone", "CHECKBOX", 80, source="Task.IsMilestone"),
        _col("TaskNotes", "Notes", "TEXT_NUMBER", 250, format=rules.WRAP_FORMAT,
             source="Task.TaskNotes"),
        _col("Predecessors", "Predecessors", "PREDECESSOR", 150, from_template=True,
             source="Links"),
        _col("ConstraintType", "Constraint Type", "PICKLIST", 120,
             options=list(rules.CONSTRAINT_TYPES), source=f"{PMO}/Task - Constraint Type"),
        _col("ConstraintDate", "Constraint Date", "DATE", 120, source="Task.ConstraintDate"),
        _col("Deadline", "Deadline", "DATE", 120, source="Task.Deadline"),
        _col("CreatedDate", "Project Online Created Date", "DATE", 120, source="Task.CreatedDate"),
        _col("ModifiedDate", "Project Online Modified Date", "DATE", 120,
             source="Task.ModifiedDate"),
    ]  # fmt: skip


def resource_columns(prefix: str, departments: list[str]) -> list[ColumnPlan]:
    """The Resources sheet's standard columns (section 3's table). Smartsheet's primary
    column is always TEXT_NUMBER, so the name is the primary column and Contact (name + email)
    the contact column beside it."""
    return [
        _col("Name", "Resource Name", "TEXT_NUMBER", 200, primary=True, source="Resource.Name"),
        _col("AutoNumber", "Resource ID", "TEXT_NUMBER", 80, locked=True,
             system_column_type="AUTO_NUMBER", auto_number_format=auto_number_format(prefix),
             source="Auto-generated"),
        _col("Id", "Project Online Resource ID", "TEXT_NUMBER", 150, hidden=True, locked=True,
             source="Resource.Id"),
        _col("Contact", "Contact", "CONTACT_LIST", 200, source="Resource.Name + Resource.Email"),
        _col("ResourceType", "Resource Type", "PICKLIST", 120,
             options=list(STANDARD_REFERENCE_SHEETS["Resource - Type"]),
             source=f"{PMO}/Resource - Type"),
        _col("MaxUnits", "Max Units", "TEXT_NUMBER", 100, format=rules.PERCENT_FORMAT,
             source="Resource.MaxUnits"),
        _col("StandardRate", "Standard Rate", "TEXT_NUMBER", 120, format=rules.CURRENCY_FORMAT,
             source="Resource.StandardRate"),
        _col("OvertimeRate", "Overtime Rate", "TEXT_NUMBER", 120, format=rules.CURRENCY_FORMAT,
             source="Resource.OvertimeRate"),
        _col("CostPerUse", "Cost Per Use", "TEXT_NUMBER", 120, format=rules.CURRENCY_FORMAT,
             source="Resource.CostPerUse"),
        _col("Department", "Department", "PICKLIST", 150, options=list(departments),
             source=f"{PMO}/{DEPARTMENT_SHEET}"),
        _col("Code", "Code", "TEXT_NUMBER", 100, source="Resource.Code"),
        _col("IsActive", "Is Active", "CHECKBOX", 80, source="Resource.IsActive"),
        _col("IsGeneric", "Is Generic", "CHECKBOX", 80, source="Resource.IsGeneric"),
        _col("CreatedDate", "Project Online Created Date", "DATE", 120,
             source="Resource.CreatedDate"),
        _col("ModifiedDate", "Project Online Modified Date", "DATE", 120,
             source="Resource.ModifiedDate"),
    ]  # fmt: skip


def summary_columns() -> list[ColumnPlan]:
    """Property | Value (section 1.B). A column has one type, so Value is TEXT_NUMBER: dates
    are YYYY-MM-DD text, the owner "Name (email)", % Complete a number in a percent-formatted
    cell; the system rows of the seed's table are the sheet's system columns."""
    return [
        _col("Property", "Property", "TEXT_NUMBER", 150, primary=True),
        _col("Value", "Value", "TEXT_NUMBER", 300),
    ]


def system_columns() -> list[ColumnPlan]:
    return [
        _col(key, title, type_, width, system_column_type=system, locked=True, source="System")
        for key, title, type_, system, width in SYSTEM_COLUMNS
    ]


def auto_number_format(prefix: str) -> dict[str, Any]:
    """Smartsheet's autoNumberFormat for "{PREFIX}-#####" numbering from 1."""
    return {"prefix": f"{prefix}-", "fill": "00000", "suffix": "", "startingNumber": 1}


def project_settings(hours_per_day: float) -> dict[str, Any]:
    """The Tasks sheet's project settings (section 2). Gantt and dependencies come with the
    template (the API cannot enable them); `lengthOfDay` is the one the API sets."""
    return {
        "ganttEnabled": True,
        "dependenciesEnabled": True,
        "resourceManagementEnabled": False,
        "durationColumnName": "Duration",
        "startDateColumnName": "Start Date",
        "endDateColumnName": "End Date",
        "predecessorColumnName": "Predecessors",
        "displayColumnName": "Task Name",
        "lengthOfDay": hours_per_day,
    }


# --- assignments (section 4) ---------------------------------------------------------------------

ASSIGNMENT_COLUMNS = {  # resource type -> (key, title, type)
    "Work": ("assign:Work", "Team Members", "MULTI_CONTACT_LIST"),
    "Material": ("assign:Material", "Equipment", "MULTI_PICKLIST"),
    "Cost": ("assign:Cost", "Cost Centers", "MULTI_PICKLIST"),
}


def resource_kind(resource: SourceResource) -> str | None:
    """Work, Material or Cost; no type is a Work resource (a person); another word is none."""
    kind = (resource.resource_type or "Work").strip().capitalize()
    return kind if kind in ASSIGNMENT_COLUMNS else None


def assignment_values(
    extract: Extract, resources: dict[str, SourceResource], planned: set[str], findings: Findings
) -> tuple[list[ColumnPlan], dict[str, dict[str, CellPlan]]]:
    """The assignment columns (one per resource type found in the assignments, in the order
    Team Members, Equipment, Cost Centers) and each task's cells in them: Work resources as
    contacts (name + email; options: the project's Work resources with an email), Material and
    Cost resources as names (options: those resources' names)."""
    per_task: dict[str, dict[str, list]] = {}
    used: set[str] = set()
    for assignment in extract.assignments:
        aid = assignment.id
        if assignment.task_id not in planned:
            findings.warning(
                "Assignment", aid, "TaskId", "assignment.task.missing", assignment.task_id,
                "The assignment names a task that is not migrated; it is left out.",
            )  # fmt: skip
            continue
        resource = resources.get(assignment.resource_id)
        if resource is None:
            findings.warning(
                "Assignment", aid, "ResourceId", "assignment.resource.missing",
                assignment.resource_id,
                "The assignment names a resource that is not migrated; it is left out.",
            )  # fmt: skip
            continue
        kind = resource_kind(resource)
        if kind is None:
            continue  # reported once per resource (resource.type.unknown)
        if kind == "Work":
            value = rules.contact(resource.name, resource.email) if resource.email else None
            if value is None:
                findings.warning(
                    "Assignment", aid, "ResourceId", "assignment.email.missing", resource.name,
                    "A Work resource without an email cannot be a contact; not shown in Team "
                    "Members.",
                )  # fmt: skip
                continue
        else:
            value = (resource.name or "").strip() or None
            if value is None:
                continue
        cells = per_task.setdefault(assignment.task_id, {}).setdefault(kind, [])
        if value not in cells:
            cells.append(value)
        used.add(kind)

    columns = []
    for kind, (key, title, type_) in ASSIGNMENT_COLUMNS.items():
        if kind not in used:
            continue
        of_kind = [r for r in resources.values() if resource_kind(r) == kind]
        if kind == "Work":
            contacts = [rules.contact(r.name, r.email) for r in of_kind if r.email]
            columns.append(
                _col(key, title, type_, 150, contact_options=_unique(contacts),
                     source="Resources sheet (Work resources)")
            )  # fmt: skip
        else:
            names = [r.name.strip() for r in of_kind if r.name and r.name.strip()]
            columns.append(
                _col(key, title, type_, 150, options=_unique(names),
                     source=f"Resources sheet ({kind} resources)")
            )  # fmt: skip
    cells: dict[str, dict[str, CellPlan]] = {}
    for task_id, kinds in per_task.items():
        row = cells[task_id] = {}
        for kind, values in kinds.items():
            key = ASSIGNMENT_COLUMNS[kind][0]
            if kind == "Work":
                row[key] = CellPlan(object_value=rules.multi_contact_object_value(values))
            else:
                row[key] = CellPlan(object_value=rules.multi_picklist_object_value(values))
    return columns, cells


def _unique(items: list) -> list:
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


# --- custom fields (section 5) ---------------------------------------------------------------------

CUSTOM_NAME = re.compile(
    r"^(Project|Task|Resource|Assignment)(Text|Number|Date|Flag|Cost|Duration)\d+$|^Enterprise"
)
_KIND_BY_NAME = {"Text": "text", "Number": "number", "Date": "date", "Flag": "flag",
                 "Cost": "cost", "Duration": "duration"}  # fmt: skip
# A number field whose name speaks of money is shown as money (section 5 Example 1: the
# number field "Budget Amount" is "formatted as currency").
MONEY_WORDS = re.compile(r"\b(budget|cost|price|amount|rate|revenue|spend|fee|salary)s?\b", re.I)


@dataclass
class CustomColumn:
    field: CustomField
    column: ColumnPlan
    convert: Callable[[Any], Any]  # a value -> a cell (raises ValueError)
    usage: int = 0


def discover_custom_fields(extract: Extract, entity: str, records: list) -> list[CustomField]:
    """The entity's custom fields: the source's definitions, plus any value under a custom
    field's name (ProjectText1 …, Enterprise…) it did not define (its kind from the name)."""
    defined = [f for f in extract.custom_fields if f.entity == entity]
    names = {f.name for f in defined}
    for record in records:
        for name in record.custom:
            if name not in names and CUSTOM_NAME.match(name):
                kind = next((k for w, k in _KIND_BY_NAME.items() if w in name), "text")
                defined.append(CustomField(entity=entity, name=name, display_name=None, kind=kind))
                names.add(name)
    return defined


def filter_custom_fields(
    fields: list[CustomField], usage: dict[str, int], settings: TransformSettings
) -> tuple[list[CustomField], list[CustomField]]:
    """Section 5 "Filtering Logic": empty fields (when filtered), the exclude pattern, the
    include pattern, then the maximum per sheet by usage (most-used first). Returns (kept,
    dropped by the maximum)."""
    if not settings.custom_fields_enabled:
        return [], []
    kept = list(fields)
    if settings.custom_fields_filter_empty:
        kept = [f for f in kept if usage.get(f.name, 0) > 0]
    if settings.custom_fields_exclude_pattern:
        pattern = re.compile(settings.custom_fields_exclude_pattern)
        kept = [f for f in kept if not pattern.match(f.name)]
    if settings.custom_fields_include_pattern:
        pattern = re.compile(settings.custom_fields_include_pattern)
        kept = [f for f in kept if pattern.match(f.name)]
    limit = settings.custom_fields_max_per_sheet
    if limit and len(kept) > limit:
        ranked = sorted(kept, key=lambda f: usage.get(f.name, 0), reverse=True)
        return ranked[:limit], ranked[limit:]
    return kept, []


def plan_custom_columns(
    extract: Extract,
    entity: str,
    records: list,
    settings: TransformSettings,
    findings: Findings,
    pmo: dict[str, list[str]],
    sheet_key: str,
) -> list[CustomColumn]:
    """The entity's custom field columns, named "Custom - …", typed by the section's table."""
    fields = discover_custom_fields(extract, entity, records)
    if not fields:
        return []
    values: dict[str, list] = {f.name: [] for f in fields}
    for record in records:
        for name, value in record.custom.items():
            if name in values and value is not None and value != "" and value != []:
                values[name].append(value)
    usage = {name: len(found) for name, found in values.items()}
    kept, dropped = filter_custom_fields(fields, usage, settings)
    if dropped:
        findings.warning(
            "Sheet", f"{extract.project.id}:{sheet_key}", "custom fields", "custom.max_per_sheet",
            ", ".join(f.name for f in dropped),
            f"Only the {settings.custom_fields_max_per_sheet} most used custom fields get a "
            f"column; {len(dropped)} are left out.",
        )  # fmt: skip
    columns: list[CustomColumn] = []
    for custom in kept:
        title = rules.custom_column_name(
            custom.name, custom.display_name, settings.custom_fields_prefix
        )
        columns.append(
            _custom_column(custom, title, values[custom.name], settings, findings, pmo, entity)
        )
        columns[-1].usage = usage[custom.name]
        if custom.kind == "formula":
            findings.warning(
                entity, extract.project.id, custom.name, "custom.formula",
                custom.formula or "",
                f"{custom.display_name or custom.name} is a formula field in Project Online"
                + (f" ({custom.formula})" if custom.formula else "")
                + f"; its values are copied as static values to “{title}”. Recreate the "
                "formula in Smartsheet if it is needed.",
            )  # fmt: skip
    return columns


def _custom_column(custom, title, values, settings, findings, pmo, entity) -> CustomColumn:
    key = f"custom:{custom.name}"
    kind = custom.kind
    multi = any(isinstance(v, list | tuple) for v in values)
    source = f"{entity}.{custom.name}"
    text = _text_value

    if kind == "lookup":
        sheet = f"{entity} - {(custom.display_name or custom.name).strip()}"
        options = _picklist_options(custom.lookup_values, values)
        pmo.setdefault(sheet, [])
        pmo[sheet] = _unique([*pmo[sheet], *options])
        column = _col(key, title, "MULTI_PICKLIST" if multi else "PICKLIST", 150,
                      options=options, source=f"{PMO}/{sheet}")  # fmt: skip
        return CustomColumn(custom, column, _list_or_text if multi else text)
    if kind == "date":
        return CustomColumn(custom, _col(key, title, "DATE", 120, source=source), rules.date_only)
    if kind == "flag":
        return CustomColumn(custom, _col(key, title, "CHECKBOX", 80, source=source), rules.boolean)
    if kind == "cost" or (kind == "number" and MONEY_WORDS.search(custom.display_name or "")):
        column = _col(key, title, "TEXT_NUMBER", 150, format=rules.CURRENCY_FORMAT, source=source)
        return CustomColumn(custom, column, rules.number)
    if kind == "number":
        return CustomColumn(custom, _col(key, title, "TEXT_NUMBER", 150, source=source),
                            rules.number)  # fmt: skip
    if kind == "duration":
        return CustomColumn(
            custom, _col(key, title, "TEXT_NUMBER", 100, source=source),
            lambda v: rules.work_text(v, settings.hours_per_day),
        )  # fmt: skip
    if kind == "formula":
        return CustomColumn(custom, _col(key, title, "TEXT_NUMBER", 150, source=source),
                            _static)  # fmt: skip
    # Text: a picklist when its values repeat and are few short words (section 5 "Custom
    # Picklist Field Discovery"), a multi-picklist when values are lists.
    options = _picklist_options([], values)
    distinct = len(options)
    if multi or (
        0 < distinct <= settings.custom_fields_picklist_max_options
        and distinct < len(values)
        and all(len(o) <= 100 and "\n" not in o for o in options)
    ):
        column = _col(key, title, "MULTI_PICKLIST" if multi else "PICKLIST", 150,
                      options=options, source=source)  # fmt: skip
        return CustomColumn(custom, column, _list_or_text if multi else text)
    return CustomColumn(custom, _col(key, title, "TEXT_NUMBER", 150, source=source), text)


def _picklist_options(declared: list[str], values: list) -> list[str]:
    found = set()
    for value in values:
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is not None and str(item).strip():
                found.add(str(item).strip())
    return _unique([*declared, *sorted(found - set(declared))])


def _text_value(value):
    return str(value)


def _list_or_text(value):
    items = value if isinstance(value, list | tuple) else [value]
    return {"objectType": "MULTI_PICKLIST", "values": [str(v) for v in items if v is not None]}


def _static(value):
    """A formula's value as it was calculated: numbers stay numbers, the rest is text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value
    return str(value)


def _custom_cells(
    record, columns: list[CustomColumn], entity: str, findings: Findings
) -> dict[str, CellPlan]:
    cells = {}
    for custom in columns:
        value = record.custom.get(custom.field.name)
        if value is None or value == "" or value == []:
            continue
        try:
            converted = custom.convert(value)
        except ValueError:
            findings.warning(
                entity, record.id, custom.field.name, "value.invalid", value,
                f"{custom.column.title}: the value cannot be read as "
                f"{custom.column.type.lower()}; the cell is left empty.",
            )  # fmt: skip
            continue
        if isinstance(converted, dict):
            cells[custom.column.key] = CellPlan(object_value=converted)
        else:
            if isinstance(converted, str) and len(converted) > rules.CELL_MAX:
                converted = cut_cell(converted, entity, record.id, custom.column.title, findings)
            cells[custom.column.key] = CellPlan(value=converted)
    return cells


# --- compiled mapping sets ---------------------------------------------------------------------


class CompiledSheet:
    """A sheet's mapping set compiled once: the mapper, and a mapper per field for the rare
    record that one of them refuses (each refusal becomes an Issue and an empty cell)."""

    def __init__(self, rows: list[dict], name: str):
        self.mapper = engine.compile_fields(rows, direction="push", name=name)
        self.targets = _unique([step.target for step in self.mapper.steps])
        self._single = [(step, engine.Mapper(steps=[step])) for step in self.mapper.steps]

    def map(self, record: dict, entity: str, entity_id: str, findings: Findings) -> dict:
        try:
            return self.mapper.map(record)
        except MappingError:
            pass
        out: dict = {}
        for step, single in self._single:
            try:
                out.update(single.map(record))
            except MappingError as exc:
                value = record.get(step.sources[0]) if len(step.sources) == 1 else None
                findings.warning(
                    entity, entity_id, step.target, "value.invalid", value,
                    f"{step.target}: {exc.message.split(': ', 1)[-1]}; the cell is left empty.",
                )  # fmt: skip
        return out


def compile_mappings(settings: TransformSettings) -> dict[str, CompiledSheet]:
    rows = settings.mappings or shipped_rows()
    return {sheet: CompiledSheet(rows.get(sheet, []), f"migration {sheet}") for sheet in
            ("tasks", "resources", "summary")}  # fmt: skip


def _record(entity, hours_per_day: float) -> dict:
    record = {name: getattr(entity, name) for name in entity.__slots__}
    record["_hours_per_day"] = hours_per_day
    return record


def _cells(mapped: dict, known: set[str], entity: str, entity_id: str, findings) -> dict:
    cells = {}
    for key, value in mapped.items():
        if value is None:
            continue
        if isinstance(value, dict):
            if key in known and "objectType" not in value:  # a contact (name + email)
                if not value.get("email"):
                    # Smartsheet's contact object needs an email: a name alone is kept as the
                    # cell's text (the load writes text in a contact column not strictly).
                    cells[key] = CellPlan(value=value.get("name"))
                    continue
                value = {"objectType": "CONTACT", **value}
            cells[key] = CellPlan(object_value=value)
            continue
        if isinstance(value, list | tuple):  # an edited set's list, in a text column
            value = ", ".join(str(item) for item in value if item is not None)
        if isinstance(value, str) and len(value) > rules.CELL_MAX:
            value = cut_cell(value, entity, entity_id, key, findings)
        cells[key] = CellPlan(value=value)
    return cells


def _extra_columns(compiled: CompiledSheet, standard: list[ColumnPlan]) -> list[ColumnPlan]:
    """A target an admin added that is none of the sheet's columns becomes a text column."""
    known = {c.key for c in standard}
    return [
        _col(target, target[: rules.COLUMN_NAME_MAX], "TEXT_NUMBER", 150, source="Mapping set")
        for target in compiled.targets
        if target not in known
    ]


# --- the plan ------------------------------------------------------------------------------------


def plan_migration(extracts: list[Extract], *, settings: TransformSettings | None = None) -> Plan:
    """The Plan of a migration: a workspace per project, the PMO Standards sheets and every
    finding. Pure: the same extracts and settings give the same plan."""
    settings = settings or TransformSettings()
    compiled = compile_mappings(settings)
    findings = Findings()
    pmo: dict[str, list[str]] = {name: list(v) for name, v in STANDARD_REFERENCE_SHEETS.items()}
    departments = sorted(
        {
            r.department.strip()
            for extract in extracts
            for r in extract.resources
            if r.department and r.department.strip()
        }
    )
    pmo[DEPARTMENT_SHEET] = departments
    workspaces = [
        _plan_project(extract, settings, compiled, findings, pmo, departments)
        for extract in extracts
    ]
    return Plan(
        workspaces=workspaces,
        pmo=[PmoSheetPlan(name=name, values=values) for name, values in pmo.items()],
        issues=findings.issues,
    )


def _plan_project(extract, settings, compiled, findings, pmo, departments) -> WorkspacePlan:
    project = extract.project
    check_guid(findings, "Project", project.id, extract.source)
    if not (project.name or "").strip():
        findings.warning(
            "Project", project.id, "Name", "project.name.missing", project.name,
            "The project has no name; its workspace is named after its id.",
        )  # fmt: skip
    name = rules.workspace_name(project.name) or rules.workspace_name(f"Project {project.id}")
    check_workspace_name(name, project.id, findings)
    prefix = rules.project_prefix(project.name)
    hours_per_day = project.hours_per_day or settings.hours_per_day

    tasks_sheet, planned = _tasks_sheet(
        extract, name, prefix, hours_per_day, settings, compiled["tasks"], findings, pmo
    )
    resources_sheet = _resources_sheet(
        extract, name, prefix, hours_per_day, settings, compiled["resources"], findings, pmo,
        departments,
    )  # fmt: skip
    sheets = [tasks_sheet, resources_sheet]
    if settings.summary_sheet:
        sheets.append(
            _summary_sheet(
                extract, name, hours_per_day, settings, compiled["summary"], findings, pmo
            )
        )
    elif settings.custom_fields_enabled and any(
        v not in (None, "", []) for v in project.custom.values()
    ):
        findings.warning(
            "Project", project.id, "custom fields", "custom.project.no_summary", "",
            "Project custom fields are migrated on the Summary sheet, which is turned off.",
        )  # fmt: skip
    for sheet in sheets:
        check_sheet(sheet, findings, project_id=project.id)
    return WorkspacePlan(
        project_id=project.id, project_name=project.name or "", name=name, prefix=prefix,
        sheets=sheets,
    )  # fmt: skip


def _order_columns(standard, extra, dynamic, custom) -> list[ColumnPlan]:
    """Section 5 "Column Creation Order": primary, standard (then the assignment and added
    columns), custom fields grouped, system columns last."""
    primary = [c for c in standard if c.primary]
    rest = [c for c in standard if not c.primary]
    return [*primary, *rest, *dynamic, *extra, *custom, *system_columns()]


def _unique_titles(columns: list[ColumnPlan]) -> None:
    seen: set[str] = set()
    for column in columns:
        title, n = column.title, 2
        while title.casefold() in seen:
            tail = f" ({n})"
            title = column.title[: rules.COLUMN_NAME_MAX - len(tail)] + tail
            n += 1
        column.title = title
        seen.add(title.casefold())


def _tasks_sheet(extract, name, prefix, hours_per_day, settings, compiled, findings, pmo):
    project = extract.project
    ordered = order_tasks(extract.tasks, project.id, findings)
    planned = {task.id for task, _ in ordered}
    resources = _resource_map(extract)
    assign_columns, assign_cells = assignment_values(extract, resources, planned, findings)
    custom = plan_custom_columns(
        extract, "Task", [t for t, _ in ordered], settings, findings, pmo, "tasks"
    )
    standard = task_columns(prefix)
    extra = _extra_columns(compiled, standard)
    columns = _order_columns(standard, extra, assign_columns, [c.column for c in custom])
    _unique_titles(columns)
    known = {c.key for c in columns if c.type in ("CONTACT_LIST",)}

    rows = []
    for task, parent_id in ordered:
        record = _record(task, hours_per_day)
        record["percent_complete"] = task_percent(task, findings)
        record["priority"] = task_priority(task, findings)
        check_guid(findings, "Task", task.id, extract.source)
        mapped = compiled.map(record, "Task", task.id, findings)
        cells = _cells(mapped, known, "Task", task.id, findings)
        if task.id in assign_cells:
            cells.update(assign_cells[task.id])
        if custom:
            cells.update(_custom_cells(task, custom, "Task", findings))
        rows.append(RowPlan(key=task.id, parent_key=parent_id, cells=cells))

    links = check_links(extract.links, planned, {t.id for t in extract.tasks}, findings)
    predecessors: dict[str, list[dict]] = {}
    for link in links:
        predecessors.setdefault(link.successor_task_id, []).append(
            {
                "row_key": link.predecessor_task_id,
                "type": link.type,
                "lag_minutes": link.lag_minutes,
                "lag_days": round(link.lag_minutes / 60 / hours_per_day, 4),
            }
        )
    order = {task.id: n for n, (task, _) in enumerate(ordered)}
    return (
        SheetPlan(
            key="tasks",
            name=rules.sheet_name(name, "Tasks"),
            columns=columns,
            rows=rows,
            predecessors=[
                PredecessorPlan(row_key=key, predecessors=value)
                for key, value in sorted(predecessors.items(), key=lambda kv: order[kv[0]])
            ],
            project_settings=project_settings(hours_per_day),
        ),
        planned,
    )


def _resource_map(extract: Extract) -> dict[str, SourceResource]:
    """The project's resources to plan, by id (reported once, by the Resources sheet)."""
    found: dict[str, SourceResource] = {}
    for resource in extract.resources:
        if resource.id in found:
            continue
        if not (resource.name or "").strip() and not (resource.email or "").strip():
            continue
        found[resource.id] = resource
    return found


def _resources_sheet(
    extract, name, prefix, hours_per_day, settings, compiled, findings, pmo, departments
):
    seen: set[str] = set()
    kept: list[SourceResource] = []
    for resource in extract.resources:
        check_guid(findings, "Resource", resource.id, extract.source)
        if resource.id in seen:
            findings.error(
                "Resource", resource.id, "Id", "resource.id.duplicate", resource.id,
                "Another resource has this id; only the first is migrated.",
            )  # fmt: skip
            continue
        seen.add(resource.id)
        has_name = bool((resource.name or "").strip())
        if not has_name and not (resource.email or "").strip():
            findings.error(
                "Resource", resource.id, "Name", "resource.name.missing", resource.name,
                "The resource has neither a name nor an email; it is not migrated.",
            )  # fmt: skip
            continue
        if not has_name:
            findings.warning(
                "Resource", resource.id, "Name", "resource.name.missing", resource.name,
                "The resource has no name; it is migrated with its email.",
            )  # fmt: skip
        if resource_kind(resource) is None:
            findings.warning(
                "Resource", resource.id, "ResourceType", "resource.type.unknown",
                resource.resource_type,
                "The resource type is none of Work, Material, Cost; it is in no assignment "
                "column.",
            )  # fmt: skip
        kept.append(resource)
    custom = plan_custom_columns(extract, "Resource", kept, settings, findings, pmo, "resources")
    standard = resource_columns(prefix, departments)
    extra = _extra_columns(compiled, standard)
    columns = _order_columns(standard, extra, [], [c.column for c in custom])
    _unique_titles(columns)
    known = {c.key for c in columns if c.type == "CONTACT_LIST"}
    rows = []
    for resource in kept:
        mapped = compiled.map(_record(resource, hours_per_day), "Resource", resource.id, findings)
        if not mapped.get("Name") and resource.email:
            mapped["Name"] = resource.email.strip()
        cells = _cells(mapped, known, "Resource", resource.id, findings)
        if custom:
            cells.update(_custom_cells(resource, custom, "Resource", findings))
        rows.append(RowPlan(key=resource.id, cells=cells))
    return SheetPlan(
        key="resources", name=rules.sheet_name(name, "Resources"), columns=columns, rows=rows
    )


def _summary_sheet(extract, name, hours_per_day, settings, compiled, findings, pmo):
    project = extract.project
    record = _record(project, hours_per_day)
    if project.percent_complete is not None:
        try:
            rules.percent_number(project.percent_complete)
        except ValueError:
            findings.warning(
                "Project", project.id, "PercentComplete", "project.percent.invalid",
                project.percent_complete, "% Complete must be a number 0-100; it is left empty.",
            )  # fmt: skip
            record["percent_complete"] = None
    mapped = compiled.map(record, "Project", project.id, findings)
    percent_targets = {s.target for s in compiled.mapper.steps if s.transform == "percent_fraction"}
    rows = []
    for target in compiled.targets:
        value = mapped.get(target)
        cell = CellPlan(value=_summary_text(value))
        if target in percent_targets and value is not None:
            cell.format = rules.PERCENT_FORMAT
        if isinstance(cell.value, str) and len(cell.value) > rules.CELL_MAX:
            cell.value = cut_cell(cell.value, "Project", project.id, target, findings)
        rows.append(RowPlan(key=target, cells={"Property": CellPlan(value=target), "Value": cell}))
    custom = plan_custom_columns(extract, "Project", [project], settings, findings, pmo, "summary")
    custom_cells = _custom_cells(project, custom, "Project", findings)
    for column in custom:
        cell = custom_cells.get(column.column.key, CellPlan())
        if cell.object_value:
            cell = CellPlan(value=", ".join(cell.object_value.get("values", [])))
        if column.column.format:
            cell.format = column.column.format
        rows.append(
            RowPlan(key=column.column.key,
                    cells={"Property": CellPlan(value=column.column.title), "Value": cell})
        )  # fmt: skip
    columns = [*summary_columns(), *system_columns()]
    return SheetPlan(
        key="summary", name=rules.sheet_name(name, "Summary"), columns=columns, rows=rows
    )


def _summary_text(value):
    if isinstance(value, dict):  # a contact: "Name (email)"
        name, email = value.get("name"), value.get("email")
        return f"{name} ({email})" if name and email else name or email
    return value
