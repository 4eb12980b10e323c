"""The contract checker (integrations/sandbox/contracts): what it catches, what the exceptions
table excepts, and the emulators' record of it (`GET /_sandbox/contract`)."""

import json
import logging
import time

import pytest

from integrations.connections import http
from integrations.sandbox import contracts
from integrations.sandbox.contracts import Exchange, check, exceptions
from tests.factories import MembershipFactory
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def answer(method, path, body, *, status=200, query="", request=b"", request_type=""):
    return Exchange(
        method,
        path,
        query,
        request_type,
        request,
        status,
        JSON,
        json.dumps(body).encode(),
    )


def found(outcome):
    return [(v.direction, v.field, v.value) for v in outcome.violations]


def test_a_wrong_answer_is_caught_with_its_operation_field_and_value():
    outcome = check(
        "smartsheet",
        answer("GET", "/2.0/sheets/7", {"id": 7, "name": "Plan", "rows": [{"id": "row-1"}]}),
    )
    assert outcome.kind == "validated"
    [violation] = outcome.violations
    assert violation.operation == "GET /2.0/sheets/{sheetId}"
    assert (violation.direction, violation.field, violation.value) == (
        "response",
        "$.rows[0].id",
        "row-1",
    )
    assert "number" in violation.message


def test_a_wrong_request_is_caught_with_its_operation_field_and_value():
    rows = [{"toBottom": True, "cells": [{"columnId": "Status", "value": "Open"}]}]
    outcome = check(
        "smartsheet",
        answer(
            "POST",
            "/2.0/sheets/7/rows",
            {"message": "SUCCESS", "resultCode": 0},
            request=json.dumps(rows).encode(),
            request_type=JSON,
        ),
    )
    assert outcome.operation == "POST /2.0/sheets/{sheetId}/rows"
    assert ("request", "$[0].cells[0].columnId", "Status") in found(outcome)


def test_query_parameters_are_typed_and_held_to_their_enum_item_by_item():
    outcome = check(
        "smartsheet",
        answer("GET", "/2.0/sheets/7", {"id": 7}, query="include=writerInfo,writersInfo&level=x"),
    )
    assert found(outcome) == [
        ("request", "query.include", "writerInfo,writersInfo"),
        ("request", "query.level", "x"),
    ]


def test_an_unlisted_status_is_a_violation_where_no_exception_covers_it():
    outcome = check(
        "salesforce",
        answer(
            "GET",
            "/services/data/v59.0/sobjects/User/005A",
            [{"errorCode": "X", "message": "m"}],
            status=418,
        ),
    )
    assert ("response", "status", "418") in found(outcome)


def test_an_unknown_operation_is_a_request_violation_and_a_listed_unpublished_one_is_counted():
    unknown = check("smartsheet", answer("GET", "/2.0/sheets/7/nothing", {}, status=404))
    assert unknown.kind == "unknown"
    assert found(unknown) == [("request", "operation", "GET /2.0/sheets/7/nothing")]
    oauth = check(
        "salesforce",
        answer("POST", "/services/oauth2/token", {"error": "invalid_grant"}, status=400),
    )
    assert (oauth.kind, oauth.violations) == ("unpublished", [])


def test_an_unpublished_salesforce_error_is_still_held_to_the_rest_error_shape():
    outcome = check(
        "salesforce",
        answer("GET", "/services/data/v59.0/query", {"message": "bad"}, status=400),
    )
    assert outcome.kind == "unpublished"
    assert found(outcome) == [("response", "$", '{"message": "bad"}')]


def test_an_exception_row_suppresses_exactly_its_case(monkeypatch):
    # A text cell's objectValue is the text itself (the spec wants an object: excepted) ...
    sheet = {"id": 7, "rows": [{"id": 1, "cells": [{"columnId": 2, "objectValue": "Open"}]}]}
    assert check("smartsheet", answer("GET", "/2.0/sheets/7", sheet)).violations == []
    # ... but only there: the same wrong type elsewhere is reported.
    sheet["rows"][0]["cells"].append({"columnId": "3"})
    outcome = check("smartsheet", answer("GET", "/2.0/sheets/7", sheet))
    assert [field for _, field, _ in found(outcome)] == ["$.rows[0].cells[1].columnId"]
    # Without the table the objectValue is a violation again.
    monkeypatch.setattr(
        exceptions,
        "EXCEPTIONS",
        tuple(row for row in exceptions.EXCEPTIONS if "objectValue" not in row.field),
    )
    outcome = check("smartsheet", answer("GET", "/2.0/sheets/7", sheet))
    assert "$.rows[0].cells[0].objectValue" in [field for _, field, _ in found(outcome)]


