"""The migration's two boundaries, shared by its stages and its sources.

    source (Project Online feed, later MS Project files)  ->  Extract
    transform (the seed's rules, pure)                     ->  Plan
    load (Smartsheet SDK, through the sync engine)         <-  Plan

An `Extract` is the seed's own entity model (seed 001, "Project Online Object Model" and the
entity tables of sections 1-5), whatever the source: a source turns its vendor's shapes into
these records at its boundary (ProjectData's `TaskStartDate` and decimal hours become `start`
and an ISO 8601 duration), so the transform is written once and its vectors test it alone.
A `Plan` is everything the load writes, in the order it writes it, with nothing resolved that
only Smartsheet can give (row ids, column ids): a dry run shows it, a real run loads it, and
the two are the same object."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

# ---------------------------------------------------------------------------------------------
# Source side: the seed's entity model. Dates are the source's text (ISO 8601, with or without
# an offset: the transform keeps the date as written in its own offset); durations and work are
# ISO 8601 durations ("PT40H", "P5D", "P0DT8H0M0S"); percentages 0-100; units 1.0 = 100 %;
# money as numbers. `custom` holds the custom fields' values by `CustomField.name`.


@dataclass(slots=True)
class CustomField:
    entity: Literal["Project", "Task", "Resource"]
    name: str  # the property as the source names it: "TaskText1", "CustomerName", a GUID field
    display_name: str | None
    kind: Literal["text", "number", "date", "flag", "cost", "duration", "lookup", "formula"]
    formula: str | None = None  # formula fields: logged, values copied as static values
    lookup_table: str | None = None  # lookup fields: the table whose values PMO Standards holds
    lookup_values: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SourceProject:
    id: str
    name: str | None
    description: str | None = None
    owner: str | None = None
    owner_email: str | None = None
    start_date: str | None = None
    finish_date: str | None = None
    created_date: str | None = None
    modified_date: str | None = None
    project_status: str | None = None
    project_type: str | None = None
    priority: int | None = None
    percent_complete: float | None = None
    hours_per_day: float | None = None  # the project calendar's, when the source has one
    custom: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SourceTask:
    id: str
    project_id: str
    task_name: str | None
    parent_task_id: str | None = None
    task_index: int = 0
    outline_level: int = 1
    start: str | None = None
    finish: str | None = None
    duration: str | None = None
    work: str | None = None
    actual_work: str | None = None
    percent_complete: Any = None  # as the source gave it: the transform validates it
    task_type: str | None = None
    priority: Any = None
    is_milestone: bool = False
    is_summary: bool = False
    is_active: bool = True
    task_notes: str | None = None
    constraint_type: str | None = None
    constraint_date: str | None = None
    deadline: str | None = None
    created_date: str | None = None
    modified_date: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    # A file's baseline (Baseline Start / Finish, the first baseline); Project Online's feed
    # gives none. The shipped mapping sets do not map them; an edited set may.
    baseline_start: str | None = None
    baseline_finish: str | None = None


@dataclass(slots=True)
class SourceResource:
    id: str
    name: str | None
    email: str | None = None
    resource_type: str | None = None  # "Work" | "Material" | "Cost"
    max_units: float | None = None
    standard_rate: float | None = None
    overtime_rate: float | None = None
    cost_per_use: float | None = None
    base_calendar: str | None = None
    is_active: bool = True
    is_generic: bool = False
    department: str | None = None
    code: str | None = None
    created_date: str | None = None
    modified_date: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SourceAssignment:
    id: str
    task_id: str
    resource_id: str
    project_id: str
    start: str | None = None
    finish: str | None = None
    work: str | None = None
    actual_work: str | None = None
    remaining_work: str | None = None
    percent_work_complete: int | None = None
    units: float | None = None
    cost: float | None = None
    actual_cost: float | None = None
    remaining_cost: float | None = None
    notes: str | None = None


@dataclass(slots=True)
class SourceLink:
    predecessor_task_id: str
    successor_task_id: str
    type: Literal["FS", "SS", "FF", "SF"]
    lag_minutes: float = 0.0  # working minutes, negative for a lead
    lag_unit: str = "d"  # the unit the source displayed the lag in ("d", "h", "w", "m")


@dataclass(slots=True)
class Extract:
    """One project as a source read it."""

    source: str  # "project_online" | "file"
    project: SourceProject
    tasks: list[SourceTask] = field(default_factory=list)
    resources: list[SourceResource] = field(default_factory=list)
    assignments: list[SourceAssignment] = field(default_factory=list)
    links: list[SourceLink] = field(default_factory=list)
    custom_fields: list[CustomField] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)  # found while extracting


# ---------------------------------------------------------------------------------------------
# Findings: every validation rule and error-handling case of the seed ("Validation Rules",
# "Error Handling") ends as one of these, kept per entity and field and shown in the report.


@dataclass(slots=True)
class Issue:
    severity: Literal["error", "warning"]
    stage: Literal["extract", "transform", "load"]
    entity: str  # "Project" | "Task" | "Resource" | "Assignment" | "Link" | "Sheet" | "Column" | "Workspace"
    entity_id: str
    field: str
    rule: str  # a stable code, e.g. "task.name.missing", "cell.too_long"
    value: str  # the offending value as text (cut to 200 characters)
    message: str


# ---------------------------------------------------------------------------------------------
# Plan side: what the load writes. Columns and rows are named by stable keys (a column's key is
# what it maps from: "TaskName", "custom:TaskText1", "assign:Work"; a row's key is its source
# GUID, or the property name on the summary sheet), never by Smartsheet ids.


@dataclass(slots=True)
class ColumnPlan:
    key: str
    title: str
    type: str  # Smartsheet column type: TEXT_NUMBER, DATE, PICKLIST, MULTI_CONTACT_LIST, ...
    primary: bool = False
    width: int | None = None
    hidden: bool = False
    locked: bool = False
    options: list[str] | None = None
    contact_options: list[dict[str, str]] | None = None  # [{"name": ..., "email": ...}]
    format: str | None = None  # Smartsheet's format descriptor for the column
    auto_number_format: dict[str, Any] | None = None  # {"prefix": "WRE-", "fill": "00000"}
    system_column_type: str | None = None  # AUTO_NUMBER, CREATED_DATE, MODIFIED_BY, ...
    source: str | None = None  # for the report: "Task.TaskName", "PMO Standards/Task - Status"
    from_template: bool = False  # the template sheet already has it (project-sheet columns)


@dataclass(slots=True)
class CellPlan:
    value: Any = None
    object_value: dict[str, Any] | None = None  # contacts, multi-contact, multi-picklist
    format: str | None = None


@dataclass(slots=True)
class RowPlan:
    key: str
    parent_key: str | None = None
    cells: dict[str, CellPlan] = field(default_factory=dict)  # column key -> cell


@dataclass(slots=True)
class PredecessorPlan:
    row_key: str
    predecessors: list[dict[str, Any]]  # [{"row_key": ..., "type": "FS", "lag_minutes": 0.0}]


@dataclass(slots=True)
class SheetPlan:
    key: Literal["tasks", "resources", "summary"]
    name: str
    columns: list[ColumnPlan]
    rows: list[RowPlan]  # parents before children, siblings in task index order
    predecessors: list[PredecessorPlan] = field(default_factory=list)
    project_settings: dict[str, Any] | None = None  # the Tasks sheet's Gantt/dependency settings


@dataclass(slots=True)
class WorkspacePlan:
    project_id: str
    project_name: str
    name: str
    prefix: str
    sheets: list[SheetPlan]


@dataclass(slots=True)
class PmoSheetPlan:
    """A reference sheet of the PMO Standards workspace ("Task - Status") and its values."""

    name: str
    values: list[str]


@dataclass(slots=True)
class Plan:
    workspaces: list[WorkspacePlan]
    pmo: list[PmoSheetPlan] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        def sheet(s: dict) -> SheetPlan:
            return SheetPlan(
                key=s["key"],
                name=s["name"],
                columns=[ColumnPlan(**c) for c in s["columns"]],
                rows=[
                    RowPlan(
                        key=r["key"],
                        parent_key=r["parent_key"],
                        cells={k: CellPlan(**c) for k, c in r["cells"].items()},
                    )
                    for r in s["rows"]
                ],
                predecessors=[PredecessorPlan(**p) for p in s["predecessors"]],
                project_settings=s.get("project_settings"),
            )

        return cls(
            workspaces=[
                WorkspacePlan(**{**w, "sheets": [sheet(s) for s in w["sheets"]]})
                for w in data["workspaces"]
            ],
            pmo=[PmoSheetPlan(**p) for p in data.get("pmo", [])],
            issues=[Issue(**i) for i in data.get("issues", [])],
        )
