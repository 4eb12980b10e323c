"""Outbound and inbound sync against the Smartsheet emulator, through the official SDK."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
import smartsheet as smartsheet_sdk
import tenacity

from integrations import runs
from integrations.connections.providers import smartsheet
from projects import services, sync
from projects.models import (
    Comment,
    PendingWrite,
    ProjectSyncRun,
    PurchaseOrder,
    RowMapping,
    TaskBlock,
    UnmappedRow,
    WorkOrder,
)
from tests.projects import crash_points
from tests.projects.conftest import run_sync
from tests.projects.helpers import add, edit_row, person, row_of, rows_of, timeline

pytestmark = pytest.mark.django_db


class TestOutbound:
    def test_task_blocks_are_parents_and_every_entry_is_one_row(self, linked, author, sandbox):
        made = timeline(
            linked,
            author,
            task_blocks=2,
            per_block={"purchaseorder": 2, "workorder": 1, "comment": 1, "attachment": 1},
            top_level={"comment": 1},
        )
        run = run_sync(linked, author, "outbound")

        assert (run.status, run.created, run.failed, run.percent) == (
            "succeeded",
            len(made),
            0,
            100,
        )
        rows = rows_of(linked, author)
        assert len(rows) == len(made) == RowMapping.objects.count()
        for entity in made:
            row = rows[row_of(entity)]
            parent = getattr(entity, "task_block", None)
            assert row["parent"] == (row_of(parent) if parent else None)
            assert row["type"] == entity.sheet_type and row["project_number"] == 1042
            assert row["author"] == author.smartsheet.external_email
        block = TaskBlock.objects.first()
        assert (
            rows[row_of(block)]["amount"] == 1000.5
            and rows[row_of(block)]["start_date"] == "2026-01-05"
        )

    def test_comments_become_row_discussions_and_files_row_attachments(
        self, linked, author, sandbox
    ):
        comment = add(linked, author, "comment", text="Drywall delivered\nsecond line")
        from tests.projects.helpers import children

        (attachment,) = children(linked, author, {"attachment": 1}, task_block=None, tag="x")
        run_sync(linked, author, "outbound")
        texts = smartsheet.row_discussion_texts(
            person(author), sheet_id=linked.sheet_link.sheet_id, row_id=row_of(comment)
        )
        assert list(texts.values()) == ["Drywall delivered\nsecond line"]
        files = smartsheet.row_attachment_names(
            person(author), sheet_id=linked.sheet_link.sheet_id, row_id=row_of(attachment)
        )
        assert [name for name, _ in files.values()] == [attachment.name]
        mapping = RowMapping.objects.get(entity_type="attachment")
        assert mapping.attachment_status == "uploaded"

    def test_every_write_carries_the_change_agent_and_goes_through_the_sdk_over_tls(
        self, linked, author, sandbox
    ):
        timeline(
            linked,
            author,
            task_blocks=1,
            per_block={"purchaseorder": 1, "comment": 1, "attachment": 1},
        )
        sandbox.clear_calls("smartsheet")
        run_sync(linked, author, "outbound")
        calls = sandbox.calls("smartsheet")["log"]
        writes = [c for c in calls if not c["endpoint"].startswith("GET")]
        assert writes and all(c["change_agent"] == smartsheet.CHANGE_AGENT for c in writes)
        assert all(c["agent"].startswith("SmartsheetPythonSDK/") for c in calls)
        assert sandbox.url("smartsheet").startswith("https://")
        events = sandbox.http.get(
            f"{sandbox.url('smartsheet')}/_sandbox/events?sheet={linked.sheet_link.sheet_id}"
        ).json()["events"]
        assert {e["changeAgent"] for e in events if e["objectType"] != "sheet"} == {
            smartsheet.CHANGE_AGENT
        }

    def test_a_second_run_writes_only_what_changed(self, linked, author, sandbox):
        timeline(linked, author, task_blocks=2, per_block={"purchaseorder": 3})
        run_sync(linked, author, "outbound")
        po = PurchaseOrder.objects.first()
        po.amount = Decimal("999.99")
        po.save()
        sandbox.clear_calls("smartsheet")
        run = run_sync(linked, author, "outbound")
        assert (run.created, run.updated, run.unchanged) == (0, 1, 7)
        assert sandbox.calls("smartsheet")["by_endpoint"] == {
            "GET /2.0/sheets/{sheet_id:int}": 1,
            "PUT /2.0/sheets/{sheet_id:int}/rows": 1,
        }
        assert rows_of(linked, author)[row_of(po)]["amount"] == 999.99

    def test_batches_stay_within_the_cap_of_500_rows(self, linked, author, sandbox, monkeypatch):
        monkeypatch.setattr(smartsheet, "ROWS_PER_REQUEST", 4)
        made = timeline(linked, author, task_blocks=1, per_block={"workorder": 9})
        sandbox.clear_calls("smartsheet")
        run_sync(linked, author, "outbound")
        assert (
            sandbox.count("smartsheet", "POST /2.0/sheets/{sheet_id:int}/rows") == 1 + 3
        )  # the block, then 4+4+1 children
        assert len(rows_of(linked, author)) == len(made)

    def test_a_row_smartsheet_refuses_fails_alone_and_the_run_is_partial(
        self, linked, author, sandbox
    ):
        # Someone turned the Amount column into dates: amounts no longer fit it.
        link = linked.sheet_link
        person(author).Sheets.update_column(
            link.sheet_id,
            int(link.columns["amount"]),
            smartsheet_sdk.models.Column({"type": "DATE"}),
        )
        good = add(linked, author, "workorder", number="WO-1", description="no amount")
        bad = add(
            linked, author, "purchaseorder", number="PO-1", vendor="Acme", amount=Decimal("10")
        )
        run = run_sync(linked, author, "outbound")
        assert (run.status, run.created, run.failed) == ("partial", 1, 1)
        assert run.errors[0]["item"] == f"Purchase order “{bad}”"
        assert (
            "did not conform to the strict requirements for type DATE" in run.errors[0]["message"]
        )
        assert list(RowMapping.objects.values_list("entity_id", flat=True)) == [good.pk]
        assert not PendingWrite.objects.exists()

    def test_a_row_deleted_in_smartsheet_is_made_again(self, linked, author, sandbox):
        po = add(linked, author, "purchaseorder", number="PO-9", vendor="Acme")
        run_sync(linked, author, "outbound")
        person(author).Sheets.delete_rows(linked.sheet_link.sheet_id, [row_of(po)])
        po.vendor = "Acme Ltd"
        po.save()
        run = run_sync(linked, author, "outbound")
        assert run.created == 1 and run.failed == 0
        assert [row["name"] for row in rows_of(linked, author).values()] == ["PO PO-9 — Acme Ltd"]


class TestInbound:
    @pytest.mark.parametrize("base", ["kept", "from before the base was kept"])
    def test_edits_on_both_sides_resolve_by_last_write_wins(self, linked, author, sandbox, base):
        only_remote = add(linked, author, "taskblock", title="Framing")
        only_local = add(linked, author, "taskblock", title="Roofing")
        remote_later = add(
            linked, author, "purchaseorder", number="PO-1", vendor="Acme", amount=Decimal("100")
        )
        local_later = add(
            linked, author, "workorder", number="WO-1", description="Paint", amount=Decimal("50")
        )
        run_sync(linked, author, "outbound")
        if base != "kept":  # links synced before synced_values existed: no base
            RowMapping.objects.update(synced_values={})

        edit_row(linked, author, row_of(only_remote), name="Framing (east wing)")
        edit_row(linked, author, row_of(local_later), notes="theirs, earlier")
        only_local.notes = "ordered"
        only_local.save()
        remote_later.notes = "ours, earlier"
        remote_later.save()
        local_later.notes = "ours, later"  # after Smartsheet's edit, which is stamped in
        local_later.save()  # whole seconds (rounded down): ours is the later one
        # Smartsheet's clock, not a sleep, puts its next edit after ours.
        sandbox.advance_clock("smartsheet", 2)
        edit_row(linked, author, row_of(remote_later), notes="theirs, later", amount=120)

        inbound = run_sync(linked, author, "inbound")
        assert (inbound.updated, inbound.conflicts) == (2, 2)
        for entity in (only_remote, only_local, remote_later, local_later):
            entity.refresh_from_db()
        assert only_remote.title == "Framing (east wing)"
        assert (remote_later.notes, remote_later.amount) == ("theirs, later", Decimal("120"))
        assert local_later.notes == "ours, later"
        assert {o["message"] for o in inbound.overwrites} == {
            "Smartsheet's later edit overwrote ours",
            "our later edit kept over Smartsheet's",
        }

        outbound = run_sync(linked, author, "outbound")
        rows = rows_of(linked, author)
        assert rows[row_of(local_later)]["notes"] == "ours, later"
        assert rows[row_of(only_local)]["notes"] == "ordered"
        assert outbound.updated == 2  # only_local and local_later; remote_later is in step now

    @pytest.mark.parametrize("later", ["smartsheet", "ours"])
    def test_edits_to_different_cells_on_both_sides_both_survive(
        self, linked, author, sandbox, later
    ):
        po = add(linked, author, "purchaseorder", number="PO-1", vendor="Acme", amount=100)
        run_sync(linked, author, "outbound")

        def edit_theirs():
            edit_row(linked, author, row_of(po), amount=120)

        def edit_ours():
            po.notes = "deliver to the east gate"
            po.save()

        first, second = (
            (edit_ours, edit_theirs) if later == "smartsheet" else (edit_theirs, edit_ours)
        )
        first()
        # Smartsheet stamps modifiedAt in whole seconds: its clock, not a sleep, keeps its
        # edit after ours when it is the later one.
        sandbox.advance_clock("smartsheet", 2)
        second()

        outbound = run_sync(linked, author, "outbound")
        inbound = run_sync(linked, author, "inbound")
        po.refresh_from_db()
        assert (po.amount, po.notes) == (Decimal("120"), "deliver to the east gate")
        row = rows_of(linked, author)[row_of(po)]
        assert (row["amount"], row["notes"]) == (120, "deliver to the east gate")
        assert (outbound.updated, outbound.conflicts, inbound.updated, inbound.conflicts) == (
            1,
            0,
            1,
            0,
        )
        assert run_sync(linked, author, "outbound").updated == 0  # both sides in step

    def test_our_own_writes_come_back_as_echoes(self, linked, author, sandbox):
        timeline(linked, author, task_blocks=2, per_block={"purchaseorder": 2})
        run_sync(linked, author, "outbound")
        run = run_sync(linked, author, "inbound")
        assert (run.updated, run.unchanged, run.conflicts) == (0, 6, 0)

    def test_a_row_made_in_smartsheet_is_listed_as_unmapped_and_can_be_imported(
        self, linked, author, sandbox, client, superuser
    ):
        block = add(linked, author, "taskblock", title="Framing")
        run_sync(linked, author, "outbound")
        link = linked.sheet_link
        columns = {k: int(v) for k, v in link.columns.items()}
        smartsheet.add_rows(
            person(author),
            sheet_id=link.sheet_id,
            parent_id=row_of(block),
            cells=[
                [
                    {"columnId": columns["name"], "value": "PO-77"},
                    {"columnId": columns["type"], "value": "Purchase Order"},
                    {"columnId": columns["amount"], "value": 77},
                ]
            ],
        )
        run = run_sync(linked, author, "inbound")
        assert run.unmapped == 1 and "1 unmapped" in run.message
        row = UnmappedRow.objects.get()
        assert row.cells["name"] == "PO-77"

        client.force_login(superuser)
        client.post(
            "/admin/projects/unmappedrow/", {"action": "import_rows", "_selected_action": [row.pk]}
        )
        po = PurchaseOrder.objects.get(number="PO-77")
        assert (po.task_block, po.amount) == (block, Decimal("77"))
        assert run_sync(linked, author, "inbound").unmapped == 0

    def test_an_unmapped_row_can_be_linked_or_ignored(self, linked, author, sandbox):
        comment = Comment.objects.create(
            workspace=linked.workspace, project=linked, author=author, text="typed in Smartsheet"
        )
        link = linked.sheet_link
        columns = {k: int(v) for k, v in link.columns.items()}
        smartsheet.add_rows(
            person(author),
            sheet_id=link.sheet_id,
            parent_id=None,
            cells=[
                [{"columnId": columns["name"], "value": "typed in Smartsheet"}],
                [{"columnId": columns["name"], "value": "noise"}],
            ],
        )
        run_sync(linked, author, "inbound")
        first, second = UnmappedRow.objects.order_by("pk")
        services.unmapped_link(row=first, actor=author, entity_type="comment", entity_id=comment.pk)
        services.unmapped_ignore(row=second, actor=author)
        assert run_sync(linked, author, "inbound").unmapped == 0
        run = run_sync(linked, author, "outbound")
        assert run.updated == 1 and len(rows_of(linked, author)) == 2, (
            run.errors
        )  # linked, not duplicated


class TestFaults:
    def test_a_429_storm_is_waited_out_and_the_run_completes(
        self, linked, author, sandbox, monkeypatch
    ):
        made = timeline(linked, author, task_blocks=2, per_block={"purchaseorder": 3, "comment": 1})
        sandbox.fault("smartsheet", kind="storm", path="/2.0/sheets/", count=4, retry_after=1)
        waits = []  # tenacity's sleeps, recorded instead of taken (4 s of the test's time)
        monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=waits.append))
        run = run_sync(linked, author, "outbound")
        assert (run.status, run.created, run.failed) == ("succeeded", len(made), 0)
        assert run.retries >= 4
        assert len(waits) >= 4 and all(wait >= 1 for wait in waits)  # each Retry-After kept
        assert len(rows_of(linked, author)) == len(made)

    def test_5xx_fail_items_not_the_data_and_the_next_run_finishes_the_job(
        self, linked, author, sandbox
    ):
        made = timeline(linked, author, task_blocks=3, per_block={"workorder": 2, "comment": 1})
        sandbox.fault(
            "smartsheet", kind="error", status=500, method="POST", path="/2.0/sheets/", count=3
        )
        first = run_sync(linked, author, "outbound")
        assert first.status == "partial" and first.failed >= 1
        assert all(error["message"] for error in first.errors)
        sandbox.control("smartsheet", "DELETE", "faults")  # Smartsheet is well again
        second = run_sync(linked, author, "outbound")
        assert second.status == "succeeded"
        rows = rows_of(linked, author)
        assert len(rows) == len(made) == RowMapping.objects.count()  # nothing lost, nothing twice
        discussions = sum(
            len(
                smartsheet.row_discussion_texts(
                    person(author), sheet_id=linked.sheet_link.sheet_id, row_id=row_of(c)
                )
            )
            for c in Comment.objects.all()
        )
        assert discussions == Comment.objects.count()

    def test_a_503_on_a_write_is_resent_and_counted_as_a_retry(self, linked, author, sandbox):
        timeline(linked, author, task_blocks=1, per_block={"workorder": 2})
        sandbox.fault(
            "smartsheet", kind="error", status=503, method="POST", path="/2.0/sheets/", count=1
        )
        run = run_sync(linked, author, "outbound")
        assert (run.status, run.retries) == ("succeeded", 1)

    def test_an_upload_refused_with_a_503_is_resent_whole(self, linked, author, sandbox):
        from tests.projects.helpers import children

        (attachment,) = children(linked, author, {"attachment": 1}, task_block=None, tag="r")
        sandbox.fault(
            "smartsheet", kind="error", status=503, method="POST", path="*/attachments", count=1
        )
        sandbox.clear_calls("smartsheet")
        run = run_sync(linked, author, "outbound")
        assert (run.status, run.retries) == ("succeeded", 1)
        uploads = [
            call["status"]
            for call in sandbox.calls("smartsheet")["log"]
            if call["endpoint"].startswith("POST") and call["path"].endswith("/attachments")
        ]
        assert uploads == [503, 200]  # the resend carried the file, and at once
        files = smartsheet.row_attachment_names(
            person(author), sheet_id=linked.sheet_link.sheet_id, row_id=row_of(attachment)
        )
        assert list(files.values()) == [(attachment.name, -(-attachment.size // 1024))]

    def test_an_expired_token_mid_run_is_refreshed_once(self, linked, author, sandbox):
        timeline(linked, author, task_blocks=1, per_block={"workorder": 1})
        sandbox.expire_tokens("smartsheet")
        assert run_sync(linked, author, "outbound").status == "succeeded"

    def test_only_one_run_per_project_at_a_time(self, linked, author, sandbox):
        services.sync_request(project=linked, actor=author, direction="outbound")
        from integrations.errors import Conflict

        with pytest.raises(Conflict) as refused:
            services.sync_request(project=linked, actor=author, direction="inbound")
        assert refused.value.code == "run_in_progress"


def test_work_orders_say_custom_in_their_type(linked, author, sandbox):
    custom = add(
        linked, author, "workorder", number="WO-7", description="Custom shelving", is_custom=True
    )
    run_sync(linked, author, "outbound")
    assert rows_of(linked, author)[row_of(custom)]["type"] == "Custom Work Order"
    assert WorkOrder.objects.get().is_custom


def test_a_broker_that_is_down_fails_the_run_with_its_reason(
    linked, author, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from projects import tasks

    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.sync_run, "apply_async", down)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.sync_request(project=linked, actor=author, direction="outbound")
    run.refresh_from_db()
    assert run.status == "failed" and "could not be queued" in run.message


class TestProgress:
    @pytest.fixture
    def seen(self, monkeypatch):
        """The run's row at each crash point of the sync, every progress call written through."""
        monkeypatch.setattr(runs, "PROGRESS_EVERY", 0)
        states = []

        def look(point: str) -> None:
            states.append(
                (
                    point,
                    *ProjectSyncRun.objects.values_list(
                        "stage", "stage_done", "stage_total", "progress_done", "progress_total"
                    ).get(status="running"),
                )
            )

        crash_points.watch(crash_points.POINTS, look, setattr=monkeypatch.setattr)
        return states

    def test_each_stage_counts_its_own_items_and_the_bar_counts_them_all(
        self, linked, author, sandbox, seen
    ):
        for n in range(30):
            add(linked, author, "comment", text=f"note {n}")
        run_sync(linked, author, "outbound")
        # 30 comments are 30 rows, then 30 discussions: "Writing rows 0/30", not 0/60.
        assert seen[0] == ("intent_recorded", "Writing rows", 0, 30, 0, 60)
        assert seen[2] == ("batch_committed", "Writing rows", 30, 30, 30, 60)
        discussions = [state for state in seen if state[0] == "discussion_intent"]
        assert discussions[0] == (
            "discussion_intent",
            "Posting comments and attachments",
            0,
            30,
            30,
            60,
        )
        assert discussions[-1][2:] == (29, 30, 59, 60)

    def test_a_row_made_again_is_counted_once(self, linked, author, sandbox, seen):
        po = add(linked, author, "purchaseorder", number="PO-9", vendor="Acme")
        run_sync(linked, author, "outbound")
        person(author).Sheets.delete_rows(linked.sheet_link.sheet_id, [row_of(po)])
        po.vendor = "Acme Ltd"
        po.save()
        seen.clear()
        run = run_sync(linked, author, "outbound")
        assert run.created == 1
        assert seen[-1][1:] == ("Writing rows", 1, 1, 1, 1)  # not 2 of 1
        assert all(state[2] <= state[3] and state[4] <= state[5] for state in seen), seen


