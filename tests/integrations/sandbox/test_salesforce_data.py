"""The Salesforce emulator's data API driven by simple-salesforce over TLS, as the hub's CRM
sync will drive it: describe, the SOQL subset and its 2,000-record pages, CRUD and upsert,
sObject Collections with allOrNone and the 200 cap, the updated / deleted windows, expired
sessions, the daily cap, and every error as Salesforce's JSON array. Each answer is checked
against the published sObjects OpenAPI document's schema where it has one.

# Reference: ../shared/providers/salesforce.md; FACTS.md §11.
"""

import copy
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
import requests
from django.conf import settings
from openapi_schema_validator import OAS30Validator
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from integrations.sandbox.salesforce_data import with_checksum
from integrations.sandbox.soql import parse_instant

SPEC = (
    Path(__file__).resolve().parents[3]
    / "integrations"
    / "sandbox"
    / "specs"
    / "salesforce-sobjects-openapi-v59-core.json"
)


# --- the spec's schemas --------------------------------------------------------------------------


@cache
def schemas() -> dict:
    """The spec's component schemas with their references inlined and two sanitations (FACTS.md
    §9): every property may be null (the REST API answers null for an empty field; the document
    has no `nullable`), and date-times are not held to RFC 3339 (Salesforce writes the offset
    as +0000)."""
    components = json.loads(SPEC.read_text())["components"]["schemas"]

    def clean(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return clean(copy.deepcopy(components[node["$ref"].rsplit("/", 1)[1]]))
            node = {
                k: clean(v) for k, v in node.items() if not (k == "format" and v == "date-time")
            }
            if "type" in node:
                node["nullable"] = True
            return node
        if isinstance(node, list):
            return [clean(item) for item in node]
        return node

    return {name: clean(schema) for name, schema in components.items()}


def conforms(schema: str, body) -> None:
    """`body` is valid under the spec's `schema` (a list: each item), and sends no field the
    schema does not know, where the schema lists its fields."""
    items = body if isinstance(body, list) else [body]
    definition = schemas()[schema]
    for item in items:
        errors = [e.message for e in OAS30Validator(definition).iter_errors(item)]
        assert not errors, (schema, errors, item)
        known = definition.get("properties")
        if known:  # custom fields (__c) are the org's own: no published schema lists them
            extra = {name for name in set(item) - set(known) if not name.endswith("__c")}
            assert not extra, (schema, extra)


def api_errors(content) -> list[str]:
    """The errorCodes of a Salesforce error body, which must be a JSON array of ErrorInfo."""
    assert isinstance(content, list), content
    conforms("ErrorInfo", content)
    return [error["errorCode"] for error in content]


# --- clients -------------------------------------------------------------------------------------


@pytest.fixture
def later(sandbox) -> datetime:
    """The emulator's clock set two days ahead (tokens are granted after it, so they live)."""
    start = later_on()
    set_clock(sandbox, start)
    return start


@pytest.fixture
def granted(sandbox, request) -> dict:
    if "later" in request.fixturenames:
        request.getfixturevalue("later")  # move the clock first: a token outlived by it dies
    return sandbox.grant(
        "salesforce", client_id=settings.SALESFORCE_CLIENT_ID, scope="api refresh_token"
    )


def client(granted: dict, version: str = "59.0") -> Salesforce:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify (salesforce.md)
    session.verify = str(settings.SANDBOX_CA_BUNDLE)
    return Salesforce(
        instance_url=granted["instance_url"],
        session_id=granted["access_token"],
        session=session,
        version=version,
    )


@pytest.fixture
def sf(granted) -> Salesforce:
    return client(granted)  # simple-salesforce's default version, 59.0


def later_on() -> datetime:
    """A whole minute two days from now: after every seeded row (stamped over the last 60
    days), so windows and date filters see only what a test does."""
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)


def set_clock(sandbox, when: datetime) -> None:
    sandbox.control("salesforce", "POST", "clock", {"set": when.isoformat()})


def seed(sandbox, sobject: str, *records: dict) -> list[str]:
    return sandbox.salesforce_records(sobject=sobject, records=list(records))[sobject]


# --- describe ------------------------------------------------------------------------------------