def test_an_error_status_smartsheet_does_not_list_is_excepted_but_its_body_is_checked():
    error = {"errorCode": "1006", "message": "Not Found"}
    outcome = check("smartsheet", answer("GET", "/2.0/sheets/7/columns", error, status=404))
    assert found(outcome) == [("response", "$.errorCode", "1006")]  # a number in the spec


def test_the_token_calls_form_is_checked_as_the_specs_query_parameters():
    exchange = Exchange(
        "POST",
        "/2.0/token",
        "",
        "application/x-www-form-urlencoded",
        b"grant_type=password&code=c",
        400,
        JSON,
        b'{"errorCode": 1004, "message": "m"}',
    )
    assert found(check("smartsheet", exchange)) == [
        ("request", "query.client_id", ""),
        ("request", "query.grant_type", "password"),
    ]


def test_hubspot_errors_need_the_specs_category_except_the_rate_limiters_429():
    body = {"status": "BAD_GRANT", "message": "m", "correlationId": "not-a-uuid"}
    exchange = answer("POST", "/oauth/v1/token", body, status=400, request_type=FORM)
    outcome = check("hubspot", exchange)
    assert [field for _, field, _ in found(outcome)] == ["$.category", "$.correlationId"]
    assert "v1/oauth.json Error" in outcome.violations[0].message
    limited = {"status": "error", "message": "m", "errorType": "RATE_LIMIT"}
    limited["correlationId"] = "aeb5f871-7f07-4993-9211-075dc63e7cbf"
    assert (
        check("hubspot", answer("GET", "/account-info/v3/details", limited, status=429)).violations
        == []
    )


def test_hubspots_consent_page_refuses_in_html_and_account_info_in_the_specs_error():
    page = Exchange("GET", "/oauth/authorize", "client_id=x", "", b"", 400, "text/html", b"<p>")
    outcome = check("hubspot", page)
    assert (outcome.kind, outcome.violations) == ("unpublished", [])
    refused = answer("GET", "/account-info/v3/details", {"status": "error"}, status=401)
    assert [field for _, field, _ in found(check("hubspot", refused))] == [
        "$.category",
        "$.correlationId",
        "$.message",
    ]


def test_hubspot_introspection_needs_the_2026_03_fields_of_an_active_token():
    body = {"active": True, "token_use": "access_token", "token": "t", "scopes": ["oauth"]}
    exchange = answer("POST", "/oauth/v3/token/introspect", body, request_type=FORM)
    outcome = check("hubspot", exchange)
    missing = {field for _, field, _ in found(outcome)}
    assert {"$.signed_access_token", "$.is_private_distribution", "$.hub_id"} <= missing
    assert "2026-03/oauth.json" in outcome.violations[0].message
    inactive = answer("POST", "/oauth/v3/token/introspect", {"active": False}, request_type=FORM)
    assert check("hubspot", inactive).violations == []


def test_hubspot_crm_answers_are_held_to_the_objects_and_associations_specs():
    search = {"results": [{"id": "1", "properties": {"n": 5}, "createdAt": "x"}]}
    outcome = check("hubspot", answer("POST", "/crm/v3/objects/contacts/search", search))
    assert outcome.kind == "validated"
    assert [field for _, field, _ in found(outcome)] == [
        "$.total",
        "$.results[0].updatedAt",
        "$.results[0].properties.n",
    ]
    assert "Contacts/Rollouts/424/v3/contacts.json" in outcome.violations[0].message
    batch = {"status": "COMPLETE", "results": [], "startedAt": "s", "completedAt": "c"}
    batch["errors"] = [{"status": "error", "message": "m", "category": "OBJECT_NOT_FOUND"}]
    path = "/crm/v3/objects/companies/batch/update"
    outcome = check("hubspot", answer("POST", path, batch, status=207))
    fields = [f for d, f, _ in found(outcome) if d == "response"]
    assert fields == ["$.errors[0].context", "$.errors[0].errors", "$.errors[0].links"]
    read = {"results": [{"toObjectId": "2", "associationTypes": [{"typeId": 279}]}]}
    path = "/crm/v4/objects/contact/1/associations/company"
    assert found(check("hubspot", answer("GET", path, read))) == [
        (
            "response",
            "$.results[0].associationTypes[0].category",
            json.dumps(read["results"][0]["associationTypes"][0]),
        )
    ]


