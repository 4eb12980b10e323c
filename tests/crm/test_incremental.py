"""The CRM sync of issue 15 against the Salesforce emulator (simple-salesforce over TLS, every
exchange contract-checked): incremental reads, the merge table, deletes, filters, the contact's
account, token expiry, the daily cap, pause, schedules."""

import math
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from crm import services, sync
from crm.models import Account, Contact, CrmConfig, CrmLink, SyncLog
from integrations import approvals, runs
from integrations.approvals.models import OutboundChange
from integrations.connections import http
from integrations.connections.providers import salesforce
from integrations.connections.services import client


def run(config, entity="contact", **kwargs):
    config.refresh_from_db()
    return sync.run_once(config, entity, client(config.connection), **kwargs)


def crm_rows(config, soql):
    return client(config.connection).call(lambda c: c.sdk.query_all(soql)["records"])


def link_of(config, record, entity="contact"):
    return CrmLink.objects.get(config=config, entity=entity, local_id=record.pk)


def ada(config, **fields):
    return Contact.objects.create(
        workspace=config.workspace,
        first_name="Ada",
        last_name="Hub",
        email="ada@hub.example",
        **fields,
    )


# --- incremental reads -------------------------------------------------------------------------


def test_a_later_run_reads_only_what_changed_since_its_cursor(config, sandbox):
    run(config, "account")  # the contacts' accounts are linked: none waits to be read again
    first = run(config)
    assert first["full"] is True
    config.refresh_from_db()
    cursor = config.cursors["contact"]
    assert cursor["crm"] and cursor["hub"]
    remote = crm_rows(config, "SELECT Id FROM Contact LIMIT 1")[0]["Id"]
    sandbox.salesforce_edit(remote, {"Title": "Chief Tinkerer"})
    sandbox.clear_calls("salesforce")
    second = run(config)
    assert second["full"] is False  # no hub change: the CRM read is incremental
    assert second["updated"] == 1 and second["processed"] <= 3
    (only,) = [c for c in sandbox.calls("salesforce")["log"] if "query" in c["path"]]
    assert "/queryAll" in only["path"]  # one read: the changed and the deleted records
    local = Contact.objects.get(pk=CrmLink.objects.get(config=config, remote_id=remote).local_id)
    assert local.title == "Chief Tinkerer"
    third = run(config)  # the pulled edit read back inside the lookback: equal to its base
    assert (third["created"], third["updated"], third["conflicts"]) == (0, 0, 0)


def test_a_hub_edit_goes_up_and_its_echo_is_no_change(config, sandbox):
    contact = ada(config)
    run(config)
    contact.refresh_from_db()
    contact.title = "Countess"
    contact.save()
    counts = run(config)
    assert counts["updated"] == 1 and counts["conflicts"] == 0
    (row,) = crm_rows(
        config, f"SELECT Title FROM Contact WHERE Id = '{link_of(config, contact).remote_id}'"
    )
    assert row["Title"] == "Countess"
    again = run(config)
    assert (again["created"], again["updated"], again["conflicts"]) == (0, 0, 0)


# --- the merge table ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "hub", "crm", "held"),
    [
        ("last_write_wins", "CEO", "CEO", False),  # the hub's edit is the later one
        ("crm_wins", "CTO", "CTO", False),
        ("app_wins", "CEO", "CEO", False),
        ("manual_review", "CEO", "CTO", True),
    ],
)
def test_the_same_field_edited_on_both_sides_follows_the_strategy(
    config, sandbox, strategy, hub, crm, held
):
    config.conflict_resolution = strategy
    config.save()
    contact = ada(config)
    run(config)
    remote_id = link_of(config, contact).remote_id
    sandbox.salesforce_edit(remote_id, {"Title": "CTO"})
    contact.refresh_from_db()
    contact.title = "CEO"
    contact.save()
    counts = run(config)
    assert counts["conflicts"] == 1 and counts["held"] == int(held)
    contact.refresh_from_db()
    (row,) = crm_rows(config, f"SELECT Title FROM Contact WHERE Id = '{remote_id}'")
    assert (contact.title, row["Title"]) == (hub, crm)
    assert config.conflicts.filter(status="pending").count() == int(held)


