"""The MS Project file source: the real files of fixtures/mpp/ (MPP 9 / 12 / 14 and MSPDI from
MPXJ's LGPL test corpus, see its MANIFEST.md) read into the seed's entity model and compared
field by field with what MPXJ itself reads from each (`<file>.expected.json`), then planned by
the transform; damaged files give a clear error naming the file and the reason.

One JVM per test process (the reader starts it on first use and keeps it); each file is read
once per process (the `extracts` cache)."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from migration.sources import file as source
from migration.sources import iso_hours
from migration.transform import plan_migration

FIXTURES = Path(__file__).parent / "fixtures" / "mpp"
FILES = sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".mpp", ".xml") and p.is_file())
RESOURCE_TYPES = {"WORK": "Work", "MATERIAL": "Material", "COST": "Cost"}
KINDS = {
    "STRING": "text",
    "NUMERIC": "number",
    "CURRENCY": "cost",
    "DATE": "date",
    "BOOLEAN": "flag",
    "DURATION": "duration",
}


@pytest.fixture(scope="session")
def extracts():
    """Each fixture read once in this test process, on first use."""
    cache = {}

    def read(name):
        if name not in cache:
            cache[name] = source.read_file(FIXTURES / name)
        return cache[name]

    return read


def expected(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.expected.json").read_text())


def real_tasks(truth: dict) -> list[dict]:
    return [t for t in truth["tasks"] if not t["null_task"]]


def task_ids(extract, truth) -> dict[int, str]:
    """UniqueID -> the Extract's task id: the Extract keeps the file's row order, blank rows out
    (checked by name, row by row, in test_tasks_field_by_field)."""
    return {
        t["unique_id"]: ours.id for t, ours in zip(real_tasks(truth), extract.tasks, strict=True)
    }


def real_resources(truth: dict) -> list[dict]:
    # UniqueID 0 without a name: MS Project's "Unnamed Resource" placeholder.
    return [r for r in truth["resources"] if not (r["unique_id"] == 0 and r["name"] is None)]


def resource_ids(extract, truth) -> dict[int, str]:
    return {
        r["unique_id"]: ours.id
        for r, ours in zip(real_resources(truth), extract.resources, strict=True)
    }


def field_name(entity: str, field: str) -> str:
    """TEXT1 -> TaskText1, OUTLINE_CODE4 -> TaskOutlineCode4."""
    return entity + "".join(part.capitalize() for part in field.split("_"))


def per_hour(rate: dict, project: dict) -> float:
    hours = {
        "HOURS": 1,
        "DAYS": project["minutes_per_day"] / 60,
        "WEEKS": project["minutes_per_week"] / 60,
    }[rate["per"]]
    return rate["amount"] / hours


@pytest.mark.parametrize("name", FILES)
def test_tasks_field_by_field(extracts, name):
    extract, truth = extracts(name), expected(name)
    assert extract.source == "file"
    tasks = real_tasks(truth)
    assert [t.task_name for t in extract.tasks] == [t["name"] for t in tasks]
    assert len(extract.tasks) == truth["task_count"] - (len(truth["tasks"]) - len(tasks))
    ids = task_ids(extract, truth)
    assert len(set(ids.values())) == len(ids)
    constraints = dict(zip(["ASAP", "ALAP", "MSO", "MFO", "SNET", "SNLT", "FNET", "FNLT"],
        ["AS_SOON_AS_POSSIBLE", "AS_LATE_AS_POSSIBLE", "MUST_START_ON", "MUST_FINISH_ON",
         "START_NO_EARLIER_THAN", "START_NO_LATER_THAN", "FINISH_NO_EARLIER_THAN",
         "FINISH_NO_LATER_THAN"], strict=True))  # fmt: skip
    for ours, t in zip(extract.tasks, tasks, strict=True):
        assert ours.project_id == extract.project.id
        assert ours.task_index == t["id"]
        assert ours.outline_level == t["outline_level"]
        parent = t["parent_unique_id"]
        assert ours.parent_task_id == (ids[parent] if parent else None)
        assert ours.start == t["start"] and ours.finish == t["finish"]
        assert ours.duration == iso_hours(t["duration_hours"])
        assert ours.work == iso_hours(t["work_hours"])
        assert ours.percent_complete == t["percent_complete"]
        assert ours.priority == t["priority"]
        assert ours.is_milestone is t["milestone"] and ours.is_summary is t["summary"]
        assert ours.is_active is t["active"]
        assert constraints[ours.constraint_type] == t["constraint_type"]
        assert ours.constraint_date == t["constraint_date"]
        assert ours.deadline == t["deadline"]
        assert (ours.task_notes or "")[:200] == (t["notes"] or "").strip()[:200]
        assert ours.task_type == t["task_type"].replace("_", " ").title()


@pytest.mark.parametrize("name", FILES)
def test_links_keep_their_type_and_lag(extracts, name):
    extract, truth = extracts(name), expected(name)
    ids = task_ids(extract, truth)
    units = {"HOURS": "h", "DAYS": "d", "WEEKS": "w"}
    want = Counter(
        (ids[p["unique_id"]], ids[t["unique_id"]], p["type"], p["lag_hours"] * 60, units[p["lag_units"]])
        for t in real_tasks(truth)
        for p in t["predecessors"]
    )  # fmt: skip
    got = Counter(
        (k.predecessor_task_id, k.successor_task_id, k.type, k.lag_minutes, k.lag_unit)
        for k in extract.links
    )
    assert got == want


def test_all_four_link_types_with_leads_and_lags_in_the_files_units(extracts):
    sample, mspdi = extracts("sample.mpp"), extracts("sample1.xml")
    assert {k.type for k in sample.links} == {"FS", "SS", "FF", "SF"}
    assert sorted(k.lag_minutes for k in sample.links) == [-480, 0, 0, 0, 0, 480]
    assert {k.lag_unit for k in sample.links} == {"d"}
    assert {k.lag_unit for k in mspdi.links} == {"h"}  # the same plan, saved with hours
    weeks = extracts("task-links-project2016-mpp12.mpp")
    assert {k.type for k in weeks.links} == {"FS", "SS", "FF", "SF"}
    assert {(k.lag_minutes, k.lag_unit) for k in weeks.links if k.lag_unit == "w"} == {
        (2400.0, "w"),
        (4800.0, "w"),
    }


@pytest.mark.parametrize("name", FILES)
def test_resources_and_their_calendars(extracts, name):
    extract, truth = extracts(name), expected(name)
    calendars = {c["unique_id"]: c for c in truth["calendars"]}
    by_name = {c["name"]: c for c in truth["calendars"]}
    resources = real_resources(truth)
    assert len(extract.resources) == len(resources)
    for ours, r in zip(extract.resources, resources, strict=True):
        assert ours.name == r["name"]
        assert ours.email == r["email"]
        assert ours.resource_type == RESOURCE_TYPES[r["type"]]
        assert ours.max_units == (
            pytest.approx(r["max_units"] / 100) if r["max_units"] is not None else None
        )
        if ours.resource_type == "Work":
            assert ours.standard_rate == pytest.approx(
                per_hour(r["standard_rate"], truth["project"])
            )
        assert ours.cost_per_use == r["cost_per_use"]
        assert ours.department == r["group"]
        calendar = by_name.get(r["calendar"])
        if calendar is None:
            assert ours.base_calendar == r["calendar"]
        else:  # a resource's own calendar: the base calendar it derives from
            parent = calendars.get(calendar["parent_unique_id"])
            assert ours.base_calendar == (parent or calendar)["name"]


@pytest.mark.parametrize("name", FILES)
def test_hours_per_day_come_from_the_files_calendar(extracts, name):
    extract, truth = extracts(name), expected(name)
    assert extract.project.hours_per_day == truth["project"]["minutes_per_day"] / 60
    plan = plan_migration([extract])
    tasks = plan.workspaces[0].sheets[0]
    assert tasks.project_settings["lengthOfDay"] == extract.project.hours_per_day


def test_hours_per_day_other_than_8(extracts):
    assert extracts("sf259.mpp").project.hours_per_day == 17.5
    assert extracts("mspdinulltasks.xml").project.hours_per_day == 7.5


@pytest.mark.parametrize("name", FILES)
def test_assignments_with_units(extracts, name):
    extract, truth = extracts(name), expected(name)
    tasks, resources = task_ids(extract, truth), resource_ids(extract, truth)
    want = Counter(
        (tasks[a["task_unique_id"]], resources[a["resource_unique_id"]], a["units"] / 100,
         iso_hours(a["work_hours"]))
        for a in truth["assignments"]
        if a["resource_unique_id"] is not None  # mpxj's placeholders for unresourced tasks
    )  # fmt: skip
    got = Counter((a.task_id, a.resource_id, a.units, a.work) for a in extract.assignments)
    assert got == want
    assert all(a.project_id == extract.project.id for a in extract.assignments)


@pytest.mark.parametrize("name", FILES)
def test_custom_fields_with_aliases_and_values(extracts, name):
    extract, truth = extracts(name), expected(name)
    owners = {
        "Task": (extract.tasks, task_ids(extract, truth)),
        "Resource": (extract.resources, resource_ids(extract, truth)),
    }
    fields = {(f.entity, f.name): f for f in extract.custom_fields}
    for entity, (records, ids) in owners.items():
        by_id = {r.id: r for r in records}
        want: dict[str, dict] = {}
        for field, spec in truth["custom_fields"][entity.lower()].items():
            name_ = field_name(entity, field)
            ours = fields[(entity, name_)]
            if spec["alias"]:
                assert ours.display_name == spec["alias"]
            lookup = [item["value"] for item in spec["lookup_table"]]
            assert ours.lookup_values == lookup
            assert ours.kind == ("lookup" if lookup else KINDS[spec["data_type"]])
            for owner, value in spec["values"].items():
                if isinstance(value, dict):  # a duration
                    value = iso_hours(value["hours"])
                if int(owner) in ids:
                    want.setdefault(ids[int(owner)], {})[name_] = value
        got = {r.id: r.custom for r in records if r.custom}
        assert got == {k: v for k, v in want.items() if k in by_id}


def test_custom_field_aliases_of_every_kind(extracts):
    aliases = {f.name: f.display_name for f in extracts("alias.xml").custom_fields}
    assert len(aliases) == 260
    assert aliases["TaskText1"] == "Text1t"
    sf259 = {f.name: f.display_name for f in extracts("sf259.mpp").custom_fields}
    assert sf259["TaskNumber3"] == "Situação" and sf259["TaskText2"] == "Serviços"
    every_kind = {f.kind for f in extracts("mpp12task.mpp").custom_fields}
    assert {"text", "number", "date", "flag", "cost", "duration", "lookup"} <= every_kind


def test_hierarchy_blank_rows_and_the_project_summary(extracts):
    deep = extracts("sf259.mpp")
    assert max(t.outline_level for t in deep.tasks) == 5
    assert sum(t.is_summary for t in deep.tasks) == 10
    assert all(t.parent_task_id is None for t in deep.tasks if t.outline_level == 1)
    blank = extracts("mspdinulltasks.xml")
    assert len(blank.tasks) == 5
    assert [i.rule for i in blank.issues] == ["extract.task.blank"] * 3


# The files' real defects, which the report must show: sf248.mpp's task 87 has no name.
DEFECTS = {"sf248.mpp": [("Task", 87, "task.name.missing")]}


@pytest.mark.parametrize("name", FILES)
def test_each_file_plans_without_errors_but_its_real_defects(extracts, name):
    """Transformed with the same transform as Project Online: a workspace with its Tasks and
    Resources sheets, every task and resource a row, hierarchy and predecessors kept, and no
    error but the file's own defects (warnings are the report's)."""
    extract, truth = extracts(name), expected(name)
    plan = plan_migration([extract])
    ids = task_ids(extract, truth)
    errors = [(i.entity, i.entity_id, i.rule) for i in plan.issues if i.severity == "error"]
    defects = [(entity, ids[uid], rule) for entity, uid, rule in DEFECTS.get(name, [])]
    assert errors == defects
    unnamed = {entity_id for _, entity_id, _ in defects}
    (workspace,) = plan.workspaces
    assert workspace.project_id == extract.project.id
    sheets = {s.key: s for s in workspace.sheets}
    rows = sheets["tasks"].rows
    tasks = [t for t in extract.tasks if t.id not in unnamed]
    assert [r.key for r in rows] == [t.id for t in tasks]
    assert {r.key: r.parent_key for r in rows} == {t.id: t.parent_task_id for t in tasks}
    planned_links = sum(len(p.predecessors) for p in sheets["tasks"].predecessors)
    assert planned_links == len(extract.links)
    assert len(sheets["resources"].rows) == len(extract.resources)


def test_ids_are_the_files_guids_or_stable_across_reads(extracts, tmp_path):
    mpp14 = extracts("mpp14resource.mpp")  # MPP 14 has GUIDs: ids are the file's
    from org.mpxj.reader import UniversalProjectReader

    raw = UniversalProjectReader().read(str(FIXTURES / "mpp14resource.mpp"))
    guids = [t.getGUID().toString() for t in raw.getTasks() if t.getUniqueID() != 0]
    assert [t.id for t in mpp14.tasks] == guids
    assert mpp14.project.id == raw.getProjectProperties().getGUID().toString()
    # An MSPDI without GUIDs: ids derive from the file's name and UniqueIDs, so a changed
    # re-upload under the same name keeps them, and another file's differ.
    original = extracts("sample1.xml")
    text = (FIXTURES / "sample1.xml").read_text(encoding="utf-8")
    assert "<Name>Third task</Name>" in text
    changed = tmp_path / "upload-1234.xml"
    changed.write_text(text.replace("<Name>Third task</Name>", "<Name>Third task, renamed</Name>"))
    again = source.read_file(changed, name="sample1.xml")
    assert [t.id for t in again.tasks] == [t.id for t in original.tasks]
    assert [r.id for r in again.resources] == [r.id for r in original.resources]
    assert [a.id for a in again.assignments] == [a.id for a in original.assignments]
    assert again.project.id == original.project.id
    assert again.tasks[2].task_name == "Third task, renamed"
    other = source.read_file(changed)
    assert not {t.id for t in other.tasks} & {t.id for t in original.tasks}


def test_detect_format():
    assert source.detect_format(FIXTURES / "sample.mpp") == "MPP"
    assert source.detect_format(FIXTURES / "sample1.xml") == "MSPDI"


def damaged(tmp_path, fixture: str, name: str, change) -> Path:
    path = tmp_path / name
    path.write_bytes(change((FIXTURES / fixture).read_bytes()))
    return path


def scramble(data: bytes) -> bytes:
    out = bytearray(data)
    for i in range(2000, len(out), 7):
        out[i] = (out[i] * 31 + 7) % 256
    return bytes(out)


@pytest.mark.parametrize(
    ("fixture", "name", "change", "reason"),
    [
        (
            "sample.mpp",
            "plan.mpp",
            lambda d: d[: len(d) // 3],
            "MS Project (MPP) file is truncated",
        ),
        ("sample1.xml", "plan.xml", lambda d: d[: len(d) // 3], "XML project file is truncated"),
        ("sample.mpp", "plan.mpp", scramble, "MS Project (MPP) file is corrupt"),
        ("sample.mpp", "plan.mpp", lambda d: b"", "the file is empty"),
        ("sample.mpp", "notes.txt", lambda d: b"hello, not a plan\n" * 40, "unsupported format"),
    ],
    ids=["truncated-mpp", "truncated-xml", "corrupt-mpp", "empty", "unsupported"],
)
def test_a_damaged_file_gives_a_clear_error(tmp_path, fixture, name, change, reason):
    path = damaged(tmp_path, fixture, name, change)
    with pytest.raises(source.FileUnreadable) as caught:
        source.read_file(path, name=f"Roadmap {name}")
    error = caught.value
    assert error.message.startswith(f"Roadmap {name}: ")
    assert reason in error.message
    assert error.details["file"] == f"Roadmap {name}"
    assert error.code == "file_unreadable"


def test_a_password_protected_file_is_named_as_such(extracts):
    extracts("sample.mpp")  # the JVM is up
    from org.mpxj import MPXJException

    reason = source._reason(MPXJException(MPXJException.PASSWORD_PROTECTED))
    assert "password protected" in reason


def test_importing_the_source_starts_no_jvm():
    """The JVM starts on the first read (in the worker), never at import (web processes
    import the migration app)."""
    code = (
        "import jpype, migration.sources.file as f; "
        "assert not jpype.isJVMStarted(), 'started at import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_a_generated_project_round_trips_through_mspdi(tmp_path):
    """The bench's generator (tests/migration/project_files.py, mpxj's own MSPDI writer) and
    the reader agree: outline, durations, work, links with their lags, assignments, Text1."""
    from tests.migration.factories import generated
    from tests.migration.project_files import write_mspdi

    made = generated(tasks=60, depth=4, resources=8, assignments=90, links=30)
    read = source.read_file(write_mspdi(made, tmp_path / "generated.xml"), name="generated.xml")
    assert [t.task_name for t in read.tasks] == [t.task_name for t in made.tasks]
    assert [t.outline_level for t in read.tasks] == [t.outline_level for t in made.tasks]
    assert [t.duration for t in read.tasks] == [t.duration for t in made.tasks]
    names = {t.id: t.task_name for t in made.tasks}
    read_names = {t.id: t.task_name for t in read.tasks}
    parents = {t.task_name: t.parent_task_id for t in read.tasks}
    by_level: dict[int, str] = {}
    for task in made.tasks:  # the parent is the last task one level up
        by_level[task.outline_level] = task.task_name
        parent = by_level.get(task.outline_level - 1) if task.outline_level > 1 else None
        assert read_names.get(parents[task.task_name]) == parent
    assert Counter(
        (read_names[k.predecessor_task_id], read_names[k.successor_task_id], k.type, k.lag_minutes)
        for k in read.links
    ) == Counter(
        (names[k.predecessor_task_id], names[k.successor_task_id], k.type, k.lag_minutes)
        for k in made.links
    )
    pairs = {(a.task_id, a.resource_id) for a in made.assignments}
    assert len(read.assignments) == len(pairs)  # one assignment per task and resource
    assert [t.custom for t in read.tasks] == [t.custom for t in made.tasks]
