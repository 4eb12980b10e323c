"""The HubSpot emulator's CRM data API driven by hubspot-api-client over TLS (and plain HTTP
where the SDK hides the answer): companies and contacts CRUD and paging, batch caps and
per-record errors, search filters, limits, the 10,000 cap and the indexing delay on the
emulator's clock, associations v4, properties, and the 5-a-second search limit.

# Reference: integrations/sandbox/hubspot_data.py (the spec files and docs it encodes).
"""

import pytest
import requests
from django.conf import settings
from hubspot import Client
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)

CLIENT = "hub-hubspot-sandbox"


@pytest.fixture
def hs(sandbox):
    token = sandbox.grant("hubspot", client_id=CLIENT, scope="oauth crm.objects.contacts.write")
    client = Client.create(
        access_token=token["access_token"],
        host=sandbox.url("hubspot"),
        ssl_ca_cert=str(settings.SANDBOX_CA_BUNDLE),
    )
    http = requests.Session()
    http.trust_env = False
    http.verify = str(settings.SANDBOX_CA_BUNDLE)
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    client.http, client.base = http, sandbox.url("hubspot")
    return client


def post(hs, path, body):
    return hs.http.post(hs.base + path, json=body, timeout=10)


def new_contact(hs, email, **props):
    body = SimplePublicObjectInputForCreate(properties={"email": email, **props})
    return hs.crm.contacts.basic_api.create(simple_public_object_input_for_create=body)


def search(hs, kind="contacts", **body):
    return post(hs, f"/crm/v3/objects/{kind}/search", body)


def test_crud_and_paging_with_the_sdk(hs, sandbox):
    contacts = hs.crm.contacts.basic_api
    created = new_contact(hs, "ada@example.com", firstname="Ada", lastname="Lovelace")
    assert created.properties["hs_object_id"] == created.id
    assert created.properties["createdate"] and created.properties["lastmodifieddate"]
    got = contacts.get_by_id(created.id, properties=["firstname", "email", "nope"])
    assert got.properties == {"firstname": "Ada", "email": "ada@example.com"}
    assert got.archived is False

    sandbox.advance_clock("hubspot", 5)
    changed = contacts.update(
        created.id,
        simple_public_object_input=SimplePublicObjectInput(properties={"jobtitle": "CTO"}),
    )
    assert changed.properties["jobtitle"] == "CTO"
    assert changed.properties["lastmodifieddate"] > created.properties["lastmodifieddate"]
    # A read-only or unknown property, a duplicate email: HubSpot's errors, nothing written.
    with pytest.raises(ApiException) as refused:
        contacts.update(
            created.id,
            simple_public_object_input=SimplePublicObjectInput(properties={"hs_object_id": "1"}),
        )
    assert refused.value.status == 400 and "READ_ONLY_VALUE" in refused.value.body
    with pytest.raises(ApiException) as duplicate:
        new_contact(hs, "ADA@example.com")
    assert duplicate.value.status == 409 and f"Existing ID: {created.id}" in duplicate.value.body

    # Paging: `after` cursors until no `paging.next`; every row once; limit capped at 100.
    seen, after = [], None
    while True:
        page = contacts.get_page(limit=100, after=after, properties=["email"])
        seen += [row.id for row in page.results]
        if not page.paging:
            break
        after = page.paging.next.after
    assert len(seen) == len(set(seen)) == 81 and created.id in seen  # 80 seeded + Ada
    too_many = hs.http.get(hs.base + "/crm/v3/objects/contacts?limit=101", timeout=10)
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"

    contacts.archive(created.id)
    with pytest.raises(ApiException) as gone:
        contacts.get_by_id(created.id)
    assert gone.value.status == 404 and "correlationId" in gone.value.body
    assert contacts.get_by_id(created.id, archived=True).archived is True


