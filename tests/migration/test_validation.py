"""The seed's "Validation Rules" and "Error Handling": a project with deliberate defects gives
exactly the expected Issues, and the plan is repaired the way the seed says."""

from migration import validation
from migration.model import ColumnPlan, RowPlan, SheetPlan
from migration.transform import TransformSettings, plan_migration
from tests.migration import factories as f

g = f.guid


def defective_project():
    tasks = [
        f.task(1, "Phase", outline_level=1),
        f.task(2, task_name=None, outline_level=2),  # no name
        f.task(3, "Under the unnamed", outline_level=3),
        f.task(4, "Lost child", parent_task_id=g("task", 99)),  # a parent not in the project
        f.task(5, "Bad percentage", percent_complete="about half"),
        f.task(6, "Long notes", task_notes="n" * 4100),
        f.task(7, "Too complete", percent_complete=150),
        f.task(8, "Too important", priority=1500),
        f.task(9, "Bad date", start="31/12/2024"),
        f.task(1, "Twin of Phase", task_index=10),  # a duplicate id
    ]
    links = [
        f.link(1, 99),  # to a task that does not exist
        f.link(2, 3),  # from the unnamed task, which is not migrated
        f.link(5, 6),
        f.link(6, 7),
        f.link(7, 5),  # closes the circle 5 -> 6 -> 7 -> 5
        f.link(5, 6, "SS"),  # the same two tasks again
    ]
    resources = [f.resource(1, "John Doe", "john@example.com"), f.resource(1, "John Twin")]
    assignments = [f.assignment(99, 1), f.assignment(1, 42)]
    return f.extract(tasks=tasks, links=links, resources=resources, assignments=assignments)


def test_a_defective_project_gives_exactly_the_expected_issues():
    plan = plan_migration([defective_project()], settings=TransformSettings())
    found = [(i.severity, i.rule, i.entity, i.entity_id, i.field, i.value) for i in plan.issues]
    assert found == [
        ("error", "task.id.duplicate", "Task", g("task", 1), "Id", g("task", 1)),
        ("warning", "task.parent.missing", "Task", g("task", 4), "ParentTaskId", g("task", 99)),
        ("error", "task.name.missing", "Task", g("task", 2), "TaskName", ""),
        ("warning", "assignment.task.missing", "Assignment", g("assignment", "99:1"), "TaskId",
         g("task", 99)),
        ("warning", "assignment.resource.missing", "Assignment", g("assignment", "1:42"),
         "ResourceId", g("resource", 42)),
        ("warning", "task.percent.invalid", "Task", g("task", 5), "PercentComplete",
         "about half"),
        ("warning", "cell.too_long", "Task", g("task", 6), "TaskNotes", "4100 characters"),
        ("warning", "task.percent.out_of_range", "Task", g("task", 7), "PercentComplete", "150"),
        ("warning", "task.priority.out_of_range", "Task", g("task", 8), "Priority", "1500"),
        ("warning", "value.invalid", "Task", g("task", 9), "Start", "31/12/2024"),
        ("warning", "link.task.missing", "Link", f"{g('task', 1)}->{g('task', 99)}",
         "SuccessorTaskId", g("task", 99)),
        ("warning", "link.task.missing", "Link", f"{g('task', 2)}->{g('task', 3)}",
         "PredecessorTaskId", g("task", 2)),
        ("warning", "link.duplicate", "Link", f"{g('task', 5)}->{g('task', 6)}", "Type", "SS"),
        ("error", "link.circular", "Link", f"{g('task', 7)}->{g('task', 5)}",
         "PredecessorTaskId", f"{g('task', 7)}->{g('task', 5)}"),
        ("error", "resource.id.duplicate", "Resource", g("resource", 1), "Id", g("resource", 1)),
    ]  # fmt: skip


def test_the_plan_is_repaired_as_the_seed_says():
    plan = plan_migration([defective_project()], settings=TransformSettings())
    tasks = plan.workspaces[0].sheets[0]
    rows = {r.key: r for r in tasks.rows}
    # The unnamed task is left out; its child moves up to the unnamed task's parent.
    assert g("task", 2) not in rows
    assert rows[g("task", 3)].parent_key == g("task", 1)
    # A broken parent makes a top-level row; the duplicate keeps the first.
    assert rows[g("task", 4)].parent_key is None
    assert rows[g("task", 1)].cells["TaskName"].value == "Phase"
    assert len(tasks.rows) == 8
    # A bad percentage is 0; one out of range is clamped.
    bad = rows[g("task", 5)].cells
    assert (bad["PercentComplete"].value, bad["Status"].value) == (0.0, "Not Started")
    over = rows[g("task", 7)].cells
    assert (over["PercentComplete"].value, over["Status"].value) == (1.0, "Complete")
    assert rows[g("task", 8)].cells["Priority"].value == "Highest"
    # Over-long notes are cut to 4,000 characters; an unreadable date leaves the cell empty.
    assert rows[g("task", 6)].cells["TaskNotes"].value == "n" * 4000
    assert "Start" not in rows[g("task", 9)].cells
    assert rows[g("task", 9)].cells["Finish"].value == "2024-03-22"
    # Only the links that can be written: no missing task, no duplicate, no circle.
    assert [(p.row_key, [q["row_key"] for q in p.predecessors]) for p in tasks.predecessors] == [
        (g("task", 6), [g("task", 5)]),
        (g("task", 7), [g("task", 6)]),
    ]


