"""The hub's HubSpot data functions (integrations/connections/providers/hubspot.py) against the
HubSpot emulator, through hubspot-api-client over TLS on the hub's HTTP layer and the
platform's one client (every exchange contract-checked by the suite's sandbox fixture): reads
by search, windowed past the 10,000 cap; the search budget; 429 storms on batch writes; batch
create / update / archive with per-record errors; associations v4; properties."""

from datetime import UTC, datetime, timedelta

import pytest

from integrations.connections import http
from integrations.connections.providers import hubspot
from integrations.connections.services import client
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def hs(sandbox, two_workspaces):
    """The platform's one client of a HubSpot connection."""
    connection = connect(
        sandbox, user=two_workspaces["a_admin"], workspace=two_workspaces["a"], provider="hubspot"
    )
    return client(connection)


@pytest.fixture
def fast_search(settings, emulator_config):
    """Many searches a second on both sides (the emulator's limit and our bucket for it): for
    tests whose subject is not the 5-a-second budget (that has its own test)."""
    emulator_config(search_per_second=10_000)
    settings.PROVIDER_RATE_LIMITS = {
        **settings.PROVIDER_RATE_LIMITS,
        hubspot.SEARCH_LIMIT: (10_000, 1.0),
    }
    http.reset_buckets()


def ids_of(rows):
    return [row["id"] for row in rows]


def test_a_full_read_answers_every_record_once_in_id_order_with_the_asked_properties(hs, sandbox):
    expected = sorted(
        (r["id"] for r in sandbox.hubspot_rows("contacts") if not r.get("archived")), key=int
    )
    with http.track() as stats:
        rows = hs.call(lambda c: hubspot.read(c.sdk, "contacts", ["email", "firstname"]))
    assert ids_of(rows) == expected and len(expected) == 80  # the seed's contacts
    first = rows[0]["properties"]
    assert set(first) == {"hs_object_id", "lastmodifieddate", "email", "firstname"}
    assert all(r["properties"]["email"] for r in rows)
    # The SDK's requests went through the hub's HTTP layer (counted there): one page of 200.
    assert stats.calls == 1 and dict(stats.by_status) == {200: 1}
    companies = hs.call(lambda c: hubspot.read(c.sdk, "companies", ["name", "domain"]))
    assert len(companies) == 40 and "hs_lastmodifieddate" in companies[0]["properties"]


def test_an_incremental_read_answers_what_changed_at_or_after_since(hs, sandbox, emulator_config):
    emulator_config(search_delay=0)
    rows = sandbox.hubspot_rows("contacts")
    sandbox.advance_clock("hubspot", 3600)  # the edits come an hour after the seed
    changed = [rows[5]["id"], rows[40]["id"], rows[2]["id"]]
    for record_id in changed:
        sandbox.advance_clock("hubspot", 1)
        sandbox.hubspot_edit("contacts", record_id, {"jobtitle": "Changed"})
    modified = {
        r["id"]: datetime.fromisoformat(r["properties"]["lastmodifieddate"])
        for r in sandbox.hubspot_rows("contacts")
    }
    since = modified[changed[0]] - timedelta(minutes=5)
    found = hs.call(lambda c: hubspot.read(c.sdk, "contacts", ["jobtitle"], since=since))
    assert ids_of(found) == sorted(changed, key=int)
    assert {r["properties"]["jobtitle"] for r in found} == {"Changed"}
    # `since` is inclusive: the last edit's own millisecond still finds it.
    last = hs.call(lambda c: hubspot.read(c.sdk, "contacts", [], since=modified[changed[-1]]))
    assert ids_of(last) == [changed[-1]]


def test_25000_contacts_are_read_past_the_10000_cap_with_no_gap_and_no_repeat(
    hs, sandbox, fast_search
):
    # 126 searches; the emulator scans every row for each (about 80 ms at 25,000 rows), so this
    # test takes about 10 s. Its cap and page size are constants, not config, so they stay.
    sandbox.hubspot_records(contacts=25_000, seed=7)
    expected = sorted(
        (r["id"] for r in sandbox.hubspot_rows("contacts") if not r.get("archived")), key=int
    )
    assert len(expected) == 25_080
    with http.track() as stats:
        rows = hs.call(lambda c: hubspot.read(c.sdk, "contacts", ["email"]))
    assert ids_of(rows) == expected  # every one, once, in order
    # Three windows (10,000 + 10,000 + 5,080) of 200-row pages, no page refused (the emulator
    # answers 400 past the 10,000th result of a query).
    assert stats.calls == 50 + 50 + 26 and set(stats.by_status) == {200}