def test_contacts_made_on_both_sides_with_one_email_are_linked_once(config, sandbox):
    sandbox.salesforce_records(
        sobject="Contact", records=[{"LastName": "Crm", "Email": "Grace@Both.example"}]
    )
    Contact.objects.create(workspace=config.workspace, last_name="Hub", email="grace@both.example")
    counts = run(config)
    assert counts["failed"] == 0
    assert Contact.objects.filter(email__iexact="grace@both.example").count() == 1
    assert len(crm_rows(config, "SELECT Id FROM Contact WHERE Email = 'grace@both.example'")) == 1
    grace = Contact.objects.get(email__iexact="grace@both.example")
    assert CrmLink.objects.filter(config=config, entity="contact", local_id=grace.pk).count() == 1


# --- deletes -----------------------------------------------------------------------------------


def test_a_crm_delete_reaches_the_hub_only_with_propagation(config, sandbox):
    run(config, "account")  # the contacts' accounts are linked: none waits to be read again
    contact = ada(config)
    run(config)
    sandbox.salesforce_delete(link_of(config, contact).remote_id)
    counts = run(config)  # propagation off: the link goes, the hub record stays
    assert counts["deleted"] == 0 and Contact.objects.filter(pk=contact.pk).exists()
    assert not CrmLink.objects.filter(config=config, entity="contact", local_id=contact.pk).exists()

    config.propagate_deletes = True
    config.save()
    other = Contact.objects.create(
        workspace=config.workspace, last_name="Lovelace", email="l@x.example"
    )
    run(config)
    before = Contact.objects.count()
    sandbox.salesforce_delete(link_of(config, other).remote_id)
    counts = run(config)  # seen through queryAll (IsDeleted), not by its absence
    assert counts["full"] is False and counts["deleted"] == 1
    assert not Contact.objects.filter(pk=other.pk).exists()
    # The other linked records were not in that (partial) read: unchanged, not deleted.
    assert Contact.objects.count() == before - 1


def test_a_hub_delete_reaches_salesforce_with_propagation(config, sandbox):
    config.propagate_deletes = True
    config.save()
    contact = ada(config)
    run(config)
    remote_id = link_of(config, contact).remote_id
    contact.delete()
    counts = run(config)
    assert counts["deleted"] == 1
    assert crm_rows(config, f"SELECT Id FROM Contact WHERE Id = '{remote_id}'") == []


def test_a_hub_delete_of_a_record_unchanged_in_salesforce_for_long_reaches_it(config, sandbox):
    """Its Salesforce half is older than the lookback, so the incremental read does not return
    it: unchanged there, it is deleted there (not taken for gone on both sides)."""
    config.propagate_deletes = True
    config.save()
    run(config, "account")
    run(config)
    link = CrmLink.objects.filter(config=config, entity="contact").order_by("local_id").first()
    Contact.objects.filter(pk=link.local_id).delete()
    counts = run(config)
    assert counts["full"] is False and counts["deleted"] == 1
    assert crm_rows(config, f"SELECT Id FROM Contact WHERE Id = '{link.remote_id}'") == []


def test_a_delete_waits_for_approval_when_the_mapping_set_requires_it(config, sandbox):
    config.propagate_deletes = True
    config.save()
    contact = ada(config)
    run(config)
    mapping_set = sync.mapping_set_for(config, "contact")
    mapping_set.requires_approval = True
    mapping_set.save()
    remote_id = link_of(config, contact).remote_id
    contact.delete()
    counts = run(config)
    assert counts["deleted"] == 0 and counts["held"] == 1
    change = OutboundChange.objects.get(owner=sync.OWNER)
    assert change.operation == "delete" and change.target_id == remote_id
    assert len(crm_rows(config, f"SELECT Id FROM Contact WHERE Id = '{remote_id}'")) == 1
    again = run(config)  # planned again: the waiting change is refreshed, not doubled
    assert again["held"] == 1 and OutboundChange.objects.filter(owner=sync.OWNER).count() == 1
    OutboundChange.objects.filter(pk=change.pk).update(status="approved")
    applied = approvals.apply(change.pk)
    assert applied.status == "applied", applied.error
    assert crm_rows(config, f"SELECT Id FROM Contact WHERE Id = '{remote_id}'") == []