def test_while_a_call_waits_to_be_retried_the_run_says_why_and_until_when(
    linked, author, sandbox, monkeypatch, api
):
    """A provider outage: the HTTP layer's retries are noted on the run (and its API) before
    each wait, and the note goes once the call is through."""
    add(linked, author, "purchaseorder", number="PO-1", vendor="Acme")
    # Add Rows meets a 429 asking for 7 s, then a 503 (a backoff wait), then goes through.
    for fault in ({"kind": "storm", "retry_after": 7}, {"kind": "error", "status": 503}):
        sandbox.fault("smartsheet", method="POST", path="*/rows", count=1, **fault)
    run = services.sync_request(project=linked, actor=author, direction="outbound")
    api.force_authenticate(author)
    seen = []

    def nap(seconds: float) -> None:  # tenacity's sleep, not taken: the row is read instead
        state = api.get(f"/api/projects/{linked.pk}/smartsheet/runs/{run.pk}").json()
        seen.append((seconds, state["status"], state["retry_reason"], state["retry_in"]))

    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=nap))
    sync.execute(run.pk)

    assert [entry[1:3] for entry in seen] == [("running", "429"), ("running", "503")]
    assert all(abs(wait - retry_in) < 0.6 for wait, _, _, retry_in in seen)
    assert seen[0][0] >= 7
    run = ProjectSyncRun.objects.get(pk=run.pk)
    assert (run.status, run.retries, run.retry_reason, run.retry_at) == ("succeeded", 2, "", None)
