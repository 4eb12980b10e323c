"""Hand-built Plans for the load's tests and bench (the transform makes them in production):
a project of `tasks` tasks in a work breakdown `depth` levels deep, its resources, assignments
as multi-contact cells and finish-to-start (and other) links, with PMO Standards sheets.

The shape is a realistic schedule's: top-level phases, each summary task with 8-16 children of
which about one in five is itself a summary (the first child of each is, down to `depth`, so
every phase reaches it); phases are added until `tasks` is reached."""

from __future__ import annotations

import random

from migration.model import (
    CellPlan,
    ColumnPlan,
    Plan,
    PmoSheetPlan,
    PredecessorPlan,
    RowPlan,
    SheetPlan,
    WorkspacePlan,
)

STATUSES = ["Not Started", "In Progress", "Complete", "On Hold"]
PRIORITIES = ["Lowest", "Very Low", "Lower", "Medium", "Higher", "Very High", "Highest"]
RESOURCE_TYPES = ["Work", "Material", "Cost"]
LINK_TYPES = ["FS", "FS", "FS", "FS", "SS", "FF", "SF"]


def pmo_sheets() -> list[PmoSheetPlan]:
    return [
        PmoSheetPlan("Task - Status", list(STATUSES)),
        PmoSheetPlan("Task - Priority", list(PRIORITIES)),
        PmoSheetPlan("Resource - Type", list(RESOURCE_TYPES)),
    ]


def task_columns(prefix: str) -> list[ColumnPlan]:
    return [
        ColumnPlan(
            "TaskID",
            "Task ID",
            "TEXT_NUMBER",
            system_column_type="AUTO_NUMBER",
            auto_number_format={"prefix": f"{prefix}-", "fill": "00000"},
            locked=True,
        ),
        ColumnPlan("TaskName", "Task Name", "TEXT_NUMBER", primary=True, from_template=True),
        ColumnPlan("Start", "Start", "ABSTRACT_DATETIME", from_template=True),
        ColumnPlan("Finish", "Finish", "ABSTRACT_DATETIME", from_template=True),
        ColumnPlan("Duration", "Duration", "DURATION", from_template=True),
        ColumnPlan("Predecessors", "Predecessors", "PREDECESSOR", from_template=True),
        ColumnPlan(
            "PercentComplete",
            "% Complete",
            "TEXT_NUMBER",
            from_template=True,
            format=",,,,,,,,,,,,,,3,,",
        ),
        ColumnPlan("Status", "Status", "PICKLIST", source="PMO Standards/Task - Status"),
        ColumnPlan("Priority", "Priority", "PICKLIST", source="PMO Standards/Task - Priority"),
        ColumnPlan("assign:Work", "Assigned Resources", "MULTI_CONTACT_LIST", width=200),
        ColumnPlan("Tags", "Tags", "MULTI_PICKLIST", options=["Critical", "External", "Review"]),
        ColumnPlan("Work", "Work", "TEXT_NUMBER"),
        ColumnPlan("TaskGUID", "Task GUID", "TEXT_NUMBER", hidden=True),
    ]


def resource_columns() -> list[ColumnPlan]:
    return [
        ColumnPlan("ResourceName", "Resource Name", "TEXT_NUMBER", primary=True),
        ColumnPlan("Email", "Email", "CONTACT_LIST"),
        ColumnPlan("ResourceType", "Type", "PICKLIST", source="PMO Standards/Resource - Type"),
        ColumnPlan("MaxUnits", "Max Units", "TEXT_NUMBER", format=",,,,,,,,,,,,,,3,,"),
        ColumnPlan("ResourceGUID", "Resource GUID", "TEXT_NUMBER", hidden=True),
    ]


