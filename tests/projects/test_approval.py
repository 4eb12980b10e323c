"""'Requires approval' on the projects write path, end to end against the Smartsheet emulator:
Sync to Smartsheet holds every row write in the review queue and writes nothing; an approved
change is written (the row appears in the emulator), a rejected one never is."""

from decimal import Decimal

import pytest

from integrations import approvals
from integrations.approvals.models import OutboundChange
from projects import sync
from projects.models import ProjectSyncRun, RowMapping, TaskBlock
from tests.projects.conftest import run_sync
from tests.projects.helpers import add, edit_row, row_of, rows_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def gated(author):
    connection = author.smartsheet
    connection.requires_approval = True
    connection.save(update_fields=["requires_approval"])
    return connection


def block(project, author, **fields):
    return add(
        project,
        author,
        "taskblock",
        **{"title": "Framing", "amount": Decimal("1200"), "notes": "north wing", **fields},
    )


def changes(**filters) -> list[OutboundChange]:
    return list(OutboundChange.objects.filter(owner=sync.OWNER, **filters).order_by("pk"))


def key(entity) -> tuple[str, int]:
    return (entity._meta.model_name, entity.pk)


def decide(author, change, *, approve: bool = True) -> OutboundChange:
    """A person's decision, then what the worker does with it (the task's body)."""
    (approvals.approve if approve else approvals.reject)(changes=[change], actor=author)
    approvals.apply(change.pk)
    change.refresh_from_db()
    return change


def test_sync_to_writes_nothing_and_holds_each_row_with_its_cells(linked, author, gated):
    framing = block(linked, author)
    order = add(linked, author, "purchaseorder", task_block=framing, number="PO-7", vendor="Acme")

    run = run_sync(linked, author, "outbound")

    assert (run.status, run.created, run.updated, run.held) == ("succeeded", 0, 0, 2)
    assert "2 waiting for approval" in run.message
    assert rows_of(linked, author) == {}  # nothing reached Smartsheet
    assert not RowMapping.objects.exists()
    held = changes()
    assert [
        (c.status, c.operation, c.payload["entity_type"], c.payload["entity_id"]) for c in held
    ] == [
        ("pending", "create", *key(framing)),
        ("pending", "create", *key(order)),
    ]
    assert held[0].changes["Name"] == {"before": None, "after": "Framing"}
    assert held[0].changes["Amount"] == {"before": None, "after": 1200}
    assert "1042" in held[0].target_label and "Framing" in held[0].target_label


def test_a_second_sync_refreshes_the_waiting_change_instead_of_adding_one(linked, author, gated):
    framing = block(linked, author)
    run_sync(linked, author, "outbound")
    (first,) = changes()

    run_sync(linked, author, "outbound")  # nothing new: the same change, untouched
    assert changes() == [first]

    TaskBlock.objects.filter(pk=framing.pk).update(notes="south wing")
    run = run_sync(linked, author, "outbound")
    (again,) = changes()
    assert again.pk == first.pk and run.held == 1
    assert again.changes["Notes"]["after"] == "south wing"
    assert again.payload["values"]["notes"] == "south wing"


def test_approved_rows_appear_in_the_emulator_and_rejected_ones_never(linked, author, gated):
    framing = block(linked, author)
    kept = add(linked, author, "purchaseorder", task_block=framing, number="PO-1", vendor="Acme")
    refused = add(linked, author, "purchaseorder", task_block=framing, number="PO-2", vendor="Zed")
    run_sync(linked, author, "outbound")
    by_entity = {(c.payload["entity_type"], c.payload["entity_id"]): c for c in changes()}

    # The child first: its task block, approved with it, is written before it.
    approvals.approve(changes=[by_entity[key(framing)]], actor=author)
    assert decide(author, by_entity[key(kept)]).status == "applied"
    assert decide(author, by_entity[key(refused)], approve=False).status == "rejected"
    by_entity[key(framing)].refresh_from_db()
    assert by_entity[key(framing)].status == "applied"

    rows = rows_of(linked, author)
    assert len(rows) == 2
    assert rows[row_of(framing)]["name"] == "Framing"
    assert rows[row_of(kept)]["parent"] == row_of(framing)
    assert not RowMapping.objects.filter(entity_id=refused.pk, entity_type="purchaseorder").exists()
    approvals.apply(by_entity[key(refused)].pk)  # a rejected change stays unwritten for good
    assert len(rows_of(linked, author)) == 2
    # Each application is a run of its own in the project's history.
    applied = ProjectSyncRun.objects.filter(trigger="approval").order_by("pk")
    assert [(r.status, r.created) for r in applied] == [("succeeded", 1), ("succeeded", 1)]


def test_an_update_waits_then_merges_with_what_smartsheet_changed_meanwhile(linked, author, gated):
    framing = block(linked, author)
    gated.requires_approval = False
    gated.save(update_fields=["requires_approval"])
    run_sync(linked, author, "outbound")  # the row exists, synced
    gated.requires_approval = True
    gated.save(update_fields=["requires_approval"])

    TaskBlock.objects.filter(pk=framing.pk).update(amount=Decimal("1500"))
    run = run_sync(linked, author, "outbound")
    (change,) = changes()
    assert (run.held, change.operation, change.target_id) == (1, "update", str(row_of(framing)))
    assert change.changes == {"Amount": {"before": 1200, "after": 1500}}
    assert rows_of(linked, author)[row_of(framing)]["amount"] == 1200  # still waiting

    edit_row(linked, author, row_of(framing), notes="checked on site")  # someone, meanwhile
    assert decide(author, change).status == "applied"
    row = rows_of(linked, author)[row_of(framing)]
    assert (row["amount"], row["notes"]) == (1500, "checked on site")  # both edits survive


def test_a_child_whose_task_block_still_waits_fails_saying_so(linked, author, gated):
    framing = block(linked, author)
    order = add(linked, author, "purchaseorder", task_block=framing, number="PO-3", vendor="Acme")
    run_sync(linked, author, "outbound")
    by_entity = {(c.payload["entity_type"], c.payload["entity_id"]): c for c in changes()}

    failed = decide(author, by_entity[key(order)])
    assert failed.status == "failed"
    assert (
        f"change {by_entity[key(framing)].pk}" in failed.error
        and "approve that first" in failed.error
    )
    assert rows_of(linked, author) == {}


def test_an_approved_change_waits_while_a_run_of_the_project_is_going(linked, author, gated):
    block(linked, author)
    run_sync(linked, author, "outbound")
    (change,) = changes()
    approvals.approve(changes=[change], actor=author)
    ProjectSyncRun.objects.create(
        workspace=linked.workspace,
        project=linked,
        connection=gated,
        direction="inbound",
        trigger="button",
        status="running",
    )
    with pytest.raises(approvals.TryLater):
        approvals.apply(change.pk)
    change.refresh_from_db()
    assert change.status == "approved" and rows_of(linked, author) == {}