def test_searches_keep_to_5_a_second_and_earn_no_429(hs, sandbox):
    sandbox.clear_calls("hubspot")
    with http.track() as stats:
        totals = [hs.call(lambda c: hubspot.count(c.sdk, "contacts")) for _ in range(8)]
    assert totals == [80] * 8
    assert 429 not in stats.by_status and stats.retries == 0
    assert stats.throttle_seconds > 0  # our own bucket held some back: the emulator's would 429
    assert "429" not in {str(s) for s in sandbox.calls("hubspot")["by_status"]}


def test_without_the_search_bucket_the_emulator_refuses_the_sixth_search(hs, sandbox, settings):
    """The pacing test's counterpart: the same searches paced only by the ten-secondly budget
    earn HubSpot's SECONDLY 429 (so the test above proves the search bucket does the work)."""
    settings.PROVIDER_RATE_LIMITS = {
        **settings.PROVIDER_RATE_LIMITS,
        hubspot.SEARCH_LIMIT: (10_000, 1.0),
    }
    settings.HTTP_MAX_ATTEMPTS = 1
    http.reset_buckets()
    with pytest.raises(http.RateLimited) as limited:
        for _ in range(8):
            hs.call(lambda c: hubspot.count(c.sdk, "contacts"))
    assert limited.value.code == "SECONDLY" and limited.value.status == 429


def test_a_429_storm_on_batch_updates_is_survived_with_nothing_lost(hs, sandbox):
    contacts = sorted(sandbox.hubspot_rows("contacts"), key=lambda r: int(r["id"]))
    records = [{"id": r["id"], "jobtitle": f"Title {i}"} for i, r in enumerate(contacts)]
    # Four 429s in a row (one with Retry-After), then answers: a POST HubSpot did not process.
    sandbox.fault("hubspot", kind="storm", path="/crm/v3/objects/contacts/batch/update", count=3)
    sandbox.fault(
        "hubspot",
        kind="storm",
        path="/crm/v3/objects/contacts/batch/update",
        count=1,
        retry_after=1,
    )
    with http.track() as stats:
        results = [
            result
            for start in range(0, len(records), hubspot.BATCH_SIZE)
            for result in hs.call(
                lambda c, s=start: hubspot.update(
                    c.sdk, "contacts", records[s : s + hubspot.BATCH_SIZE]
                )
            )
        ]
    assert [r.ok for r in results] == [True] * 80
    assert [r.id for r in results] == [r["id"] for r in records]
    assert stats.by_status[429] == 4 and stats.retries == 4
    stored = {r["id"]: r["properties"].get("jobtitle") for r in sandbox.hubspot_rows("contacts")}
    assert all(stored[r["id"]] == r["jobtitle"] for r in records)


def test_a_storm_longer_than_the_retries_is_a_rate_limited_error(hs, sandbox, settings):
    settings.HTTP_MAX_ATTEMPTS = 2
    sandbox.fault("hubspot", kind="storm", path="/crm/v3/objects/contacts/batch/update")
    contact = sandbox.hubspot_rows("contacts")[0]
    with pytest.raises(http.RateLimited) as limited:
        hs.call(lambda c: hubspot.update(c.sdk, "contacts", [{"id": contact["id"], "city": "X"}]))
    assert limited.value.code == "TEN_SECONDLY_ROLLING" and limited.value.status == 429


