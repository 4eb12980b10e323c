import pytest

pytestmark = pytest.mark.django_db


# The sign-in page, not /health/: a health check asks a worker for a ping and, with none
# running here, waits 2 s (HEALTH_TIMEOUT) for each answer.
PAGE = "/accounts/login/"


def test_every_response_carries_a_request_id(client):
    first, second = client.get(PAGE), client.get(PAGE)
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_well_formed_incoming_request_id_is_kept(client):
    assert client.get(PAGE, HTTP_X_REQUEST_ID="trace-abc-123")["X-Request-ID"] == "trace-abc-123"


def test_a_malformed_incoming_request_id_is_replaced(client):
    response = client.get(PAGE, HTTP_X_REQUEST_ID="<script>alert(1)</script>")
    assert "<" not in response["X-Request-ID"]


def test_the_forwarded_address_is_used_only_behind_a_trusted_proxy(
    client, settings, two_workspaces
):
    from integrations.accounts.models import AuditEvent

    client.post(
        "/accounts/login/",
        {"login": "x@example.com", "password": "y"},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        REMOTE_ADDR="10.0.0.2",
    )
    settings.TRUST_PROXY_HEADERS = True
    client.post(
        "/accounts/login/",
        {"login": "x@example.com", "password": "y"},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        REMOTE_ADDR="10.0.0.2",
    )
    assert list(AuditEvent.objects.order_by("id").values_list("ip", flat=True)) == [
        "10.0.0.2",
        "198.51.100.7",
    ]