def test_describe_lists_the_objects_and_their_fields(sf):
    described = sf.describe()
    conforms("DescribeGlobalResult", described)
    prefixes = {o["name"]: o["keyPrefix"] for o in described["sobjects"]}
    assert prefixes == {"Account": "001", "Contact": "003"}

    root = sf.restful("sobjects/Contact")
    conforms("SObjectRootInfo", root)
    assert root["objectDescribe"]["name"] == "Contact"

    fields = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    required = {
        name
        for name, f in fields.items()
        if not f["nillable"] and f["createable"] and not f["defaultedOnCreate"]
    }
    assert required == {"LastName"}
    assert fields["OwnerId"]["nillable"] is False and fields["OwnerId"]["defaultedOnCreate"]
    assert not fields["SystemModstamp"]["updateable"] and not fields["Name"]["createable"]
    assert fields["Email"]["type"] == "email" and fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["Hub_Id__c"]["externalId"] and fields["Hub_Id__c"]["custom"]
    account = {f["name"]: f for f in sf.Account.describe()["fields"]}
    industries = [v["value"] for v in account["Industry"]["picklistValues"]]
    assert account["Industry"]["type"] == "picklist" and "Banking" in industries
    assert {"Name", "Website", "BillingCity", "LastModifiedDate"} <= set(account)


def test_the_reset_org_has_realistic_deterministic_rows(sandbox, sf):
    first = sf.query_all("SELECT Id, Name, Website FROM Account ORDER BY Id")["records"]
    contacts = sf.query_all("SELECT Id, Email, AccountId FROM Contact")["records"]
    assert len(first) == 150 and len(contacts) == 300
    assert all(c["AccountId"] and "@" in c["Email"] for c in contacts)
    conforms("AccountSObject", first)
    sandbox.reset()  # the tokens go with the rest of the org's state
    again = client(
        sandbox.grant("salesforce", client_id=settings.SALESFORCE_CLIENT_ID, scope="api")
    )
    assert again.query_all("SELECT Id, Name, Website FROM Account ORDER BY Id")["records"] == first


def test_a_version_other_than_the_sdk_default_is_served(granted):
    assert client(granted, "62.0").query("SELECT COUNT() FROM Contact")["totalSize"] == 300


# --- SOQL ----------------------------------------------------------------------------------------


def test_the_soql_subset_filters_orders_and_limits(sandbox, later, sf):
    start = later
    # A day back, then now again: the session granted now outlives both.
    set_clock(sandbox, start - timedelta(days=1))
    acme = seed(sandbox, "Account", {"Name": "Acme Rockets", "Industry": "Energy"})[0]
    set_clock(sandbox, start)
    seed(
        sandbox,
        "Account",
        {"Name": "Acme Anvils", "Industry": "Retail"},
        {"Name": "Zenith Acme", "Industry": "Banking", "Website": "https://zenith.example"},
    )
    answer = sf.query(
        "SELECT Id, Name, Industry FROM Account WHERE Name LIKE '%acme%' AND "
        "(Industry IN ('Energy', 'Retail') OR Website != null) ORDER BY Name DESC LIMIT 2"
    )
    conforms("AccountSObject", answer["records"])
    assert [r["Name"] for r in answer["records"]] == ["Zenith Acme", "Acme Rockets"]
    assert set(answer["records"][0]) == {"attributes", "Id", "Name", "Industry"}
    assert answer["records"][1]["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{acme}",
    }
    since = start - timedelta(hours=12)
    recent = sf.query(
        f"SELECT Name FROM Account WHERE CreatedDate > {since:%Y-%m-%dT%H:%M:%SZ} AND "
        f"CreatedDate <= {start + timedelta(hours=1):%Y-%m-%dT%H:%M:%S+00:00} ORDER BY Name"
    )["records"]
    assert [r["Name"] for r in recent] == ["Acme Anvils", "Zenith Acme"]
    today = sf.query("SELECT Name FROM Account WHERE CreatedDate = TODAY")["records"]
    assert {r["Name"] for r in today} == {"Acme Anvils", "Zenith Acme"}


def test_queries_page_by_2000_through_next_records_url(sandbox, sf):
    sandbox.salesforce_records(accounts=4_000, seed=7)
    first = sf.query("SELECT Id FROM Account ORDER BY Id")
    assert (first["totalSize"], first["done"], len(first["records"])) == (4_150, False, 2_000)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 2_000 and not second["done"]
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert len(third["records"]) == 150 and third["done"] and "nextRecordsUrl" not in third
    ids = [r["Id"] for page in (first, second, third) for r in page["records"]]
    assert ids == sorted(set(ids))  # no row twice, none lost, the order kept across pages
    assert len(sf.query_all("SELECT Id FROM Account")["records"]) == 4_150
    with pytest.raises(SalesforceMalformedRequest) as closed:  # a finished cursor is closed
        sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert api_errors(closed.value.content) == ["INVALID_QUERY_LOCATOR"]
    hinted = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(hinted["records"]) == 500


