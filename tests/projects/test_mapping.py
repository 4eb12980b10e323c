"""The column conversion is a mapping set: shipped as the default of each workspace's
Smartsheet setup, editable in admin, read by every sync in both directions."""

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from integrations.mapping.models import FieldMapping, MappingSet
from integrations.mapping.transforms import MappingError
from projects import sheet
from projects.models import SmartsheetSetup, TaskBlock
from tests.projects.conftest import run_sync
from tests.projects.helpers import add, edit_row, row_of, rows_of

pytestmark = pytest.mark.django_db

SHIPPED = "Projects: Smartsheet rows"


def framing(project, author):
    return add(
        project,
        author,
        "taskblock",
        title="Framing",
        status="in_progress",
        amount=Decimal("1200"),
        notes="north wing, second floor",
    )


def field(workspace, target: str) -> FieldMapping:
    return FieldMapping.objects.get(
        mapping_set__workspace=workspace, mapping_set__name=SHIPPED, target_field=target
    )


def test_the_shipped_set_is_made_with_the_sheet_and_named_by_the_setup(linked, author):
    # Made when the sheet was linked, so an admin can read and adjust it before a first sync.
    setup = SmartsheetSetup.objects.get(workspace=linked.workspace)
    assert setup.mapping_set.name == SHIPPED and setup.mapping_set.workspace == linked.workspace
    assert setup.mapping_set.fields.count() == 9
    block = framing(linked, author)
    run = run_sync(linked, author, "outbound")

    assert run.status == "succeeded"
    row = rows_of(linked, author)[row_of(block)]
    assert (row["name"], row["status"], row["amount"]) == ("Framing", "In Progress", 1200)


def test_an_edited_set_changes_the_cells_written(linked, author):
    block = framing(linked, author)
    notes = field(linked.workspace, "notes")
    notes.transform, notes.params = "truncate", {"max_length": 11, "mode": "cut"}
    notes.save()
    amount = field(linked.workspace, "amount")
    amount.direction = FieldMapping.Direction.NONE  # amounts stay out of Smartsheet
    amount.save()

    run_sync(linked, author, "outbound")

    row = rows_of(linked, author)[row_of(block)]
    assert (row["notes"], row.get("amount")) == ("north wing,", None)


def test_edits_come_back_only_through_fields_the_set_reads_back(linked, author):
    block = framing(linked, author)
    run_sync(linked, author, "outbound")
    notes = field(linked.workspace, "notes")
    notes.direction = FieldMapping.Direction.PUSH  # sent, never read back
    notes.save()

    edit_row(linked, author, row_of(block), notes="changed in Smartsheet", status="Complete")
    run_sync(linked, author, "inbound")

    block.refresh_from_db()
    assert (block.status, block.notes) == ("complete", "north wing, second floor")


def test_status_labels_come_from_the_set_both_ways(linked, author):
    status = field(linked.workspace, "status")
    status.params = {**status.params, "values": {**status.params["values"], "on_hold": "Paused"}}
    status.save()
    block = add(linked, author, "taskblock", title="Roofing", status="on_hold")

    run_sync(linked, author, "outbound")
    assert rows_of(linked, author)[row_of(block)]["status"] == "Paused"

    TaskBlock.objects.filter(pk=block.pk).update(status="complete")
    run_sync(linked, author, "outbound")
    edit_row(linked, author, row_of(block), status="Paused")
    run_sync(linked, author, "inbound")
    block.refresh_from_db()
    assert block.status == "on_hold"


def test_a_set_aimed_at_a_column_the_sheet_lacks_stops_the_run_naming_it(linked, author):
    framing(linked, author)
    run_sync(linked, author, "outbound")
    notes = field(linked.workspace, "notes")
    notes.target_field = "remarks"
    notes.save()
    add(linked, author, "taskblock", title="Roofing")

    run = run_sync(linked, author, "outbound")

    assert run.status == "failed"
    assert "“remarks” is not a column of the project sheet" in run.message
    assert SHIPPED in run.message


def test_an_entry_the_set_refuses_fails_alone(linked, author):
    status = field(linked.workspace, "status")
    values = {k: v for k, v in status.params["values"].items() if k != "on_hold"}
    status.params = {"values": values, "strict": True}  # a status it does not list is refused
    status.save()
    add(linked, author, "taskblock", title="Going", status="in_progress")
    add(linked, author, "taskblock", title="Waiting", status="on_hold")

    run = run_sync(linked, author, "outbound")

    assert (run.status, run.created, run.failed) == ("partial", 1, 1)
    assert "Waiting" in run.errors[0]["item"]
    assert "the mapping set refused it" in run.errors[0]["message"]
    assert "'on_hold' is not one of the known values" in run.errors[0]["message"]


def test_a_set_that_requires_approval_holds_the_rows(linked, author):
    run_sync(linked, author, "outbound")
    MappingSet.objects.filter(name=SHIPPED).update(requires_approval=True)
    framing(linked, author)

    run = run_sync(linked, author, "outbound")

    assert (run.created, run.held) == (0, 1) and rows_of(linked, author) == {}


def test_a_setup_cannot_name_another_workspaces_set(linked, author, two_workspaces):
    other = MappingSet.objects.create(
        workspace=two_workspaces["b"], name="B's rows", target_entity="project sheet row"
    )
    setup, _ = SmartsheetSetup.objects.get_or_create(workspace=linked.workspace)
    setup.mapping_set = other
    with pytest.raises(ValidationError, match="own workspace"):
        setup.full_clean()


def test_the_shipped_file_converts_as_the_hand_written_code_did():
    """The shipped set against the conversion it replaced, kind by kind (spot values)."""
    conversion = sheet.Conversion(json.loads(sheet.ROWS_MAPPING.read_text())["fields"])
    block = TaskBlock(title="Framing", status="not_started", notes="", amount=Decimal("10.50"))
    assert conversion.cells(block, "1042") == {
        "name": "Framing",
        "project_number": 1042,
        "type": "Task Block",
        "status": "Not Started",
        "start_date": None,
        "end_date": None,
        "amount": 10.5,
        "notes": None,
        "author": None,
    }
    assert conversion.inbound_changes(block, {"status": "Done", "amount": "x"}) == {}
    assert conversion.inbound_changes(block, {"status": "Complete", "amount": 12}) == {
        "status": "complete",
        "amount": Decimal("12"),
    }
    with pytest.raises(MappingError, match="not a column"):
        sheet.Conversion([{"source": "label", "target": "title"}])
