"""Project Online as a migration source: a connection's PWA site read through its provider
(integrations.connections.providers.project_online) and normalised into the seed's entity
model at this boundary.

- Durations and work: the feed's decimal hours become ISO 8601 durations ("PT40H",
  "PT7H30M"); custom fields of kind duration too.
- Hours per day: the project's MinutesPerDay / 60 (ProjectServer), None when it is not known
  (the transform then uses its default of 8).
- ResourceType 0/1/2 -> "Work" / "Material" / "Cost"; ResourceMaxUnits (a percentage in the
  feed) -> units, 1.0 = 100 %; DependencyType 0/1/2/3 -> "FF" / "FS" / "SF" / "SS"; LinkLag in
  tenths of a minute -> `lag_minutes` (negative for a lead); ConstraintType 0-7 -> the seed's
  codes (ASAP, ALAP, MSO, MFO, SNET, SNLT, FNET, FNLT).
- The project summary task (TaskIsProjectSummary, outline level 0) is not a task of the
  Extract: its children's parent is None. Notes, constraint and deadline come from the
  ProjectServer's published tasks (the feed has no notes).
- Assignment units: the feed has none; for a work resource they are work / duration (Work =
  Duration x Units), else None.
- Resources: the enterprise pool's resources this project's assignments use, and its owner.
- Custom fields: every enterprise custom field whose property the feed's $metadata lists
  (named after its display name minus spaces and punctuation); `custom` holds their values by
  that property name; a formula field's kind is "formula" (its values are the computed ones),
  a lookup field's "lookup" with its table's values.

Extraction-stage checks (seed "Validation Rules / During Extraction": required fields, GUID
formats, date formats) become `Issue(stage="extract")`s; a value that fails them is kept out of
the Extract (None) with the offending text in the issue. Values the transform judges (a %
complete of 150, a parent that is not in the project, a link to a missing task, a cycle, notes
over 4,000 characters) are passed on as the source gave them.
"""

import re
from collections.abc import Callable
from datetime import datetime

from integrations.connections import services as connection_services
from integrations.connections.providers import project_online as provider
from integrations.errors import NotFound
from migration.model import (
    CustomField,
    Extract,
    SourceAssignment,
    SourceLink,
    SourceProject,
    SourceResource,
    SourceTask,
)
from migration.sources import Findings, ProjectSummary, iso_hours

SOURCE = "project_online"
RESOURCE_TYPES = {0: "Work", 1: "Material", 2: "Cost"}
DEPENDENCY_TYPES = {0: "FF", 1: "FS", 2: "SF", 3: "SS"}
CONSTRAINT_TYPES = {
    0: "ASAP",
    1: "ALAP",
    2: "MSO",
    3: "MFO",
    4: "SNET",
    5: "SNLT",
    6: "FNET",
    7: "FNLT",
}
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
STEPS = 8  # the progress total of one extraction

Progress = Callable[[str, str, int, int], None]


def property_name(display_name: str) -> str:
    """A custom field's property in the feed: its display name minus spaces and punctuation."""
    return re.sub(r"[^0-9A-Za-z_]", "", display_name)


def list_projects(connection) -> list[ProjectSummary]:
    """The published projects the connection may read, by name."""
    return [
        ProjectSummary(id=p.id, name=p.name, modified=p.modified)
        for p in connection_services.client(connection).call(
            lambda c: provider.list_projects(c.sdk)
        )
    ]


def extract_project(connection, project_id: str, *, progress: Progress | None = None) -> Extract:
    """One project, complete: its tasks, the resources its assignments use, assignments,
    links and custom fields, normalised (see the module's doc). NotFound when the site has
    no published project of that id."""
    if not GUID.fullmatch(project_id or ""):
        raise NotFound(f"{project_id!r} is not a Project Online project id (a GUID).")
    return connection_services.client(connection).call(
        lambda c: _Extraction(c.sdk, project_id.lower(), progress).run()
    )