def test_batch_create_update_archive_answer_per_record_results(hs, sandbox):
    taken = sandbox.hubspot_rows("contacts")[0]["properties"]["email"]
    made = hs.call(
        lambda c: hubspot.create(
            c.sdk,
            "contacts",
            [
                {"email": "one@example.com", "firstname": "One", "jobtitle": None},
                {"email": taken, "firstname": "Duplicate"},
                {"email": "two@example.com", "firstname": "Two", "createdate": "1"},
                {"email": "three@example.com", "firstname": "Three"},
            ],
        )
    )
    assert [r.ok for r in made] == [True, False, False, True]
    assert made[1].code == "CONFLICT" and "already exists" in made[1].message
    assert made[2].code == "VALIDATION_ERROR"
    stored = {r["id"]: r["properties"] for r in sandbox.hubspot_rows("contacts")}
    assert stored[made[0].id]["email"] == "one@example.com"
    assert stored[made[3].id]["firstname"] == "Three"
    assert not any(p.get("firstname") in ("Duplicate", "Two") for p in stored.values())

    updated = hs.call(
        lambda c: hubspot.update(
            c.sdk,
            "contacts",
            [
                {"id": made[0].id, "firstname": "Uno", "jobtitle": 7},
                {"id": "999999999", "firstname": "Nobody"},
                {"id": made[3].id, "firstname": "Tres"},
            ],
        )
    )
    assert [(r.id, r.ok) for r in updated] == [
        (made[0].id, True),
        ("999999999", False),
        (made[3].id, True),
    ]
    assert updated[1].code == "OBJECT_NOT_FOUND"
    stored = {r["id"]: r["properties"] for r in sandbox.hubspot_rows("contacts")}
    assert stored[made[0].id]["firstname"] == "Uno" and stored[made[0].id]["jobtitle"] == "7"

    back = hs.call(lambda c: hubspot.read_ids(c.sdk, "contacts", ["firstname"], [made[3].id, "1"]))
    assert ids_of(back) == [made[3].id] and back[0]["properties"]["firstname"] == "Tres"

    gone = hs.call(lambda c: hubspot.archive(c.sdk, "contacts", [made[0].id, made[3].id]))
    assert all(r.ok for r in gone)
    archived = {r["id"]: r.get("archived") for r in sandbox.hubspot_rows("contacts")}
    assert archived[made[0].id] and archived[made[3].id]
    with pytest.raises(http.Permanent, match="at most 100"):
        hubspot.archive(hs.sdk, "contacts", [str(i) for i in range(101)])


def test_a_refusal_hubspot_gives_the_whole_call_is_a_typed_error_with_its_message(hs):
    with pytest.raises(http.Permanent) as refused:
        hs.call(lambda c: hubspot.search(c.sdk, "contacts", {"limit": 500}))
    assert refused.value.status == 400 and refused.value.code == "VALIDATION_ERROR"
    assert refused.value.message.startswith("HubSpot refused to search contacts (VALIDATION_ERROR)")
    with pytest.raises(http.Permanent, match="not a HubSpot object type"):
        hubspot.read(hs.sdk, "deals", [])


def test_an_expired_token_is_refreshed_once_by_the_one_client(hs, sandbox):
    hs.sdk  # noqa: B018 - made with the first token
    sandbox.expire_tokens("hubspot")
    first = hs.connection.access_token
    assert hs.call(lambda c: hubspot.count(c.sdk, "companies")) == 40
    hs.connection.refresh_from_db()
    assert hs.connection.access_token != first


def test_contacts_are_associated_with_companies_and_read_back(hs, sandbox):
    companies = hs.call(lambda c: hubspot.read(c.sdk, "companies", ["name"]))
    made = hs.call(
        lambda c: hubspot.create(
            c.sdk, "contacts", [{"email": "a@assoc.example"}, {"email": "b@assoc.example"}]
        )
    )
    pairs = [(made[0].id, companies[0]["id"]), (made[1].id, companies[1]["id"])]
    linked = hs.call(lambda c: hubspot.associate(c.sdk, pairs[:1], primary=True))
    assert [r.ok for r in linked] == [True]
    assert all(r.ok for r in hs.call(lambda c: hubspot.associate(c.sdk, pairs[1:])))
    found = hs.call(lambda c: hubspot.companies_of(c.sdk, [made[0].id, made[1].id, "999999"]))
    assert found[made[0].id] == [
        {"id": companies[0]["id"], "types": sorted(found[made[0].id][0]["types"]), "primary": True}
    ]
    assert set(found[made[0].id][0]["types"]) == {1, 279}
    assert found[made[1].id] == [{"id": companies[1]["id"], "types": [279], "primary": False}]
    assert "999999" not in found


