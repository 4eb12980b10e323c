"""Undo of a CRM sync run (crm/undo.py) against the Salesforce and HubSpot emulators: the
before-values come back on both sides, a field edited after the run is refused and listed, an
undo can itself be undone, and what may not be undone is refused."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from crm import remote, runner, services
from crm.models import Contact, CrmChange, CrmLink, SyncLog
from integrations.connections.services import client
from integrations.errors import Conflict, PermissionDenied
from tests.crm import test_hubspot_sync as hubspot_tests

# The HubSpot config of the HubSpot sync's tests, and its helpers.
fast_search, hs_config = hubspot_tests.fast_search, hubspot_tests.hs_config
rows, searchable = hubspot_tests.rows, hubspot_tests.searchable

pytestmark = pytest.mark.django_db
FIELDS = ["Phone", "Title", "FirstName", "LastName", "Email"]


def executed(config, entity: str, actor) -> SyncLog:
    """A run through the run log, as the task does it."""
    run = services.sync_request(config=config, entity=entity, actor=actor, queue=False)
    runner.execute(run.pk)
    run.refresh_from_db()
    return run


def undone(log: SyncLog, actor) -> SyncLog:
    run = services.sync_undo(log=log, actor=actor)
    runner.execute(run.pk)
    run.refresh_from_db()
    return run


def crm_values(config, record_id: str) -> dict:
    crm = remote.remote_for(config, client(config.connection))
    rows = [r for r in crm.read_ids("contact", FIELDS, [record_id]) if not r.deleted]
    return rows[0].values if rows else {}


def link_of(config, contact) -> str:
    return CrmLink.objects.get(config=config, entity="contact", local_id=contact.pk).remote_id


@pytest.fixture
def sf_run(config, sandbox, admin, no_queue):
    """A Salesforce run that wrote both sides: Ada's phone and title edited in the hub went up,
    Grace's title edited in Salesforce came down, Lin, new in the hub, was created there, and
    Kim, new in Salesforce, in the hub."""
    ada = Contact.objects.create(
        workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
    )
    grace = Contact.objects.create(
        workspace=config.workspace, first_name="Grace", last_name="Hub", email="g@hub.example"
    )
    assert executed(config, "contact", admin).status == SyncLog.Status.SUCCEEDED
    ada.phone, ada.title = "+41 44 000 00 00", "CTO"
    ada.save()
    sandbox.salesforce_edit(link_of(config, grace), {"Title": "Admiral"})
    lin = Contact.objects.create(
        workspace=config.workspace, first_name="Lin", last_name="New", email="lin@hub.example"
    )
    (kim_id,) = sandbox.salesforce_records(
        sobject="Contact",
        records=[{"FirstName": "Kim", "LastName": "Crm", "Email": "k@crm.example"}],
    )["Contact"]
    run = executed(config, "contact", admin)
    assert run.status == SyncLog.Status.SUCCEEDED, run.message
    assert CrmLink.objects.filter(config=config, remote_id=kim_id).exists()
    grace.refresh_from_db()
    assert grace.title == "Admiral"
    assert crm_values(config, link_of(config, ada))["Phone"] == "+41 44 000 00 00"
    return run, ada, grace, lin


def test_undo_restores_the_before_values_on_both_sides_and_refuses_a_field_edited_since(
    config, sandbox, admin, sf_run
):
    run, ada, grace, lin = sf_run
    ada_id, lin_id = link_of(config, ada), link_of(config, lin)
    kim_id = CrmLink.objects.get(config=config, local_id=Contact.objects.get(last_name="Crm").pk)
    kim_id = kim_id.remote_id
    sandbox.salesforce_edit(ada_id, {"Title": "Boss"})  # after the run: not to be overwritten

    undo = undone(run, admin)

    assert undo.status == SyncLog.Status.SUCCEEDED, undo.message
    assert undo.undoes_id == run.pk
    there = crm_values(config, ada_id)
    assert there["Phone"] is None  # the before-value, read by the run
    assert there["Title"] == "Boss"  # edited since: kept
    assert undo.refused == [
        {
            "entity": "contact",
            "side": "crm",
            "local_id": ada.pk,
            "remote_id": ada_id,
            "field": "Title",
            "now": "Boss",
            "wrote": "CTO",
            "reason": "changed since the run",
        }
    ]
    grace.refresh_from_db()
    assert grace.title == ""  # the hub's before-value
    assert crm_values(config, lin_id) == {}  # the record the run made is deleted
    assert Contact.objects.filter(pk=lin.pk).exists()  # the one it was made from stays
    assert not CrmLink.objects.filter(config=config, entity="contact", local_id=lin.pk).exists()
    assert not Contact.objects.filter(email="k@crm.example").exists()  # made by the run: gone
    assert crm_values(config, kim_id)["Email"] == "k@crm.example"  # its source stays
    # The hub and the CRM records restored are edits now: the next sync carries them over
    # (the CRM's restored phone to the hub's Ada, the hub's restored title to Salesforce).
    after = executed(config, "contact", admin)
    ada.refresh_from_db()
    assert ada.phone == "" and after.failed == 0
    assert crm_values(config, link_of(config, grace))["Title"] is None


def test_an_undo_is_undone_in_turn_and_a_run_is_undone_once(config, sandbox, admin, sf_run):
    run, ada, grace, lin = sf_run
    ada_id = link_of(config, ada)
    undo = undone(run, admin)
    with pytest.raises(Conflict, match="already undone"):
        services.sync_undo(log=run, actor=admin)

    redo = undone(undo, admin)

    assert redo.status == SyncLog.Status.SUCCEEDED, redo.message
    assert crm_values(config, ada_id)["Phone"] == "+41 44 000 00 00"
    assert crm_values(config, ada_id)["Title"] == "CTO"
    grace.refresh_from_db()
    assert grace.title == "Admiral"
    # The hub record the undo deleted is made again, linked to its Salesforce record as before.
    kim = Contact.objects.get(email="k@crm.example")
    assert (kim.first_name, kim.last_name) == ("Kim", "Crm")
    link = CrmLink.objects.get(config=config, entity="contact", local_id=kim.pk)
    assert link.synced_values["Email"] == "k@crm.example"
    # The CRM record the undo deleted is not brought back: refused and listed.
    (refused,) = redo.refused
    assert (refused["side"], refused["field"]) == ("crm", "")
    assert "cannot bring it back" in refused["reason"]
    # Ada's CRM fields, Grace's title, Kim made again.
    assert CrmChange.objects.filter(run=redo).count() == 3


def test_a_dry_run_a_run_going_and_a_run_that_changed_nothing_are_not_undone(
    config, admin, member, no_queue
):
    Contact.objects.create(
        workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
    )
    executed(config, "contact", admin)
    quiet = executed(config, "contact", admin)
    with pytest.raises(Conflict, match="changed no record"):
        services.sync_undo(log=quiet, actor=admin)
    dry = services.sync_request(config=config, entity="contact", actor=admin, dry_run=True)
    with pytest.raises(Conflict, match="still going"):
        services.sync_undo(log=dry, actor=admin)
    runner.execute(dry.pk)
    dry.refresh_from_db()
    with pytest.raises(Conflict, match="dry run"):
        services.sync_undo(log=dry, actor=admin)
    first = SyncLog.objects.filter(config=config).order_by("pk").first()
    with pytest.raises(PermissionDenied):
        services.sync_undo(log=first, actor=member)


def test_undo_on_hubspot_restores_both_sides_and_refuses_a_field_edited_since(
    hs_config, sandbox, admin, no_queue
):
    config = hs_config
    ada = Contact.objects.create(
        workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
    )
    executed(config, "contact", admin)
    seeded = Contact.objects.exclude(pk=ada.pk).filter(workspace=config.workspace).first()
    searchable(sandbox)
    ada.phone, ada.title = "+1 555 0100", "CTO"
    ada.save()
    sandbox.hubspot_edit("contacts", link_of(config, seeded), {"jobtitle": "Buyer"})
    searchable(sandbox)
    run = executed(config, "contact", admin)
    assert run.status == SyncLog.Status.SUCCEEDED, run.message
    seeded_title = CrmChange.objects.get(run=run, side="hub").before["title"]
    ada_id = link_of(config, ada)
    sandbox.hubspot_edit("contacts", ada_id, {"jobtitle": "Boss"})

    undo = undone(run, admin)

    assert undo.status == SyncLog.Status.SUCCEEDED, undo.message
    props = rows(sandbox, "contacts")[ada_id]["properties"]
    assert props.get("phone") in (None, "")  # before: no phone
    assert props["jobtitle"] == "Boss"
    assert [(r["field"], r["now"], r["wrote"]) for r in undo.refused] == [
        ("jobtitle", "Boss", "CTO")
    ]
    seeded.refresh_from_db()
    assert seeded.title == seeded_title


def test_the_api_and_the_admin_action_queue_an_undo(config, sandbox, admin, member, sf_run):
    run = sf_run[0]
    api = APIClient()
    api.force_authenticate(member)
    refused = api.post(f"/api/crm/sync/logs/{run.pk}/undo")
    assert refused.status_code == 403
    api.force_authenticate(admin)
    answer = api.post(f"/api/crm/sync/logs/{run.pk}/undo")
    assert answer.status_code == 202, answer.content
    undo = SyncLog.objects.get(pk=answer.json()["jobId"])
    assert undo.undoes_id == run.pk and undo.status == SyncLog.Status.QUEUED
    assert api.post(f"/api/crm/sync/logs/{run.pk}/undo").status_code == 409
    runner.execute(undo.pk)
    detail = api.get(f"/api/crm/sync/logs/{undo.pk}").json()["details"]
    assert detail["undoes"] == run.pk
    assert {c["side"] for c in detail["changes"]} == {"crm", "hub"}

    # The admin action (staff who may change runs): the undo just made is undone in turn.
    admin.is_staff = True
    admin.save()
    admin.user_permissions.set(
        Permission.objects.filter(codename__in=["view_synclog", "change_synclog"])
    )
    site = Client()
    site.force_login(admin)
    page = site.post(
        reverse("admin:crm_synclog_changelist"),
        {"action": "undo", "_selected_action": [undo.pk]},
        follow=True,
    )
    assert page.status_code == 200
    redo = SyncLog.objects.get(undoes=undo)
    assert f"undo queued as run {redo.pk}" in page.content.decode()
