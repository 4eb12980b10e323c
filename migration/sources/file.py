"""MS Project files as a migration source: MPP (Project 98-2019+), MSPDI XML, MPX, XER and
the other formats mpxj's universal reader knows, read in a JVM (PyPI `mpxj` through JPype) and
normalised into the seed's entity model at this boundary, for the same transform, dry run,
report and load as Project Online.

- The JVM: started lazily by the first read, once per process, and reused (a JVM cannot be
  restarted). Never at import and never in a web request: the Celery worker reads the files
  (a prefork child starts its own on its first file, after the fork).
- Ids: the file's GUIDs where the format has them (MPP 14, MSPDI from Project 2010 on), else
  derived from the file's name and the entity's UniqueID (uuid5), so a re-upload of a changed
  file maps onto the same rows. `name` is the file's name as the user knows it (an upload's
  original name, not the stored path's).
- The project summary task (UniqueID 0) is not a task: its children's parent is None. Blank
  rows (mpxj's null tasks) are skipped with a warning. Resource 0 without a name is MS Project's
  placeholder ("Unnamed Resource"), not a resource; so are the unresourced assignments mpxj
  creates for tasks without a resource.
- Dates: ISO 8601 local date-times as the file holds them (no offset). Durations and work:
  hours by the file's own minutes per day / week (Duration.convertUnits), as ISO 8601
  durations ("PT40H"). Lags: working minutes (negative for a lead) with the unit the file
  displays them in ("m", "h", "d", "w", "mo", "y"; elapsed units prefixed "e"); a lag in
  percent of the predecessor's duration becomes those minutes, with a warning.
- Hours per day: the file's (Project > Options > Calendar > Hours per day, i.e. its minutes
  per day / 60), unless the caller gives one; the transform's default of 8 only when the file
  has none.
- Rates: per hour, converted by the file's day / week / month (a Work resource's 80/d with
  8-hour days is 10). Units: 1.0 = 100 %.
- Custom fields: Text1-30, Number1-20, Date1-10, Flag1-20, Cost1-10, Duration1-10,
  Start/Finish1-10, Outline Code1-10 and the enterprise ones, of tasks and resources, when the
  file gives them an alias, a value list or a value. `name` is "Task"/"Resource" + the field
  ("TaskText1", "ResourceNumber3"), `display_name` the alias, else MS Project's own name
  ("Text1"); `custom` holds only values that are not the field's default (empty text, 0,
  false, no date), as MS Project shows them.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from integrations.errors import ApplicationError
from migration.model import (
    CustomField,
    Extract,
    SourceAssignment,
    SourceLink,
    SourceProject,
    SourceResource,
    SourceTask,
)
from migration.sources import Findings, iso_hours

SOURCE = "file"
# Ids derived from a file's name and UniqueIDs live in their own namespace.
ID_NAMESPACE = uuid.UUID("6f1c8a52-4f0e-5b7a-9d43-2a1e7c0b9f18")
RESOURCE_TYPES = {"WORK": "Work", "MATERIAL": "Material", "COST": "Cost"}
RELATION_TYPES = {
    "FINISH_START": "FS",
    "START_START": "SS",
    "FINISH_FINISH": "FF",
    "START_FINISH": "SF",
}
CONSTRAINT_TYPES = {
    "AS_SOON_AS_POSSIBLE": "ASAP",
    "AS_LATE_AS_POSSIBLE": "ALAP",
    "MUST_START_ON": "MSO",
    "MUST_FINISH_ON": "MFO",
    "START_NO_EARLIER_THAN": "SNET",
    "START_NO_LATER_THAN": "SNLT",
    "FINISH_NO_EARLIER_THAN": "FNET",
    "FINISH_NO_LATER_THAN": "FNLT",
    # Primavera's (XER, PMXML): the closest MS Project constraint.
    "START_ON": "MSO",
    "FINISH_ON": "MFO",
    "MANDATORY_START": "MSO",
    "MANDATORY_FINISH": "MFO",
}
TASK_TYPES = {
    "FIXED_DURATION": "Fixed Duration",
    "FIXED_WORK": "Fixed Work",
    "FIXED_UNITS": "Fixed Units",
}
LAG_UNITS = {
    "MINUTES": "m",
    "HOURS": "h",
    "DAYS": "d",
    "WEEKS": "w",
    "MONTHS": "mo",
    "YEARS": "y",
    "ELAPSED_MINUTES": "em",
    "ELAPSED_HOURS": "eh",
    "ELAPSED_DAYS": "ed",
    "ELAPSED_WEEKS": "ew",
    "ELAPSED_MONTHS": "emo",
    "ELAPSED_YEARS": "ey",
    "PERCENT": "%",
    "ELAPSED_PERCENT": "e%",
}
CUSTOM_FIELD = re.compile(
    r"(?:ENTERPRISE_)?(?:TEXT|NUMBER|DATE|FLAG|COST|DURATION|START|FINISH|OUTLINE_CODE)\d+"
)
KINDS = {  # mpxj DataType -> CustomField.kind
    "STRING": "text",
    "NUMERIC": "number",
    "INTEGER": "number",
    "SHORT": "number",
    "CURRENCY": "cost",
    "DATE": "date",
    "BOOLEAN": "flag",
    "DURATION": "duration",
}

Progress = Callable[[str, str, int, int], None]


class FileUnreadable(ApplicationError):
    """A file that is not a project mpxj can read: empty, corrupt, truncated, password
    protected or of a format it does not know. The message names the file and the reason."""

    code = "file_unreadable"

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}", details={"file": name, "reason": reason})
        self.file = name
        self.reason = reason


# --- the JVM -------------------------------------------------------------------------------------

_jvm_lock = threading.Lock()
# A worker reads a file now and then, each a burst of a few seconds: the client compiler alone
# (no C2) halves a 5,000-task file's first read (8 s -> 4 s of CPU) and costs its later reads
# nothing measurable; the serial collector keeps GC threads off the cores the worker shares.
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def start_jvm() -> None:
    """Start this process's JVM with mpxj's jars on its class path, once. Later calls return at
    once; a JVM cannot be restarted, so nothing here ever shuts it down."""
    import jpype

    if jpype.isJVMStarted():
        return
    with _jvm_lock:
        if jpype.isJVMStarted():
            return
        import mpxj  # noqa: F401  (adds its jars to the class path)

        try:
            # mpxj logs through Log4j's API without a provider: the simple one, errors only,
            # instead of a "could not find a logging provider" line on every start.
            jpype.startJVM(
                *JVM_OPTIONS,
                "-Dlog4j2.loggerContextFactory="
                "org.apache.logging.log4j.simple.SimpleLoggerContextFactory",
                "-Dorg.apache.logging.log4j.simplelog.StatusLogger.level=OFF",
                convertStrings=True,  # one crossing per text instead of two
                # Python keeps its own SIGINT handling (a worker's warm shutdown), not the
                # JVM's, which would interrupt the reading thread instead.
                interrupt=False,
            )
        except (OSError, jpype.JVMNotFoundException) as error:
            raise ApplicationError(
                f"MS Project files need a Java runtime, which this host lacks ({error}).",
                code="java_missing",
            ) from error


def _java():
    start_jvm()
    from org.mpxj import TimeUnit
    from org.mpxj.reader import UniversalProjectReader

    return UniversalProjectReader, TimeUnit


# --- formats -------------------------------------------------------------------------------------


def detect_format(path: str | Path) -> str | None:
    """The format mpxj's universal reader recognises in the file ("MPP", "MSPDI", "MPX",
    "XER", ...), or None when it knows none. Reads the file's head only."""
    reader_class, _ = _java()
    proxy = reader_class().getProjectReaderProxy(str(path))
    try:
        if proxy is None:
            return None
        reader = proxy.getProjectReader()
        return _format_name(str(reader.getClass().getSimpleName())) if reader else None
    finally:
        if proxy is not None:
            proxy.close()


