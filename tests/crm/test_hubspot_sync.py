"""The CRM sync against the HubSpot emulator, through hubspot-api-client over TLS on the hub's
HTTP layer and the platform's one client (every exchange contract-checked by the suite's
sandbox): both ways, conflicts, the contact's company (associations v4), deletes (the archived
list), incremental reads, a 429 storm on batch updates, and the dry run's plan."""

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from crm import remote, sync
from crm.models import Account, Contact, CrmConfig, CrmLink, CrmWrite
from integrations.connections import http
from integrations.connections.providers import hubspot
from integrations.connections.services import client
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db
SEARCH_LAG = 3  # seconds of the emulator's clock past the search delay a test sets (2 s)


@pytest.fixture
def fast_search(settings, emulator_config):
    """Searches unthrottled on both sides: the 5-a-second budget is the provider tests' subject
    (tests/integrations/test_hubspot_data_provider.py), not the sync's. The emulator's limit
    comes back after the test (a reset keeps it: left at 10,000 it took the 429 from a later
    test of the budget in the same process)."""
    emulator_config(search_per_second=10_000)
    settings.PROVIDER_RATE_LIMITS = {
        **settings.PROVIDER_RATE_LIMITS,
        hubspot.SEARCH_LIMIT: (10_000, 1.0),
    }
    http.reset_buckets()


@pytest.fixture
def hs_config(sandbox, two_workspaces, fast_search):
    connection = connect(
        sandbox, user=two_workspaces["a_admin"], workspace=two_workspaces["a"], provider="hubspot"
    )
    return CrmConfig.objects.create(
        workspace=two_workspaces["a"],
        provider="hubspot",
        connection=connection,
        entities=["account", "contact"],
    )


def run(config, entity: str, **options) -> dict:
    return sync.run_once(config, entity, client(config.connection), **options)


def searchable(sandbox) -> None:
    """Let the emulator's search index catch up with the writes (HubSpot's search lag; the
    suite's emulator has none unless a test sets it)."""
    sandbox.advance_clock("hubspot", SEARCH_LAG)


def rows(sandbox, kind: str) -> dict:
    return {r["id"]: r for r in sandbox.hubspot_rows(kind)}


def remote_id(config, record) -> str:
    entity = "account" if isinstance(record, Account) else "contact"
    return CrmLink.objects.get(config=config, entity=entity, local_id=record.pk).remote_id


def primary(row: dict) -> str | None:
    return next((c for c, types in (row.get("associations") or {}).items() if 1 in types), None)


def test_a_first_run_links_both_sides_with_each_contacts_company(hs_config, sandbox):
    hub_co = Account.objects.create(
        workspace=hs_config.workspace, name="Hub Co", domain="hub.example"
    )
    ada = Contact.objects.create(
        workspace=hs_config.workspace,
        first_name="Ada",
        last_name="Hub",
        email="ada@hub.example",
        account=hub_co,
    )
    accounts = run(hs_config, "account")
    contacts = run(hs_config, "contact")
    assert accounts["errors"] == [] and contacts["errors"] == []
    companies, people = rows(sandbox, "companies"), rows(sandbox, "contacts")
    assert accounts["created"] == len(companies)  # 40 came down, ours went up
    assert contacts["created"] == len(people)
    # Ours went up with its company as its primary one (associations v4, types 279 and 1).
    there = people[remote_id(hs_config, ada)]
    assert there["properties"]["email"] == "ada@hub.example"
    assert primary(there) == remote_id(hs_config, hub_co)
    assert sorted(there["associations"][remote_id(hs_config, hub_co)]) == [1, 279]
    # Theirs came down with their company as their account.
    seeded = next(r for r in people.values() if r["properties"]["email"] != "ada@hub.example")
    local = Contact.objects.get(pk=CrmLink.objects.get(remote_id=seeded["id"]).local_id)
    assert remote_id(hs_config, local.account) == primary(seeded)
    for entity in ("account", "contact"):
        again = run(hs_config, entity)
        assert (again["created"], again["updated"], again["conflicts"]) == (0, 0, 0), again


