"""plan_migration against the seed's own examples: hierarchy, predecessors, assignments
(section 4's example result), custom fields (section 5's Examples 1 and 2, the filtering
logic, the column creation order), the sheets' columns, and the mapping sets."""

import json

import pytest
from django.test import override_settings

from integrations.mapping.models import FieldMapping
from migration import rules
from migration.mapping import shipped_rows, workspace_rows
from migration.model import CustomField, Plan
from migration.transform import TransformSettings, plan_migration
from tests.factories import WorkspaceFactory
from tests.migration import factories as f


def only_workspace(*extracts, **settings):
    plan = plan_migration(list(extracts), settings=TransformSettings(**settings))
    return plan, plan.workspaces[0]


def sheet(workspace, key):
    return next(s for s in workspace.sheets if s.key == key)


def column(sheet_plan, key):
    return next(c for c in sheet_plan.columns if c.key == key)


def issues_of(plan):
    return [(i.severity, i.rule, i.entity_id) for i in plan.issues]


# --- hierarchy ------------------------------------------------------------------------------------


def test_the_seeds_hierarchy_example_becomes_parent_rows_before_children():
    tasks = f.outline(
        ("Task 1", 0), ("Task 1.1", 1), ("Task 1.1.1", 2), ("Task 1.2", 1), ("Task 2", 0)
    )
    plan, workspace = only_workspace(f.extract(tasks=tasks))
    rows = sheet(workspace, "tasks").rows
    names = {t.id: t.task_name for t in tasks}
    assert [(names[r.key], r.parent_key and names[r.parent_key]) for r in rows] == [
        ("Task 1", None),
        ("Task 1.1", "Task 1"),
        ("Task 1.1.1", "Task 1.1"),
        ("Task 1.2", "Task 1"),
        ("Task 2", None),
    ]
    assert plan.issues == []


def test_parent_task_ids_win_and_parents_come_first_whatever_the_index():
    child = f.task(1, "Child", parent_task_id=f.guid("task", 3), outline_level=2)
    other = f.task(2, "Other")
    parent = f.task(3, "Parent")
    plan, workspace = only_workspace(f.extract(tasks=[child, other, parent]))
    rows = sheet(workspace, "tasks").rows
    assert [(r.cells["TaskName"].value, r.parent_key) for r in rows] == [
        ("Other", None),
        ("Parent", None),
        ("Child", parent.id),
    ]


# --- predecessors ---------------------------------------------------------------------------------


def test_links_become_predecessor_lists_by_row_key_with_type_and_lag():
    # The seed's "5FS", "3SS+2d", "7FF-1d" and "5FS, 8SS" on an 8-hour day.
    tasks = [f.task(n) for n in range(1, 10)]
    links = [
        f.link(5, 9, "FS"),
        f.link(3, 6, "SS", 2 * 480),
        f.link(7, 8, "FF", -480),
        f.link(8, 9, "SS"),
    ]
    plan, workspace = only_workspace(f.extract(tasks=tasks, links=links))
    predecessors = {p.row_key: p.predecessors for p in sheet(workspace, "tasks").predecessors}
    g = f.guid
    assert predecessors == {
        g("task", 6): [{"row_key": g("task", 3), "type": "SS", "lag_minutes": 960, "lag_days": 2.0}],
        g("task", 8): [{"row_key": g("task", 7), "type": "FF", "lag_minutes": -480, "lag_days": -1.0}],
        g("task", 9): [
            {"row_key": g("task", 5), "type": "FS", "lag_minutes": 0, "lag_days": 0.0},
            {"row_key": g("task", 8), "type": "SS", "lag_minutes": 0, "lag_days": 0.0},
        ],
    }  # fmt: skip
    # In row order, for the load's second pass.
    assert [p.row_key for p in sheet(workspace, "tasks").predecessors] == [
        g("task", 6), g("task", 8), g("task", 9),
    ]  # fmt: skip


def test_a_lag_in_days_follows_the_projects_own_hours_per_day():
    tasks = [f.task(1), f.task(2)]
    plan, workspace = only_workspace(
        f.extract(tasks=tasks, links=[f.link(1, 2, "FS", 600)], hours_per_day=10)
    )
    (pred,) = sheet(workspace, "tasks").predecessors
    assert pred.predecessors[0]["lag_days"] == 1.0
    assert sheet(workspace, "tasks").rows[0].cells["Duration"].value == 4.0  # PT40H / 10
    assert sheet(workspace, "tasks").project_settings["lengthOfDay"] == 10


