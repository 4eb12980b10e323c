"""Extracts for the migration's tests and bench: small hand-made projects (the seed's own
examples) and a generated one of any size. Plain functions over migration.model, no database.

Ids are GUIDs derived from a name (`guid("task", 3)`), so a test can name the row it expects."""

from __future__ import annotations

import random
import uuid

from migration.model import (
    CustomField,
    Extract,
    SourceAssignment,
    SourceLink,
    SourceProject,
    SourceResource,
    SourceTask,
)

NAMESPACE = uuid.UUID("6f1c1d2e-1b7a-4c55-9a59-2f3f2f1f0a01")


def guid(kind: str, n: int | str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{n}"))


PROJECT_ID = guid("project", 1)


def project(**overrides) -> SourceProject:
    fields = {
        "id": PROJECT_ID,
        "name": "Website Redesign",
        "description": "The public site, rebuilt",
        "owner": "John Doe",
        "owner_email": "john.doe@example.com",
        "start_date": "2024-03-01T08:00:00Z",
        "finish_date": "2024-06-28T17:00:00Z",
        "created_date": "2024-02-01T10:00:00Z",
        "modified_date": "2024-03-15T09:00:00Z",
        "project_status": "Active",
        "priority": 500,
        "percent_complete": 45,
    }
    fields.update(overrides)
    return SourceProject(**fields)


def task(
    n: int, name: str | None = None, *, project_id: str = PROJECT_ID, **overrides
) -> SourceTask:
    fields = {
        "id": guid("task", n),
        "project_id": project_id,
        "task_name": f"Task {n}" if name is None else name,
        "task_index": n,
        "outline_level": 1,
        "start": "2024-03-15T09:00:00Z",
        "finish": "2024-03-22T17:00:00Z",
        "duration": "PT40H",
        "work": "PT80H",
        "actual_work": "PT0H",
        "percent_complete": 0,
        "priority": 500,
    }
    fields.update(overrides)
    return SourceTask(**fields)


def outline(*rows: tuple[str, int], **overrides) -> list[SourceTask]:
    """Tasks from (name, outline level) pairs in task index order, without ParentTaskId (the
    hierarchy comes from the levels, as in the seed's "Hierarchy Handling" example)."""
    return [
        task(index, name, outline_level=level, **overrides)
        for index, (name, level) in enumerate(rows, start=1)
    ]


def resource(n: int, name: str, email: str | None = None, **overrides) -> SourceResource:
    fields = {
        "id": guid("resource", n),
        "name": name,
        "email": email,
        "resource_type": "Work",
        "max_units": 1.0,
        "is_active": True,
    }
    fields.update(overrides)
    return SourceResource(**fields)


def assignment(task_n: int, resource_n: int, **overrides) -> SourceAssignment:
    fields = {
        "id": guid("assignment", f"{task_n}:{resource_n}"),
        "task_id": guid("task", task_n),
        "resource_id": guid("resource", resource_n),
        "project_id": PROJECT_ID,
    }
    fields.update(overrides)
    return SourceAssignment(**fields)


def link(pred_n: int, succ_n: int, type_: str = "FS", lag_minutes: float = 0.0) -> SourceLink:
    return SourceLink(guid("task", pred_n), guid("task", succ_n), type_, lag_minutes)


def extract(
    *,
    tasks: list[SourceTask] | None = None,
    resources: list[SourceResource] | None = None,
    assignments: list[SourceAssignment] | None = None,
    links: list[SourceLink] | None = None,
    custom_fields: list[CustomField] | None = None,
    source: str = "project_online",
    **project_overrides,
) -> Extract:
    return Extract(
        source=source,
        project=project(**project_overrides),
        tasks=tasks if tasks is not None else outline(("Task 1", 1), ("Task 2", 1)),
        resources=resources or [],
        assignments=assignments or [],
        links=links or [],
        custom_fields=custom_fields or [],
    )


def generated(
    *,
    tasks: int = 5000,
    depth: int = 6,
    resources: int = 200,
    assignments: int = 8000,
    links: int = 4000,
    seed: int = 17,
    name: str = "Generated Programme",
) -> Extract:
    """A large, valid project: `tasks` tasks in an outline `depth` deep, `resources` people
    and things, `assignments` assignments and `links` forward links (no circle)."""
    rng = random.Random(seed)
    project_id = guid("project", name)
    out_tasks, level = [], 1
    for n in range(1, tasks + 1):
        level = rng.randint(1, min(depth, level + 1)) if n > 1 else 1
        out_tasks.append(
            SourceTask(
                id=guid("task", f"{name}:{n}"),
                project_id=project_id,
                task_name=f"Task {n}",
                task_index=n,
                outline_level=level,
                start="2024-03-15T09:00:00Z",
                finish="2024-03-22T17:00:00-05:00",
                duration=f"PT{rng.randint(1, 80)}H",
                work=f"PT{rng.randint(1, 160)}H30M",
                actual_work="PT0H",
                percent_complete=rng.choice([0, 25, 50, 100]),
                priority=rng.choice([0, 200, 400, 500, 600, 800, 1000]),
                task_notes="Notes " * rng.randint(0, 20),
                constraint_type="ASAP",
                custom={"TaskText1": rng.choice(["Spec", "Design", "Code", "Test"])},
            )
        )
    kinds = ["Work"] * 8 + ["Material", "Cost"]
    out_resources = [
        SourceResource(
            id=guid("resource", f"{name}:{n}"),
            name=f"Resource {n}",
            email=f"resource{n}@example.com",
            resource_type=kinds[n % len(kinds)],
            max_units=rng.choice([0.5, 1.0, 1.5]),
            standard_rate=75.0,
            department=rng.choice(["Engineering", "Marketing", "Operations"]),
        )
        for n in range(1, resources + 1)
    ]
    out_assignments = []
    for n in range(assignments):
        t = out_tasks[n % tasks]
        r = out_resources[rng.randrange(resources)]
        out_assignments.append(
            SourceAssignment(id=guid("assignment", f"{name}:{n}"), task_id=t.id,
                             resource_id=r.id, project_id=project_id)
        )  # fmt: skip
    out_links, pairs = [], set()
    while len(out_links) < min(links, tasks - 1):
        a = rng.randrange(tasks - 1)
        b = rng.randrange(a + 1, min(tasks, a + 50))
        if (a, b) in pairs:
            continue
        pairs.add((a, b))
        out_links.append(
            SourceLink(out_tasks[a].id, out_tasks[b].id, rng.choice(["FS", "SS", "FF"]),
                       rng.choice([0.0, 480.0, -240.0]))
        )  # fmt: skip
    return Extract(
        source="project_online",
        project=SourceProject(id=project_id, name=name, hours_per_day=None),
        tasks=out_tasks,
        resources=out_resources,
        assignments=out_assignments,
        links=out_links,
        custom_fields=[CustomField("Task", "TaskText1", "Deliverable Type", "text")],
    )