class _Extraction(Findings):
    def __init__(self, api, project_id: str, progress: Progress | None):
        self.api = api
        self.project_id = project_id
        self.progress = progress
        self.step = 0
        super().__init__()

    def _advance(self) -> None:
        self.step += 1
        if self.progress is not None:
            self.progress(self.project_id, "extract", self.step, STEPS)

    # --- checks -----------------------------------------------------------------------------

    def guid(self, entity: str, entity_id: str, field: str, value, *, required=True) -> str | None:
        if value is None or value == "":
            if required:
                self._issue(
                    "error", entity, entity_id, field, "extract.required.missing", value,
                    f"{entity} {entity_id or '?'} has no {field}.",
                )  # fmt: skip
            return None
        if not GUID.fullmatch(str(value)):
            self._issue(
                "error", entity, entity_id, field, "extract.guid.invalid", value,
                f"{entity} {entity_id or '?'}: {field} is not a GUID.",
            )  # fmt: skip
            return None
        return str(value).lower()

    def date(self, entity: str, entity_id: str, field: str, value) -> str | None:
        if value is None or value == "":
            return None
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self._issue(
                "error", entity, entity_id, field, "extract.date.invalid", value,
                f"{entity} {entity_id}: {field} is not a valid date and time.",
            )  # fmt: skip
            return None
        return str(value)

    def required(self, entity: str, entity_id: str, field: str, value) -> None:
        if value is None or (isinstance(value, str) and not value.strip()):
            self._issue(
                "error", entity, entity_id, field, "extract.required.missing", value,
                f"{entity} {entity_id} has no {field}.",
            )  # fmt: skip

    # --- the read ---------------------------------------------------------------------------

    def run(self) -> Extract:
        api = self.api
        metadata = provider.feed_properties(api)
        self._advance()
        fields, by_entity = self.custom_fields(provider.custom_fields(api), metadata)
        self._advance()
        feed_project = provider.project(
            api,
            self.project_id,
            custom=by_entity["Project"],
            types=metadata.get("Project", {}),
        )
        if feed_project is None:
            raise NotFound(f"Project Online has no published project {self.project_id}.")
        published = provider.published_project(api, self.project_id)
        self._advance()
        hours_per_day = published.minutes_per_day / 60 if published.minutes_per_day else None
        kinds = {f.name: f.kind for f in fields}
        tasks = self.tasks(by_entity["Task"], metadata.get("Task", {}), kinds)
        self._advance()
        assignments, used = self.assignments(metadata.get("Assignment", {}), tasks)
        self._advance()
        if feed_project.owner_id:
            used.add(feed_project.owner_id.lower())
        resources = self.resources(by_entity["Resource"], metadata.get("Resource", {}), used, kinds)
        self._advance()
        links = self.links(hours_per_day)
        self._advance()
        owner = next((r for r in resources if r.id == (feed_project.owner_id or "").lower()), None)
        project = SourceProject(
            id=feed_project.id.lower(),
            name=feed_project.name,
            description=feed_project.description,
            owner=feed_project.owner_name,
            owner_email=owner.email if owner else None,
            start_date=self.date(
                "Project", feed_project.id, "ProjectStartDate", feed_project.start
            ),
            finish_date=self.date(
                "Project", feed_project.id, "ProjectFinishDate", feed_project.finish
            ),
            created_date=self.date(
                "Project", feed_project.id, "ProjectCreatedDate", feed_project.created
            ),
            modified_date=self.date(
                "Project", feed_project.id, "ProjectModifiedDate", feed_project.modified
            ),
            project_type=feed_project.type_name,
            percent_complete=feed_project.percent_complete,
            hours_per_day=hours_per_day,
            custom=self.custom_values(feed_project.custom, kinds),
        )
        self.required("Project", project.id, "ProjectName", project.name)
        self._advance()
        return Extract(
            source=SOURCE,
            project=project,
            tasks=tasks,
            resources=resources,
            assignments=assignments,
            links=links,
            custom_fields=fields,
            issues=self.issues,
        )

    def custom_fields(self, definitions, metadata) -> tuple[list[CustomField], dict[str, list]]:
        fields: list[CustomField] = []
        by_entity: dict[str, list[str]] = {"Project": [], "Task": [], "Resource": []}
        for definition in definitions:
            if definition.entity not in by_entity:
                continue
            name = property_name(definition.name)
            if name not in metadata.get(definition.entity, {}):
                self._issue(
                    "warning", "CustomField", definition.id, "Name", "extract.custom_field.unpublished",
                    definition.name,
                    f"The {definition.entity.lower()} custom field {definition.name!r} is not in the "
                    "reporting feed (not published yet?): its values are not migrated.",
                )  # fmt: skip
                continue
            kind = (
                "formula"
                if definition.formula
                else "lookup"
                if definition.lookup_table
                else definition.kind or "text"
            )
            fields.append(
                CustomField(
                    entity=definition.entity,
                    name=name,
                    display_name=definition.name,
                    kind=kind,
                    formula=definition.formula,
                    lookup_table=definition.lookup_table,
                    lookup_values=list(definition.lookup_values),
                )
            )
            by_entity[definition.entity].append(name)
        return fields, by_entity

    @staticmethod
    def custom_values(values: dict, kinds: dict[str, str]) -> dict:
        # Durations as the rest of the Extract has them; a formula field keeps its computed value.
        return {
            name: iso_hours(value)
            if kinds.get(name) == "duration" and isinstance(value, float)
            else value
            for name, value in values.items()
        }

    def tasks(self, custom: list[str], types: dict, kinds: dict) -> list[SourceTask]:
        feed = list(provider.tasks(self.api, self.project_id, custom=custom, types=types))
        details = {p.id.lower(): p for p in provider.published_tasks(self.api, self.project_id)}
        roots = {t.id.lower() for t in feed if t.is_project_summary}
        tasks = []
        for row in feed:
            if row.is_project_summary:
                continue
            task_id = self.guid("Task", row.id, "TaskId", row.id)
            if task_id is None:
                continue
            parent = self.guid("Task", task_id, "ParentTaskId", row.parent_id, required=False)
            detail = details.get(task_id)
            self.required("Task", task_id, "TaskName", row.name)
            constraint = detail.constraint_type if detail else None
            tasks.append(
                SourceTask(
                    id=task_id,
                    project_id=self.project_id,
                    task_name=row.name,
                    parent_task_id=None if parent in roots else parent,
                    task_index=row.index or 0,
                    outline_level=row.outline_level or 1,
                    start=self.date("Task", task_id, "TaskStartDate", row.start),
                    finish=self.date("Task", task_id, "TaskFinishDate", row.finish),
                    duration=iso_hours(row.duration_hours),
                    work=iso_hours(row.work_hours),
                    actual_work=iso_hours(row.actual_work_hours),
                    percent_complete=row.percent_complete,
                    priority=row.priority,
                    is_milestone=row.is_milestone,
                    is_summary=row.is_summary,
                    is_active=row.is_active,
                    task_notes=detail.notes if detail else None,
                    constraint_type=CONSTRAINT_TYPES.get(constraint),
                    constraint_date=self.date(
                        "Task",
                        task_id,
                        "ConstraintStartEnd",
                        detail.constraint_date if detail else None,
                    ),
                    deadline=self.date(
                        "Task",
                        task_id,
                        "Deadline",
                        (detail.deadline if detail else None) or row.deadline,
                    ),
                    created_date=self.date("Task", task_id, "TaskCreatedDate", row.created),
                    modified_date=self.date("Task", task_id, "TaskModifiedDate", row.modified),
                    custom=self.custom_values(row.custom, kinds),
                )
            )
        tasks.sort(key=lambda t: t.task_index)
        return tasks

    def assignments(self, types: dict, tasks: list[SourceTask]):
        hours = {t.id: _hours(t.duration) for t in tasks}
        result, used = [], set()
        for row in provider.assignments(self.api, self.project_id, types=types):
            assignment_id = self.guid("Assignment", row.id, "AssignmentId", row.id)
            task_id = self.guid("Assignment", row.id, "TaskId", row.task_id)
            resource_id = self.guid("Assignment", row.id, "ResourceId", row.resource_id)
            if assignment_id is None or task_id is None or resource_id is None:
                continue
            used.add(resource_id)
            duration = hours.get(task_id)
            result.append(
                SourceAssignment(
                    id=assignment_id,
                    task_id=task_id,
                    resource_id=resource_id,
                    project_id=self.project_id,
                    start=self.date("Assignment", assignment_id, "AssignmentStartDate", row.start),
                    finish=self.date(
                        "Assignment", assignment_id, "AssignmentFinishDate", row.finish
                    ),
                    work=iso_hours(row.work_hours),
                    actual_work=iso_hours(row.actual_work_hours),
                    remaining_work=iso_hours(row.remaining_work_hours),
                    percent_work_complete=row.percent_work_complete,
                    # Work = Duration x Units: material and cost resources carry no work hours.
                    units=round(row.work_hours / duration, 4)
                    if duration and row.work_hours
                    else None,
                    cost=row.cost,
                )
            )
        return result, used

    def resources(self, custom: list[str], types: dict, used: set[str], kinds: dict):
        resources = []
        for row in provider.resources(self.api, custom=custom, types=types):
            resource_id = (row.id or "").lower()
            if resource_id not in used:
                continue
            self.required("Resource", resource_id, "ResourceName", row.name)
            kind = RESOURCE_TYPES.get(row.type)
            if kind is None:
                self._issue(
                    "warning", "Resource", resource_id, "ResourceType", "extract.resource_type.unknown",
                    row.type, f"Resource {resource_id} has an unknown ResourceType.",
                )  # fmt: skip
            resources.append(
                SourceResource(
                    id=resource_id,
                    name=row.name,
                    email=row.email,
                    resource_type=kind,
                    max_units=(
                        row.max_units_percent / 100 if row.max_units_percent is not None else None
                    ),
                    standard_rate=row.standard_rate,
                    overtime_rate=row.overtime_rate,
                    cost_per_use=row.cost_per_use,
                    base_calendar=row.base_calendar,
                    is_active=row.is_active,
                    is_generic=row.is_generic,
                    department=row.group,
                    code=row.code,
                    created_date=self.date(
                        "Resource", resource_id, "ResourceCreatedDate", row.created
                    ),
                    modified_date=self.date(
                        "Resource", resource_id, "ResourceModifiedDate", row.modified
                    ),
                    custom=self.custom_values(row.custom, kinds),
                )
            )
        return resources

    def links(self, hours_per_day: float | None) -> list[SourceLink]:
        day = (hours_per_day or 8) * 60
        links = []
        for row in provider.task_links(self.api, self.project_id):
            predecessor = self.guid("Link", row.id, "PredecessorTaskId", row.predecessor_id)
            successor = self.guid("Link", row.id, "SuccessorTaskId", row.successor_id)
            kind = DEPENDENCY_TYPES.get(row.dependency_type)
            if kind is None:
                self._issue(
                    "error", "Link", row.id, "DependencyType", "extract.link_type.unknown",
                    row.dependency_type, f"Link {row.id} has an unknown DependencyType.",
                )  # fmt: skip
            if predecessor is None or successor is None or kind is None:
                continue
            minutes = row.lag_tenths_of_minute / 10
            unit = "d" if minutes % day == 0 else "h" if minutes % 60 == 0 else "m"
            links.append(
                SourceLink(
                    predecessor_task_id=predecessor,
                    successor_task_id=successor,
                    type=kind,
                    lag_minutes=minutes,
                    lag_unit=unit,
                )
            )
        return links


def _hours(duration: str | None) -> float | None:
    """Hours of an ISO duration this module wrote ("PT7H30M")."""
    match = re.fullmatch(r"(-?)PT(?:(\d+)H)?(?:(\d+)M)?", duration or "")
    if not match:
        return None
    sign = -1 if match.group(1) else 1
    return sign * (int(match.group(2) or 0) + int(match.group(3) or 0) / 60)