def _format_name(reader_class: str) -> str:
    name = reader_class.removesuffix("Reader")
    return {"MSPDI": "MSPDI", "PrimaveraXER": "XER", "PrimaveraPMFile": "PMXML"}.get(
        name, name.upper()
    )


# --- the read ------------------------------------------------------------------------------------


def read_file(
    path: str | Path,
    *,
    name: str | None = None,
    hours_per_day: float | None = None,
    progress: Progress | None = None,
) -> Extract:
    """One MS Project file as an Extract (see the module's doc). `name`: the file's name as the
    user knows it (ids derive from it; default: the path's); `hours_per_day` wins over the
    file's. FileUnreadable when the file cannot be read as a project."""
    path = Path(path)
    name = name or path.name
    project = _open(path, name)
    return _Extraction(project, name, hours_per_day, progress).run()


OLE2 = bytes.fromhex("d0cf11e0a1b11ae1")  # the compound-document signature MPP / MPT files have


def _open(path: Path, name: str):
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise FileUnreadable(name, "the file does not exist.") from None
    if size == 0:
        raise FileUnreadable(name, "the file is empty.")
    reader_class, _ = _java()
    import jpype

    try:
        project = reader_class().read(str(path))
    except jpype.JException as error:
        kind = "XML project" if _xml_cut_short(path) else "project"
        raise FileUnreadable(name, _reason(error, kind, truncated=kind == "XML project")) from None
    if project is not None:
        return project
    with path.open("rb") as stream:
        head = stream.read(512)
    if head.startswith(OLE2):
        # The universal reader only says "not recognised" for a damaged MPP: the MPP reader
        # itself says why (a truncated file's blocks past its end, a password).
        from org.mpxj.mpp import MPPReader

        try:
            MPPReader().read(str(path))
        except jpype.JException as error:
            raise FileUnreadable(name, _reason(error, "MS Project (MPP)")) from None
        raise FileUnreadable(name, "an MS Project (MPP) file with no project in it.")
    raise FileUnreadable(
        name,
        "not a project file mpxj can read (unsupported format; MPP, MPT, MSPDI XML, MPX, XER, "
        "PMXML, Asta, Phoenix, GanttProject and Planner files are).",
    )


