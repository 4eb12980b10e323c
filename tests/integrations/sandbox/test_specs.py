"""The emulators' answers validated against the providers' published OpenAPI documents."""

import json
from functools import cache
from pathlib import Path

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from integrations.connections import http
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db
SPECS = Path(__file__).resolve().parents[3] / "integrations" / "sandbox" / "specs"


@cache
def spec(name: str, server: str) -> OpenAPI:
    document = json.loads((SPECS / name).read_text())
    document["servers"] = [{"url": server}]  # the emulator stands where the real host would
    return OpenAPI.from_dict(document)


def check(openapi: OpenAPI, response: requests.Response) -> None:
    openapi.validate_response(
        RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
    )


def smartsheet_spec(sandbox) -> OpenAPI:
    return spec(
        "smartsheet-openapi-2025-ballerina-sanitized.json", f"{sandbox.url('smartsheet')}/2.0"
    )


def test_smartsheet_users_me_and_its_errors_match_the_spec(sandbox, two_workspaces):
    connection = connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="smartsheet",
    )
    session = http.session("smartsheet")
    url = f"{sandbox.url('smartsheet')}/2.0/users/me"
    check(
        smartsheet_spec(sandbox),
        session.get(url, headers={"Authorization": f"Bearer {connection.access_token}"}),
    )
    check(
        smartsheet_spec(sandbox), session.get(url, headers={"Authorization": "Bearer not-a-token"})
    )


def test_smartsheet_token_answers_match_the_spec(sandbox, two_workspaces):
    connection = connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="smartsheet",
    )
    session = http.session("smartsheet")
    url = f"{sandbox.url('smartsheet')}/2.0/token"
    refused = session.post(
        url,
        data={
            "grant_type": "refresh_token",
            "client_id": "nobody",
            "refresh_token": "x",
            "hash": "y",
        },
    )
    check(smartsheet_spec(sandbox), refused)
    revoked = session.delete(url, headers={"Authorization": f"Bearer {connection.access_token}"})
    assert revoked.status_code == 200
    check(smartsheet_spec(sandbox), revoked)


def test_salesforce_user_record_matches_the_spec(sandbox, two_workspaces):
    connection = connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="salesforce",
    )
    base = f"{connection.instance_url}/services/data/v59.0"
    response = http.session("salesforce").get(
        f"{base}/sobjects/User/{connection.external_user_id}",
        headers={"Authorization": f"Bearer {connection.access_token}"},
    )
    assert response.status_code == 200
    check(spec("salesforce-sobjects-openapi-v59-core.json", base), response)
