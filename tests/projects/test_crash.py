"""No duplicates, ever: a worker killed (SIGKILL, no cleanup of any kind) at each point of a
multi-batch outbound run, then the run resumed, ends with exactly one row per entity, one
discussion per comment and one attachment per file."""

import multiprocessing
import os
import signal
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from integrations import runs
from integrations import services as platform
from integrations.errors import Conflict
from integrations.providers import smartsheet
from projects import services, sync
from projects.models import Attachment, Comment, PendingWrite, ProjectSyncRun, RowMapping
from tests.projects.helpers import timeline

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    # These tests play the worker themselves; nothing is put on the broker.
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(smartsheet, "ROWS_PER_REQUEST", 3)


def _worker(run_id: int, point: str, occurrence: int) -> None:
    """A forked worker that kills itself, like the OOM killer would, at the chosen point."""
    connections.close_all()  # a connection of its own, not the parent's socket
    seen = {"count": 0}

    def hook(name: str) -> None:
        if name == point:
            seen["count"] += 1
            if seen["count"] == occurrence:
                os.kill(os.getpid(), signal.SIGKILL)

    sync.checkpoint_hooks.append(hook)
    sync.execute(run_id)


def sheet_state(project, author) -> dict:
    sdk = smartsheet.client(platform.access_token(author.smartsheet), key="check")
    link = project.sheet_link
    rows = smartsheet.get_sheet(sdk, sheet_id=link.sheet_id).rows
    discussions = {
        row.id: len(smartsheet.row_discussion_texts(sdk, sheet_id=link.sheet_id, row_id=row.id))
        for row in rows
    }
    attachments = {
        row.id: len(smartsheet.row_attachment_names(sdk, sheet_id=link.sheet_id, row_id=row.id))
        for row in rows
    }
    return {"rows": rows, "discussions": discussions, "attachments": attachments}


POINTS = [
    ("intent_recorded", 1),
    ("batch_accepted", 1),  # Smartsheet took the first batch; our commit never happened
    ("batch_accepted", 4),  # ...a child batch, mid-run
    ("batch_committed", 2),
    ("discussion_intent", 1),
    ("discussion_posted", 2),  # the discussion exists; our record of it does not
    ("attachment_intent", 1),
    ("attachment_uploaded", 2),
]


@pytest.mark.parametrize(("point", "occurrence"), POINTS, ids=[f"{p}-{n}" for p, n in POINTS])
def test_killed_at_any_point_the_resumed_run_makes_each_row_once(
    linked, author, sandbox, small_batches, point, occurrence
):
    made = timeline(
        linked,
        author,
        task_blocks=2,
        per_block={"purchaseorder": 3, "comment": 2, "attachment": 2},
        top_level={"workorder": 2},
    )
    run = services.sync_request(project=linked, actor=author, direction="outbound")
    connections.close_all()

    worker = multiprocessing.get_context("fork").Process(
        target=_worker, args=(run.pk, point, occurrence)
    )
    worker.start()
    worker.join(120)
    assert worker.exitcode == -signal.SIGKILL  # it really died there
    run.refresh_from_db()
    assert run.status == "running"  # nobody closed it: the worker died mid-sentence

    sync.execute(run.pk)  # the broker redelivers the unacknowledged task to another worker

    run.refresh_from_db()
    assert run.status == "succeeded", (run.message, run.errors)
    state = sheet_state(linked, author)
    assert len(state["rows"]) == len(made) == RowMapping.objects.count()
    assert not PendingWrite.objects.exists()
    comment_rows = RowMapping.objects.filter(entity_type="comment").values_list("row_id", flat=True)
    attachment_rows = RowMapping.objects.filter(entity_type="attachment").values_list(
        "row_id", flat=True
    )
    assert [state["discussions"][row] for row in comment_rows] == [1] * Comment.objects.count()
    assert [state["attachments"][row] for row in attachment_rows] == [
        1
    ] * Attachment.objects.count()
    assert sum(state["discussions"].values()) == Comment.objects.count()
    assert sum(state["attachments"].values()) == Attachment.objects.count()


def test_a_new_run_takes_over_from_one_whose_worker_went_silent(
    linked, author, sandbox, small_batches
):
    made = timeline(linked, author, task_blocks=1, per_block={"workorder": 4})
    run = services.sync_request(project=linked, actor=author, direction="outbound")
    connections.close_all()
    worker = multiprocessing.get_context("fork").Process(
        target=_worker, args=(run.pk, "batch_accepted", 2)
    )
    worker.start()
    worker.join(120)

    with pytest.raises(Conflict):  # still looks alive: no second run
        services.sync_request(project=linked, actor=author, direction="outbound")
    ProjectSyncRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    takeover = services.sync_request(project=linked, actor=author, direction="outbound")
    sync.execute(takeover.pk)

    run.refresh_from_db()
    takeover.refresh_from_db()
    assert run.status == "failed" and "stopped answering" in run.message
    assert takeover.status == "succeeded"
    assert len(sheet_state(linked, author)["rows"]) == len(made) == RowMapping.objects.count()


def test_a_run_no_worker_took_up_is_replaced_and_its_late_task_does_nothing(
    linked, author, sandbox
):
    timeline(linked, author, task_blocks=1, per_block={"workorder": 2})
    lost = services.sync_request(project=linked, actor=author, direction="outbound")
    with pytest.raises(Conflict):
        services.sync_request(project=linked, actor=author, direction="outbound")
    ProjectSyncRun.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    fresh = services.sync_request(project=linked, actor=author, direction="outbound")
    sync.execute(fresh.pk)
    sync.execute(lost.pk)  # the lost task turns up after all
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert (lost.status, lost.created) == ("failed", 0) and "No worker" in lost.message
    assert (fresh.status, fresh.created) == ("succeeded", 3)