def _xml_cut_short(path: Path) -> bool:
    """An XML file whose root element is never closed: cut short (an upload or a copy that
    stopped), whatever the parser tripped on first."""
    with path.open("rb") as stream:
        head = stream.read(4096)
        stream.seek(max(0, path.stat().st_size - 256))
        tail = stream.read().rstrip()
    head = re.sub(
        rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head.lstrip(b"\xef\xbb\xbf"), flags=re.S
    )
    root = re.match(rb"\s*<([A-Za-z_][\w:.-]*)", head)
    return root is not None and not tail.endswith(b"</" + root.group(1) + b">")


def _reason(error, kind: str = "project", *, truncated: bool = False) -> str:
    """What went wrong, from mpxj's exception and its causes."""
    messages = []
    cause = error
    while cause is not None and len(messages) < 4:
        message = str(cause.getMessage() or "")
        name = str(cause.getClass().getSimpleName())
        messages.append(f"{name}: {message}" if message else name)
        cause = cause.getCause()
    text = " / ".join(messages)
    lowered = text.lower()
    if "password" in lowered:
        return "the file is password protected; save it without a password and upload it again."
    if (
        truncated
        or "past the end" in lowered
        or "end of file" in lowered
        or "truncat" in lowered
        or "must start and end within the same entity" in lowered
    ):
        return f"the {kind} file is truncated ({text[:300]})."
    return f"the {kind} file is corrupt ({text[:300]})."


def _iso(value) -> str | None:
    """A java.time.LocalDateTime as ISO 8601 local text to the second ("2003-01-07T08:00:00").
    Its toString drops zero seconds ("2003-01-07T08:00") and adds any fraction: one call."""
    if value is None:
        return None
    text = value.toString()
    return text + ":00" if len(text) == 16 else text[:19]


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value) -> float | None:
    return None if value is None else float(value.doubleValue())


