"""The hub's HubSpot module reads HubSpot's errors by the published spec's fields (`category`,
`message`): the legacy `status` may be gone or say anything without changing what the hub
concludes."""

import json
import uuid

import pytest
import requests

from integrations.connections import http
from integrations.connections import services as connection_services
from integrations.connections.models import Connection
from integrations.connections.providers import hubspot
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec_only_errors(sandbox):
    """The HubSpot emulator's OAuth errors without the legacy `status`, as the spec's Error."""
    sandbox.configure("hubspot", oauth_error_status=False)
    yield
    sandbox.configure("hubspot", oauth_error_status=True)


def test_a_refused_refresh_is_read_from_category_and_message_without_status(
    sandbox, two_workspaces, spec_only_errors
):
    connection = connect(
        sandbox, user=two_workspaces["a_admin"], workspace=two_workspaces["a"], provider="hubspot"
    )
    Connection.objects.filter(pk=connection.pk).update(refresh_token="na1-0000-0000-0000-0000")
    connection.refresh_from_db()
    with pytest.raises(http.Permanent) as refused:
        connection_services.connection_refresh(connection=connection)
    assert refused.value.code == "VALIDATION_ERROR" and refused.value.status == 400
    # The emulator's message (the redaction rules mask the words "refresh token <value>").
    assert refused.value.message.startswith("HubSpot refused to refresh the access token: ")
    assert refused.value.message.endswith("token is invalid, expired or revoked")
    connection.refresh_from_db()
    assert connection.status == "error" and "token is invalid" in connection.last_error


class _Answer:
    """A session whose every POST gets one canned HubSpot answer."""

    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body

    def post(self, url, data=None, **kwargs):
        response = requests.Response()
        response.status_code = self.status
        response._content = json.dumps(self.body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = url
        return response


@pytest.mark.parametrize(
    ("status", "error_type"), [(400, http.Permanent), (401, http.Unauthorized)]
)
def test_a_decoy_status_changes_neither_the_code_nor_the_message(monkeypatch, status, error_type):
    answer = {
        "status": "DECOY_STATUS",
        "message": "missing or unknown client id",
        "correlationId": str(uuid.uuid4()),
        "category": "VALIDATION_ERROR",
    }
    monkeypatch.setattr(http, "session", lambda *args, **kwargs: _Answer(status, answer))
    with pytest.raises(error_type) as refused:
        hubspot.identify("CNtoken", key="oauth")
    assert refused.value.code == "VALIDATION_ERROR"
    assert refused.value.message == (
        "HubSpot refused to say who is connected: missing or unknown client id"
    )
    assert "DECOY" not in str(refused.value)