def test_a_read_failing_mid_paging_deletes_nothing(config, sandbox):
    config.propagate_deletes = True
    config.save()
    sandbox.salesforce_records(accounts=2_100, seed=7)
    run(config, "account")
    accounts = Account.objects.filter(workspace=config.workspace).count()
    links = CrmLink.objects.filter(config=config, entity="account").count()
    assert accounts == links > 2_000
    CrmConfig.objects.filter(pk=config.pk).update(cursors={})  # the next read is complete
    sandbox.fault(
        "salesforce", kind="error", path="/services/data/*/queryAll/01g*", status=400, count=1
    )
    with pytest.raises(http.ProviderError):
        run(config, "account")
    assert Account.objects.filter(workspace=config.workspace).count() == accounts
    assert CrmLink.objects.filter(config=config, entity="account").count() == links
    config.refresh_from_db()
    assert config.cursors == {}  # nothing moved: the next run reads it all again


# --- filters -----------------------------------------------------------------------------------


def test_filters_with_the_connected_user_read_only_their_records(config, sandbox):
    me = config.connection.external_user_id
    assert me
    config.filters = {
        "contact": [{"field": "OwnerId", "operator": "equals", "value": "{current_user_crm_id}"}]
    }
    config.save()
    assert sync.check_filters(config, config.filters) == []
    mine = {
        r["Email"].lower()
        for r in crm_rows(config, f"SELECT Email FROM Contact WHERE OwnerId = '{me}'")
    }
    everyone = crm_rows(config, "SELECT Id FROM Contact")
    assert 0 < len(mine) < len(everyone)
    run(config)
    hub = set(Contact.objects.filter(workspace=config.workspace).values_list("email", flat=True))
    assert hub == mine


def test_a_hub_record_out_of_the_filter_is_not_created_in_salesforce(config, sandbox):
    config.filters = {
        "contact": [{"field": "Title", "operator": "contains", "value": "50%_off"}],
    }
    config.save()
    ada(config, title="Sells at 50%_off daily")
    Contact.objects.create(
        workspace=config.workspace, last_name="Other", email="o@x.example", title="50% off"
    )
    counts = run(config)
    assert counts["failed"] == 0
    made = crm_rows(
        config,
        "SELECT Email FROM Contact WHERE Email LIKE '%x.example' OR Email = 'ada@hub.example'",
    )
    assert [r["Email"] for r in made] == ["ada@hub.example"]


def test_bad_filter_rules_get_clear_errors(config):
    problems = sync.check_filters(
        config,
        {
            "contact": [
                {"field": "Shoe", "operator": "equals", "value": "x"},
                {"field": "Title", "operator": "like", "value": "x"},
                {"field": "Title", "operator": "in", "value": "x"},
            ],
            "lead": [],
        },
    )
    assert any("unknown field 'Shoe'" in p for p in problems)
    assert any("unknown operator 'like'" in p for p in problems)
    assert any("'in' takes a non-empty list" in p for p in problems)
    assert any("Unknown entity 'lead'" in p for p in problems)


def test_soql_values_are_escaped():
    where = sync.soql_where(
        [{"field": "LastName", "operator": "equals", "value": "O'Brien' OR Name != '"}], "005x"
    )
    assert where == "LastName = 'O\\'Brien\\' OR Name != \\''"


# --- accounts and contacts ---------------------------------------------------------------------


def test_a_contacts_account_follows_the_account_links(config, sandbox):
    acme = Account.objects.create(workspace=config.workspace, name="Acme Hub AG")
    contact = ada(config, account=acme)
    run(config, "contact")  # its account is not linked yet: left unset, read again next run
    remote_id = link_of(config, contact).remote_id
    (row,) = crm_rows(config, f"SELECT AccountId FROM Contact WHERE Id = '{remote_id}'")
    assert row["AccountId"] is None
    run(config, "account")
    run(config, "contact")
    account_remote = link_of(config, acme, "account").remote_id
    (row,) = crm_rows(config, f"SELECT AccountId FROM Contact WHERE Id = '{remote_id}'")
    assert row["AccountId"] == account_remote
    # And back: a CRM contact moved to another (linked) account moves here too.
    other = Account.objects.create(workspace=config.workspace, name="Other Hub AG")
    run(config, "account")
    sandbox.salesforce_edit(remote_id, {"AccountId": link_of(config, other, "account").remote_id})
    run(config, "contact")
    contact.refresh_from_db()
    assert contact.account_id == other.pk