def _enum(value) -> str | None:
    return None if value is None else str(value.name())


class _Extraction(Findings):
    def __init__(self, project, name: str, hours_per_day: float | None, progress):
        _, self.TimeUnit = _java()
        self.file = project
        self.props = project.getProjectProperties()
        self.name = name
        self.hours_per_day_override = hours_per_day
        self.progress = progress
        super().__init__()
        self.used_ids: set[str] = set()
        self.minutes_per_day = float(self.props.getMinutesPerDay() or 480)
        self.minutes_per_week = float(self.props.getMinutesPerWeek() or 2400)
        self.days_per_month = float(self.props.getDaysPerMonth() or 20)
        day = self.minutes_per_day / 60
        self.unit_hours = {  # working units; elapsed ones are left to mpxj
            "MINUTES": 1 / 60,
            "HOURS": 1.0,
            "DAYS": day,
            "WEEKS": self.minutes_per_week / 60,
            "MONTHS": self.days_per_month * day,
        }
        self.project_id = self.stable_id("Project", self.props.getGUID(), "project", "")

    # --- helpers --------------------------------------------------------------------------------

    def _advance(self, step: int, total: int = 6) -> None:
        if self.progress is not None:
            self.progress(self.project_id, "extract", step, total)

    def derived_id(self, kind: str, key: str) -> str:
        return str(uuid.uuid5(ID_NAMESPACE, f"{self.name}\x1f{kind}\x1f{key}"))

    def stable_id(self, entity: str, guid, kind: str, key: str) -> str:
        """The file's GUID, else one derived from the file's name and the key; a GUID the file
        gives twice (copied rows keep theirs in some versions) is derived for the second."""
        if guid is not None:
            text = guid.toString().lower()
            if text not in self.used_ids:
                self.used_ids.add(text)
                return text
            self._issue(
                "warning", entity, text, "GUID", "extract.guid.duplicate", text,
                f"{entity} {key}: the file gives GUID {text} twice; this one gets an id of its own.",
            )  # fmt: skip
        derived = self.derived_id(kind, key)
        self.used_ids.add(derived)
        return derived

    def hours(self, duration) -> float | None:
        """A duration in hours by the file's own day, week and month (what
        Duration.convertUnits(HOURS, properties) gives, in two calls instead of four)."""
        if duration is None:
            return None
        unit = duration.getUnits().name()
        factor = self.unit_hours.get(unit)
        if factor is not None:
            return float(duration.getDuration()) * factor
        if unit in ("PERCENT", "ELAPSED_PERCENT"):
            return None
        return float(duration.convertUnits(self.TimeUnit.HOURS, self.props).getDuration())

    def duration(self, duration) -> str | None:
        return iso_hours(self.hours(duration))

    def per_hour(self, rate) -> float | None:
        """A rate (amount per time unit) per working hour."""
        if rate is None:
            return None
        amount = float(rate.getAmount())
        unit = _enum(rate.getUnits())
        hours = 12 * self.unit_hours["MONTHS"] if unit == "YEARS" else self.unit_hours.get(unit, 1)
        return round(amount / hours, 6) if amount else amount

    # --- the read -------------------------------------------------------------------------------

    def run(self) -> Extract:
        fields = self.custom_fields()
        self._advance(1)
        tasks, task_ids, summary = self.tasks(fields["Task"])
        self._advance(2)
        resources, resource_ids = self.resources(fields["Resource"])
        self._advance(3)
        assignments = self.assignments(task_ids, resource_ids)
        self._advance(4)
        links = self.links(task_ids)
        self._advance(5)
        props = self.props
        hours_per_day = self.hours_per_day_override or (
            self.minutes_per_day / 60 if props.getMinutesPerDay() else None
        )
        project = SourceProject(
            id=self.project_id,
            name=_text(props.getProjectTitle()) or Path(self.name).stem,
            description=_text(props.getComments()) or _text(props.getSubject()),
            owner=_text(props.getManager()) or _text(props.getAuthor()),
            start_date=_iso(props.getStartDate()),
            finish_date=_iso(props.getFinishDate()),
            created_date=_iso(props.getCreationDate()),
            modified_date=_iso(props.getLastSaved()),
            priority=summary.getPriority().getValue()
            if summary is not None and summary.getPriority() is not None
            else None,
            percent_complete=_number(summary.getPercentageComplete())
            if summary is not None
            else None,
            hours_per_day=hours_per_day,
        )
        self._advance(6)
        return Extract(
            source=SOURCE,
            project=project,
            tasks=tasks,
            resources=resources,
            assignments=assignments,
            links=links,
            custom_fields=[f for entity in fields.values() for f, _ in entity],
            issues=self.issues,
        )

    def custom_fields(self) -> dict[str, list[tuple[CustomField, Any]]]:
        """The custom fields a file uses, per entity, with their mpxj field types: those it gives
        an alias or a value list, and those some task or resource has a value in."""
        configured = {}
        for field in self.file.getCustomFields():
            field_type = field.getFieldType()
            if field_type is not None:
                configured[_field_key(field_type)] = field
        result: dict[str, list] = {"Task": [], "Resource": []}
        containers = (("Task", self.file.getTasks()), ("Resource", self.file.getResources()))
        for entity, container in containers:
            populated = {_field_key(f) for f in container.getPopulatedFields()}
            for key, field_type in _custom_field_types(entity):
                definition = configured.get(key)
                alias = _text(definition.getAlias()) if definition is not None else None
                lookup = (
                    [
                        str(item.getValue())
                        for item in definition.getLookupTable()
                        if item.getValue() is not None
                    ]
                    if definition is not None and definition.getLookupTable() is not None
                    else []
                )
                if not (alias or lookup or key in populated):
                    continue
                kind = KINDS.get(_enum(field_type.getDataType()) or "", "text")
                if lookup:
                    kind = "lookup"
                own_name = str(field_type.getName())
                result[entity].append(
                    (
                        CustomField(
                            entity=entity,
                            name=entity + own_name.replace(" ", ""),
                            display_name=alias or own_name,
                            kind=kind,
                            lookup_table=(alias or own_name) if lookup else None,
                            lookup_values=lookup,
                        ),
                        field_type,
                    )
                )
        return result

    def custom_values(self, entity, fields) -> dict[str, Any]:
        values = {}
        for field, field_type in fields:
            value = self.custom_value(entity.get(field_type))
            if value is not None:
                values[field.name] = value
        return values

    def custom_value(self, value):
        """A custom field's value as the Extract holds it, or None for the field's default."""
        if value is None:
            return None
        if isinstance(value, str):
            return value.strip() or None
        java_class = str(value.getClass().getSimpleName())
        if java_class == "Boolean":
            return True if bool(value) else None
        if java_class == "LocalDateTime":
            return _iso(value)
        if java_class == "Duration":
            hours = self.hours(value)
            return iso_hours(hours) if hours else None
        if java_class in ("Double", "Integer", "Long", "Short", "Float", "BigDecimal", "Number"):
            number = float(value.doubleValue())
            return number or None
        text = str(value.toString()).strip()
        return text or None

    def tasks(self, fields):
        tasks: list[SourceTask] = []
        ids: dict[int, str] = {}
        summary = None
        for task in self.file.getTasks():
            unique_id = int(task.getUniqueID())
            if unique_id == 0:
                summary = task
                continue
            if task.getNull():
                self._issue(
                    "warning", "Task", str(unique_id), "Name", "extract.task.blank", "",
                    f"Row {task.getID()} of the file is blank; it is not migrated.",
                )  # fmt: skip
                continue
            ids[unique_id] = self.stable_id("Task", task.getGUID(), "task", str(unique_id))
        for task in self.file.getTasks():
            unique_id = int(task.getUniqueID())
            task_id = ids.get(unique_id)
            if task_id is None:
                continue
            parent = task.getParentTask()
            parent_uid = int(parent.getUniqueID()) if parent is not None else 0
            constraint = _enum(task.getConstraintType())
            if constraint is not None and constraint not in CONSTRAINT_TYPES:
                self._issue(
                    "warning", "Task", task_id, "ConstraintType", "extract.constraint.unknown",
                    constraint, f"Task {unique_id}: constraint {constraint} has no MS Project "
                    "equivalent; the task is planned as soon as possible.",
                )  # fmt: skip
            priority = task.getPriority()
            tasks.append(
                SourceTask(
                    id=task_id,
                    project_id=self.project_id,
                    task_name=_text(task.getName()),
                    parent_task_id=ids.get(parent_uid) if parent_uid else None,
                    task_index=int(task.getID()) if task.getID() is not None else len(tasks) + 1,
                    outline_level=int(task.getOutlineLevel() or 1),
                    start=_iso(task.getStart()),
                    finish=_iso(task.getFinish()),
                    duration=self.duration(task.getDuration()),
                    work=self.duration(task.getWork()),
                    actual_work=self.duration(task.getActualWork()),
                    percent_complete=_number(task.getPercentageComplete()),
                    task_type=TASK_TYPES.get(_enum(task.getType())),
                    priority=int(priority.getValue()) if priority is not None else None,
                    is_milestone=bool(task.getMilestone()),
                    is_summary=bool(task.getSummary()),
                    is_active=bool(task.getActive()),
                    task_notes=_text(task.getNotes()),
                    constraint_type=CONSTRAINT_TYPES.get(constraint),
                    constraint_date=_iso(task.getConstraintDate()),
                    deadline=_iso(task.getDeadline()),
                    created_date=_iso(task.getCreateDate()),
                    custom=self.custom_values(task, fields),
                    baseline_start=_iso(task.getBaselineStart()),
                    baseline_finish=_iso(task.getBaselineFinish()),
                )
            )
        tasks.sort(key=lambda t: t.task_index)
        return tasks, ids, summary

    def resources(self, fields):
        resources: list[SourceResource] = []
        ids: dict[int, str] = {}
        for resource in self.file.getResources():
            unique_id = int(resource.getUniqueID())
            name = _text(resource.getName())
            if unique_id == 0 and name is None:
                continue  # MS Project's "Unnamed Resource" placeholder
            resource_id = self.stable_id("Resource", resource.getGUID(), "resource", str(unique_id))
            ids[unique_id] = resource_id
            kind = RESOURCE_TYPES.get(_enum(resource.getType()))
            calendar = resource.getCalendar()
            base = calendar.getParent() if calendar is not None else None
            max_units = _number(resource.getMaxUnits())
            is_work = kind in (None, "Work")
            resources.append(
                SourceResource(
                    id=resource_id,
                    name=name,
                    email=_text(resource.getEmailAddress()),
                    resource_type=kind,
                    max_units=max_units / 100 if max_units is not None else None,
                    standard_rate=self.per_hour(resource.getStandardRate())
                    if is_work
                    else _rate_amount(resource.getStandardRate()),
                    overtime_rate=self.per_hour(resource.getOvertimeRate())
                    if is_work
                    else _rate_amount(resource.getOvertimeRate()),
                    cost_per_use=_number(resource.getCostPerUse()),
                    base_calendar=_text((base or calendar).getName())
                    if calendar is not None
                    else None,
                    is_active=resource.getActive() is None or bool(resource.getActive()),
                    is_generic=bool(resource.getGeneric()),
                    department=_text(resource.getGroup()),
                    code=_text(resource.getCode()),
                    created_date=_iso(resource.getCreationDate()),
                    custom=self.custom_values(resource, fields),
                )
            )
        return resources, ids

    def assignments(self, task_ids: dict[int, str], resource_ids: dict[int, str]):
        result: list[SourceAssignment] = []
        for assignment in self.file.getResourceAssignments():
            resource_uid = assignment.getResourceUniqueID()
            task_uid = assignment.getTaskUniqueID()
            if resource_uid is None or task_uid is None:
                continue  # mpxj's placeholder for a task without resources
            task_uid = int(task_uid)
            task_id = task_ids.get(task_uid)
            resource_id = resource_ids.get(int(resource_uid))
            if task_id is None or resource_id is None:
                continue  # the project summary's, a blank row's or the placeholder resource's
            units = _number(assignment.getUnits())
            pwc = assignment.getPercentageWorkComplete()
            result.append(
                SourceAssignment(
                    id=self.stable_id(
                        "Assignment",
                        assignment.getGUID(),
                        "assignment",
                        f"{task_uid}/{int(resource_uid)}",
                    ),  # fmt: skip
                    task_id=task_id,
                    resource_id=resource_id,
                    project_id=self.project_id,
                    start=_iso(assignment.getStart()),
                    finish=_iso(assignment.getFinish()),
                    work=self.duration(assignment.getWork()),
                    actual_work=self.duration(assignment.getActualWork()),
                    remaining_work=self.duration(assignment.getRemainingWork()),
                    percent_work_complete=int(pwc.doubleValue()) if pwc is not None else None,
                    units=units / 100 if units is not None else None,
                    cost=_number(assignment.getCost()),
                    actual_cost=_number(assignment.getActualCost()),
                    remaining_cost=_number(assignment.getRemainingCost()),
                    notes=_text(assignment.getNotes()),
                )
            )
        return result

    def links(self, task_ids: dict[int, str]) -> list[SourceLink]:
        links: list[SourceLink] = []
        for task in self.file.getTasks():
            successor = task_ids.get(int(task.getUniqueID()))
            if successor is None:
                continue
            for relation in task.getPredecessors():
                before = relation.getPredecessorTask()
                before_uid = int(before.getUniqueID())
                predecessor = task_ids.get(before_uid)
                if predecessor is None:
                    self._issue(
                        "warning", "Link", successor, "Predecessor", "extract.link.outside",
                        before_uid, f"Task {task.getUniqueID()}: predecessor {before_uid} is "
                        "not a task of this file (a blank row or another project's); the "
                        "link is not migrated.",
                    )  # fmt: skip
                    continue
                kind = RELATION_TYPES.get(_enum(relation.getType()), "FS")
                lag = relation.getLag()
                unit = _enum(lag.getUnits()) if lag is not None else "DAYS"
                if lag is None:
                    minutes = 0.0
                elif unit in ("PERCENT", "ELAPSED_PERCENT"):
                    base = self.hours(before.getDuration()) or 0.0
                    minutes = round(float(lag.getDuration()) / 100 * base * 60, 4)
                    self._issue(
                        "warning", "Link", successor, "Lag", "extract.link.lag_percent",
                        f"{lag.getDuration()}%", f"Task {task.getUniqueID()}: a lag of "
                        f"{lag.getDuration()}% of the predecessor's duration is migrated as "
                        f"{minutes:g} working minutes.",
                    )  # fmt: skip
                else:
                    minutes = round(
                        float(lag.convertUnits(self.TimeUnit.MINUTES, self.props).getDuration()),
                        4,
                    )
                links.append(
                    SourceLink(
                        predecessor_task_id=predecessor,
                        successor_task_id=successor,
                        type=kind,
                        lag_minutes=minutes,
                        lag_unit=LAG_UNITS.get(unit, "d"),
                    )
                )
        return links


_field_types: dict[str, list] = {}


def _custom_field_types(entity: str) -> list:
    """(key, mpxj field type) of the entity's custom fields, in mpxj's order; once a process."""
    if entity not in _field_types:
        from org.mpxj import ResourceField, TaskField

        enum = TaskField if entity == "Task" else ResourceField
        _field_types[entity] = [
            (_field_key(f), f) for f in enum.values() if CUSTOM_FIELD.fullmatch(f.name())
        ]
    return _field_types[entity]


def _field_key(field_type) -> str:
    """TaskField.TEXT1 and ResourceField.TEXT1 are both "Text1": keyed by class and name."""
    return f"{field_type.getFieldTypeClass().name()}.{field_type.name()}"


def _rate_amount(rate) -> float | None:
    return None if rate is None else float(rate.getAmount())
