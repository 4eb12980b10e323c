"""The load: hand-built Plans written into the Smartsheet emulator through the official SDK over
TLS, every exchange contract-checked (tests/conftest.py). A first load, a re-run that makes
nothing, a run killed between Smartsheet's answer and our commit then resumed, PMO Standards
made once and verified, and refresh_pmo_picklists."""

import pytest
from django.core.management import call_command

from integrations.connections import services as connections
from integrations.connections.providers import smartsheet
from integrations.sandbox.smartsheet_sheets import PROJECT_TEMPLATE_COLUMNS
from migration import load
from migration.links import ContainerLink, LoadIntent, RowLink
from tests.integrations.helpers import connect
from tests.migration.plans import PRIORITIES, STATUSES, project_plan

pytestmark = pytest.mark.django_db
TEMPLATE_TITLES = frozenset(title for _, title, _, _ in PROJECT_TEMPLATE_COLUMNS)
ROWS = "POST /2.0/sheets/{sheet_id:int}/rows"
UPDATE = "PUT /2.0/sheets/{sheet_id:int}/rows"
READ = "GET /2.0/sheets/{sheet_id:int}"


@pytest.fixture
def owner(sandbox, two_workspaces):
    user = two_workspaces["a_admin"]
    user.smartsheet = connect(
        sandbox, user=user, workspace=two_workspaces["a"], provider="smartsheet"
    )
    return user


def run(plan, owner, progress=None):
    return load.load_plan(
        plan,
        connection=owner.smartsheet,
        hub_workspace=owner.smartsheet.workspace,
        progress=progress,
    )


def sdk(owner):
    return smartsheet.client(connections.access_token(owner.smartsheet), key="check")


def read(owner, sheet_id):
    return smartsheet.sheet_objects(sdk(owner), sheet_id=sheet_id)


def cell(row, column_id):
    return next((c for c in row.cells if c.column_id == column_id), None)


