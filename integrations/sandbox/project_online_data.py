"""The Project Online emulator's data: the enterprise custom fields and lookup tables, the
seeded projects (realistic ones, names that need sanitising, one with deliberate defects) and
the generator of large projects for benchmarks.

Rows are JSON-safe dicts keyed by the real property names. One task row carries both its
ProjectData properties (`TaskId`, `TaskName`, `TaskDuration` in decimal hours...) and its
ProjectServer PublishedTask ones (`Id`, `Name`, `Notes`, `ConstraintType`,
`ConstraintStartEnd`, `Deadline`); each entity set declares which of them it serves. Keys
starting with "_" are the emulator's own bookkeeping and are never served.

# Reference: ../shared/providers/project-online.md §2 (ProjectData Projects / Tasks /
# Assignments / Resources properties; durations and work in decimal hours; percentages 0-100;
# dates without an offset; custom fields as properties named after their display names minus
# spaces and punctuation), §3 (PublishedTask Notes; TaskLinks PredecessorTaskId /
# SuccessorTaskId / DependencyType 0=FF 1=FS 2=SF 3=SS / LinkLag in tenths of a minute;
# MinutesPerDay); learn.microsoft.com/previous-versions/office/project-class/jj232955
# (ConstraintType: 0 ASAP, 1 ALAP, 2 MSO, 3 MFO, 4 SNET, 5 SNLT, 6 FNET, 7 FNLT), jj234563
# (PublishedTask.ConstraintStartEnd), jj236298 (CustomFieldType: COST 9, DATE 4, FINISHDATE 27,
# DURATION 6, FLAG 17, NUMBER 15, TEXT 21); learn.microsoft.com/office/vba/api/
# project.pjresourcetypes (resource type Work 0, Material 1, Cost 2).
"""

import random
import re
import uuid
from datetime import date, timedelta

# --- enumerations --------------------------------------------------------------------------------

FF, FS, SF, SS = 0, 1, 2, 3  # DependencyType
WORK, MATERIAL, COST = 0, 1, 2  # ResourceType
ASAP, ALAP, MSO, MFO, SNET, SNLT, FNET, FNLT = range(8)  # ConstraintType
CF_COST, CF_DATE, CF_DURATION, CF_FLAG, CF_NUMBER, CF_TEXT, CF_FINISHDATE = 9, 4, 6, 17, 15, 21, 27
ENTITY_PROJECT, ENTITY_TASK, ENTITY_RESOURCE = "Project", "Task", "Resource"
MINUTES_PER_DAY = 480
LAG_PER_MINUTE = 10  # LinkLag counts tenths of a minute
NOTES_LIMIT = 4000  # Smartsheet's cell limit: the defect project's notes go past it

_NAMESPACE = uuid.UUID("8d7f7e8a-3f0b-4a52-9a55-7c1f2d0e6b11")


def stable_id(*parts) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def property_name(display_name: str) -> str:
    """A custom field's ProjectData property: its display name without spaces and
    punctuation ("Cost Center #" -> "CostCenter")."""
    return re.sub(r"[^0-9A-Za-z_]", "", display_name)


# --- enterprise custom fields and lookup tables --------------------------------------------------

LOOKUP_TABLES = {
    "Project Phase": ["Initiate", "Plan", "Execute", "Monitor", "Close"],
    "Department": ["Engineering", "Finance", "IT Operations", "Marketing", "PMO"],
    "Risk Level": ["Low", "Medium", "High", "Critical"],
}

# (entity, display name, field type, lookup table, formula)
CUSTOM_FIELDS = (
    (ENTITY_PROJECT, "Project Phase", CF_TEXT, "Project Phase", None),
    (ENTITY_PROJECT, "Budget Code", CF_TEXT, None, None),
    (ENTITY_PROJECT, "Strategic Score", CF_NUMBER, None, None),
    (ENTITY_PROJECT, "Approved Budget", CF_COST, None, None),
    (ENTITY_PROJECT, "Go-Live Date", CF_DATE, None, None),
    (ENTITY_TASK, "Risk Level", CF_TEXT, "Risk Level", None),
    (ENTITY_TASK, "Cost Center #", CF_TEXT, None, None),
    (ENTITY_TASK, "Story Points", CF_NUMBER, None, None),
    (ENTITY_TASK, "Review Date", CF_DATE, None, None),
    (ENTITY_TASK, "Client Visible?", CF_FLAG, None, None),
    (ENTITY_TASK, "Extra Cost", CF_COST, None, None),
    (ENTITY_TASK, "Buffer Duration", CF_DURATION, None, None),
    (ENTITY_TASK, "Work Days Left", CF_NUMBER, None, "[Remaining Duration]/480"),
    (ENTITY_RESOURCE, "Department", CF_TEXT, "Department", None),
    (ENTITY_RESOURCE, "Hourly Band", CF_NUMBER, None, None),
)