# --- assignments (section 4) ------------------------------------------------------------------------


def section_4_extract():
    resources = [
        f.resource(1, "John Doe", "john@example.com"),
        f.resource(2, "Jane Smith", "jane@example.com"),
        f.resource(3, "Crane A", "crane@equipment.com", resource_type="Material"),
        f.resource(4, "Forklift B", None, resource_type="Material"),
        f.resource(5, "Engineering Dept", "dept-123@finance.com", resource_type="Cost"),
        f.resource(6, "Marketing Budget", None, resource_type="Cost"),
        f.resource(7, "Sam Spare", "sam@example.com"),
    ]
    assignments = [f.assignment(1, n) for n in range(1, 7)]
    return f.extract(tasks=[f.task(1, "task-123"), f.task(2)], resources=resources,
                     assignments=assignments)  # fmt: skip


def test_assignments_become_the_seeds_example_result():
    plan, workspace = only_workspace(section_4_extract())
    tasks = sheet(workspace, "tasks")
    row = tasks.rows[0]
    assert {k: c.object_value for k, c in row.cells.items() if k.startswith("assign:")} == {
        "assign:Work": {
            "objectType": "MULTI_CONTACT",
            "values": [
                {"objectType": "CONTACT", "email": "john@example.com", "name": "John Doe"},
                {"objectType": "CONTACT", "email": "jane@example.com", "name": "Jane Smith"},
            ],
        },
        "assign:Material": {"objectType": "MULTI_PICKLIST", "values": ["Crane A", "Forklift B"]},
        "assign:Cost": {
            "objectType": "MULTI_PICKLIST",
            "values": ["Engineering Dept", "Marketing Budget"],
        },
    }
    assert not any(k.startswith("assign:") for k in tasks.rows[1].cells)  # no assignments
    work, material, cost = (column(tasks, f"assign:{k}") for k in ("Work", "Material", "Cost"))
    assert (work.title, work.type, work.width) == ("Team Members", "MULTI_CONTACT_LIST", 150)
    assert work.contact_options == [
        {"email": "john@example.com", "name": "John Doe"},
        {"email": "jane@example.com", "name": "Jane Smith"},
        {"email": "sam@example.com", "name": "Sam Spare"},
    ]
    assert (material.title, material.type, material.options) == (
        "Equipment", "MULTI_PICKLIST", ["Crane A", "Forklift B"],
    )  # fmt: skip
    assert (cost.title, cost.type, cost.options) == (
        "Cost Centers", "MULTI_PICKLIST", ["Engineering Dept", "Marketing Budget"],
    )  # fmt: skip


def test_only_the_assignment_types_found_get_a_column():
    extract = section_4_extract()
    extract.assignments = [f.assignment(1, 1)]
    plan, workspace = only_workspace(extract)
    keys = [c.key for c in sheet(workspace, "tasks").columns if c.key.startswith("assign:")]
    assert keys == ["assign:Work"]


# --- the sheets and their columns ---------------------------------------------------------------