def test_a_first_load_makes_the_workspace_sheets_columns_hierarchy_contacts_and_predecessors(
    owner, sandbox
):
    plan = project_plan(tasks=40, depth=4, resources=6, assignments=30, links=15)
    seen = []
    result = run(plan, owner, progress=lambda *args: seen.append(args))

    (project,) = result.projects
    assert project.issues == [] and result.issues == []
    tasks_plan, resources_plan, summary_plan = plan.workspaces[0].sheets
    assert (project.rows_created, project.rows_updated) == (40 + 6 + 3, 0)
    # Every call the first load needs, and no more: the floor of Smartsheet's rules.
    calls = sandbox.calls("smartsheet")["total"]
    assert (
        calls
        == project.calls + result.pmo.calls
        == load.floor_calls(plan, template_titles=TEMPLATE_TITLES)
    )
    # The Smartsheet workspace, named after the plan, holding the three sheets.
    children = sdk(owner).Workspaces.get_workspace_children(
        project.sheet_workspace_id, children_resource_types=["sheets"]
    )
    assert sorted(c.name for c in children.data) == sorted(
        s.name for s in plan.workspaces[0].sheets
    )
    workspace = sdk(owner).Workspaces.get_workspace_metadata(project.sheet_workspace_id)
    assert workspace.name == "Riverside Tower" and project.permalink == workspace.permalink

    tasks = read(owner, project.sheet_ids["tasks"])
    assert tasks.dependencies_enabled  # made from the project-sheet template
    columns = {c.title: c for c in tasks.columns}
    assert [c.title for c in tasks.columns][: len(tasks_plan.columns)] == [
        c.title for c in tasks_plan.columns
    ]
    assert {t: str(columns[t].type) for t in ("Duration", "Predecessors", "Start", "Finish")} == {
        "Duration": "DURATION",
        "Predecessors": "PREDECESSOR",
        "Start": "ABSTRACT_DATETIME",
        "Finish": "ABSTRACT_DATETIME",
    }
    assert str(columns["Assigned Resources"].type) == "MULTI_CONTACT_LIST"
    assert str(columns["Tags"].type) == "MULTI_PICKLIST"
    assert list(columns["Tags"].options) == ["Critical", "External", "Review"]
    assert list(columns["Status"].options) == STATUSES  # from PMO Standards
    assert list(columns["Priority"].options) == PRIORITIES
    assert str(columns["Task ID"].system_column_type) == "AUTO_NUMBER"
    assert columns["Task ID"].auto_number_format.prefix == "RVT-"
    assert columns["Task GUID"].hidden and columns["Assigned Resources"].width == 200

    # One row per task, in plan order, each under its planned parent.
    links = {link.key: link for link in RowLink.objects.filter(sheet__remote_id=tasks.id)}
    assert [row.id for row in tasks.rows] == [links[r.key].row_id for r in tasks_plan.rows]
    by_id = {row.id: row for row in tasks.rows}
    for planned in tasks_plan.rows:
        parent = links[planned.parent_key].row_id if planned.parent_key else None
        assert by_id[links[planned.key].row_id].parent_id == parent
    assert cell(tasks.rows[0], columns["Task ID"].id).value == "RVT-00001"
    assert cell(tasks.rows[39], columns["Task ID"].id).value == "RVT-00040"
    assert (
        cell(tasks.rows[0], columns["Task Name"].id).value
        == tasks_plan.rows[0].cells["TaskName"].value
    )

    # Contacts as objectValues.
    planned = next(r for r in tasks_plan.rows if "assign:Work" in r.cells)
    written = cell(by_id[links[planned.key].row_id], columns["Assigned Resources"].id).object_value
    assert [(c.email, c.name) for c in written.values] == [
        (c["email"], c["name"]) for c in planned.cells["assign:Work"].object_value["values"]
    ]
    resources = read(owner, project.sheet_ids["resources"])
    email = next(c for c in resources.columns if c.title == "Email")
    assert cell(resources.rows[0], email.id).value == "person000@example.com"

    # Predecessors: rowId, type and lag as a DURATION, on every planned successor.
    assert project.predecessors_written == len(tasks_plan.predecessors)
    for plan_item in tasks_plan.predecessors:
        value = cell(
            by_id[links[plan_item.row_key].row_id], columns["Predecessors"].id
        ).object_value
        got = [(p.row_id, str(p.type)) for p in value.predecessors]
        assert got == [(links[p["row_key"]].row_id, p["type"]) for p in plan_item.predecessors]
    lagged = next(
        p for item in tasks_plan.predecessors for p in item.predecessors if p["lag_minutes"] < 0
    )
    successor = next(i for i in tasks_plan.predecessors if lagged in i.predecessors)
    value = cell(by_id[links[successor.row_key].row_id], columns["Predecessors"].id).object_value
    lag = value.predecessors[successor.predecessors.index(lagged)].lag
    assert lag.negative and (lag.days == 0.5 if lagged["lag_unit"] == "d" else lag.hours == 4)

    stages = [(stage, done, total) for _, stage, done, total in seen]
    assert stages[0] == ("workspace", 0, 1) and stages[-1][0] == "predecessors"
    assert ("rows", 49, 49) in stages and ("sheets", 3, 3) in stages


def test_a_rerun_creates_nothing_and_updates_only_what_changed(owner, sandbox):
    plan = project_plan(tasks=30, depth=3)
    first = run(plan, owner)
    sandbox.clear_calls("smartsheet")

    again = run(plan, owner)

    (project,) = again.projects
    assert (project.rows_created, project.rows_updated, project.rows_unchanged) == (
        0,
        0,
        30 + 6 + 3,
    )
    assert project.sheet_ids == first.projects[0].sheet_ids
    assert project.sheet_workspace_id == first.projects[0].sheet_workspace_id
    # Only the PMO Standards sheets are read (verified); nothing is written or made.
    assert sandbox.calls("smartsheet")["by_endpoint"] == {READ: 3}

    tasks = plan.workspaces[0].sheets[0]
    tasks.rows[4].cells["TaskName"].value = "Renamed"
    tasks.rows[7].cells["Status"].value = "On Hold"
    tasks.predecessors[0].predecessors[0]["type"] = "SS"
    sandbox.clear_calls("smartsheet")
    changed = run(plan, owner)

    assert (changed.projects[0].rows_created, changed.projects[0].rows_updated) == (0, 2)
    assert changed.projects[0].predecessors_written == 1
    assert sandbox.calls("smartsheet")["by_endpoint"] == {READ: 3, UPDATE: 2}
    sheet = read(owner, project.sheet_ids["tasks"])
    assert len(sheet.rows) == 30
    name = next(c.id for c in sheet.columns if c.title == "Task Name")
    assert cell(sheet.rows[4], name).value == "Renamed"