# --- the provider's own troubles -----------------------------------------------------------------


def test_a_token_expiring_mid_run_is_refreshed_once_and_the_run_goes_on(
    config, sandbox, monkeypatch
):
    for n in range(3):
        Contact.objects.create(
            workspace=config.workspace, last_name=f"N{n}", email=f"n{n}@x.example"
        )
    real, expired = salesforce.create, []

    def expiring(sf, sobject, records):
        if not expired:  # the session ends between two calls of the run, once
            expired.append(sandbox.expire_tokens("salesforce"))
        return real(sf, sobject, records)

    monkeypatch.setattr(salesforce, "create", expiring)
    before = sandbox.count("salesforce", "POST /services/oauth2/token")
    counts = run(config)
    assert counts["failed"] == 0 and counts["created"] >= 3
    assert sandbox.count("salesforce", "POST /services/oauth2/token") == before + 1
    assert len(crm_rows(config, "SELECT Id FROM Contact WHERE Email LIKE 'n_@x.example'")) == 3


@pytest.mark.django_db(transaction=True)
def test_the_daily_cap_pauses_the_config_with_its_resume_time(config, sandbox, monkeypatch):
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)
    ada(config)  # the run reads (one call) and then must create it (a second)
    sandbox.set_limit("salesforce", 1, 86_400)
    log = services.sync_request(config=config, entity="contact", actor=None)
    log = sync.execute(log.pk)
    assert log.status == "failed" and "daily API limit" in log.message
    config.refresh_from_db()
    assert config.status == "paused" and config.resume_at > timezone.now()
    assert "daily API limit" in config.status_reason and "UTC" in config.status_reason
    assert config.api_usage.get("limit") == 1
    # Until it may resume, the schedule leaves it alone; then it resumes and queues again.
    config.sync_frequency = "hourly"
    config.save()
    assert services.sync_due()["queued"] == 0
    outcome = services.sync_due(now=config.resume_at + timedelta(seconds=1))
    config.refresh_from_db()
    assert outcome["resumed"] == 1 and config.status == "connected"


@pytest.mark.django_db(transaction=True)
def test_a_config_paused_mid_run_stops_after_the_batch(config, sandbox, monkeypatch):
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)
    monkeypatch.setattr(sync, "BATCH", 2)
    for n in range(5):
        Contact.objects.create(
            workspace=config.workspace, last_name=f"P{n}", email=f"p{n}@x.example"
        )
    real = salesforce.create

    def pausing(sf, sobject, records):
        CrmConfig.objects.filter(pk=config.pk).update(status="paused")
        return real(sf, sobject, records)

    monkeypatch.setattr(salesforce, "create", pausing)
    log = services.sync_request(config=config, entity="contact", actor=None)
    log = sync.execute(log.pk)
    assert log.status == "partial" and "Paused" in log.message
    assert log.created == 2  # the batch it was in, and no more
    assert len(crm_rows(config, "SELECT Id FROM Contact WHERE Email LIKE 'p_@x.example'")) == 2
    config.refresh_from_db()
    assert "contact" not in config.cursors  # the next run reads from where this one began
    monkeypatch.setattr(salesforce, "create", real)
    CrmConfig.objects.filter(pk=config.pk).update(status="connected")
    counts = run(config)
    assert counts["failed"] == 0
    assert len(crm_rows(config, "SELECT Id FROM Contact WHERE Email LIKE 'p_@x.example'")) == 5


# --- retries and schedules ---------------------------------------------------------------------


def test_a_failed_record_is_tried_again_next_run(config, sandbox, monkeypatch):
    contact = ada(config)
    real = salesforce.create

    def refusing(sf, sobject, records):
        return [salesforce.Result(id="", ok=False, code="X", message="refused") for _ in records]

    monkeypatch.setattr(salesforce, "create", refusing)
    counts = run(config)
    assert (
        counts["failed"] == 1
        and not CrmLink.objects.filter(entity="contact", local_id=contact.pk).exists()
    )
    monkeypatch.setattr(salesforce, "create", real)
    counts = run(config)  # the hub record did not change: read again by id all the same
    assert (
        counts["failed"] == 0
        and CrmLink.objects.filter(entity="contact", local_id=contact.pk).exists()
    )