def custom_fields() -> list[dict]:
    """The /_api/ProjectServer/CustomFields rows (with hidden links to their entity type and
    lookup table, which $expand follows)."""
    rows = []
    for entity, name, field_type, table, formula in CUSTOM_FIELDS:
        field_id = stable_id("custom field", entity, name)
        rows.append(
            {
                "Id": field_id,
                "Name": name,
                "InternalName": "Custom_" + field_id.replace("-", ""),
                "FieldType": field_type,
                "Formula": formula,
                "Description": "",
                "IsRequired": False,
                "IsMultilineText": False,
                "LookupAllowMultiSelect": False,
                "_entity_type_id": stable_id("entity type", entity),
                "_lookup_table_id": stable_id("lookup table", table) if table else None,
                "_entity": entity,
                "_property": property_name(name),
            }
        )
    return rows


def entity_types() -> list[dict]:
    return [
        {"ID": stable_id("entity type", name), "Name": name}
        for name in (ENTITY_PROJECT, ENTITY_TASK, ENTITY_RESOURCE)
    ]


def lookup_tables() -> tuple[list[dict], list[dict]]:
    tables, entries = [], []
    for name, values in LOOKUP_TABLES.items():
        table_id = stable_id("lookup table", name)
        tables.append({"Id": table_id, "Name": name, "FieldType": CF_TEXT})
        for index, value in enumerate(values):
            entries.append(
                {
                    "Id": stable_id("lookup entry", name, value),
                    "FullValue": value,
                    "Description": "",
                    "SortIndex": index,
                    "_table": table_id,
                }
            )
    return tables, entries


# --- time ---------------------------------------------------------------------------------------


def _working_day(start: date, days: int) -> date:
    """`days` working days (Monday-Friday) after `start`."""
    current = start
    while current.weekday() >= 5:
        current += timedelta(days=1)
    weeks, rest = divmod(days, 5)
    current += timedelta(weeks=weeks)
    while rest:
        current += timedelta(days=1)
        if current.weekday() < 5:
            rest -= 1
    return current