def project_plan(
    *,
    tasks: int = 30,
    depth: int = 3,
    resources: int = 6,
    assignments: int = 20,
    links: int = 12,
    name: str = "Riverside Tower",
    project_id: str = "0f5c2d1e-0000-4000-8000-000000000001",
    prefix: str = "RVT",
    seed: int = 17,
    with_summary: bool = True,
) -> Plan:
    rng = random.Random(seed)
    people = [
        {"name": f"Person {n:03d}", "email": f"person{n:03d}@example.com"} for n in range(resources)
    ]
    # The work breakdown: (key, parent key, level), parents before children, siblings in order.
    made: list[tuple[str, str | None, int]] = []
    summaries: set[str] = set()

    def add(parent: str | None, level: int) -> str | None:
        if len(made) >= tasks:
            return None
        key = f"{project_id[:8]}-task-{len(made) + 1:05d}"
        made.append((key, parent, level))
        return key

    def grow(key: str, level: int, forced: bool) -> None:
        for index in range(rng.randint(8, 16)):
            summary = level + 1 < depth and ((index == 0 and forced) or rng.random() < 0.2)
            child = add(key, level + 1)
            if child is None:
                return
            if summary:
                summaries.add(child)
                grow(child, level + 1, forced and index == 0)

    while len(made) < tasks:
        phase = add(None, 1)
        if depth > 1:
            summaries.add(phase)
            grow(phase, 1, True)
    leaves = [key for key, _, _ in made if key not in summaries] or [made[0][0]]
    assigned: dict[str, list[dict]] = {}
    for n in range(assignments):
        task = leaves[n % len(leaves)]
        person = people[(n * 7 + n // len(leaves)) % len(people)] if people else None
        if person and person not in assigned.setdefault(task, []):
            assigned[task].append(person)
    rows = []
    for number, (key, parent, level) in enumerate(made, start=1):
        cells = {
            "TaskName": CellPlan(f"Task {number} (level {level})"),
            "Start": CellPlan(f"2026-0{1 + number % 9}-1{number % 10}"),
            "Finish": CellPlan(f"2026-0{1 + number % 9}-2{number % 10}"),
            "Duration": CellPlan(f"{1 + number % 9}d"),
            "PercentComplete": CellPlan((number * 13 % 101) / 100),
            "Status": CellPlan(STATUSES[number % len(STATUSES)]),
            "Priority": CellPlan(PRIORITIES[number % len(PRIORITIES)]),
            "Work": CellPlan(f"{8 * (1 + number % 5)}h"),
            "TaskGUID": CellPlan(key),
        }
        if assigned.get(key):
            cells["assign:Work"] = CellPlan(
                object_value={
                    "objectType": "MULTI_CONTACT",
                    "values": [{"objectType": "CONTACT", **p} for p in assigned[key]],
                }
            )
        if number % 5 == 0:
            cells["Tags"] = CellPlan(
                object_value={"objectType": "MULTI_PICKLIST", "values": ["Critical", "Review"]}
            )
        rows.append(RowPlan(key=key, parent_key=parent, cells=cells))
    # Links between leaves, each to a later task (no cycles), on successors in order.
    by_successor: dict[str, list[dict]] = {}
    order = {key: n for n, key in enumerate(leaves)}
    pairs = set()
    for n in range(links):
        if len(leaves) < 2:
            break
        for _ in range(20):
            a, b = sorted(rng.sample(range(len(leaves)), 2))
            if (a, b) not in pairs:
                break
        pairs.add((a, b))
        link_type = LINK_TYPES[n % len(LINK_TYPES)]
        lag = [0.0, 0.0, 480.0, -240.0, 2400.0][n % 5]
        by_successor.setdefault(leaves[b], []).append(
            {
                "row_key": leaves[a],
                "type": link_type,
                "lag_minutes": lag,
                "lag_unit": "d" if n % 3 else "h",
            }
        )
    predecessors = [
        PredecessorPlan(row_key=key, predecessors=items)
        for key, items in sorted(by_successor.items(), key=lambda kv: order[kv[0]])
    ]
    sheets = [
        SheetPlan(
            key="tasks",
            name=f"{name} - Tasks"[:50],
            columns=task_columns(prefix),
            rows=rows,
            predecessors=predecessors,
            project_settings={"lengthOfDay": 8},
        ),
        SheetPlan(
            key="resources",
            name=f"{name} - Resources"[:50],
            columns=resource_columns(),
            rows=[
                RowPlan(
                    key=f"{project_id[:8]}-res-{n:04d}",
                    cells={
                        "ResourceName": CellPlan(p["name"]),
                        "Email": CellPlan(object_value={"objectType": "CONTACT", **p}),
                        "ResourceType": CellPlan(RESOURCE_TYPES[n % 3]),
                        "MaxUnits": CellPlan(1.0),
                        "ResourceGUID": CellPlan(f"{project_id[:8]}-res-{n:04d}"),
                    },
                )
                for n, p in enumerate(people)
            ],
        ),
    ]
    if with_summary:
        sheets.append(
            SheetPlan(
                key="summary",
                name=f"{name} - Summary"[:50],
                columns=[
                    ColumnPlan("Property", "Property", "TEXT_NUMBER", primary=True),
                    ColumnPlan("Value", "Value", "TEXT_NUMBER"),
                ],
                rows=[
                    RowPlan(key=k, cells={"Property": CellPlan(k), "Value": CellPlan(v)})
                    for k, v in (("Project Name", name), ("Tasks", tasks), ("Owner", "PMO"))
                ],
            )
        )
    return Plan(
        workspaces=[
            WorkspacePlan(
                project_id=project_id, project_name=name, name=name, prefix=prefix, sheets=sheets
            )
        ],
        pmo=pmo_sheets(),
    )