def test_an_eleventh_open_cursor_closes_the_oldest(sf):
    small = {"Sforce-Query-Options": "batchSize=200"}  # 300 contacts: two pages each
    opened = [sf.query("SELECT Id FROM Contact", headers=small) for _ in range(11)]
    with pytest.raises(SalesforceMalformedRequest) as closed:
        sf.query_more(opened[0]["nextRecordsUrl"], identifier_is_url=True)
    assert api_errors(closed.value.content) == ["INVALID_QUERY_LOCATOR"]
    rest = sf.query_more(opened[1]["nextRecordsUrl"], identifier_is_url=True, headers=small)
    assert len(rest["records"]) == 100 and rest["done"]


def test_query_all_sees_the_recycle_bin(sf):
    doomed = sf.query("SELECT Id FROM Contact LIMIT 1")["records"][0]["Id"]
    sf.Contact.delete(doomed)
    where = f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{doomed}'"
    assert sf.query(where)["totalSize"] == 0
    assert sf.query_all(where, include_deleted=True)["records"][0]["IsDeleted"] is True


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT Nope FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Widget", "INVALID_TYPE"),
        ("SELECT Id FROM Account WHERE Name =", "MALFORMED_QUERY"),
    ],
)
def test_bad_queries_are_400_arrays(sf, query, code):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query(query)
    assert refused.value.status == 400
    assert api_errors(refused.value.content) == [code]


# --- one record ----------------------------------------------------------------------------------


