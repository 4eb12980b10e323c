"""The CRM sync's first step against the Salesforce emulator, through simple-salesforce over TLS
(every exchange contract-checked by the suite's sandbox)."""

import pytest

from crm import remote, sync
from crm.models import Account, Contact, CrmConfig, CrmLink
from integrations.connections.services import client


def test_a_first_run_links_both_sides_and_a_second_run_does_nothing(config, sandbox):
    Contact.objects.create(
        workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
    )
    first = sync.run_once(config, "contact", client(config.connection))
    assert first["errors"] == [] and first["failed"] == 0
    remote_count = sandbox.calls("salesforce")["total"]
    assert first["created"] >= 2  # ours went up, theirs came down
    local = Contact.objects.filter(workspace=config.workspace).count()
    assert CrmLink.objects.filter(config=config, entity="contact").count() == local
    second = sync.run_once(config, "contact", client(config.connection))
    assert (second["created"], second["updated"], second["conflicts"]) == (0, 0, 0)
    assert sandbox.calls("salesforce")["total"] > remote_count  # it did read again


def test_edits_to_different_fields_on_both_sides_both_survive(config, sandbox):
    ada = Contact.objects.create(
        workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
    )
    sync.run_once(config, "contact", client(config.connection))
    link = CrmLink.objects.get(config=config, entity="contact", local_id=ada.pk)
    sandbox.salesforce_edit(link.remote_id, {"Title": "Engineer"})
    ada.phone = "+41 44 000 00 00"
    ada.save()
    counts = sync.run_once(config, "contact", client(config.connection))
    assert counts["conflicts"] == 0
    ada.refresh_from_db()
    assert ada.title == "Engineer" and ada.phone == "+41 44 000 00 00"


def test_the_same_field_edited_on_both_sides_waits_under_manual_review(config, sandbox):
    config.conflict_resolution = CrmConfig.Resolution.MANUAL_REVIEW
    config.save()
    ada = Contact.objects.create(
        workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
    )
    sync.run_once(config, "contact", client(config.connection))
    link = CrmLink.objects.get(config=config, entity="contact", local_id=ada.pk)
    sandbox.salesforce_edit(link.remote_id, {"Title": "CTO"})
    ada.title = "CEO"
    ada.save()
    counts = sync.run_once(config, "contact", client(config.connection))
    assert counts["conflicts"] == 1
    conflict = config.conflicts.get()
    assert conflict.conflicting_fields == ["Title"]
    assert (conflict.app_data, conflict.crm_data, conflict.base_data) == (
        {"Title": "CEO"},
        {"Title": "CTO"},
        {"Title": None},
    )
    ada.refresh_from_db()
    assert ada.title == "CEO"  # held: written nowhere
    again = sync.run_once(config, "contact", client(config.connection))
    assert again["conflicts"] == 1 and config.conflicts.count() == 1  # refreshed, not doubled


def test_a_field_always_taken_from_the_crm_beats_the_runs_strategy(config, sandbox):
    """Title is "always use CRM" under a run where the hub wins: a Title edited on both sides
    takes the CRM's value, a Phone edited on both sides the hub's, in the same run."""
    config.conflict_resolution = CrmConfig.Resolution.APP_WINS
    config.field_policies = {"contact": {"Title": CrmConfig.Resolution.CRM_WINS}}
    config.save()
    ada = Contact.objects.create(
        workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
    )
    sync.run_once(config, "contact", client(config.connection))
    link = CrmLink.objects.get(config=config, entity="contact", local_id=ada.pk)
    sandbox.salesforce_edit(link.remote_id, {"Title": "CTO", "Phone": "+1 555 0100"})
    ada.title, ada.phone = "CEO", "+41 44 000 00 00"
    ada.save()
    counts = sync.run_once(config, "contact", client(config.connection))
    assert counts["errors"] == [] and counts["held"] == 0
    assert counts["conflicts"] == 2  # one per policy: the run's (Phone) and Title's own
    ada.refresh_from_db()
    crm = client(config.connection).call(lambda c: c.sdk.Contact.get(link.remote_id))
    assert (ada.title, crm["Title"]) == ("CTO", "CTO")
    assert (ada.phone, crm["Phone"]) == ("+41 44 000 00 00", "+41 44 000 00 00")
    winners = {
        tuple(c["fields"]): c["winner"] for c in counts["plan"] if c["operation"] == "conflict"
    }
    assert winners == {("Phone",): "hub", ("Title",): "crm"}
    assert not config.conflicts.exists()  # nothing held for a person