@pytest.mark.django_db(transaction=True)
def test_retry_failed_queues_a_run_of_the_logs_entity(config, sandbox, monkeypatch):
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)
    log = SyncLog.objects.create(
        workspace=config.workspace,
        config=config,
        entity="account",
        direction="bidirectional",
        trigger="button",
        status="partial",
    )
    again = services.retry_failed(log=log, actor=None)
    assert (again.entity, again.status, again.config_id) == ("account", "queued", config.pk)


@pytest.mark.django_db(transaction=True)
def test_schedules_queue_due_configs_and_never_manual_ones(
    config, sandbox, two_workspaces, monkeypatch
):
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)
    now = timezone.now()
    config.sync_frequency = "hourly"
    config.next_sync_at = now - timedelta(minutes=1)
    config.save()
    manual = CrmConfig.objects.create(
        workspace=two_workspaces["a"],
        provider="hubspot",
        connection=config.connection,
        entities=["account"],
        sync_frequency="manual",
    )
    outcome = services.sync_due(now=now)
    assert outcome["queued"] == 2
    assert list(
        SyncLog.objects.filter(config=config).order_by("pk").values_list("entity", flat=True)
    ) == ["account", "contact"]
    assert not SyncLog.objects.filter(config=manual).exists()
    config.refresh_from_db()
    assert config.next_sync_at == now + timedelta(hours=1)
    assert services.sync_due(now=now + timedelta(minutes=5))["queued"] == 0  # not due yet


def test_next_due_per_frequency(config):
    moment = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    config.sync_frequency = "realtime"
    assert sync.next_due(config, moment) == moment + timedelta(minutes=1)
    config.sync_frequency, config.daily_at = "daily", time(6, 0)
    assert sync.next_due(config, moment) == datetime(2026, 1, 6, 6, 0, tzinfo=UTC)
    config.daily_at = time(12, 0)
    assert sync.next_due(config, moment) == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    config.sync_frequency = "manual"
    assert sync.next_due(config, moment) is None


def test_the_command_syncs_accounts_then_contacts(config, sandbox, capsys):
    from django.core.management import call_command

    ada(config)
    call_command("crm_sync", str(config.pk), "--dry-run")
    out = capsys.readouterr().out
    assert "accounts: succeeded" in out and "contacts: succeeded" in out
    assert not CrmLink.objects.filter(config=config).exists()
    call_command("crm_sync", str(config.pk), "--entity", "contact")
    assert "contacts: succeeded" in capsys.readouterr().out
    assert CrmLink.objects.filter(config=config, entity="contact").exists()


def test_a_contains_filter_matches_percent_and_underscore_literally(config, sandbox):
    sandbox.salesforce_records(
        sobject="Contact",
        records=[{"LastName": "A", "Title": "50%_off"}, {"LastName": "B", "Title": "50% off"}],
    )
    pattern = salesforce.like_literal("50%_off")
    rows = crm_rows(config, f"SELECT Title FROM Contact WHERE Title LIKE {pattern}")
    assert [r["Title"] for r in rows] == ["50%_off"]


@pytest.mark.django_db(transaction=True)
def test_the_admin_actions_queue_a_run_and_a_dry_run(config, sandbox, superuser, monkeypatch):
    from django.test import Client
    from django.urls import reverse

    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)
    browser = Client()
    browser.force_login(superuser)
    url = reverse("admin:crm_crmconfig_changelist")
    answer = browser.post(url, {"action": "dry_run", "_selected_action": [config.pk]}, follow=True)
    assert answer.status_code == 200
    logs = SyncLog.objects.filter(config=config).order_by("pk")
    assert [(log.entity, log.dry_run, log.trigger) for log in logs] == [
        ("account", True, "admin"),
        ("contact", True, "admin"),
    ]
    browser.post(url, {"action": "sync_now", "_selected_action": [config.pk]}, follow=True)
    assert SyncLog.objects.filter(config=config, dry_run=False).count() == 0  # one is going
    SyncLog.objects.filter(config=config).update(status="succeeded")
    browser.post(url, {"action": "sync_now", "_selected_action": [config.pk]}, follow=True)
    assert SyncLog.objects.filter(config=config, dry_run=False).count() == 2


