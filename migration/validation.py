"""The seed's "Validation Rules" and "Error Handling" as findings: every check ends as an
`Issue` kept with the plan (per entity and field), never as an exception that stops a project.

Severity: "error" when the entity (or the sheet) cannot be loaded as it is — a task without a
name, a duplicate id, a circular dependency, a sheet over Smartsheet's limits; "warning" when
the transform repaired it the way the seed says (a broken parent becomes a root, a bad
percentage 0, an over-long cell is cut to 4,000 characters).

# Reference: ../shared/seeds/project-online-to-smartsheet-mapping-spec.md "Validation Rules",
# "Error Handling", Appendix C; ../shared/providers/smartsheet.md section 5 (500,000 cells,
# 4,000 characters per cell).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from migration import rules
from migration.model import Issue, SheetPlan, SourceLink, SourceTask

MAX_COLUMNS = 400  # columns per sheet (seed Appendix C)
MAX_CELLS = 500_000  # cells per sheet (providers/smartsheet.md section 5)
MAX_ROWS = 20_000  # rows per sheet: the limits guide's own example, 20,000 rows × 25 columns
LINK_TYPES = ("FS", "SS", "FF", "SF")
GUID = re.compile(
    r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?"
)


class Findings:
    """The issues of one plan, in the order found."""

    def __init__(self):
        self.issues: list[Issue] = []

    def add(self, severity, entity, entity_id, field, rule, value, message) -> None:
        text = "" if value is None else str(value)
        self.issues.append(
            Issue(
                severity=severity,
                stage="transform",
                entity=entity,
                entity_id=str(entity_id or ""),
                field=field,
                rule=rule,
                value=text[:200],
                message=message,
            )
        )

    def error(self, *args) -> None:
        self.add("error", *args)

    def warning(self, *args) -> None:
        self.add("warning", *args)


# --- projects ------------------------------------------------------------------------------------


def check_guid(findings: Findings, entity: str, entity_id: str, source: str) -> None:
    """Project Online ids are GUIDs ("Validate Guid formats"); files may number theirs."""
    if source == "project_online" and not GUID.fullmatch(entity_id or ""):
        findings.warning(
            entity, entity_id, "Id", "id.not_guid", entity_id, f"{entity} id is not a GUID."
        )


# --- tasks -----------------------------------------------------------------------------------


def task_percent(task: SourceTask, findings: Findings) -> float:
    """% complete 0-100: none → 0; not a number → 0 (warning, the seed's "defaulting to 0");
    out of range → clamped to 0-100 (warning)."""
    value = task.percent_complete
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0.0
    try:
        return rules.percent_number(value)
    except ValueError:
        pass
    try:
        number = rules.number(str(value).strip().rstrip("%") if isinstance(value, str) else value)
    except ValueError:
        findings.warning(
            "Task", task.id, "PercentComplete", "task.percent.invalid", value,
            "% Complete is not a number; 0 is used.",
        )  # fmt: skip
        return 0.0
    clamped = min(100.0, max(0.0, number))
    findings.warning(
        "Task", task.id, "PercentComplete", "task.percent.out_of_range", value,
        f"% Complete must be 0-100; {rules._plain_number(clamped)} is used.",
    )  # fmt: skip
    return clamped


def task_priority(task: SourceTask, findings: Findings) -> Any:
    """Priority 0-1000: not a number → none (Medium, warning); out of range → kept, and its
    band's label used (warning)."""
    try:
        number = rules.priority_number(task.priority)
    except ValueError:
        findings.warning(
            "Task", task.id, "Priority", "task.priority.invalid", task.priority,
            "Priority is not a number; Medium is used.",
        )  # fmt: skip
        return None
    if number is not None and not rules.PRIORITY_MIN <= number <= rules.PRIORITY_MAX:
        findings.warning(
            "Task", task.id, "Priority", "task.priority.out_of_range", task.priority,
            f"Priority must be 0-1000; it is shown as {rules.priority_label(number)}.",
        )  # fmt: skip
    return task.priority


def order_tasks(
    tasks: Iterable[SourceTask], project_id: str, findings: Findings
) -> list[tuple[SourceTask, str | None]]:
    """The tasks to plan as (task, parent id), parents before children and siblings in task
    index order (seed "Hierarchy Handling").

    A task's parent is its ParentTaskId when the source gives one, else the nearest earlier
    task of a lower outline level. A duplicate id (error) keeps the first; a task without a
    name (error) is not planned and its children move up to its parent; a parent that is not
    in the project, or a loop of parents, makes the task a root (warning)."""
    by_id: dict[str, SourceTask] = {}
    for task in sorted(tasks, key=lambda t: t.task_index):
        if task.id in by_id:
            findings.error(
                "Task", task.id, "Id", "task.id.duplicate", task.id,
                "Another task has this id; only the first is migrated.",
            )  # fmt: skip
            continue
        by_id[task.id] = task
        if task.project_id and task.project_id != project_id:
            findings.warning(
                "Task", task.id, "ProjectId", "task.project.mismatch", task.project_id,
                "The task names another project; it is migrated with this one.",
            )  # fmt: skip

    # Parents: the source's, else from outline levels (a stack of the open ancestors).
    parent: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for task in by_id.values():
        while stack and stack[-1][0] >= task.outline_level:
            stack.pop()
        if task.parent_task_id:
            if task.parent_task_id in by_id and task.parent_task_id != task.id:
                parent[task.id] = task.parent_task_id
            else:
                findings.warning(
                    "Task", task.id, "ParentTaskId", "task.parent.missing", task.parent_task_id,
                    "The parent task is not in the project; the task is a top-level row.",
                )  # fmt: skip
                parent[task.id] = None
        else:
            parent[task.id] = stack[-1][1] if stack else None
        stack.append((task.outline_level, task.id))

    # Unnamed tasks are not planned: their children move up to the nearest named ancestor.
    unnamed = set()
    for task in by_id.values():
        if task.task_name is None or not str(task.task_name).strip():
            findings.error(
                "Task", task.id, "TaskName", "task.name.missing", task.task_name,
                "The task has no name (required); it is not migrated.",
            )  # fmt: skip
            unnamed.add(task.id)

    children: dict[str | None, list[str]] = {}
    for task_id, parent_id in parent.items():
        if task_id in unnamed:
            continue
        seen = {task_id}
        while parent_id in unnamed and parent_id not in seen:
            seen.add(parent_id)
            parent_id = parent[parent_id]
        children.setdefault(parent_id, []).append(task_id)

    ordered: list[tuple[SourceTask, str | None]] = []
    placed: set[str] = set()

    def walk(root: str | None) -> None:
        stack = [(root, iter(children.get(root, ())))]
        while stack:
            node, kids = stack[-1]
            child = next(kids, None)
            if child is None:
                stack.pop()
                continue
            if child in placed:
                continue
            placed.add(child)
            ordered.append((by_id[child], node))
            stack.append((child, iter(children.get(child, ()))))

    walk(None)
    # Whatever the walk from the roots missed sits in a loop of parents: each becomes a root.
    for task in by_id.values():
        if task.id in unnamed or task.id in placed:
            continue
        findings.warning(
            "Task", task.id, "ParentTaskId", "task.parent.cycle", task.parent_task_id,
            "The task's parents form a loop; the task is a top-level row.",
        )  # fmt: skip
        placed.add(task.id)
        ordered.append((task, None))
        walk(task.id)
    return ordered


# --- links -------------------------------------------------------------------------------------


def link_id(link: SourceLink) -> str:
    return f"{link.predecessor_task_id}->{link.successor_task_id}"


def check_links(
    links: Iterable[SourceLink], planned: set[str], all_ids: set[str], findings: Findings
) -> list[SourceLink]:
    """The links to write: both tasks planned, no duplicate, a known type (else FS), and no
    circle — a link that would close one is refused (error), the rest are kept."""
    kept: list[SourceLink] = []
    seen: set[tuple[str, str]] = set()
    for link in links:
        pair = (link.predecessor_task_id, link.successor_task_id)
        missing = [t for t in pair if t not in planned]
        if missing:
            gone = [t for t in missing if t in all_ids]
            findings.warning(
                "Link", link_id(link), "PredecessorTaskId" if missing[0] == pair[0]
                else "SuccessorTaskId", "link.task.missing", missing[0],
                "The link names a task that is not migrated; it is left out."
                if gone else "The link names a task that is not in the project; it is left out.",
            )  # fmt: skip
            continue
        if pair in seen:
            findings.warning(
                "Link", link_id(link), "Type", "link.duplicate", link.type,
                "The same two tasks are linked twice; the first link is kept.",
            )  # fmt: skip
            continue
        seen.add(pair)
        if link.type not in LINK_TYPES:
            findings.warning(
                "Link", link_id(link), "Type", "link.type.invalid", link.type,
                "Unknown dependency type; Finish-to-Start (FS) is used.",
            )  # fmt: skip
            link = SourceLink(pair[0], pair[1], "FS", link.lag_minutes, link.lag_unit)
        kept.append(link)
    return _without_circles(kept, findings)


def _without_circles(links: list[SourceLink], findings: Findings) -> list[SourceLink]:
    """Links in order, each kept unless its successor already reaches its predecessor through
    the links kept so far (then it would close a circle: Smartsheet refuses those)."""
    successors: dict[str, list[str]] = {}
    kept = []
    for link in links:
        start, goal = link.successor_task_id, link.predecessor_task_id
        if start == goal or _reaches(successors, start, goal):
            findings.error(
                "Link", link_id(link), "PredecessorTaskId", "link.circular", link_id(link),
                "This link would make a circular dependency; it is left out.",
            )  # fmt: skip
            continue
        successors.setdefault(goal, []).append(start)
        kept.append(link)
    return kept


def _reaches(successors: dict[str, list[str]], start: str, goal: str) -> bool:
    if start not in successors:
        return False
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        for nxt in successors.get(node, ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


# --- cells, columns, sheets -----------------------------------------------------------------------


def cut_cell(value: str, entity: str, entity_id: str, field: str, findings: Findings) -> str:
    """A text over 4,000 characters is cut to fit (Smartsheet would cut it silently)."""
    findings.warning(
        entity, entity_id, field, "cell.too_long", f"{len(value)} characters",
        f"{field} has {len(value):,} characters; the first {rules.CELL_MAX:,} are kept.",
    )  # fmt: skip
    return value[: rules.CELL_MAX]


def check_sheet(sheet: SheetPlan, findings: Findings, *, project_id: str = "") -> None:
    """Smartsheet's limits, before anything is loaded: name lengths, 400 columns, 20,000 rows,
    500,000 cells (errors: the load refuses the sheet). Ids are "{project id}:{sheet key}"."""
    where = f"{project_id}:{sheet.key}" if project_id else sheet.key
    if len(sheet.name) > rules.SHEET_NAME_MAX:
        findings.error(
            "Sheet", where, "name", "sheet.name.too_long", sheet.name,
            f"Sheet names are at most {rules.SHEET_NAME_MAX} characters.",
        )  # fmt: skip
    titles: set[str] = set()
    for column in sheet.columns:
        if len(column.title) > rules.COLUMN_NAME_MAX:
            findings.error(
                "Column", f"{where}:{column.key}", "title", "column.name.too_long",
                column.title, f"Column names are at most {rules.COLUMN_NAME_MAX} characters.",
            )  # fmt: skip
        if column.title.casefold() in titles:
            findings.error(
                "Column", f"{where}:{column.key}", "title", "column.name.duplicate",
                column.title, "Two columns of the sheet have this name.",
            )  # fmt: skip
        titles.add(column.title.casefold())
    columns, rows = len(sheet.columns), len(sheet.rows)
    if columns > MAX_COLUMNS:
        findings.error(
            "Sheet", where, "columns", "sheet.columns.limit", columns,
            f"A sheet has at most {MAX_COLUMNS} columns; this one would have {columns}.",
        )  # fmt: skip
    if rows > MAX_ROWS:
        findings.error(
            "Sheet", where, "rows", "sheet.rows.limit", rows,
            f"A sheet has at most {MAX_ROWS:,} rows; this one would have {rows:,}.",
        )  # fmt: skip
    if columns * rows > MAX_CELLS:
        findings.error(
            "Sheet", where, "cells", "sheet.cells.limit", columns * rows,
            f"A sheet has at most {MAX_CELLS:,} cells; this one would have {columns * rows:,}.",
        )  # fmt: skip


def check_workspace_name(name: str, project_id: str, findings: Findings) -> None:
    if len(name) > rules.WORKSPACE_NAME_MAX:
        findings.error(
            "Workspace", project_id, "name", "workspace.name.too_long", name,
            f"Workspace names are at most {rules.WORKSPACE_NAME_MAX} characters.",
        )  # fmt: skip
