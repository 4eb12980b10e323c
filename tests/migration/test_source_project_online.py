"""The Project Online source: seeded projects of the emulator extracted completely through the
provider, over TLS, and normalised into the seed's entity model."""

from collections import Counter

import pytest

from integrations.errors import NotFound
from migration.sources import project_online as source
from tests.integrations.helpers import connect_project_online

pytestmark = pytest.mark.django_db

EMULATOR = "project-online"


@pytest.fixture
def connection(sandbox, two_workspaces):
    return connect_project_online(user=two_workspaces["a_admin"], workspace=two_workspaces["a"])


@pytest.fixture
def projects(connection):
    return {p.name: p for p in source.list_projects(connection)}


@pytest.fixture
def small_pages(sandbox):
    """Feed pages of 40 rows (a reset keeps the config: set back after the test)."""
    sizes = {"Tasks": 40, "Assignments": 40, "Resources": 40}
    sandbox.configure(EMULATOR, page_sizes=sizes)
    yield sizes
    sandbox.configure(EMULATOR, page_sizes={})


def test_it_lists_the_published_projects_by_name(projects):
    assert "Website Redesign 2024" in projects
    assert "Q1/Q2 Planning & Execution" in projects
    assert any(len(name) > 100 for name in projects)
    assert all(p.modified for p in projects.values())


def test_a_seeded_project_is_extracted_completely(connection, projects):
    steps = []
    extract = source.extract_project(
        connection,
        projects["Website Redesign 2024"].id,
        progress=lambda *args: steps.append(args),
    )
    assert extract.source == "project_online"
    assert extract.project.name == "Website Redesign 2024"
    assert extract.project.owner_email == "sarah.mitchell@contoso.example"
    assert extract.project.hours_per_day == 8.0
    assert extract.project.custom["ProjectPhase"] == "Execute"
    assert extract.project.custom["ApprovedBudget"] == 185000.0
    assert len(extract.tasks) == 21  # the project summary task is not one
    assert len(extract.assignments) == 16
    assert len(extract.links) == 12
    assert extract.issues == []
    assert steps[-1][1:] == ("extract", source.STEPS, source.STEPS)

    by_name = {t.task_name: t for t in extract.tasks}
    # Hierarchy: top-level tasks have no parent; six levels deep; order by task index.
    assert by_name["Initiation"].parent_task_id is None
    assert by_name["Initiation"].is_summary
    review = by_name["Persona sheet review"]
    assert review.outline_level == 6
    chain, current = [], review
    ids = {t.id: t for t in extract.tasks}
    while current.parent_task_id:
        current = ids[current.parent_task_id]
        chain.append(current.task_name)
    assert chain == [
        "Write persona sheets",
        "Draft personas",
        "Personas and journeys",
        "UX research",
        "Design",
    ]
    assert [t.task_index for t in extract.tasks] == sorted(t.task_index for t in extract.tasks)
    # Durations and work as ISO 8601, milestones, constraints, notes, deadlines.
    assert by_name["Project charter"].duration == "PT24H"
    assert by_name["Project charter"].work == "PT24H"
    assert by_name["Front end"].work == "PT360H"  # 120 h x (1.0 + 2.0 generic)
    assert (
        by_name["Kick-off complete"].is_milestone
        and by_name["Kick-off complete"].duration == "PT0H"
    )
    assert by_name["Visual design"].constraint_type == "SNET"
    assert by_name["Visual design"].constraint_date == "2024-03-18T08:00:00"
    assert by_name["Hosting and infrastructure"].constraint_type == "MFO"
    assert by_name["Project charter"].constraint_type == "ASAP"
    assert by_name["User acceptance testing"].task_notes.startswith("Test scripts")
    assert by_name["Go live"].deadline == "2024-05-03T17:00:00"
    assert by_name["Front end"].priority == 1000
    assert by_name["Project charter"].start == "2024-03-04T08:00:00"


def test_every_link_type_and_lag_sign_is_normalised(connection, projects):
    extract = source.extract_project(connection, projects["Website Redesign 2024"].id)
    names = {t.id: t.task_name for t in extract.tasks}
    links = {
        (names[link.predecessor_task_id], names[link.successor_task_id]): link
        for link in extract.links
    }
    assert Counter(link.type for link in extract.links) == {"FS": 6, "SS": 3, "FF": 2, "SF": 1}
    lag = links[("Stakeholder interviews", "Persona workshop")]
    assert (lag.type, lag.lag_minutes, lag.lag_unit) == ("FS", 960.0, "d")  # +2d
    hours = links[("Persona workshop", "Persona sheet review")]
    assert (hours.type, hours.lag_minutes, hours.lag_unit) == ("SS", 240.0, "h")
    lead = links[("Persona sheet review", "Visual design")]
    assert (lead.type, lead.lag_minutes) == ("FF", -480.0)
    start_finish = links[("Back end and CMS", "Hosting and infrastructure")]
    assert (start_finish.type, start_finish.lag_minutes) == ("SF", -1440.0)
    assert links[("Project charter", "Kick-off complete")].lag_minutes == 0.0