def test_batches_cap_at_100_and_answer_per_record_errors(hs):
    batch = hs.crm.contacts.batch_api
    inputs = [{"properties": {"email": f"b{i}@example.com"}} for i in range(101)]
    over = post(hs, "/crm/v3/objects/contacts/batch/create", {"inputs": inputs})
    assert over.status_code == 400 and over.json()["category"] == "VALIDATION_ERROR"

    made = batch.create(
        batch_input_simple_public_object_batch_input_for_create=(
            BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs[:3])
        )
    )
    ids = sorted(row.id for row in made.results)
    assert made.status == "COMPLETE" and len(ids) == 3

    answer = post(
        hs,
        "/crm/v3/objects/contacts/batch/update",
        {
            "inputs": [
                {"id": ids[0], "properties": {"firstname": "B"}},
                {"id": "999999", "properties": {}},
            ]
        },
    )
    assert answer.status_code == 207
    body = answer.json()
    assert body["numErrors"] == 1 and body["errors"][0]["context"]["ids"] == ["999999"]
    assert [row["properties"]["firstname"] for row in body["results"]] == ["B"]

    read = batch.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[{"id": i} for i in ids], properties=["firstname"], properties_with_history=[]
        )
    )
    assert sorted(row.id for row in read.results) == ids
    batch.update(
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": ids[1], "properties": {"lastname": "C"}}]
        )
    )
    batch.archive(
        batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(inputs=[{"id": ids[2]}])
    )
    after = post(
        hs,
        "/crm/v3/objects/contacts/batch/read",
        {
            "inputs": [{"id": i} for i in ids],
            "properties": ["lastname"],
            "propertiesWithHistory": [],
        },
    )
    assert after.status_code == 207 and after.json()["errors"][0]["context"]["ids"] == [ids[2]]


@pytest.fixture
def searches_unlimited(sandbox):
    """Many searches in a second (the 5-a-second limit has its own test)."""
    sandbox.configure("hubspot", search_per_second=1000)
    yield
    sandbox.configure("hubspot", search_per_second=5)


def test_search_filters_sorts_and_limits(hs, sandbox, searches_unlimited):
    made = sandbox.hubspot_records(
        type="contacts",
        records=[
            {"email": "x1@acme.io", "firstname": "Xena", "lifecyclestage": "lead"},
            {"email": "x2@acme.io", "firstname": "Xavier", "lifecyclestage": "customer"},
            {"email": "x3@other.io", "firstname": "Xu"},
        ],
    )["contacts"]
    first = int(made[0])

    def ids(**body):
        answer = search(hs, **body)
        assert answer.status_code == 200, answer.text
        return [row["id"] for row in answer.json()["results"]]

    def f(name, operator, **more):
        return {"propertyName": name, "operator": operator, **more}

    # Groups are ORed, a group's filters ANDed.
    assert ids(
        filterGroups=[
            {
                "filters": [
                    f("hs_object_id", "GTE", value=str(first)),
                    f("lifecyclestage", "EQ", value="LEAD"),
                ]
            },
            {"filters": [f("firstname", "EQ", value="xu")]},
        ]
    ) == [made[0], made[2]]
    base = f("hs_object_id", "GTE", value=str(first))
    assert ids(filterGroups=[{"filters": [base, f("lifecyclestage", "NOT_HAS_PROPERTY")]}]) == [
        made[2]
    ]
    assert ids(filterGroups=[{"filters": [base, f("lifecyclestage", "HAS_PROPERTY")]}]) == made[:2]
    assert (
        ids(
            filterGroups=[
                {"filters": [base, f("lifecyclestage", "IN", values=["customer", "lead"])]}
            ]
        )
        == made[:2]
    )
    assert ids(
        filterGroups=[{"filters": [base, f("lifecyclestage", "NOT_IN", values=["customer"])]}]
    ) == [made[0], made[2]]
    assert (
        ids(filterGroups=[{"filters": [base, f("email", "CONTAINS_TOKEN", value="*@acme.io")]}])
        == made[:2]
    )
    assert ids(filterGroups=[{"filters": [base, f("firstname", "NEQ", value="Xu")]}]) == made[:2]
    assert (
        ids(
            filterGroups=[
                {
                    "filters": [
                        f("hs_object_id", "BETWEEN", value=str(first), highValue=str(first + 1))
                    ]
                }
            ]
        )
        == made[:2]
    )
    assert ids(
        filterGroups=[{"filters": [base, f("hs_object_id", "LT", value=str(first + 1))]}]
    ) == [made[0]]
    assert (
        ids(
            filterGroups=[
                {
                    "filters": [
                        f("hs_object_id", "GT", value=str(first)),
                        f("hs_object_id", "LTE", value=str(first + 2)),
                    ]
                }
            ]
        )
        == made[1:]
    )
    assert ids(
        filterGroups=[{"filters": [base]}],
        sorts=[{"propertyName": "firstname", "direction": "DESCENDING"}],
    ) == [made[2], made[0], made[1]]
    # Dates compare as epoch milliseconds; paging by `after` with `total`.
    answer = search(
        hs, filterGroups=[{"filters": [f("lastmodifieddate", "GTE", value="0")]}], limit=50
    ).json()
    assert answer["total"] == 83 and answer["paging"]["next"]["after"] == "50"

    def refused(**body):
        answer = search(hs, **body)
        assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR", (
            answer.text
        )

    group = {"filters": [base] * 6}
    refused(filterGroups=[{"filters": [base]}] * 6)
    refused(filterGroups=[{"filters": [base] * 7}])
    refused(filterGroups=[group, group, group, {"filters": [base]}])  # 19 filters in all
    refused(limit=201)
    refused(sorts=[{"propertyName": "email"}, {"propertyName": "firstname"}])
    assert search(hs, filterGroups=[group, group, group]).status_code == 200  # 18 is fine

    # The SDK's own search call.
    request = PublicObjectSearchRequest(
        filter_groups=[{"filters": [f("email", "EQ", value="x2@acme.io")]}], limit=10
    )
    found = hs.crm.contacts.search_api.do_search(public_object_search_request=request)
    assert found.total == 1 and found.results[0].id == made[1]