def test_the_tasks_sheet_has_the_seeds_columns_types_widths_and_flags():
    plan, workspace = only_workspace(f.extract())
    tasks = sheet(workspace, "tasks")
    assert tasks.name == "Website Redesign - Tasks"
    got = [(c.title, c.type, c.width, c.primary, c.hidden, c.locked) for c in tasks.columns]
    assert got == [
        ("Task Name", "TEXT_NUMBER", 300, True, False, False),
        ("Task ID", "TEXT_NUMBER", 80, False, False, True),
        ("Project Online Task ID", "TEXT_NUMBER", 150, False, True, True),
        ("Start Date", "DATE", 120, False, False, False),
        ("End Date", "DATE", 120, False, False, False),
        ("Duration", "DURATION", 80, False, False, False),
        ("% Complete", "TEXT_NUMBER", 100, False, False, False),
        ("Status", "PICKLIST", 120, False, False, False),
        ("Priority", "PICKLIST", 120, False, False, False),
        ("Work (hrs)", "TEXT_NUMBER", 100, False, False, False),
        ("Actual Work (hrs)", "TEXT_NUMBER", 100, False, False, False),
        ("Milestone", "CHECKBOX", 80, False, False, False),
        ("Notes", "TEXT_NUMBER", 250, False, False, False),
        ("Predecessors", "PREDECESSOR", 150, False, False, False),
        ("Constraint Type", "PICKLIST", 120, False, False, False),
        ("Constraint Date", "DATE", 120, False, False, False),
        ("Deadline", "DATE", 120, False, False, False),
        ("Project Online Created Date", "DATE", 120, False, False, False),
        ("Project Online Modified Date", "DATE", 120, False, False, False),
        ("Created Date", "DATETIME", 120, False, False, True),
        ("Modified Date", "DATETIME", 120, False, False, True),
        ("Created By", "CONTACT_LIST", 150, False, False, True),
        ("Modified By", "CONTACT_LIST", 150, False, False, True),
    ]
    auto = column(tasks, "AutoNumber")
    assert auto.system_column_type == "AUTO_NUMBER"
    assert auto.auto_number_format == {
        "prefix": "WRE-", "fill": "00000", "suffix": "", "startingNumber": 1,
    }  # fmt: skip
    assert [c.key for c in tasks.columns if c.from_template] == [
        "TaskName", "Start", "Finish", "Duration", "Predecessors",
    ]  # fmt: skip
    assert column(tasks, "PercentComplete").format == rules.PERCENT_FORMAT
    assert column(tasks, "Status").options == ["Not Started", "In Progress", "Complete"]
    assert column(tasks, "Status").source == "PMO Standards/Task - Status"
    assert column(tasks, "Priority").options == rules.PRIORITY_LEVELS
    assert column(tasks, "ConstraintType").options == list(rules.CONSTRAINT_TYPES)
    assert tasks.project_settings == {
        "ganttEnabled": True,
        "dependenciesEnabled": True,
        "resourceManagementEnabled": False,
        "durationColumnName": "Duration",
        "startDateColumnName": "Start Date",
        "endDateColumnName": "End Date",
        "predecessorColumnName": "Predecessors",
        "displayColumnName": "Task Name",
        "lengthOfDay": 8.0,
    }


def test_a_tasks_cells_follow_the_rules():
    task = f.task(
        1, "Design Homepage", start="2024-12-31T23:59:59-08:00", duration="PT36H",
        work="PT7H30M", percent_complete=45, priority=800, is_milestone=True,
        task_notes="Review with team", constraint_type="Must Start On",
        constraint_date="2024-03-20T08:00:00Z", deadline="2024-04-01T17:00:00Z",
    )  # fmt: skip
    plan, workspace = only_workspace(f.extract(tasks=[task]))
    cells = sheet(workspace, "tasks").rows[0].cells
    assert {k: c.value for k, c in cells.items()} == {
        "TaskName": "Design Homepage",
        "Id": task.id,
        "Start": "2024-12-31",
        "Finish": "2024-03-22",
        "Duration": 4.5,
        "PercentComplete": 0.45,
        "Status": "In Progress",
        "Priority": "Very High",
        "Work": "7.5h",
        "ActualWork": "0h",
        "IsMilestone": True,
        "TaskNotes": "Review with team",
        "ConstraintType": "MSO",
        "ConstraintDate": "2024-03-20",
        "Deadline": "2024-04-01",
    }


def test_the_resources_sheet_keeps_numbers_and_contacts():
    person = f.resource(1, "John Doe", "john@example.com", max_units=1.5, standard_rate=75,
                        overtime_rate=112.5, cost_per_use=50, department="Engineering",
                        code="ENG-001", is_generic=False)  # fmt: skip
    plan, workspace = only_workspace(f.extract(resources=[person]))
    resources = sheet(workspace, "resources")
    assert resources.name == "Website Redesign - Resources"
    cells = resources.rows[0].cells
    assert cells["Contact"].object_value == {
        "objectType": "CONTACT", "email": "john@example.com", "name": "John Doe",
    }  # fmt: skip
    assert {k: cells[k].value for k in ("Name", "MaxUnits", "StandardRate", "OvertimeRate",
                                         "CostPerUse", "IsActive", "IsGeneric")} == {
        "Name": "John Doe", "MaxUnits": 1.5, "StandardRate": 75.0, "OvertimeRate": 112.5,
        "CostPerUse": 50.0, "IsActive": True, "IsGeneric": False,
    }  # fmt: skip
    assert column(resources, "MaxUnits").format == rules.PERCENT_FORMAT
    assert column(resources, "StandardRate").format == rules.CURRENCY_FORMAT
    assert column(resources, "Department").options == ["Engineering"]
    assert column(resources, "AutoNumber").auto_number_format["prefix"] == "WRE-"
    assert (column(resources, "Id").hidden, column(resources, "Id").locked) == (True, True)
    pmo = {p.name: p.values for p in plan.pmo}
    assert pmo["Resource - Department"] == ["Engineering"]
    assert pmo["Task - Constraint Type"] == ["ASAP", "ALAP", "SNET", "SNLT", "FNET", "FNLT",
                                             "MSO", "MFO"]  # fmt: skip