def test_resources_and_assignments_carry_type_units_and_money(connection, projects):
    extract = source.extract_project(connection, projects["Website Redesign 2024"].id)
    resources = {r.name: r for r in extract.resources}
    assert {r.resource_type for r in extract.resources} == {"Work", "Material", "Cost"}
    assert resources["Senior Developer (Generic)"].is_generic
    assert resources["Senior Developer (Generic)"].max_units == 4.0
    assert resources["Tomás Álvarez"].max_units == 1.5
    assert resources["Rack Server"].resource_type == "Material"
    assert resources["Travel Expenses"].resource_type == "Cost"
    assert resources["Raj Patel"].custom == {"Department": "Engineering", "HourlyBand": 3.0}
    # Only the resources the project uses (and its owner), not the whole enterprise pool.
    assert len(extract.resources) == 10
    by_resource = {
        (a.task_id, next(r.name for r in extract.resources if r.id == a.resource_id)): a
        for a in extract.assignments
    }
    tasks = {t.task_name: t.id for t in extract.tasks}
    half = by_resource[(tasks["Stakeholder interviews"], "Grace O'Neill")]
    assert (half.units, half.work) == (0.5, "PT16H")
    generic = by_resource[(tasks["Front end"], "Senior Developer (Generic)")]
    assert (generic.units, generic.work) == (2.0, "PT240H")
    ops = by_resource[(tasks["Hosting and infrastructure"], "Tomás Álvarez")]
    assert ops.units == 1.5 and ops.cost == 60 * 90.0
    server = by_resource[(tasks["Hosting and infrastructure"], "Rack Server")]
    assert server.units is None and server.cost == 4 * 4200.0


def test_custom_fields_come_with_their_kind_formula_and_lookup_values(connection, projects):
    extract = source.extract_project(connection, projects["Website Redesign 2024"].id)
    fields = {f.name: f for f in extract.custom_fields}
    assert {f.kind for f in extract.custom_fields} == {
        "text", "number", "date", "flag", "cost", "duration", "lookup", "formula",
    }  # fmt: skip
    assert fields["CostCenter"].display_name == "Cost Center #"
    assert fields["ClientVisible"].kind == "flag" and fields["ClientVisible"].entity == "Task"
    assert fields["WorkDaysLeft"].kind == "formula"
    assert fields["WorkDaysLeft"].formula == "[Remaining Duration]/480"
    assert fields["RiskLevel"].kind == "lookup"
    assert fields["RiskLevel"].lookup_table == "Risk Level"
    assert fields["RiskLevel"].lookup_values == ["Low", "Medium", "High", "Critical"]
    assert fields["Department"].entity == "Resource"
    assert fields["GoLiveDate"].entity == "Project" and fields["GoLiveDate"].kind == "date"
    by_name = {t.task_name: t for t in extract.tasks}
    sheet = by_name["Persona sheet review"].custom
    assert sheet["BufferDuration"] == "PT8H"  # a duration field as an ISO duration
    assert sheet["ExtraCost"] == 1250.0 and sheet["WorkDaysLeft"] == 0.4
    assert sheet["ReviewDate"] == "2024-03-15T00:00:00"
    charter = by_name["Project charter"].custom
    assert charter["ClientVisible"] is True and charter["RiskLevel"] == "Low"
    assert charter["CostCenter"] == "CC-1001" and charter["StoryPoints"] == 3.0


def test_the_defects_project_is_passed_on_with_its_extraction_findings(connection, projects):
    extract = source.extract_project(connection, projects["Data Centre Move (Defects)"].id)
    assert extract.project.hours_per_day == 7.5  # MinutesPerDay 450
    found = {(i.rule, i.field) for i in extract.issues}
    assert ("extract.required.missing", "TaskName") in found
    assert ("extract.date.invalid", "TaskStartDate") in found
    assert all(i.stage == "extract" for i in extract.issues)
    bad_date = next(i for i in extract.issues if i.rule == "extract.date.invalid")
    assert bad_date.value == "2024-02-30T08:00:00"
    by_name = {t.task_name: t for t in extract.tasks}
    assert by_name["Book the movers"].start is None
    # What the transform judges arrives as the source gave it.
    assert by_name["Inventory racks"].percent_complete == 150
    assert len(by_name["Cabling plan"].task_notes) > 4000
    ids = {t.id for t in extract.tasks}
    assert by_name["Orphaned task"].parent_task_id not in ids
    assert any(link.successor_task_id not in ids for link in extract.links)
    pairs = {(link.predecessor_task_id, link.successor_task_id) for link in extract.links}
    assert any((b, a) in pairs for a, b in pairs)  # a circular dependency
    assert None in {t.task_name for t in extract.tasks}


def test_a_large_generated_project_is_read_across_many_pages_without_gap_or_repeat(
    sandbox, connection, small_pages
):
    made = sandbox.control(
        EMULATOR,
        "POST",
        "project-online/generate",
        {"tasks": 900, "depth": 6, "resources": 60, "assignments": 1400, "links": 700},
    )
    sandbox.clear_calls(EMULATOR)
    extract = source.extract_project(connection, made["project_id"])
    assert len(extract.tasks) == len({t.id for t in extract.tasks}) == 900
    assert len(extract.assignments) == len({a.id for a in extract.assignments}) == 1400
    assert len(extract.links) == 700
    assert max(t.outline_level for t in extract.tasks) == 6
    assert {a.resource_id for a in extract.assignments} <= {r.id for r in extract.resources}
    assert extract.issues == []
    calls = sandbox.calls(EMULATOR)["by_endpoint"]
    # 901 feed rows (with the summary) and 1,400 assignments at 40 a page.
    assert calls["GET /sites/pwa/_api/ProjectData/{name}"] >= 23 + 35


def test_an_unknown_project_is_not_found(connection):
    with pytest.raises(NotFound):
        source.extract_project(connection, "00000000-0000-0000-0000-000000000001")
    with pytest.raises(NotFound, match="not a Project Online project id"):
        source.extract_project(connection, "1') or (1 eq 1")


def test_iso_hours():
    assert source.iso_hours(40) == "PT40H"
    assert source.iso_hours(7.5) == "PT7H30M"
    assert source.iso_hours(0.25) == "PT15M"
    assert source.iso_hours(0) == "PT0H"
    assert source.iso_hours(None) is None