def test_a_contacts_primary_company_is_made_with_it_moved_and_removed(hs, sandbox):
    """Made in the create call; a new primary takes the label (the old stays unlabeled) and
    `associatedcompanyid` follows, moving the contact's last-modified stamp; the batch archive
    removes the pair."""
    first, second = [
        r["id"] for r in hs.call(lambda c: hubspot.read(c.sdk, "companies", ["name"]))[:2]
    ]
    (made,) = hs.call(
        lambda c: hubspot.create(c.sdk, "contacts", [{"email": "p@assoc.example"}], [first])
    )
    stored = {r["id"]: r for r in sandbox.hubspot_rows("contacts")}[made.id]
    assert list(stored["associations"]) == [first]
    assert sorted(stored["associations"][first]) == [1, 279]
    assert stored["properties"]["associatedcompanyid"] == first
    before = stored["properties"]["lastmodifieddate"]
    sandbox.advance_clock("hubspot", 1)
    hs.call(lambda c: hubspot.associate(c.sdk, [(made.id, second)], primary=True))
    found = hs.call(lambda c: hubspot.companies_of(c.sdk, [made.id]))[made.id]
    assert {link["id"]: link["primary"] for link in found} == {first: False, second: True}
    stored = {r["id"]: r for r in sandbox.hubspot_rows("contacts")}[made.id]
    assert stored["properties"]["associatedcompanyid"] == second
    assert stored["properties"]["lastmodifieddate"] > before
    assert all(r.ok for r in hs.call(lambda c: hubspot.dissociate(c.sdk, [(made.id, second)])))
    found = hs.call(lambda c: hubspot.companies_of(c.sdk, [made.id]))[made.id]
    assert [link["id"] for link in found] == [first]
    stored = {r["id"]: r for r in sandbox.hubspot_rows("contacts")}[made.id]
    assert stored["properties"]["associatedcompanyid"] is None


def test_archived_records_are_listed_page_by_page_since_a_moment(hs, sandbox):
    contacts = sorted(sandbox.hubspot_rows("contacts"), key=lambda r: int(r["id"]))
    hs.call(lambda c: hubspot.archive(c.sdk, "contacts", [r["id"] for r in contacts[:3]]))
    moment = datetime.now(UTC) + timedelta(seconds=30)
    sandbox.advance_clock("hubspot", 60)
    hs.call(lambda c: hubspot.archive(c.sdk, "contacts", [contacts[3]["id"]]))
    with http.track() as stats:
        every = hs.call(lambda c: hubspot.archived(c.sdk, "contacts"))
    assert [r["id"] for r in every] == [r["id"] for r in contacts[:4]]
    assert all(r["archived"] and r["archivedAt"] for r in every) and stats.calls == 1
    later = hs.call(lambda c: hubspot.archived(c.sdk, "contacts", since=moment))
    assert [r["id"] for r in later] == [contacts[3]["id"]]


def test_properties_list_the_fields_with_type_and_read_only(hs):
    fields = {f["name"]: f for f in hs.call(lambda c: hubspot.properties(c.sdk, "contacts"))}
    assert fields["email"]["label"] and fields["email"]["type"] == "string"
    assert not fields["email"]["read_only"] and fields["email"]["createable"]
    assert fields["hs_object_id"]["read_only"] and not fields["hs_object_id"]["updateable"]
    assert fields["lastmodifieddate"]["read_only"]
    assert "lead" in fields["lifecyclestage"]["picklist"]
    assert not any(f["required"] for f in fields.values())
    company = {f["name"] for f in hs.call(lambda c: hubspot.properties(c.sdk, "companies"))}
    assert {"name", "domain", "hs_lastmodifieddate"} <= company


def test_an_outage_outlasting_the_retries_is_unavailable_with_hubspots_category(
    hs, sandbox, settings
):
    settings.HTTP_MAX_ATTEMPTS = 2
    sandbox.fault("hubspot", kind="error", status=503, path="/crm/v3/properties/contacts")
    with http.track() as stats, pytest.raises(http.Unavailable) as down:
        hs.call(lambda c: hubspot.properties(c.sdk, "contacts"))
    assert stats.calls == 2 and stats.retries == 1  # a GET: retried by the platform
    assert down.value.status == 503 and down.value.code == "SERVICE_UNAVAILABLE"
    assert "HubSpot could not list the contacts properties" in down.value.message