def _stamp(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00"


# --- building projects --------------------------------------------------------------------------


class ProjectBuilder:
    """Rows of one project, built task by task in outline (preorder) order."""

    def __init__(self, *, key: str, name: str, start: date, seed: int, **project):
        self.key = key
        self.id = stable_id(seed, "project", key)
        self.seed = seed
        self.start = start
        self.project = {"name": name, **project}
        self.tasks: list[dict] = []
        self.links: list[dict] = []
        self.assignments: list[dict] = []
        self.parents: list[dict] = []  # the open summary at each outline level
        summary_id = stable_id(seed, "task", key, "summary")
        self.summary = self._task_row(summary_id, name, None, 0, 0)
        self.summary.update(TaskIsProjectSummary=True, TaskIsSummary=True)

    def _task_row(self, task_id, name, parent_id, level, index) -> dict:
        return {
            "ProjectId": self.id,
            "TaskId": task_id,
            "TaskName": name,
            "ParentTaskId": parent_id,
            "TaskStartDate": None,
            "TaskFinishDate": None,
            "TaskDuration": 0.0,
            "TaskDurationString": "0d",
            "TaskPercentCompleted": 0,
            "TaskIsMilestone": False,
            "TaskIsSummary": False,
            "TaskIsProjectSummary": False,
            "TaskIsActive": True,
            "TaskIsManuallyScheduled": False,
            "TaskOutlineLevel": level,
            "TaskOutlineNumber": "0",
            "TaskIndex": index,
            "TaskWBS": "0",
            "TaskPriority": 500,
            "TaskWork": 0.0,
            "TaskActualWork": 0.0,
            "TaskDeadline": None,
            "TaskCreatedDate": _stamp(self.start - timedelta(days=30), 9),
            "TaskModifiedDate": _stamp(self.start - timedelta(days=2), 16),
            # ProjectServer PublishedTask
            "Id": task_id,
            "Name": name,
            "Notes": None,
            "ConstraintType": ASAP,
            "ConstraintStartEnd": None,
            "Deadline": None,
        }

    def task(
        self,
        level: int,
        name: str | None,
        *,
        days: float = 0.0,
        offset: int = 0,
        done: int = 0,
        milestone: bool = False,
        **extra,
    ) -> dict:
        """A task at outline `level` under the last open task of level - 1; leaves get their
        dates from `offset` working days after the project start and `days` of duration."""
        del self.parents[level - 1 :]
        parent = self.parents[-1] if self.parents else self.summary
        index = len(self.tasks) + 1
        row = self._task_row(
            stable_id(self.seed, "task", self.key, index), name, parent["TaskId"], level, index
        )
        begin = _working_day(self.start, offset)
        end = _working_day(begin, max(0, int(days + 0.999) - 1))
        hours = float(days) * MINUTES_PER_DAY / 60
        row.update(
            TaskStartDate=_stamp(begin, 8),
            TaskFinishDate=_stamp(end, 8 if milestone else 17),
            TaskDuration=hours,
            TaskDurationString=f"{days:g}d",
            TaskPercentCompleted=done,
            TaskIsMilestone=milestone,
            TaskPriority=extra.pop("priority", 500),
        )
        for column, value in extra.items():
            row[column] = value
        self.tasks.append(row)
        self.parents.append(row)
        return row

    def link(self, predecessor: dict | str, successor: dict | str, kind: int, lag_minutes: float):
        pred = predecessor if isinstance(predecessor, str) else predecessor["TaskId"]
        succ = successor if isinstance(successor, str) else successor["TaskId"]
        self.links.append(
            {
                "Id": stable_id(self.seed, "link", self.key, pred, succ),
                "PredecessorTaskId": pred,
                "SuccessorTaskId": succ,
                "DependencyType": kind,
                "LinkLag": int(round(lag_minutes * LAG_PER_MINUTE)),
                "_project": self.id,
            }
        )

    def assign(self, task: dict, resource: dict, units: float = 1.0):
        """Work = duration x units for work resources; material and cost resources carry units
        of their own kind and no work hours."""
        work = task["TaskDuration"] * units if resource["ResourceType"] == WORK else 0.0
        cost = work * resource["ResourceStandardRate"] + resource["ResourceCostPerUse"]
        if resource["ResourceType"] == MATERIAL:
            cost = units * resource["ResourceStandardRate"]
        elif resource["ResourceType"] == COST:
            cost = round(units * 1000, 2)
        actual = round(work * task["TaskPercentCompleted"] / 100, 2)
        self.assignments.append(
            {
                "AssignmentId": stable_id(
                    self.seed, "assignment", self.key, task["TaskId"], resource["ResourceId"]
                ),
                "ProjectId": self.id,
                "TaskId": task["TaskId"],
                "ResourceId": resource["ResourceId"],
                "ResourceName": resource["ResourceName"],
                "TaskName": task["TaskName"],
                "AssignmentStartDate": task["TaskStartDate"],
                "AssignmentFinishDate": task["TaskFinishDate"],
                "AssignmentWork": round(work, 2),
                "AssignmentActualWork": actual,
                "AssignmentRemainingWork": round(work - actual, 2),
                "AssignmentPercentWorkCompleted": task["TaskPercentCompleted"],
                "AssignmentCost": round(cost, 2),
                "AssignmentBookingName": "Committed",
                "AssignmentModifiedDate": task["TaskModifiedDate"],
                "_units": units,
            }
        )

    def finish(self) -> dict:
        """Roll summaries up from their children (dates, duration, work, % complete), number
        the outline, and return {"project", "tasks", "links", "assignments"}."""
        work: dict[str, float] = {}
        for assignment in self.assignments:
            work[assignment["TaskId"]] = (
                work.get(assignment["TaskId"], 0.0) + assignment["AssignmentWork"]
            )
        by_id = {row["TaskId"]: row for row in self.tasks}
        by_id[self.summary["TaskId"]] = self.summary
        for row in self.tasks:
            row["TaskWork"] = round(work.get(row["TaskId"], 0.0), 2)
            row["TaskActualWork"] = round(row["TaskWork"] * row["TaskPercentCompleted"] / 100, 2)
        children: dict[str, list[dict]] = {}
        for row in self.tasks:
            children.setdefault(row["ParentTaskId"], []).append(row)
        for row in [*reversed(self.tasks), self.summary]:
            kids = [kid for kid in children.get(row["TaskId"], []) if kid["TaskStartDate"]]
            if not kids:
                continue
            row["TaskIsSummary"] = True
            row["TaskStartDate"] = min(kid["TaskStartDate"] for kid in kids)
            row["TaskFinishDate"] = max(kid["TaskFinishDate"] for kid in kids)
            begin = date.fromisoformat(row["TaskStartDate"][:10])
            end = date.fromisoformat(row["TaskFinishDate"][:10])
            days = sum(
                1 for n in range((end - begin).days + 1) if (begin + timedelta(n)).weekday() < 5
            )
            row["TaskDuration"] = float(days * MINUTES_PER_DAY / 60)
            row["TaskDurationString"] = f"{days}d"
            row["TaskWork"] = round(sum(kid["TaskWork"] for kid in kids), 2)
            total = sum(kid["TaskDuration"] for kid in kids) or 1.0
            done = sum(
                kid["TaskDuration"] * min(100, max(0, kid["TaskPercentCompleted"])) for kid in kids
            )
            row["TaskPercentCompleted"] = int(round(done / total))
        numbers: dict[str, str] = {self.summary["TaskId"]: ""}
        counters: dict[str, int] = {}
        for row in self.tasks:
            parent = row["ParentTaskId"]
            counters[parent] = counters.get(parent, 0) + 1
            prefix = numbers.get(parent, "")
            numbers[row["TaskId"]] = (
                f"{prefix}.{counters[parent]}" if prefix else str(counters[parent])
            )
            row["TaskOutlineNumber"] = row["TaskWBS"] = numbers[row["TaskId"]]
        summary = self.summary
        project = self.project
        modified = _stamp(self.start - timedelta(days=1), 18)
        project_row = {
            "ProjectId": self.id,
            "ProjectName": project["name"],
            "ProjectDescription": project.get("description"),
            "ProjectStartDate": summary["TaskStartDate"],
            "ProjectFinishDate": summary["TaskFinishDate"],
            "ProjectStatusDate": None,
            "ProjectOwnerId": project.get("owner_id"),
            "ProjectOwnerName": project.get("owner_name"),
            "ProjectAuthorName": project.get("author"),
            "ProjectPercentCompleted": summary["TaskPercentCompleted"],
            "ProjectType": 0,
            "EnterpriseProjectTypeName": project.get("type", "Enterprise Project"),
            "ProjectDuration": summary["TaskDuration"],
            "ProjectWork": summary["TaskWork"],
            "ProjectCost": round(sum(a["AssignmentCost"] for a in self.assignments), 2),
            "ProjectCreatedDate": _stamp(self.start - timedelta(days=45), 10),
            "ProjectModifiedDate": modified,
            "ProjectLastPublishedDate": modified,
            # ProjectServer PublishedProject
            "Id": self.id,
            "Name": project["name"],
            "Description": project.get("description"),
            "StartDate": summary["TaskStartDate"],
            "FinishDate": summary["TaskFinishDate"],
            "CreatedDate": _stamp(self.start - timedelta(days=45), 10),
            "LastPublishedDate": modified,
            "MinutesPerDay": project.get("minutes_per_day", MINUTES_PER_DAY),
            **project.get("custom", {}),
        }
        return {
            "project": project_row,
            "tasks": [summary, *self.tasks],
            "links": self.links,
            "assignments": self.assignments,
        }


# --- resources ---------------------------------------------------------------------------------

_FIRST = (
    "Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Gustav", "Hana", "Ivan", "Julia",
    "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
)  # fmt: skip
_LAST = (
    "Andersen", "Brooks", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
    "Ito", "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov",
)  # fmt: skip
_MATERIALS = ("Concrete (m3)", "Copper Cable (m)", "Server Rack", "Laptop", "Fiber Patch Cord")
_COSTS = ("Travel", "Software Licences", "Training Budget", "External Audit")
_GENERIC = ("Developer (Generic)", "Business Analyst (Generic)", "Network Engineer (Generic)")
_DEPARTMENTS = LOOKUP_TABLES["Department"]


def resource_row(
    resource_id: str,
    name: str,
    kind: int,
    *,
    email: str | None = None,
    generic: bool = False,
    max_units: float = 100.0,
    rate: float = 0.0,
    cost_per_use: float = 0.0,
    department: str | None = None,
    band: int | None = None,
) -> dict:
    initials = "".join(word[0] for word in name.split()[:2]).upper()
    return {
        "ResourceId": resource_id,
        "ResourceName": name,
        "ResourceEmailAddress": email,
        "ResourceNTAccount": f"i:0#.f|membership|{email}" if email else None,
        "ResourceType": kind,
        "ResourceIsActive": True,
        "ResourceIsGeneric": generic,
        "ResourceInitials": initials,
        "ResourceGroup": department,
        "ResourceMaxUnits": max_units,
        "ResourceStandardRate": rate,
        "ResourceOvertimeRate": round(rate * 1.5, 2),
        "ResourceCostPerUse": cost_per_use,
        "ResourceBaseCalendar": "Standard" if kind == WORK else None,
        "ResourceCode": None,
        "ResourceCreatedDate": "2023-01-09T09:00:00",
        "ResourceModifiedDate": "2024-01-08T09:00:00",
        "Department": department,
        "HourlyBand": band,
    }


def generate_resources(count: int, *, seed: int, key: str, rng: random.Random) -> list[dict]:
    """`count` resources: mostly people (work), a few generic roles, materials and costs."""
    rows = []
    for index in range(count):
        resource_id = stable_id(seed, "resource", key, index)
        roll = index % 20
        if roll == 17:
            name = f"{_MATERIALS[index % len(_MATERIALS)]} {index}"
            rows.append(
                resource_row(resource_id, name, MATERIAL, rate=round(5 + rng.random() * 95, 2))
            )
        elif roll == 18:
            name = f"{_COSTS[index % len(_COSTS)]} {index}"
            rows.append(resource_row(resource_id, name, COST))
        elif roll == 19:
            name = f"{_GENERIC[index % len(_GENERIC)]} {index}"
            rows.append(
                resource_row(resource_id, name, WORK, generic=True, max_units=300.0, rate=90.0)
            )
        else:
            first, last = _FIRST[index % len(_FIRST)], _LAST[(index // len(_FIRST)) % len(_LAST)]
            name = f"{first} {last}" + (f" {index}" if index >= len(_FIRST) * len(_LAST) else "")
            email = f"{first}.{last}{index}@contoso.example".lower()
            rows.append(
                resource_row(
                    resource_id,
                    name,
                    WORK,
                    email=email,
                    max_units=rng.choice((50.0, 100.0, 100.0, 100.0, 150.0)),
                    rate=float(rng.choice((65, 85, 110, 140))),
                    department=_DEPARTMENTS[index % len(_DEPARTMENTS)],
                    band=1 + index % 5,
                )
            )
    return rows


# --- the seeded projects --------------------------------------------------------------------------

LONG_NAME = (
    "Enterprise Resource Planning Platform Consolidation and Regional Data Centre Modernisation "
    "Programme - Wave 2"
)  # 108 characters: the workspace name is cut to 97 + "..."


def _named_resources(seed: int) -> dict[str, dict]:
    def person(key, name, email, department, rate, band, max_units=100.0):
        return resource_row(
            stable_id(seed, "resource", key), name, WORK, email=email, max_units=max_units,
            rate=rate, department=department, band=band,
        )  # fmt: skip

    return {
        "pm": person("pm", "Sarah Mitchell", "sarah.mitchell@contoso.example", "PMO", 120.0, 5),
        "dev": person("dev", "Raj Patel", "raj.patel@contoso.example", "Engineering", 95.0, 3),
        "designer": person(
            "designer",
            "Emma Lindqvist",
            "emma.lindqvist@contoso.example",
            "Marketing",
            85.0,
            2,
            50.0,
        ),  # fmt: skip
        "ops": person(
            "ops", "Tomás Álvarez", "tomas.alvarez@contoso.example", "IT Operations", 90.0, 3, 150.0
        ),  # fmt: skip
        "analyst": person(
            "analyst", "Grace O'Neill", "grace.oneill@contoso.example", "Finance", 80.0, 2
        ),  # fmt: skip
        "generic": resource_row(
            stable_id(seed, "resource", "generic"),
            "Senior Developer (Generic)",
            WORK,
            generic=True,
            max_units=400.0,
            rate=100.0,
            department="Engineering",
        ),  # fmt: skip
        "server": resource_row(
            stable_id(seed, "resource", "server"),
            "Rack Server",
            MATERIAL,
            rate=4200.0,
        ),  # fmt: skip
        "cable": resource_row(
            stable_id(seed, "resource", "cable"),
            "Cat6 Cable (m)",
            MATERIAL,
            rate=1.8,
        ),  # fmt: skip
        "travel": resource_row(stable_id(seed, "resource", "travel"), "Travel Expenses", COST),
        "licences": resource_row(
            stable_id(seed, "resource", "licences"),
            "Software Licences",
            COST,
        ),  # fmt: skip
    }


def _website(seed: int, people: dict[str, dict]) -> dict:
    """A realistic project: a six-level outline, milestones, all four link types with leads
    and lags, every kind of resource, units, and every kind of custom field."""
    b = ProjectBuilder(
        key="website",
        name="Website Redesign 2024",
        start=date(2024, 3, 4),
        seed=seed,
        description="Redesign of the public website and customer portal.",
        owner_id=people["pm"]["ResourceId"],
        owner_name=people["pm"]["ResourceName"],
        author="i:0#.f|membership|sarah.mitchell@contoso.example",
        custom={
            "ProjectPhase": "Execute",
            "BudgetCode": "MKT-2024-017",
            "StrategicScore": 82.5,
            "ApprovedBudget": 185000.0,
            "GoLiveDate": "2024-06-28T00:00:00",
        },
    )
    t = {}
    t["init"] = b.task(1, "Initiation")
    t["charter"] = b.task(2, "Project charter", days=3, offset=0, done=100, **{
        "RiskLevel": "Low", "CostCenter": "CC-1001", "StoryPoints": 3.0,
        "ClientVisible": True, "Notes": "Signed off by the steering committee.",
    })  # fmt: skip
    t["kickoff"] = b.task(2, "Kick-off complete", offset=3, done=100, milestone=True)
    t["design"] = b.task(1, "Design")
    t["ux"] = b.task(2, "UX research")
    t["interviews"] = b.task(3, "Stakeholder interviews", days=4, offset=3, done=100)
    t["personas"] = b.task(3, "Personas and journeys")
    t["draft"] = b.task(4, "Draft personas")
    t["workshop"] = b.task(5, "Persona workshop", days=1, offset=7, done=100, priority=800)
    t["write"] = b.task(5, "Write persona sheets")
    t["sheets"] = b.task(6, "Persona sheet review", days=2, offset=8, done=60, **{
        "ReviewDate": "2024-03-15T00:00:00", "ExtraCost": 1250.0, "BufferDuration": 8.0,
        "WorkDaysLeft": 0.4,
    })  # fmt: skip
    t["visual"] = b.task(2, "Visual design", days=8, offset=10, done=40, priority=600, **{
        "RiskLevel": "Medium", "ConstraintType": SNET, "ConstraintStartEnd": "2024-03-18T08:00:00",
    })  # fmt: skip
    t["signoff"] = b.task(2, "Design sign-off", offset=18, milestone=True, **{
        "TaskDeadline": "2024-04-05T17:00:00", "Deadline": "2024-04-05T17:00:00",
    })  # fmt: skip
    t["build"] = b.task(1, "Build")
    t["frontend"] = b.task(2, "Front end", days=15, offset=18, done=10, priority=1000, **{
        "StoryPoints": 40.0, "RiskLevel": "High", "WorkDaysLeft": 13.5,
    })  # fmt: skip
    t["backend"] = b.task(2, "Back end and CMS", days=15, offset=20, priority=900)
    t["infra"] = b.task(2, "Hosting and infrastructure", days=5, offset=22, priority=200, **{
        "ConstraintType": MFO, "ConstraintStartEnd": "2024-04-12T17:00:00",
    })  # fmt: skip
    t["test"] = b.task(1, "Test and launch")
    t["uat"] = b.task(2, "User acceptance testing", days=5, offset=35, priority=0, **{
        "Notes": "Test scripts live in the QA site.\nTwo rounds planned.",
    })  # fmt: skip
    t["fixes"] = b.task(2, "Fix defects", days=4, offset=38, priority=400)
    t["golive"] = b.task(2, "Go live", offset=42, milestone=True, priority=1000, **{
        "TaskDeadline": "2024-05-03T17:00:00", "Deadline": "2024-05-03T17:00:00",
    })  # fmt: skip
    b.link(t["charter"], t["kickoff"], FS, 0)
    b.link(t["kickoff"], t["interviews"], FS, 0)
    b.link(t["interviews"], t["workshop"], FS, 2 * MINUTES_PER_DAY)  # +2d lag
    b.link(t["workshop"], t["sheets"], SS, 240)  # SS +4h
    b.link(t["sheets"], t["visual"], FF, -MINUTES_PER_DAY)  # FF with a 1d lead
    b.link(t["visual"], t["signoff"], FS, 0)
    b.link(t["signoff"], t["frontend"], FS, 0)
    b.link(t["frontend"], t["backend"], SS, 2 * MINUTES_PER_DAY)
    b.link(t["backend"], t["infra"], SF, -3 * MINUTES_PER_DAY)  # SF with a 3d lead
    b.link(t["backend"], t["uat"], FS, 5 * MINUTES_PER_DAY * 2)  # +2w
    b.link(t["uat"], t["fixes"], SS, MINUTES_PER_DAY * 2)
    b.link(t["fixes"], t["golive"], FF, 0)
    b.assign(t["charter"], people["pm"], 1.0)
    b.assign(t["interviews"], people["analyst"], 0.5)
    b.assign(t["interviews"], people["designer"], 0.5)
    b.assign(t["workshop"], people["designer"], 1.0)
    b.assign(t["sheets"], people["designer"], 0.5)
    b.assign(t["visual"], people["designer"], 1.0)
    b.assign(t["frontend"], people["dev"], 1.0)
    b.assign(t["frontend"], people["generic"], 2.0)
    b.assign(t["backend"], people["dev"], 0.5)
    b.assign(t["infra"], people["ops"], 1.5)
    b.assign(t["infra"], people["server"], 4)
    b.assign(t["infra"], people["cable"], 250)
    b.assign(t["uat"], people["analyst"], 1.0)
    b.assign(t["uat"], people["travel"], 1.2)
    b.assign(t["fixes"], people["dev"], 1.0)
    b.assign(t["frontend"], people["licences"], 3.5)
    return b.finish()


def _small(seed: int, key: str, name: str, people: dict[str, dict], start: date) -> dict:
    b = ProjectBuilder(
        key=key,
        name=name,
        start=start,
        seed=seed,
        owner_id=people["analyst"]["ResourceId"],
        owner_name=people["analyst"]["ResourceName"],
        custom={"ProjectPhase": "Plan", "StrategicScore": 40.0},
    )
    b.task(1, "Planning")
    first = b.task(2, "Gather requirements", days=5, offset=0, done=20)
    second = b.task(2, "Review budget", days=3, offset=5)
    end = b.task(1, "Plan approved", offset=8, milestone=True)
    b.link(first, second, FS, 0)
    b.link(second, end, FS, MINUTES_PER_DAY / 2)
    b.assign(first, people["analyst"], 1.0)
    b.assign(second, people["pm"], 0.25)
    return b.finish()


def _defects(seed: int, people: dict[str, dict]) -> dict:
    """A project whose data breaks the spec's validation rules on purpose: a task without a
    name, a task whose parent is not in the project, a % complete of 150, notes over 4,000
    characters, a link to a task that does not exist, a circular dependency, a bad date."""
    b = ProjectBuilder(
        key="defects",
        name="Data Centre Move (Defects)",
        start=date(2024, 9, 2),
        seed=seed,
        owner_id=people["ops"]["ResourceId"],
        owner_name=people["ops"]["ResourceName"],
        minutes_per_day=450,  # a 7.5-hour calendar
    )
    b.task(1, "Preparation")
    unnamed = b.task(2, None, days=2, offset=0)
    bad_percent = b.task(2, "Inventory racks", days=3, offset=2, done=150)
    notes = ("Cabling plan. " * 320).strip()  # 4,479 characters
    long_notes = b.task(2, "Cabling plan", days=2, offset=5, Notes=notes)
    orphan = b.task(2, "Orphaned task", days=1, offset=7)
    orphan["ParentTaskId"] = stable_id(seed, "task", "defects", "missing parent")
    bad_date = b.task(2, "Book the movers", days=1, offset=8)
    cycle_a = b.task(1, "Move servers", days=2, offset=9)
    cycle_b = b.task(1, "Verify services", days=1, offset=11)
    b.link(unnamed, bad_percent, FS, 0)
    b.link(long_notes, stable_id(seed, "task", "defects", "missing task"), FS, 0)
    b.link(cycle_a, cycle_b, FS, 0)
    b.link(cycle_b, cycle_a, FS, 0)
    b.assign(bad_percent, people["ops"], 1.0)
    result = b.finish()
    bad_date["TaskStartDate"] = "2024-02-30T08:00:00"
    return result


def seeded(seed: int) -> dict:
    """The whole seeded PWA: {"projects", "tasks", "links", "assignments", "resources"}."""
    people = _named_resources(seed)
    rng = random.Random(seed)
    pool = generate_resources(24, seed=seed, key="pool", rng=rng)
    projects = [
        _website(seed, people),
        _small(seed, "q1q2", "Q1/Q2 Planning & Execution", people, date(2024, 1, 8)),
        _small(seed, "launch", "Project: New Product Launch", people, date(2024, 5, 6)),
        _small(seed, "long", LONG_NAME, people, date(2024, 7, 1)),
        _defects(seed, people),
    ]
    data = {"projects": [], "tasks": [], "links": [], "assignments": []}
    for project in projects:
        data["projects"].append(project["project"])
        for key in ("tasks", "links", "assignments"):
            data[key].extend(project[key])
    data["resources"] = [*people.values(), *pool]
    return data


# --- the generator ---------------------------------------------------------------------------------


def generate(
    *,
    seed: int,
    name: str,
    tasks: int,
    depth: int,
    resources: int,
    assignments: int,
    links: int,
    start: date = date(2025, 1, 6),
) -> dict:
    """One large project: `tasks` tasks (the project summary not counted) in an outline
    `depth` levels deep, `resources` new enterprise resources, `assignments` distinct
    (task, resource) pairs on leaf tasks and `links` acyclic links of every type with leads
    and lags. The same arguments give the same rows."""
    if tasks < depth or depth < 1:
        raise ValueError("tasks must be at least depth, and depth at least 1")
    rng = random.Random(seed)
    draw = rng.random
    key = f"generated-{seed}-{name}"
    b = ProjectBuilder(key=key, name=name, start=start, seed=seed)
    pool = generate_resources(resources, seed=seed, key=key, rng=rng)
    # A real work breakdown's shape: top-level phases, each summary task with 8-16 children of
    # which about one in five is a summary itself (the first child of the first phase is, down
    # to `depth`, so the outline reaches it). A summary has ~12 children, so ~8 % of the tasks
    # are summaries, as in the schedules mpxj's test files hold.
    levels: list[int] = []

    def grow(level: int, forced: bool) -> None:
        for index in range(rng.randint(8, 16)):
            if len(levels) >= tasks:
                return
            levels.append(level + 1)
            if level + 1 < depth and ((index == 0 and forced) or draw() < 0.2):
                grow(level + 1, forced and index == 0)

    while len(levels) < tasks:
        levels.append(1)
        if depth > 1:
            grow(1, not levels[1:])
    # A task is a leaf when the next one is not below it.
    offset = 0
    rows = []
    for index, level in enumerate(levels):
        leaf = index + 1 == len(levels) or levels[index + 1] <= level
        if leaf:
            milestone = draw() < 0.04
            days = 0 if milestone else 1 + int(draw() * 10)
            row = b.task(
                level,
                f"Task {index + 1}",
                days=days,
                offset=offset,
                done=int(draw() * 5) * 25,
                milestone=milestone,
                priority=(0, 200, 400, 500, 500, 600, 800, 1000)[int(draw() * 8)],
            )
            offset += int(draw() * 3)
        else:
            row = b.task(level, f"Phase {index + 1}")
        rows.append((row, leaf))
    leaves = [row for row, leaf in rows if leaf]
    workers = [r for r in pool if r["ResourceType"] == WORK] or pool
    others = [r for r in pool if r["ResourceType"] != WORK]
    if assignments > len(leaves) * len(pool):
        raise ValueError("more assignments than (leaf task, resource) pairs")
    taken: set[tuple[int, int]] = set()
    while len(b.assignments) < assignments:
        task_index = int(draw() * len(leaves))
        use_other = others and draw() < 0.08
        group = others if use_other else workers
        resource_index = int(draw() * len(group))
        resource = group[resource_index]
        pair = (task_index, id(resource))
        if pair in taken:
            continue
        taken.add(pair)
        units = (
            (0.25, 0.5, 1.0, 1.0, 1.0, 1.5)[int(draw() * 6)]
            if not use_other
            else 1 + int(draw() * 20)
        )
        b.assign(leaves[task_index], resource, units)
    if links > len(leaves) * (len(leaves) - 1) // 2:
        raise ValueError("more links than pairs of leaf tasks")
    linked: set[tuple[int, int]] = set()
    kinds = (FS, FS, FS, FS, SS, FF, SF)
    while len(b.links) < links:
        first = int(draw() * len(leaves))
        second = min(len(leaves) - 1, first + 1 + int(draw() * 20))
        if first == second or (first, second) in linked:
            first, second = int(draw() * len(leaves)), int(draw() * len(leaves))
            if first == second:
                continue
            first, second = min(first, second), max(first, second)
            if (first, second) in linked:
                continue
        linked.add((first, second))
        roll = draw()
        lag = 0 if roll < 0.6 else (int(draw() * 16) - 6) * 60  # -6h .. +9h
        b.link(leaves[first], leaves[second], kinds[int(draw() * len(kinds))], lag)
    result = b.finish()
    result["resources"] = pool
    return result
