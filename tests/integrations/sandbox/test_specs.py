"""The emulators' answers held to the providers' published OpenAPI documents: these exchanges
meet a published operation (they are `validated`, not merely counted), and the contract checks
(integrations/sandbox/contracts, on for every test's sandbox) find nothing wrong with them."""

import pytest
import requests

from integrations.connections import http
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db


def check(sandbox, name: str, call) -> requests.Response:
    """Make the call; it was checked against a published operation, without a violation."""
    before = sandbox.contract(name)["validated"]
    response = call()
    report = sandbox.contract(name)
    assert report["validated"] == before + 1, (response.request.method, response.request.url)
    assert report["violations"] == []
    return response


def test_smartsheet_users_me_and_its_errors_match_the_spec(sandbox, two_workspaces):
    connection = connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="smartsheet",
    )
    session = http.session("smartsheet")
    url = f"{sandbox.url('smartsheet')}/2.0/users/me"
    headers = {"Authorization": f"Bearer {connection.access_token}"}
    assert check(sandbox, "smartsheet", lambda: session.get(url, headers=headers)).ok
    junk = {"Authorization": "Bearer not-a-token"}
    assert check(sandbox, "smartsheet", lambda: session.get(url, headers=junk)).status_code == 401


def test_smartsheet_token_answers_match_the_spec(sandbox, two_workspaces):
    connection = connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="smartsheet",
    )
    session = http.session("smartsheet")
    url = f"{sandbox.url('smartsheet')}/2.0/token"
    form = {"grant_type": "refresh_token", "client_id": "nobody", "refresh_token": "x", "hash": "y"}
    assert not check(sandbox, "smartsheet", lambda: session.post(url, data=form)).ok
    headers = {"Authorization": f"Bearer {connection.access_token}"}
    revoked = check(sandbox, "smartsheet", lambda: session.delete(url, headers=headers))
    assert revoked.status_code == 200


def test_salesforce_user_record_matches_the_spec(sandbox, two_workspaces):
    connection = connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="salesforce",
    )
    url = (
        f"{connection.instance_url}/services/data/v59.0/sobjects/User/{connection.external_user_id}"
    )
    headers = {"Authorization": f"Bearer {connection.access_token}"}
    response = check(
        sandbox, "salesforce", lambda: http.session("salesforce").get(url, headers=headers)
    )
    assert response.status_code == 200