def test_hubspot_crm_requests_are_held_to_the_published_input_schemas():
    def sent(method, path, body):
        return Exchange(method, path, "", JSON, json.dumps(body).encode(), 201, JSON, b"{}")

    create = sent("POST", "/crm/v3/objects/contacts", {"properties": {"age": 5}})
    assert found(check("hubspot", create))[0][:2] == ("request", "$.properties.age")
    read = sent("POST", "/crm/v3/objects/contacts/batch/read", {"inputs": [{}]})
    assert [f for d, f, _ in found(check("hubspot", read)) if d == "request"] == [
        "$.properties",
        "$.propertiesWithHistory",
        "$.inputs[0].id",
    ]
    typed = sent(
        "PUT", "/crm/v4/objects/contacts/1/associations/companies/2", [{"associationTypeId": 1}]
    )
    assert [f for d, f, _ in found(check("hubspot", typed)) if d == "request"] == [
        "$[0].associationCategory"
    ]


def test_dataverse_and_azure_publish_nothing_to_check():
    outcome = check("dataverse", answer("GET", "/api/data/v9.2/imi_jobs", {"value": 1}))
    assert (outcome.kind, outcome.violations) == ("unpublished", [])


def test_a_checker_failure_is_reported_not_raised(monkeypatch):
    class Broken:
        def check(self, exchange):
            raise RuntimeError("boom")

    monkeypatch.setattr(contracts, "checker", lambda provider: Broken())
    [violation] = check("smartsheet", answer("GET", "/2.0/sheets/7", {})).violations
    assert "boom" in violation.message


def test_checking_a_sheet_of_a_thousand_rows_takes_milliseconds():
    rows = [
        {
            "id": i,
            "rowNumber": i + 1,
            "cells": [{"columnId": c, "value": f"v{c}"} for c in range(8)],
        }
        for i in range(1000)
    ]
    exchange = answer("GET", "/2.0/sheets/7", {"id": 7, "name": "Big", "rows": rows})
    check("smartsheet", exchange)  # the spec is loaded and the validator compiled once
    started = time.perf_counter()
    assert check("smartsheet", exchange).violations == []
    # A budget for a body 50 times the suite's typical one, loose enough for a loaded machine.
    assert time.perf_counter() - started < 2.0


# --- the emulators' record ------------------------------------------------------------------


@pytest.mark.contract(requests=False, reason="sends a row whose columnId is text, on purpose")
def test_the_emulator_records_exchanges_and_violations_until_reset(sandbox, caplog):
    member = MembershipFactory()
    connection = connect(
        sandbox, user=member.user, workspace=member.workspace, provider="smartsheet"
    )
    url = f"{sandbox.url('smartsheet')}/2.0"
    headers = {"Authorization": f"Bearer {connection.access_token}"}
    session = http.session("tests")
    assert session.get(f"{url}/users/me", headers=headers).status_code == 200
    with caplog.at_level(logging.WARNING, logger="integrations.sandbox.core"):
        session.post(
            f"{url}/sheets/1/rows", headers=headers, json=[{"cells": [{"columnId": "Status"}]}]
        )
    report = sandbox.contract("smartsheet")
    assert report["exchanges"] >= 2 and report["validated"] >= 2
    [violation] = report["violations"]
    assert violation["operation"] == "POST /2.0/sheets/{sheetId}/rows"
    assert (violation["direction"], violation["field"], violation["value"]) == (
        "request",
        "$[0].cells[0].columnId",
        "Status",
    )
    [line] = [r.getMessage() for r in caplog.records if "contract violation" in r.getMessage()]
    assert "POST /2.0/sheets/{sheetId}/rows" in line and "$[0].cells[0].columnId=Status" in line
    sandbox.control("smartsheet", "POST", "reset", {"seed": 0})
    assert sandbox.contract("smartsheet")["exchanges"] == 0
