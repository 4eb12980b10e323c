"""MS Project files made from an Extract: an MSPDI XML file written by mpxj's own writer (mpxj
writes no MPP), for the file source's round-trip test and the 5,000-task reading bench.

    write_mspdi(extract, path)    the Extract's tasks (outline, durations, work, % complete,
                                  priorities, notes, Text1), resources, assignments and links

Runs in the JVM the file source starts (migration.sources.file.start_jvm)."""

from datetime import datetime
from pathlib import Path

from migration.model import Extract
from migration.sources import file as source

RESOURCE_TYPES = {"Work": "WORK", "Material": "MATERIAL", "Cost": "COST"}
RELATION_TYPES = {"FS": "FINISH_START", "SS": "START_START", "FF": "FINISH_FINISH", "SF": "START_FINISH"}  # fmt: skip


def _hours(duration: str | None) -> float:
    """Hours of the Extract's "PT40H" / "PT7H30M"."""
    text = (duration or "PT0H").removeprefix("PT")
    hours, _, rest = text.partition("H") if "H" in text else ("0", "", text)
    return float(hours or 0) + float(rest.removesuffix("M") or 0) / 60


def _local(value: str | None):
    from java.time import LocalDateTime

    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return LocalDateTime.of(moment.year, moment.month, moment.day, moment.hour, moment.minute)


def write_mspdi(extract: Extract, path: Path) -> Path:
    source.start_jvm()
    from java.lang import Double
    from org.mpxj import (
        Duration,
        Priority,
        ProjectFile,
        Relation,
        RelationType,
        ResourceType,
        TimeUnit,
    )
    from org.mpxj.mspdi import MSPDIWriter

    project = ProjectFile()
    calendar = project.addDefaultBaseCalendar()
    project.setDefaultCalendar(calendar)
    props = project.getProjectProperties()
    props.setProjectTitle(extract.project.name)
    props.setStartDate(_local(extract.tasks[0].start if extract.tasks else None))
    if extract.project.hours_per_day:
        props.setMinutesPerDay(int(extract.project.hours_per_day * 60))

    tasks, stack = {}, []  # stack: the open parents, by outline level
    for task in extract.tasks:
        level = task.outline_level
        del stack[level - 1 :]
        java = (stack[-1] if stack else project).addTask()
        stack.append(java)
        java.setName(task.task_name)
        java.setStart(_local(task.start))
        java.setFinish(_local(task.finish))
        java.setDuration(Duration.getInstance(_hours(task.duration), TimeUnit.HOURS))
        java.setWork(Duration.getInstance(_hours(task.work), TimeUnit.HOURS))
        if task.percent_complete is not None:
            java.setPercentageComplete(Double(float(task.percent_complete)))
        if task.priority is not None:
            java.setPriority(Priority.getInstance(int(task.priority)))
        if task.task_notes:
            java.setNotes(task.task_notes)
        if task.custom.get("TaskText1"):
            java.setText(1, task.custom["TaskText1"])
        tasks[task.id] = java
    for java in tasks.values():
        java.setSummary(bool(java.hasChildTasks()))

    resources = {}
    for resource in extract.resources:
        java = project.addResource()
        java.setName(resource.name)
        java.setEmailAddress(resource.email)
        java.setType(getattr(ResourceType, RESOURCE_TYPES[resource.resource_type or "Work"]))
        java.setGroup(resource.department)
        resources[resource.id] = java

    for assignment in extract.assignments:
        java = tasks[assignment.task_id].addResourceAssignment(resources[assignment.resource_id])
        java.setUnits(Double(100.0))

    for link in extract.links:
        lag = Duration.getInstance(link.lag_minutes / 60, TimeUnit.HOURS)
        tasks[link.successor_task_id].addPredecessor(
            Relation.Builder()
            .predecessorTask(tasks[link.predecessor_task_id])
            .type(getattr(RelationType, RELATION_TYPES[link.type]))
            .lag(lag)
        )
    MSPDIWriter().write(project, str(path))
    return Path(path)