def test_a_write_is_searchable_only_after_the_delay(hs, sandbox):
    sandbox.configure("hubspot", search_delay=3)
    try:
        created = new_contact(hs, "late@example.com", firstname="Late")
        query = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "email", "operator": "EQ", "value": "late@example.com"}
                    ]
                }
            ]
        }
        assert search(hs, **query).json()["total"] == 0
        assert hs.crm.contacts.basic_api.get_by_id(created.id).id == created.id  # reads see it
        sandbox.advance_clock("hubspot", 3)
        assert [r["id"] for r in search(hs, **query).json()["results"]] == [created.id]
        # A change: search keeps the old values until the delay has passed.
        hs.crm.contacts.basic_api.update(
            created.id,
            simple_public_object_input=SimplePublicObjectInput(properties={"firstname": "Later"}),
        )
        named = {
            "filterGroups": [
                {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Later"}]}
            ]
        }
        assert search(hs, **named).json()["total"] == 0
        sandbox.advance_clock("hubspot", 3.5)
        assert search(hs, **named).json()["total"] == 1
    finally:
        sandbox.configure("hubspot", search_delay=0)


def test_search_stops_at_10000_results(hs, sandbox):
    sandbox.hubspot_records(contacts=10_050, seed=3)
    everything = {
        "filterGroups": [
            {"filters": [{"propertyName": "hs_object_id", "operator": "HAS_PROPERTY"}]}
        ],
        "limit": 200,
    }
    page = search(hs, after="9800", **everything).json()
    assert page["total"] == 10_130 and len(page["results"]) == 200
    assert page["paging"]["next"]["after"] == "10000"
    past = search(hs, after="10000", **everything)
    assert past.status_code == 400
    body = past.json()
    assert (
        body["status"] == "error"
        and body["category"] == "VALIDATION_ERROR"
        and body["correlationId"]
    )


def test_the_sixth_search_in_a_second_is_refused_with_hubspots_429(hs):
    answers = [search(hs, limit=1) for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert "X-HubSpot-RateLimit-Max" not in answers[0].headers  # search answers carry none
    limited = answers[5]
    assert limited.status_code == 429
    assert (
        limited.json()["errorType"] == "RATE_LIMIT" and limited.json()["policyName"] == "SECONDLY"
    )
    # Searches do not count against the ten-secondly limit: other calls still go.
    assert hs.http.get(hs.base + "/crm/v3/objects/contacts?limit=1", timeout=10).status_code == 200


def test_associations_v4_contact_to_company(hs):
    company = hs.crm.companies.basic_api.create(
        simple_public_object_input_for_create=CompanyInput(
            properties={"name": "Acme", "domain": "acme.io"}
        )
    )
    contact = new_contact(hs, "assoc@acme.io")
    v4 = hs.crm.associations.v4
    made = v4.basic_api.create_default("contact", contact.id, "company", company.id)
    assert made.results[0].association_spec.association_type_id == 279
    page = v4.basic_api.get_page("contacts", contact.id, "companies")
    assert [(r.to_object_id, [t.type_id for t in r.association_types]) for r in page.results] == [
        (company.id, [279])
    ]
    typed = hs.http.put(
        hs.base + f"/crm/v4/objects/contacts/{contact.id}/associations/companies/{company.id}",
        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
        timeout=10,
    )
    assert typed.status_code == 201 and typed.json()["labels"] == ["Primary"]
    batch = v4.batch_api.get_page(
        "companies",
        "contacts",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": company.id}]),
    )
    assert [t.type_id for t in batch.results[0].to[0].association_types] == [280, 2]
    wrong = post(
        hs,
        "/crm/v4/associations/contacts/companies/batch/create",
        {
            "inputs": [
                {
                    "from": {"id": contact.id},
                    "to": {"id": company.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                }
            ]
        },
    )
    assert wrong.status_code == 400
    missing = hs.http.put(
        hs.base + f"/crm/v4/objects/contact/{contact.id}/associations/default/company/424242",
        timeout=10,
    )
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


def test_properties_describe_the_seeded_fields(hs):
    props = {p.name: p for p in hs.crm.properties.core_api.get_all("companies").results}
    assert {"name", "domain", "industry", "hs_lastmodifieddate", "hs_object_id"} <= set(props)
    assert props["hs_object_id"].modification_metadata.read_only_value is True
    assert props["name"].modification_metadata.read_only_value is False
    assert props["industry"].type == "enumeration" and props["industry"].options
    contacts = {p.name for p in hs.crm.properties.core_api.get_all("contacts").results}
    assert {"email", "lastmodifieddate", "createdate"} <= contacts
    assert hs.http.get(hs.base + "/crm/v3/properties/deals", timeout=10).status_code == 404


@pytest.mark.contract(requests=False, reason="the requests break the published schemas on purpose")
def test_malformed_requests_are_hubspots_400_and_the_contract_check_names_them(hs, sandbox):
    bad_operator = {
        "filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}]
    }
    answers = [
        post(hs, "/crm/v3/objects/contacts", {}),
        post(hs, "/crm/v3/objects/contacts", {"properties": {"email": ["not", "a", "string"]}}),
        search(hs, **bad_operator),
    ]
    assert [a.status_code for a in answers] == [400, 400, 400]
    assert all(a.json()["category"] == "VALIDATION_ERROR" for a in answers)
    fields = {v["field"] for v in sandbox.contract("hubspot")["violations"]}
    assert {"$.properties", "$.properties.email", "$.filterGroups[0].filters[0].operator"} <= fields
    assert sandbox.hubspot_rows("contacts")[-1]["properties"]["email"] != ["not", "a", "string"]


def test_the_control_plane_edits_and_archives_as_a_hubspot_user(hs, sandbox):
    contact = sandbox.hubspot_rows("contacts")[0]
    assert contact["associations"]  # seeded contacts belong to a company
    sandbox.advance_clock("hubspot", 60)
    edited = sandbox.hubspot_edit("contacts", contact["id"], {"jobtitle": "Pilot"})
    assert edited["properties"]["jobtitle"] == "Pilot"
    assert edited["properties"]["lastmodifieddate"] > contact["properties"]["lastmodifieddate"]
    assert (
        hs.crm.contacts.basic_api.get_by_id(contact["id"], properties=["jobtitle"]).properties[
            "jobtitle"
        ]
        == "Pilot"
    )
    sandbox.hubspot_delete("contacts", contact["id"])
    with pytest.raises(ApiException) as gone:
        hs.crm.contacts.basic_api.get_by_id(contact["id"])
    assert gone.value.status == 404
    # The same seed, the same rows: a reset brings back exactly the seeded account.
    sandbox.reset()
    assert (
        sandbox.hubspot_rows("contacts")[0]["properties"]["email"] == contact["properties"]["email"]
    )


def test_paging_one_query_sees_a_write_made_between_its_pages(hs, sandbox, searches_unlimited):
    # The emulator remembers a query's matches while it pages; any write must end that.
    query = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastname", "operator": "EQ", "value": "Pager"}]}
        ],
        "limit": 1,
    }
    first = new_contact(hs, "one@pager.example", lastname="Pager")
    assert search(hs, **query).json()["total"] == 1
    new_contact(hs, "two@pager.example", lastname="Pager")
    assert search(hs, **query).json()["total"] == 2
    patched = hs.crm.contacts.basic_api.update(
        first.id,
        simple_public_object_input=SimplePublicObjectInput(properties={"lastname": "Moved"}),
    )
    assert patched.properties["lastname"] == "Moved"
    assert search(hs, after="0", **query).json()["total"] == 1