def test_the_summary_sheet_is_property_and_value_and_can_be_turned_off():
    plan, workspace = only_workspace(f.extract())
    summary = sheet(workspace, "summary")
    assert summary.name == "Website Redesign - Summary"
    rows = {r.key: r.cells["Value"] for r in summary.rows}
    assert rows["Owner"].value == "John Doe (john.doe@example.com)"
    assert rows["Start Date"].value == "2024-03-01"
    assert rows["Priority"].value == "Medium"
    assert (rows["% Complete"].value, rows["% Complete"].format) == (0.45, rules.PERCENT_FORMAT)
    assert [c.title for c in summary.columns][:2] == ["Property", "Value"]

    plan, workspace = only_workspace(f.extract(), summary_sheet=False)
    assert [s.key for s in workspace.sheets] == ["tasks", "resources"]


def test_names_are_sanitised_and_the_prefix_comes_from_the_project():
    plan, workspace = only_workspace(f.extract(name="Q1/Q2 Planning & Execution"))
    assert workspace.name == "Q1-Q2 Planning & Execution"
    assert workspace.prefix == "QQPE"  # Q1, Q2, Planning, Execution
    assert [s.name for s in workspace.sheets][0] == "Q1-Q2 Planning & Execution - Tasks"


def test_the_plan_survives_a_json_round_trip():
    plan = plan_migration([section_4_extract()])
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan


# --- custom fields (section 5) ---------------------------------------------------------------------


def test_example_1_project_custom_fields_become_typed_summary_values():
    fields = [
        CustomField("Project", "ProjectText1", "Customer Name", "text"),
        CustomField("Project", "ProjectNumber1", "Budget Amount", "number"),
        CustomField("Project", "ProjectDate1", "Contract End Date", "date"),
    ]
    extract = f.extract(custom_fields=fields, custom={
        "ProjectText1": "Customer A", "ProjectNumber1": 115000,
        "ProjectDate1": "2024-06-30T00:00:00Z",
    })  # fmt: skip
    plan, workspace = only_workspace(extract)
    rows = {r.cells["Property"].value: r.cells["Value"] for r in sheet(workspace, "summary").rows}
    assert rows["Custom - Customer Name"].value == "Customer A"
    assert (rows["Custom - Budget Amount"].value, rows["Custom - Budget Amount"].format) == (
        115000.0, rules.CURRENCY_FORMAT,
    )  # fmt: skip
    assert rows["Custom - Contract End Date"].value == "2024-06-30"


def test_example_2_a_task_text_field_with_repeating_values_is_a_picklist():
    values = ["Specification", "Design", "Code", "Test", "Documentation"]
    tasks = [f.task(n, custom={"TaskText1": values[n % 5]}) for n in range(1, 11)]
    fields = [CustomField("Task", "TaskText1", "Deliverable Type", "text")]
    plan, workspace = only_workspace(f.extract(tasks=tasks, custom_fields=fields))
    custom = column(sheet(workspace, "tasks"), "custom:TaskText1")
    assert (custom.title, custom.type) == ("Custom - Deliverable Type", "PICKLIST")
    assert custom.options == sorted(values)
    assert sheet(workspace, "tasks").rows[0].cells["custom:TaskText1"].value == "Design"