@pytest.fixture
def linked(hs_config, sandbox):
    """Both sides linked after a first run of each entity, the index caught up."""
    hub_co = Account.objects.create(
        workspace=hs_config.workspace, name="Hub Co", domain="hub.example"
    )
    Contact.objects.create(
        workspace=hs_config.workspace,
        first_name="Ada",
        last_name="Hub",
        email="ada@hub.example",
        account=hub_co,
    )
    for entity in ("account", "contact"):
        assert run(hs_config, entity)["errors"] == []
    return hs_config


def test_changes_both_ways_a_conflict_companies_and_deletes(linked, sandbox):
    config = linked
    config.conflict_resolution = CrmConfig.Resolution.APP_WINS
    config.propagate_deletes = True
    config.save()
    ada = Contact.objects.get(email="ada@hub.example")
    others = list(Contact.objects.exclude(pk=ada.pk).order_by("pk")[:3])
    theirs, gone_there = others[0], others[1]
    gone_here = others[2]
    accounts = list(Account.objects.exclude(pk=ada.account_id).order_by("pk")[:2])

    # HubSpot: a company's city, a contact's job title and (the same field) Ada's, a contact
    # moved to another company, a contact archived.
    company = rows(sandbox, "companies")[remote_id(config, accounts[0])]
    sandbox.hubspot_edit("companies", company["id"], {"city": "Zug"})
    sandbox.hubspot_edit("contacts", remote_id(config, theirs), {"jobtitle": "Buyer"})
    sandbox.hubspot_edit("contacts", remote_id(config, ada), {"jobtitle": "CTO"})
    moved_to = remote_id(config, accounts[1])
    client(config.connection).call(
        lambda c: hubspot.associate(c.sdk, [(remote_id(config, theirs), moved_to)], primary=True)
    )
    sandbox.hubspot_delete("contacts", remote_id(config, gone_there))
    # The hub: an account's phone, Ada's title (the conflict) and her company, a contact
    # deleted.
    Account.objects.filter(pk=accounts[0].pk).update(phone="+41 41 000 00 00")
    ada.title, ada.account = "CEO", accounts[0]
    ada.save()
    gone_here_remote = remote_id(config, gone_here)
    gone_here.delete()

    account_run = run(config, "account")
    contact_run = run(config, "contact")
    assert account_run["errors"] == [] and contact_run["errors"] == []
    assert (account_run["updated"], contact_run["conflicts"]) == (2, 1)
    assert contact_run["deleted"] == 2

    companies, people = rows(sandbox, "companies"), rows(sandbox, "contacts")
    accounts[0].refresh_from_db()
    assert accounts[0].billing_city == "Zug"  # HubSpot's edit came down
    assert companies[company["id"]]["properties"]["phone"] == "+41 41 000 00 00"  # ours went up
    theirs.refresh_from_db()
    assert theirs.title == "Buyer"
    assert theirs.account_id == accounts[1].pk  # HubSpot's new primary company came down
    ada.refresh_from_db()
    ada_there = people[remote_id(config, ada)]
    assert ada.title == ada_there["properties"]["jobtitle"] == "CEO"  # the hub wins the field
    assert primary(ada_there) == remote_id(config, accounts[0])  # her company went up
    assert ada_there["properties"]["associatedcompanyid"] == remote_id(config, accounts[0])
    assert not Contact.objects.filter(pk=gone_there.pk).exists()  # archived there: gone here
    assert people[gone_here_remote]["archived"] is True  # deleted here: archived there

    for entity in ("account", "contact"):
        again = run(config, entity)
        assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0), again


def test_an_incremental_run_reads_only_what_changed(linked, sandbox):
    config = linked
    ada = Contact.objects.get(email="ada@hub.example")
    sandbox.hubspot_edit("contacts", remote_id(config, ada), {"phone": "+1 555 0100"})
    sandbox.clear_calls("hubspot")
    counts = run(config, "contact")
    assert counts["updated"] == 1 and not counts["full"]
    assert counts["processed"] == 2  # her HubSpot row and her hub record, nothing else
    calls = sandbox.calls("hubspot")["by_endpoint"]
    # One search page (the changed record), one page of the archived list, no write to HubSpot.
    assert calls == {
        "POST /crm/v3/objects/{object_type:hsobject}/search": 1,
        "GET /crm/v3/objects/{object_type:hsobject}": 1,
    }, calls
    ada.refresh_from_db()
    assert ada.phone == "+1 555 0100"