def test_a_refused_update_call_is_an_issue_per_row_and_the_next_run_makes_it(owner, sandbox):
    plan = project_plan(tasks=12, depth=2, links=3)
    run(plan, owner)
    tasks = plan.workspaces[0].sheets[0]
    first, last = tasks.rows[0], tasks.rows[-1]
    first.cells["TaskName"].value = "Renamed"
    last.cells["TaskName"].value = "Renamed too"
    depends = tasks.predecessors[0]
    depends.predecessors[0]["type"] = "SS"
    # Both Update Rows calls (the cells', then the predecessors') answered 400 as a whole.
    sandbox.fault("smartsheet", kind="error", status=400, code=1008, method="PUT", path="*/rows")

    refused = run(plan, owner)

    (project,) = refused.projects
    assert (project.rows_updated, project.predecessors_written) == (0, 0)
    assert sorted((i.rule, i.entity_id) for i in project.issues) == sorted(
        [
            ("row.refused", first.key),
            ("row.refused", last.key),
            ("predecessor.refused", depends.row_key),
        ]
    )
    # Nothing was recorded as written: the next run sends the same changes.
    sandbox.control("smartsheet", "DELETE", "faults", None)
    again = run(plan, owner)
    (project,) = again.projects
    assert (project.rows_updated, project.predecessors_written, project.issues) == (2, 1, [])


def test_a_row_deleted_in_smartsheet_is_an_issue_and_the_other_updates_are_made(owner, sandbox):
    plan = project_plan(tasks=12, depth=2)
    loaded = run(plan, owner)
    tasks = plan.workspaces[0].sheets[0]
    kept, gone = tasks.rows[0], tasks.rows[-1]  # the last row has no children
    sheet_id = loaded.projects[0].sheet_ids["tasks"]
    sdk(owner).Sheets.delete_rows(sheet_id, [RowLink.objects.get(key=gone.key).row_id])
    kept.cells["TaskName"].value = "Renamed"
    gone.cells["TaskName"].value = "Renamed too"

    again = run(plan, owner)

    (project,) = again.projects
    assert project.rows_updated == 1
    assert [(i.rule, i.entity_id, i.message) for i in project.issues] == [
        ("row.refused", gone.key, "Smartsheet refused the update: Not Found (error 1006)")
    ]
    name = next(c.id for c in read(owner, sheet_id).columns if c.title == "Task Name")
    assert cell(read(owner, sheet_id).rows[0], name).value == "Renamed"


class Killed(BaseException):
    """The worker dies: nothing after this line of ours runs."""


@pytest.mark.parametrize(
    ("function", "occurrence"),
    # The PMO sheets' values are the first three Add Rows; then the Tasks sheet's top level,
    # then its parents' children.
    [("add_rows", 4), ("add_rows", 7), ("create_workspace", 2), ("create_sheet_from", 1)],
)
def test_a_run_killed_after_smartsheet_answered_resumes_with_exactly_one_row_per_task(
    owner, sandbox, monkeypatch, function, occurrence
):
    plan = project_plan(tasks=60, depth=4)
    real = getattr(smartsheet, function)
    seen = {"count": 0}

    def answered_then_killed(*args, **kwargs):
        answer = real(*args, **kwargs)  # Smartsheet made it
        seen["count"] += 1
        if seen["count"] == occurrence:
            raise Killed  # ... and our commit never happens
        return answer

    monkeypatch.setattr(smartsheet, function, answered_then_killed)
    with pytest.raises(Killed):
        run(plan, owner)
    monkeypatch.setattr(smartsheet, function, real)
    assert LoadIntent.objects.exists()  # what the dead run was writing

    result = run(plan, owner)

    assert not LoadIntent.objects.exists() and result.issues == []
    (project,) = result.projects
    tasks = read(owner, project.sheet_ids["tasks"])
    guid = next(c.id for c in tasks.columns if c.title == "Task GUID")
    keys = [cell(row, guid).value for row in tasks.rows]
    assert sorted(keys) == sorted(row.key for row in plan.workspaces[0].sheets[0].rows)  # once each
    workspaces = [w.name for w in smartsheet.list_workspaces(sdk(owner))]
    assert workspaces.count("Riverside Tower") == 1 and workspaces.count("PMO Standards") == 1
    sheets = smartsheet.workspace_sheets(sdk(owner), workspace_id=project.sheet_workspace_id)
    assert len(sheets) == 3
    if function == "add_rows":
        assert project.rows_adopted > 0