def test_custom_fields_are_typed_by_the_sections_table():
    fields = [
        CustomField("Task", "TaskText2", "Free Text", "text"),
        CustomField("Task", "TaskNumber1", "Story Points", "number"),
        CustomField("Task", "TaskFlag1", "Billable", "flag"),
        CustomField("Task", "TaskCost1", None, "cost"),
        CustomField("Task", "TaskDuration1", "Buffer", "duration"),
    ]
    tasks = [
        f.task(1, custom={"TaskText2": "alpha", "TaskNumber1": 5, "TaskFlag1": True,
                          "TaskCost1": 1200.5, "TaskDuration1": "PT12H"}),
        f.task(2, custom={"TaskText2": "beta"}),
    ]  # fmt: skip
    plan, workspace = only_workspace(f.extract(tasks=tasks, custom_fields=fields))
    tasks_sheet = sheet(workspace, "tasks")
    got = {
        c.key: (c.title, c.type, c.format)
        for c in tasks_sheet.columns
        if c.key.startswith("custom:")
    }
    assert got == {
        "custom:TaskText2": ("Custom - Free Text", "TEXT_NUMBER", None),
        "custom:TaskNumber1": ("Custom - Story Points", "TEXT_NUMBER", None),
        "custom:TaskFlag1": ("Custom - Billable", "CHECKBOX", None),
        "custom:TaskCost1": ("Custom - Task Cost 1", "TEXT_NUMBER", rules.CURRENCY_FORMAT),
        "custom:TaskDuration1": ("Custom - Buffer", "TEXT_NUMBER", None),
    }
    cells = tasks_sheet.rows[0].cells
    assert [cells[k].value for k in got] == ["alpha", 5.0, True, 1200.5, "12h"]


def test_custom_field_filtering_follows_the_sections_logic():
    fields = [CustomField("Task", f"TaskText{n}", None, "text") for n in range(1, 8)]
    tasks = [
        f.task(n, custom={f"TaskText{k}": f"v{n}" for k in range(2, 8) if n <= k})
        for n in range(1, 8)
    ]  # TaskText1 is empty; TaskTextK is filled on K tasks
    # Empty TaskText1 dropped, TaskText5 excluded, 6 and 7 not included; of 2, 3 and 4 the
    # two most used are kept (in usage order, as the section sorts them).
    settings = dict(custom_fields_exclude_pattern=r"^TaskText5$",
                    custom_fields_include_pattern=r"^TaskText[1-5]$",
                    custom_fields_max_per_sheet=2)  # fmt: skip
    plan, workspace = only_workspace(f.extract(tasks=tasks, custom_fields=fields), **settings)
    keys = [c.key for c in sheet(workspace, "tasks").columns if c.key.startswith("custom:")]
    assert keys == ["custom:TaskText4", "custom:TaskText3"]
    assert [(i.rule, i.value) for i in plan.issues if i.rule == "custom.max_per_sheet"] == [
        ("custom.max_per_sheet", "TaskText2")
    ]

    plan, workspace = only_workspace(f.extract(tasks=tasks, custom_fields=fields),
                                     custom_fields_filter_empty=False)  # fmt: skip
    keys = [c.key for c in sheet(workspace, "tasks").columns if c.key.startswith("custom:")]
    assert keys == [f"custom:TaskText{n}" for n in range(1, 8)]

    plan, workspace = only_workspace(f.extract(tasks=tasks, custom_fields=fields),
                                     custom_fields_enabled=False)  # fmt: skip
    assert not any(c.key.startswith("custom:") for c in sheet(workspace, "tasks").columns)


def test_columns_are_created_primary_standard_custom_then_system():
    extract = section_4_extract()
    extract.custom_fields = [CustomField("Task", "TaskText1", "Phase", "text")]
    extract.tasks[0].custom = {"TaskText1": "One"}
    plan, workspace = only_workspace(extract)
    keys = [c.key for c in sheet(workspace, "tasks").columns]
    assert keys[0] == "TaskName"
    assert keys[-5:] == ["custom:TaskText1", "system:CREATED_DATE", "system:MODIFIED_DATE",
                         "system:CREATED_BY", "system:MODIFIED_BY"]  # fmt: skip
    assert keys.index("ModifiedDate") < keys.index("assign:Work") < keys.index("custom:TaskText1")