def test_a_write_made_just_before_a_run_is_not_lost_to_the_search_lag(linked, sandbox):
    """HubSpot's index lags writes, by more for some than for others: an edit not yet
    searchable when a run reads, older than one it did see (which set its cursor), is read by
    the next run, which starts a lookback before that cursor."""
    config = linked
    ada, grace = Contact.objects.exclude(email="").order_by("pk")[:2]
    sandbox.configure("hubspot", search_delay=2)  # the suite runs with none
    try:
        sandbox.hubspot_edit("contacts", remote_id(config, ada), {"phone": "+1 555 0199"})
        sandbox.advance_clock("hubspot", 1)
        sandbox.configure("hubspot", search_delay=0)
        sandbox.hubspot_edit("contacts", remote_id(config, grace), {"jobtitle": "Admiral"})
        first = run(config, "contact")
    finally:
        sandbox.configure("hubspot", search_delay=0)
    assert [step["local_id"] for step in first["plan"]] == [grace.pk]  # Ada's is not seen yet
    searchable(sandbox)
    second = run(config, "contact")
    assert [step["local_id"] for step in second["plan"]] == [ada.pk]
    ada.refresh_from_db()
    assert ada.phone == "+1 555 0199"


def test_a_429_storm_on_batch_updates_is_survived_with_nothing_lost(linked, sandbox):
    config = linked
    contacts = list(Contact.objects.filter(workspace=config.workspace).order_by("pk"))
    for n, contact in enumerate(contacts):
        contact.phone = f"+1 555 {n:04d}"
    Contact.objects.bulk_update(contacts, ["phone"])
    Contact.objects.filter(pk__in=[c.pk for c in contacts]).update(updated_at=sync.timezone.now())
    path = "/crm/v3/objects/contacts/batch/update"
    sandbox.fault("hubspot", kind="storm", path=path, count=3)
    with http.track() as stats:
        counts = run(config, "contact")
    assert counts["errors"] == [] and counts["updated"] == len(contacts)
    assert stats.by_status[429] == 3
    people = rows(sandbox, "contacts")
    assert all(people[remote_id(config, c)]["properties"]["phone"] == c.phone for c in contacts)


def test_the_dry_runs_plan_is_what_the_run_does(linked, sandbox):
    config = linked
    ada = Contact.objects.get(email="ada@hub.example")
    other = Contact.objects.exclude(pk=ada.pk).order_by("pk").first()
    sandbox.hubspot_edit("contacts", remote_id(config, other), {"firstname": "Grace"})
    ada.phone = "+41 44 000 00 00"
    ada.save()
    Contact.objects.create(workspace=config.workspace, last_name="New", email="new@hub.example")

    planned = run(config, "contact", dry_run=True)["plan"]
    assert rows(sandbox, "contacts")[remote_id(config, ada)]["properties"]["phone"] is None
    counts = run(config, "contact")
    assert (counts["created"], counts["updated"]) == (
        sum(1 for step in planned if step["operation"] == "create"),
        sum(1 for step in planned if step["operation"] == "update"),
    )
    people = rows(sandbox, "contacts")
    for step in planned:
        after = {name: change[1] for name, change in step["changes"].items()}
        if step["side"] == "crm":
            rid = step["remote_id"] or remote_id(config, Contact.objects.get(pk=step["local_id"]))
            there = people[rid]["properties"]
            assert {name: there[name] or None for name in after} == after, step
        else:
            link = CrmLink.objects.get(config=config, entity="contact", remote_id=step["remote_id"])
            record = Contact.objects.get(pk=link.local_id)
            mapped = sync.EntitySync(config, "contact", client(config.connection))
            values = mapped._snapshots_local([record])[record.pk].values
            assert {name: values[name] for name in after} == after, step
    assert run(config, "contact", dry_run=True)["plan"] == []