def test_create_read_update_delete(sandbox, later, sf, granted):
    start = later
    account = sf.Account.create({"Name": "Globex", "Industry": "Technology"})
    conforms("SaveResult", account)
    created = sf.Contact.create(
        {
            "LastName": "Rivera",
            "FirstName": "Ana",
            "Email": "ana@globex.com",
            "AccountId": account["id"],
        }
    )
    contact_id = created["id"]
    assert created["success"] and len(contact_id) == 18 and contact_id.startswith("003")
    assert with_checksum(contact_id[:15]) == contact_id
    row = sf.Contact.get(contact_id)
    conforms("ContactSObject", row)
    assert row["Name"] == "Ana Rivera" and row["OwnerId"] == granted["user_id"]
    assert row["CreatedDate"] == row["SystemModstamp"] == row["LastModifiedDate"]
    assert row["CreatedDate"].startswith(f"{start:%Y-%m-%dT%H:%M}:0")  # the emulator's clock
    assert row["CreatedDate"][19] == "." and row["CreatedDate"].endswith("+0000")
    assert sf.Contact.get(contact_id[:15])["Id"] == contact_id  # 15-character ids are accepted

    sandbox.advance_clock("salesforce", 3600)
    assert sf.Contact.update(contact_id, {"Title": "CTO", "Phone": ""}) == 204
    after = sf.Contact.get(contact_id)
    assert after["Title"] == "CTO" and after["Phone"] is None
    assert parse_instant(after["LastModifiedDate"]) - parse_instant(row["LastModifiedDate"]) >= 3600
    assert after["SystemModstamp"] == after["LastModifiedDate"]

    assert sf.Contact.delete(contact_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Contact.get(contact_id)
    assert api_errors(gone.value.content) == ["NOT_FOUND"]
    with pytest.raises(SalesforceResourceNotFound) as again:
        sf.Contact.delete(contact_id)
    assert api_errors(again.value.content) == ["ENTITY_IS_DELETED"]


@pytest.mark.parametrize(
    ("body", "code", "fields"),
    [
        ({"FirstName": "No"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ({"LastName": "X", "Shoe__c": 1}, "INVALID_FIELD", ["Shoe__c"]),
        ({"LastName": "X", "SystemModstamp": "2026-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["SystemModstamp"]),
        ({"LastName": "X", "Email": "not-an-address"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        ({"LastName": "X" * 81}, "STRING_TOO_LONG", ["LastName"]),
        ({"LastName": "X", "AccountId": "003Dn0000000000AAA"}, "MALFORMED_ID", ["AccountId"]),
    ],
)  # fmt: skip
def test_refused_writes_name_the_field(sf, body, code, fields):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Contact.create(body)
    assert api_errors(refused.value.content) == [code]
    assert refused.value.content[0]["fields"] == fields


def test_upsert_by_the_external_id(sf):
    created = sf.Contact.upsert("Hub_Id__c/hub-42", {"LastName": "Okafor"}, raw_response=True)
    assert created.status_code == 201 and created.json()["created"] is True
    updated = sf.Contact.upsert("Hub_Id__c/hub-42", {"Title": "VP"}, raw_response=True)
    assert updated.status_code == 200 and updated.json() == {
        "id": created.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert sf.Contact.get_by_custom_id("Hub_Id__c", "hub-42")["Title"] == "VP"
    with pytest.raises(SalesforceResourceNotFound) as not_external:
        sf.Contact.upsert("Email/a@b.com", {"LastName": "X"})
    assert api_errors(not_external.value.content) == ["NOT_FOUND"]


# --- sObject Collections -------------------------------------------------------------------------


def count(sf, sobject: str) -> int:
    return sf.query(f"SELECT COUNT() FROM {sobject}")["totalSize"]


def contact(**fields) -> dict:
    return {"attributes": {"type": "Contact"}, **fields}


def test_collections_create_per_record_unless_all_or_none(sf):
    before = count(sf, "Contact")
    records = [contact(LastName="Ok"), contact(FirstName="Missing"), contact(LastName="Fine")]
    partial = sf.restful("composite/sobjects", method="POST", json={"records": records})
    conforms("SaveResult", partial)
    assert [r["success"] for r in partial] == [True, False, True]
    assert partial[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert count(sf, "Contact") == before + 2

    whole = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )
    conforms("SaveResult", whole)
    codes = [r["errors"][0]["statusCode"] for r in whole]
    assert codes == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    ]
    assert count(sf, "Contact") == before + 2  # nothing of the failed call was kept


def test_collections_update_upsert_and_delete(sf):
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Contact ORDER BY Id LIMIT 3")["records"]]
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [contact(Id=i, Title="Buyer") for i in ids]},
    )
    assert all(r["success"] for r in updated) and [r["id"] for r in updated] == ids
    titles = sf.query(f"SELECT Title FROM Contact WHERE Id IN ('{ids[0]}', '{ids[2]}')")
    assert {r["Title"] for r in titles["records"]} == {"Buyer"}

    upserted = sf.restful(
        "composite/sobjects/Contact/Hub_Id__c",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                contact(Hub_Id__c="h-1", LastName="New"),
                contact(Hub_Id__c="h-1", Title="Same row, later in the call"),
            ],
        },
    )
    conforms("SaveResult", [{k: v for k, v in r.items() if k != "created"} for r in upserted])
    assert [r["created"] for r in upserted] == [True, False]
    assert upserted[0]["id"] == upserted[1]["id"]

    deleted = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": ",".join([*ids[:2], upserted[0]["id"]]), "allOrNone": "true"},
    )
    assert all(r["success"] for r in deleted)
    assert count(sf, "Contact") == 300 - 2


def test_collections_refuse_more_than_200_records(sf):
    records = [contact(LastName=f"N{i}") for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert api_errors(refused.value.content) == ["EXCEEDED_ID_LIMIT"]
    created = sf.restful("composite/sobjects", method="POST", json={"records": records[:200]})
    assert len(created) == 200 and all(r["success"] for r in created)


# --- replication windows and other users' edits --------------------------------------------------


def test_updated_and_deleted_windows_see_other_users_edits(sandbox, later, sf, granted):
    start = later
    ours = sf.query("SELECT Id, LastModifiedDate FROM Contact ORDER BY Id LIMIT 3")["records"]
    sandbox.advance_clock("salesforce", 120)
    edited = sandbox.salesforce_edit(ours[0]["Id"], {"Title": "Edited in SF"})
    assert edited["LastModifiedById"] != granted["user_id"] and edited["Title"] == "Edited in SF"
    assert edited["LastModifiedDate"] == edited["SystemModstamp"] > ours[0]["LastModifiedDate"]
    touched = sandbox.salesforce_edit(ours[1]["Id"], system=True)
    assert touched["LastModifiedDate"] == ours[1]["LastModifiedDate"]  # a system update
    assert touched["SystemModstamp"] > touched["LastModifiedDate"]
    assert sandbox.salesforce_delete(ours[2]["Id"], user=granted["user_id"])["IsDeleted"]
    sandbox.advance_clock("salesforce", 120)

    window = sf.Contact.updated(start, start + timedelta(minutes=4))
    assert sorted(window["ids"]) == sorted([ours[0]["Id"], ours[1]["Id"]])
    assert (
        window["latestDateCovered"] == f"{start + timedelta(minutes=4):%Y-%m-%dT%H:%M}:00.000+0000"
    )
    gone = sf.Contact.deleted(start, start + timedelta(minutes=4))
    assert [r["id"] for r in gone["deletedRecords"]] == [ours[2]["Id"]]
    deleted_at = parse_instant(gone["deletedRecords"][0]["deletedDate"])
    assert 120 <= deleted_at - start.timestamp() < 180
    newest = sf.query(
        f"SELECT Id FROM Contact WHERE SystemModstamp > {start:%Y-%m-%dT%H:%M}:59Z "
        "ORDER BY SystemModstamp, Id"
    )
    assert [r["Id"] for r in newest["records"]] == [ours[0]["Id"], ours[1]["Id"]]

    with pytest.raises(SalesforceMalformedRequest) as too_old:
        sf.Contact.updated(start - timedelta(days=31), start)
    assert api_errors(too_old.value.content) == ["INVALID_REPLICATION_DATE"]


# --- sessions, the daily cap, errors -------------------------------------------------------------


def test_an_expired_session_is_401_invalid_session_id(sandbox, sf):
    sandbox.advance_clock("salesforce", 7_201)  # past the org's session timeout
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Account")
    assert expired.value.status == 401
    assert api_errors(expired.value.content) == ["INVALID_SESSION_ID"]


def test_the_daily_cap_is_403_request_limit_exceeded(sandbox, sf):
    sandbox.set_limit("salesforce", 3, 86_400)
    sf.query("SELECT Id FROM Account LIMIT 1")
    sf.describe()  # the header's count is the org's: every call so far
    assert sf.api_usage["api-usage"].used == 2 and sf.api_usage["api-usage"].total == 3
    assert sf.limits()["DailyApiRequests"] == {"Max": 3, "Remaining": 0}
    with pytest.raises(SalesforceRefusedRequest) as capped:
        sf.Contact.create({"LastName": "Late"})
    assert capped.value.status == 403
    assert api_errors(capped.value.content) == ["REQUEST_LIMIT_EXCEEDED"]


def test_unknown_objects_and_rows_are_404_arrays(sf):
    for call in (
        lambda: sf.Widget.describe(),
        lambda: sf.Account.get("001Dn0000000zzzAAA"),
    ):
        with pytest.raises(SalesforceResourceNotFound) as missing:
            call()
        assert api_errors(missing.value.content) == ["NOT_FOUND"]


def test_external_ids_stay_unique_and_collections_roll_upserts_back(sf):
    first = sf.Contact.create({"LastName": "One", "Hub_Id__c": "dup"})
    with pytest.raises(SalesforceMalformedRequest) as taken:
        sf.Contact.create({"LastName": "Two", "Hub_Id__c": "dup"})
    assert api_errors(taken.value.content) == ["DUPLICATE_VALUE"]
    assert first["id"] in taken.value.content[0]["message"]
    picked = sf.Contact.get(first["id"], params={"fields": "lastname,Hub_Id__c"})
    assert set(picked) == {"attributes", "LastName", "Hub_Id__c"}

    before = count(sf, "Contact")
    rolled = sf.restful(
        "composite/sobjects/Contact/Hub_Id__c",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                contact(Hub_Id__c="fresh", LastName="Kept?"),
                contact(Hub_Id__c="dup", Email="broken"),
            ],
        },
    )
    assert [r["errors"][0]["statusCode"] for r in rolled] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "INVALID_EMAIL_ADDRESS",
    ]
    assert count(sf, "Contact") == before
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get_by_custom_id("Hub_Id__c", "fresh")

    sf.Contact.delete(first["id"])
    late = sf.restful(
        "composite/sobjects", method="PATCH", json={"records": [contact(Id=first["id"], Title="x")]}
    )
    assert late[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