def test_a_clean_project_has_no_issues():
    plan = plan_migration([f.extract()], settings=TransformSettings())
    assert plan.issues == []


def test_ids_that_are_not_guids_are_reported_for_project_online_only():
    tasks = [f.task(1, id="T-1")]
    plan = plan_migration([f.extract(tasks=tasks)])
    assert [(i.rule, i.entity_id) for i in plan.issues] == [("id.not_guid", "T-1")]
    plan = plan_migration([f.extract(tasks=tasks, source="file")])
    assert plan.issues == []


def test_a_resource_without_name_or_email_is_not_migrated():
    resources = [f.resource(1, None, "x@example.com"), f.resource(2, None, None)]
    plan = plan_migration([f.extract(resources=resources)])
    assert [(i.severity, i.rule, i.entity_id) for i in plan.issues] == [
        ("warning", "resource.name.missing", g("resource", 1)),
        ("error", "resource.name.missing", g("resource", 2)),
    ]
    (row,) = plan.workspaces[0].sheets[1].rows
    assert row.cells["Name"].value == "x@example.com"


def sheet_of(columns: int, rows: int, name: str = "Tasks") -> SheetPlan:
    return SheetPlan(
        key="tasks",
        name=name,
        columns=[ColumnPlan(key=f"c{n}", title=f"Column {n}", type="TEXT_NUMBER")
                 for n in range(columns)],
        rows=[RowPlan(key=str(n)) for n in range(rows)],
    )  # fmt: skip


def test_smartsheets_limits_are_errors_on_the_sheet_before_loading():
    def rules_of(sheet):
        findings = validation.Findings()
        validation.check_sheet(sheet, findings)
        return [(i.severity, i.rule, i.value) for i in findings.issues]

    assert rules_of(sheet_of(400, 1250)) == []  # the limits guide's own example
    assert rules_of(sheet_of(401, 1)) == [("error", "sheet.columns.limit", "401")]
    assert rules_of(sheet_of(25, 20_001)) == [
        ("error", "sheet.rows.limit", "20001"),
        ("error", "sheet.cells.limit", "500025"),
    ]
    assert rules_of(sheet_of(26, 20_000)) == [("error", "sheet.cells.limit", "520000")]
    long = sheet_of(1, 1, name="N" * 51)
    long.columns[0].title = "T" * 51
    long.columns.append(ColumnPlan(key="twin", title="t" * 51, type="TEXT_NUMBER"))
    assert rules_of(long) == [
        ("error", "sheet.name.too_long", "N" * 51),
        ("error", "column.name.too_long", "T" * 51),
        ("error", "column.name.too_long", "t" * 51),
        ("error", "column.name.duplicate", "t" * 51),
    ]


def test_a_project_over_the_column_limit_is_reported_on_its_sheet():
    from migration.model import CustomField

    fields = [CustomField("Task", f"TaskText{n}", None, "text") for n in range(1, 390)]
    tasks = [f.task(1, custom={field.name: "x" for field in fields})]
    plan = plan_migration(
        [f.extract(tasks=tasks, custom_fields=fields)],
        settings=TransformSettings(custom_fields_max_per_sheet=500),
    )
    assert [(i.rule, i.entity_id, i.value) for i in plan.issues] == [
        ("sheet.columns.limit", f"{f.PROJECT_ID}:tasks", "412")
    ]


def test_foreign_keys_types_and_loops_are_reported():
    tasks = [
        f.task(1, "Elsewhere", project_id=f.guid("project", 2)),  # names another project
        f.task(2, "Loop A", parent_task_id=g("task", 3)),
        f.task(3, "Loop B", parent_task_id=g("task", 2)),
    ]
    resources = [
        f.resource(1, "No Mail"),  # a Work resource without an email
        f.resource(2, "Robot", "robot@example.com", resource_type="Android"),
    ]
    assignments = [f.assignment(1, 1), f.assignment(1, 2)]
    extract = f.extract(
        tasks=tasks,
        resources=resources,
        assignments=assignments,
        links=[f.link(2, 1, "XY")],
        custom={"ProjectText1": "kept nowhere"},
    )
    plan = plan_migration([extract], settings=TransformSettings(summary_sheet=False))
    assert [(i.severity, i.rule, i.entity_id) for i in plan.issues] == [
        ("warning", "task.project.mismatch", g("task", 1)),
        ("warning", "task.parent.cycle", g("task", 2)),
        ("warning", "assignment.email.missing", g("assignment", "1:1")),
        ("warning", "link.type.invalid", f"{g('task', 2)}->{g('task', 1)}"),
        ("warning", "resource.type.unknown", g("resource", 2)),
        ("warning", "custom.project.no_summary", f.PROJECT_ID),
    ]
    tasks_sheet = plan.workspaces[0].sheets[0]
    assert [(r.key, r.parent_key) for r in tasks_sheet.rows] == [
        (g("task", 1), None),
        (g("task", 2), None),
        (g("task", 3), g("task", 2)),
    ]
    assert tasks_sheet.predecessors[0].predecessors[0]["type"] == "FS"
    assert not any(k.startswith("assign:") for r in tasks_sheet.rows for k in r.cells)
