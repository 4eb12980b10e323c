"""A worker killed (SIGKILL, no cleanup) in the middle of a CRM run, then the run resumed (the
broker redelivers the unacknowledged task): no record twice on either side, no update lost on
either side. The kill points are found from outside the sync, with the projects' crash-test
machinery (tests/projects/crash_points.py): just before or after one Salesforce write, or
after a batch was recorded."""

import multiprocessing
import os
import signal

import pytest
from django.db import connections

from crm import services, sync
from crm.models import Contact, CrmConfig, CrmLink, CrmWrite
from integrations import runs
from integrations.connections.providers import salesforce
from integrations.connections.services import client
from tests.integrations.helpers import connect
from tests.projects.crash_points import _wrapped

pytestmark = pytest.mark.django_db(transaction=True)

# point -> (what is wrapped, its attribute, before or after the call)
POINTS = {
    "intent_recorded": (salesforce, "create", "before"),  # intents committed, nothing sent
    "batch_accepted": (salesforce, "create", "after"),  # Salesforce made them; no link yet
    "update_sent": (salesforce, "update", "after"),  # updated there; its base not kept
    "batch_committed": (sync.EntitySync, "_create_remote", "after"),
}


def at(point: str, occurrence: int, action) -> None:
    owner, name, when = POINTS[point]
    seen = {"count": 0}

    def hook(_):
        seen["count"] += 1
        if seen["count"] == occurrence:
            action()

    setattr(owner, name, _wrapped(getattr(owner, name), point, when, hook))


def _worker(run_id: int, point: str, occurrence: int) -> None:
    connections.close_all()  # a connection of its own, not the parent's socket
    at(point, occurrence, lambda: os.kill(os.getpid(), signal.SIGKILL))
    sync.execute(run_id)


@pytest.fixture
def config(sandbox, two_workspaces, monkeypatch):
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)  # we are the worker
    monkeypatch.setattr(sync, "BATCH", 3)
    connection = connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="salesforce",
    )
    return CrmConfig.objects.create(
        workspace=two_workspaces["a"],
        provider="salesforce",
        connection=connection,
        entities=["contact"],
    )


def crm_rows(config, soql):
    return client(config.connection).call(lambda c: c.sdk.query_all(soql)["records"])


POINTS_RUN = [
    ("intent_recorded", 1),
    ("batch_accepted", 1),
    ("batch_accepted", 2),
    ("batch_committed", 1),
    ("update_sent", 1),
]


@pytest.mark.parametrize(
    ("point", "occurrence"), POINTS_RUN, ids=[f"{p}-{n}" for p, n in POINTS_RUN]
)
def test_killed_mid_run_the_resumed_run_makes_each_record_once_and_loses_no_edit(
    config, sandbox, point, occurrence
):
    # A first run links what is there; then edits on both sides and new hub contacts.
    edited = Contact.objects.create(
        workspace=config.workspace, last_name="Edited", email="e@x.example"
    )
    sync.run_once(config, "contact", client(config.connection))
    link = CrmLink.objects.get(config=config, local_id=edited.pk)
    crm_linked = CrmLink.objects.filter(config=config).values_list("remote_id", flat=True)[:4]
    for remote_id in crm_linked:
        if remote_id != link.remote_id:
            sandbox.salesforce_edit(remote_id, {"Title": "Edited in Salesforce"})
    edited.title = "Edited in the hub"
    edited.save()
    for n in range(7):
        Contact.objects.create(
            workspace=config.workspace, last_name=f"K{n}", email=f"k{n}@x.example"
        )
    config.refresh_from_db()

    log = services.sync_request(config=config, entity="contact", actor=None)
    connections.close_all()
    worker = multiprocessing.get_context("fork").Process(
        target=_worker, args=(log.pk, point, occurrence)
    )
    worker.start()
    worker.join(120)
    assert worker.exitcode == -signal.SIGKILL  # it really died there
    log.refresh_from_db()
    assert log.status == "running"

    resumed = sync.execute(log.pk)  # redelivered to another worker
    assert resumed.status == "succeeded", (resumed.message, resumed.errors)
    made = crm_rows(config, "SELECT Email FROM Contact WHERE Email LIKE 'k_@x.example'")
    assert sorted(r["Email"] for r in made) == [f"k{n}@x.example" for n in range(7)]
    assert not CrmWrite.objects.exists()
    hub = Contact.objects.filter(workspace=config.workspace)
    assert CrmLink.objects.filter(config=config).count() == hub.count()
    assert (
        len(set(CrmLink.objects.filter(config=config).values_list("remote_id", flat=True)))
        == hub.count()
    )
    (row,) = crm_rows(config, f"SELECT Title FROM Contact WHERE Id = '{link.remote_id}'")
    assert row["Title"] == "Edited in the hub"
    pulled = CrmLink.objects.filter(config=config, remote_id__in=list(crm_linked)).exclude(
        pk=link.pk
    )
    assert set(hub.filter(pk__in=[p.local_id for p in pulled]).values_list("title", flat=True)) == {
        "Edited in Salesforce"
    }
    again = sync.run_once(config, "contact", client(config.connection))
    assert (again["created"], again["updated"], again["conflicts"]) == (0, 0, 0)