def test_the_api_and_the_command_work_for_a_hubspot_config(linked, sandbox, two_workspaces):
    """Available fields from HubSpot's properties (read-only ones marked), the preview's sample,
    the quota from the rate-limit headers, and `manage.py crm_sync` on the HubSpot config."""
    api = APIClient()
    api.force_authenticate(two_workspaces["a_member"])
    answer = api.get("/api/crm/hubspot/available-fields?entityType=contact")
    assert answer.status_code == 200, answer.content
    fields = {f["name"]: f for f in answer.json()["fields"]}
    assert fields["email"]["type"] == "string" and not fields["email"]["readOnly"]
    assert fields["associatedcompanyid"]["readOnly"] and fields["lastmodifieddate"]["readOnly"]
    crm = remote.remote_for(linked, client(linked.connection))
    sample = crm.sample("contact", ["email", "firstname"], 3)
    assert len(sample) == 3 and all(set(s) == {"id", "email", "firstname"} for s in sample)
    ada = Contact.objects.get(email="ada@hub.example")
    ada.phone = "+41 44 000 00 01"
    ada.save()
    out = io.StringIO()
    call_command("crm_sync", str(linked.pk), "--entity", "contact", stdout=out)
    there = rows(sandbox, "contacts")[remote_id(linked, ada)]["properties"]
    assert there["phone"] == "+41 44 000 00 01", out.getvalue()
    linked.refresh_from_db()
    assert linked.api_usage["limit"] > 0 and linked.api_usage["window"] in ("day", "interval")


def test_filter_rules_are_checked_after_hubspots_read_as_on_the_hubs_side(hs_config, sandbox):
    """HubSpot's search does not filter (crm/remote.py says why): a contact outside the rules
    is read and left alone, on both sides; one inside comes down, compared without case."""
    people = sorted(sandbox.hubspot_rows("contacts"), key=lambda r: int(r["id"]))
    sandbox.hubspot_edit("contacts", people[0]["id"], {"jobtitle": "Chief Engineer"})
    sandbox.hubspot_edit("contacts", people[1]["id"], {"jobtitle": "ENGINEER"})
    rules = {"contact": [{"field": "jobtitle", "operator": "contains", "value": "engineer"}]}
    assert sync.check_filters(hs_config, rules) == []
    hs_config.filters = rules
    hs_config.save()
    out = Contact.objects.create(workspace=hs_config.workspace, last_name="Out", title="Buyer")
    engineers = {
        r["id"]
        for r in sandbox.hubspot_rows("contacts")
        if "engineer" in (r["properties"]["jobtitle"] or "").lower()
    }
    counts = run(hs_config, "contact")
    assert counts["errors"] == [] and counts["created"] == len(engineers)
    linked = set(CrmLink.objects.filter(config=hs_config).values_list("remote_id", flat=True))
    assert linked == engineers and {people[0]["id"], people[1]["id"]} <= linked
    assert not CrmLink.objects.filter(local_id=out.pk).exists()
    assert all(r["properties"]["lastname"] != "Out" for r in sandbox.hubspot_rows("contacts"))


def test_a_run_that_died_after_hubspot_made_its_contacts_adopts_them_on_resume(
    hs_config, sandbox, monkeypatch
):
    """The create reached HubSpot, the worker died before the links were kept: the intents
    left behind find the contacts HubSpot made (by search), and nothing is made twice."""
    for n in range(3):
        Contact.objects.create(
            workspace=hs_config.workspace, last_name=f"Crash{n}", email=f"crash{n}@hub.example"
        )
    real = remote.HubSpotRemote.create

    def dies_after(self, entity, records):
        real(self, entity, records)
        raise SystemExit("killed")  # what the run sees of a worker killed here

    monkeypatch.setattr(remote.HubSpotRemote, "create", dies_after)
    with pytest.raises(SystemExit):
        run(hs_config, "contact")
    monkeypatch.setattr(remote.HubSpotRemote, "create", real)
    assert CrmWrite.objects.filter(config=hs_config).count() == 3
    counts = run(hs_config, "contact")
    assert counts["errors"] == [] and not CrmWrite.objects.filter(config=hs_config).exists()
    made = [
        r
        for r in sandbox.hubspot_rows("contacts")
        if r["properties"]["lastname"].startswith("Crash")
    ]
    assert len(made) == 3  # once each
    assert CrmLink.objects.filter(remote_id__in=[r["id"] for r in made]).count() == 3