def test_a_conflict_held_for_review_is_settled_by_a_rule_set_since(config, sandbox):
    config.conflict_resolution = CrmConfig.Resolution.MANUAL_REVIEW
    config.save()
    ada = Contact.objects.create(
        workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
    )
    sync.run_once(config, "contact", client(config.connection))
    link = CrmLink.objects.get(config=config, entity="contact", local_id=ada.pk)
    sandbox.salesforce_edit(link.remote_id, {"Title": "CTO", "Phone": "+1 555 0100"})
    ada.title, ada.phone = "CEO", "+41 44 000 00 00"
    ada.save()
    sync.run_once(config, "contact", client(config.connection))
    assert config.conflicts.get().conflicting_fields == ["Phone", "Title"]
    # Always use CRM for Title: the next run settles it and holds only Phone.
    config.field_policies = {"contact": {"Title": CrmConfig.Resolution.CRM_WINS}}
    config.save()
    counts = sync.run_once(config, "contact", client(config.connection))
    assert counts["held"] == 1
    pending = config.conflicts.get()
    assert (pending.status, pending.conflicting_fields) == ("pending", ["Phone"])
    ada.refresh_from_db()
    assert (ada.title, ada.phone) == ("CTO", "+41 44 000 00 00")
    # And Phone too: nothing is left to hold, so the waiting conflict is resolved by the run.
    config.field_policies["contact"]["Phone"] = CrmConfig.Resolution.APP_WINS
    config.save()
    counts = sync.run_once(config, "contact", client(config.connection))
    assert counts["held"] == 0
    pending.refresh_from_db()
    assert (pending.status, pending.strategy) == ("resolved", "use_app")
    crm = client(config.connection).call(lambda c: c.sdk.Contact.get(link.remote_id))
    assert (crm["Title"], crm["Phone"]) == ("CTO", "+41 44 000 00 00")


def test_accounts_made_on_both_sides_with_one_name_are_linked_not_doubled(config, sandbox):
    sandbox.salesforce_records(sobject="Account", records=[{"Name": "Acme AG"}])
    Account.objects.create(workspace=config.workspace, name="ACME AG ")
    before = Account.objects.filter(workspace=config.workspace).count()
    counts = sync.run_once(config, "account", client(config.connection))
    assert counts["failed"] == 0
    acme = Account.objects.filter(workspace=config.workspace, name__icontains="acme ag")
    assert acme.count() == 1  # matched by name (case and spaces aside), not made twice
    link = CrmLink.objects.get(config=config, entity="account", local_id=acme.get().pk)
    # No base to tell who changed the name: a conflict, settled by last write wins (ours).
    assert counts["conflicts"] == 1 and link.synced_values["Name"] == "ACME AG"
    assert Account.objects.filter(workspace=config.workspace).count() >= before


@pytest.mark.django_db(transaction=True)
def test_a_queued_run_records_its_counts_and_a_dry_run_only_its_plan(config, sandbox, settings):
    from config.celery import app
    from crm import services
    from crm.models import SyncLog

    app.conf.task_always_eager = True
    try:
        Contact.objects.create(
            workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
        )
        dry = services.sync_request(config=config, entity="contact", actor=None, dry_run=True)
        dry = SyncLog.objects.get(pk=dry.pk)
        assert dry.status == "succeeded" and dry.created == 0
        assert any(op["operation"] == "create" and op["side"] == "crm" for op in dry.plan)
        assert not CrmLink.objects.filter(config=config).exists()  # a dry run changes nothing
        real = services.sync_request(config=config, entity="contact", actor=None)
        real = SyncLog.objects.get(pk=real.pk)
        assert real.status == "succeeded" and real.created == len(
            [op for op in dry.plan if op["operation"] == "create"]
        )  # the dry run's plan is what the run did
        config.refresh_from_db()
        assert config.last_sync_status == "success"
    finally:
        app.conf.task_always_eager = False


def test_salesforces_remote_describes_samples_and_counts(config, sandbox):
    """What the field-mapping pages ask of crm/remote.py, in the shape HubSpot's answers too."""
    crm = remote.remote_for(config, client(config.connection))
    fields = {f["name"]: f for f in crm.describe("contact")}
    assert fields["Id"]["read_only"] and not fields["Email"]["read_only"]
    sample = crm.sample("contact", ["Email", "LastName"], 2)
    assert len(sample) == 2 and all(set(s) == {"id", "Email", "LastName"} for s in sample)
    assert crm.count("contact") >= 2 and crm.usage()["limit"] > 0