def test_pmo_standards_are_made_once_then_verified_keeping_values_people_added(owner, sandbox):
    plan = project_plan(tasks=10, depth=2)
    first = run(plan, owner)
    assert sorted(first.pmo.created) == ["Resource - Type", "Task - Priority", "Task - Status"]
    status_sheet = first.pmo.sheet_ids["Task - Status"]
    # Someone adds a status in Smartsheet; the next plan has one more of its own.
    client = sdk(owner)
    primary = smartsheet.get_sheet(client, sheet_id=status_sheet).columns[0].id
    smartsheet.add_rows(
        client,
        sheet_id=status_sheet,
        cells=[[{"columnId": primary, "value": "Blocked"}]],
        parent_id=None,
    )
    plan.pmo[0].values.append("Deferred")
    sandbox.clear_calls("smartsheet")

    second = run(plan, owner)

    assert second.pmo.created == [] and second.pmo.sheet_ids == first.pmo.sheet_ids
    assert second.pmo.sheet_workspace_id == first.pmo.sheet_workspace_id
    assert second.pmo.values["Task - Status"] == [*STATUSES, "Blocked", "Deferred"]
    assert second.pmo.values_added == 1
    calls = sandbox.calls("smartsheet")["by_endpoint"]
    assert (
        "POST /2.0/workspaces" not in calls
        and "POST /2.0/workspaces/{workspace_id:int}/sheets" not in calls
    )
    assert calls[READ] == 3 and calls[ROWS] == 1  # verified, then the one value added
    tasks = read(owner, second.projects[0].sheet_ids["tasks"])
    status = next(c for c in tasks.columns if c.title == "Status")
    assert list(status.options) == [*STATUSES, "Blocked", "Deferred"]  # copied again
    assert ContainerLink.objects.filter(key__startswith="pmo").count() == 4


def test_refresh_pmo_picklists_copies_the_reference_values_into_migrated_columns(owner, sandbox):
    plan = project_plan(tasks=10, depth=2)
    result = run(plan, owner)
    client = sdk(owner)
    priority_sheet = result.pmo.sheet_ids["Task - Priority"]
    primary = smartsheet.get_sheet(client, sheet_id=priority_sheet).columns[0].id
    smartsheet.add_rows(
        client,
        sheet_id=priority_sheet,
        cells=[[{"columnId": primary, "value": "Urgent"}]],
        parent_id=None,
    )

    refreshed = load.refresh_pmo_picklists(
        connection=owner.smartsheet, hub_workspace=owner.smartsheet.workspace
    )

    assert (refreshed.columns_updated, refreshed.sheets) == (1, 2)
    tasks = read(owner, result.projects[0].sheet_ids["tasks"])
    priority = next(c for c in tasks.columns if c.title == "Priority")
    assert list(priority.options) == [*PRIORITIES, "Urgent"]
    # Nothing changed since: the command reads the reference sheets and writes nothing.
    sandbox.clear_calls("smartsheet")
    call_command("refresh_pmo_picklists", connection=owner.smartsheet.pk)
    assert sandbox.calls("smartsheet")["by_endpoint"] == {READ: 3}