@pytest.mark.django_db(transaction=True)
def test_every_sync_operation_is_audited(config, sandbox, monkeypatch):
    from integrations.accounts.models import AuditEvent

    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)
    config.propagate_deletes = True
    config.save()
    contact = ada(config)
    log = services.sync_request(config=config, entity="contact", actor=None)
    sync.execute(log.pk)
    contact.delete()
    log = services.retry_failed(log=log, actor=None)
    sync.execute(log.pk)
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    for action in ("crm.sync.request", "crm.sync.retry", "crm.sync.finished", "crm.sync.delete"):
        assert action in actions, actions
    finished = AuditEvent.objects.filter(action="crm.sync.finished").last()
    assert finished.details["entity"] == "contact" and finished.details["status"] == "succeeded"


def test_a_run_costs_no_more_calls_than_the_floor(config, sandbox):
    """Half the accounts changed on each side: one read of the object (cheaper than asking for
    the other half of the hub's changes by id) and one Collections call per 200 writes —
    within the floor ceil(reads / 2,000) + ceil(writes / 200) + describe."""
    sandbox.salesforce_records(accounts=500, seed=3)
    run(config, "account")
    links = list(CrmLink.objects.filter(config=config, entity="account").order_by("pk"))
    hub_side, crm_side = links[: len(links) // 2], links[len(links) // 2 :]
    for link in hub_side:
        account = Account.objects.get(pk=link.local_id)
        account.description = "changed in the hub"
        account.save()
    for link in crm_side:
        sandbox.salesforce_edit(link.remote_id, {"Description": "changed in Salesforce"})
    sandbox.clear_calls("salesforce")
    counts = run(config, "account")
    calls = sandbox.calls("salesforce")["total"]
    assert counts["updated"] == len(links) and counts["failed"] == 0
    floor = math.ceil(len(crm_side) / 2_000) + math.ceil(len(hub_side) / 200) + 1
    assert calls <= floor, sandbox.calls("salesforce")["by_endpoint"]


def test_the_dry_runs_plan_is_what_the_run_then_does(config, sandbox):
    # A mix: a hub edit, a Salesforce edit, the same field edited on both (last write wins),
    # a contact new in the hub and one new in Salesforce.
    run(config, "account")
    one, two, three = (
        Contact.objects.create(
            workspace=config.workspace, last_name=f"Hub{n}", email=f"ada{n}@hub.example"
        )
        for n in range(3)
    )
    run(config)
    one.title = "Hub edit"
    one.save()
    sandbox.salesforce_edit(link_of(config, two).remote_id, {"Title": "CRM edit"})
    sandbox.salesforce_edit(link_of(config, three).remote_id, {"Title": "CRM first"})
    three.title = "Hub last"
    three.save()
    Contact.objects.create(workspace=config.workspace, last_name="New", email="new@hub.example")
    sandbox.salesforce_records(
        sobject="Contact", records=[{"LastName": "Fresh", "Email": "fresh@crm.example"}]
    )

    planned = run(config, dry_run=True)["plan"]
    assert run(config, dry_run=True)["plan"] == planned  # a dry run changed nothing
    done = run(config)

    ops = [step for step in planned if step["operation"] != "conflict"]
    count = {kind: sum(1 for s in ops if s["operation"] == kind) for kind in ("create", "update")}
    assert (done["created"], done["updated"]) == (count["create"], count["update"])
    assert [s["fields"]["Title"][1:] for s in planned if s["operation"] == "conflict"] == [
        ["Hub last", "CRM first"]
    ]
    for step in ops:  # every planned change is where the plan said it would be
        after = {name: change[1] for name, change in step["changes"].items()}
        if step["side"] == "crm":
            remote = (
                step["remote_id"]
                or link_of(config, Contact.objects.get(pk=step["local_id"])).remote_id
            )
            fields = ", ".join(after)
            (row,) = crm_rows(config, f"SELECT {fields} FROM Contact WHERE Id = '{remote}'")
            assert {name: row[name] or None for name in after} == after, step
        else:
            local = CrmLink.objects.get(
                config=config, entity="contact", remote_id=step["remote_id"]
            )
            record = Contact.objects.get(pk=local.local_id)
            mapped = sync.EntitySync(config, "contact", client(config.connection))
            values = mapped._snapshots_local([record])[record.pk].values
            assert {name: values[name] for name in after} == after, step
    assert run(config, dry_run=True)["plan"] == []  # and nothing is left to do
