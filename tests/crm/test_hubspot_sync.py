"""The CRM sync against the HubSpot emulator, through hubspot-api-client over TLS on the hub's
HTTP layer and the platform's one client (every exchange contract-checked by the suite's
sandbox): both ways, conflicts, the contact's company (associations v4), deletes (the archived
list), incremental reads, a 429 storm on batch updates, and the dry run's plan."""

import pytest

from crm import remote, sync
from crm.models import Account, Contact, CrmConfig, CrmLink
from integrations.connections import http
from integrations.connections.providers import hubspot
from integrations.connections.services import client
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db
SEARCH_LAG = 5  # seconds of the emulator's clock past its search delay (2 s)


@pytest.fixture
def fast_search(settings, sandbox):
    """Searches unthrottled on both sides: the 5-a-second budget is the provider tests' subject
    (tests/integrations/test_hubspot_data_provider.py), not the sync's."""
    sandbox.configure("hubspot", search_per_second=10_000)
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
    """Let the emulator's search index catch up with the writes (HubSpot's search lag)."""
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
    searchable(sandbox)
    for entity in ("account", "contact"):
        again = run(hs_config, entity)
        assert (again["created"], again["updated"], again["conflicts"]) == (0, 0, 0), again