def test_a_formula_field_is_copied_as_static_values_and_logged():
    fields = [CustomField("Task", "TaskNumber2", "Adjusted Budget", "formula",
                          formula="[Budget] * 1.15")]  # fmt: skip
    tasks = [f.task(1, custom={"TaskNumber2": 115000}), f.task(2, custom={"TaskNumber2": 92000})]
    plan, workspace = only_workspace(f.extract(tasks=tasks, custom_fields=fields))
    tasks_sheet = sheet(workspace, "tasks")
    assert column(tasks_sheet, "custom:TaskNumber2").type == "TEXT_NUMBER"
    assert [r.cells["custom:TaskNumber2"].value for r in tasks_sheet.rows] == [115000, 92000]
    (issue,) = plan.issues
    assert (issue.severity, issue.rule, issue.entity, issue.field, issue.value) == (
        "warning", "custom.formula", "Task", "TaskNumber2", "[Budget] * 1.15",
    )  # fmt: skip
    assert "Custom - Adjusted Budget" in issue.message


def test_a_lookup_field_is_a_picklist_sourced_from_pmo_standards():
    fields = [CustomField("Task", "TaskText3", "Department", "lookup", lookup_table="Departments",
                          lookup_values=["Engineering", "Sales"])]  # fmt: skip
    tasks = [f.task(1, custom={"TaskText3": "Marketing"}), f.task(2, custom={"TaskText3": "Sales"})]
    plan, workspace = only_workspace(f.extract(tasks=tasks, custom_fields=fields))
    lookup = column(sheet(workspace, "tasks"), "custom:TaskText3")
    assert (lookup.type, lookup.source) == ("PICKLIST", "PMO Standards/Task - Department")
    assert lookup.options == ["Engineering", "Sales", "Marketing"]
    assert {p.name: p.values for p in plan.pmo}["Task - Department"] == lookup.options


# --- mapping sets ---------------------------------------------------------------------------------


def test_an_edited_mapping_set_changes_the_plan():
    rows = shipped_rows()
    notes = next(r for r in rows["tasks"] if r["target"] == "TaskNotes")
    notes.update(transform="truncate", params={"max_length": 6, "suffix": "…"})
    rows["tasks"] = [r for r in rows["tasks"] if r["target"] != "Work"]
    rows["tasks"].append(
        {"source": "task_type", "target": "Task Type", "transform": "text", "params": {},
         "direction": "push"}
    )  # fmt: skip
    rows["tasks"].append(
        {"source": "task_type,task_name", "target": "Kinds", "transform": "to_array",
         "params": {}, "direction": "push"}
    )  # fmt: skip
    task = f.task(1, task_notes="Review with team", task_type="Fixed Work")
    plan, workspace = only_workspace(f.extract(tasks=[task]), mappings=rows)
    tasks = sheet(workspace, "tasks")
    cells = tasks.rows[0].cells
    assert cells["TaskNotes"].value == "Revie…"
    assert "Work" not in cells
    assert cells["Task Type"].value == "Fixed Work"
    assert column(tasks, "Task Type").type == "TEXT_NUMBER"
    assert cells["Kinds"].value == "Fixed Work, Task 1"


@pytest.mark.django_db
def test_a_hub_workspaces_mapping_sets_are_made_from_the_shipped_ones_and_used():
    hub = WorkspaceFactory()
    rows = workspace_rows(hub)
    assert rows == shipped_rows()
    priority = FieldMapping.objects.get(
        mapping_set__workspace=hub, mapping_set__name="Migration: Smartsheet Tasks sheet",
        target_field="Priority",
    )  # fmt: skip
    priority.transform, priority.params = "default", {"value": "Urgent"}
    priority.save()
    with override_settings(MIGRATION_HOURS_PER_DAY=10.0, MIGRATION_SUMMARY_SHEET=False):
        settings = TransformSettings.from_settings(hub_workspace=hub)
    assert (settings.hours_per_day, settings.summary_sheet) == (10.0, False)
    task = f.task(1, priority=None)
    plan = plan_migration([f.extract(tasks=[task])], settings=settings)
    cells = plan.workspaces[0].sheets[0].rows[0].cells
    assert (cells["Priority"].value, cells["Duration"].value) == ("Urgent", 4.0)


def test_a_resource_type_is_written_as_the_picklists_option():
    resources = [f.resource(1, "Crane", resource_type="material"), f.resource(2, "Ann")]
    plan, workspace = only_workspace(f.extract(resources=resources))
    rows = sheet(workspace, "resources").rows
    assert [r.cells["ResourceType"].value for r in rows] == ["Material", "Work"]
