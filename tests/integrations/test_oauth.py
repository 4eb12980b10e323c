"""The OAuth flow against the emulators: start, consent, callback, and every way to refuse."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from integrations.accounts.models import AuditEvent, Membership
from integrations.connections import services as connection_services
from integrations.connections.models import Connection, OAuthState
from integrations.connections.oauth import flow
from integrations.sandbox.core import s256
from tests.factories import MembershipFactory
from tests.integrations.helpers import connect, connect_through_consent

pytestmark = pytest.mark.django_db


def query_of(url: str) -> dict:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def start(client, provider: str, workspace, **extra):
    response = client.post(
        f"/integrations/{provider}/auth/start",
        {"workspace": workspace.pk, **extra},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def callback(client, provider: str, params: dict):
    return client.get(f"/integrations/{provider}/auth/callback", params)


@pytest.fixture
def admin_client(client, two_workspaces):
    client.force_login(two_workspaces["a_admin"])
    return client


class TestStart:
    def test_salesforce_gets_a_pkce_challenge_and_a_state_bound_to_user_and_workspace(
        self, admin_client, two_workspaces, sandbox
    ):
        started = start(admin_client, "salesforce", two_workspaces["a"], domain="test")
        query = query_of(started["authorize_url"])
        assert query["code_challenge_method"] == "S256"
        assert (
            query["redirect_uri"] == "http://127.0.0.1:8000/integrations/salesforce/auth/callback"
        )
        assert started["authorize_url"].startswith(
            "http://127.0.0.1:"
        )  # the test org's consent page
        record = OAuthState.objects.get()
        assert (record.user, record.workspace, record.provider, record.auth_domain) == (
            two_workspaces["a_admin"],
            two_workspaces["a"],
            "salesforce",
            "test",
        )
        assert s256(record.code_verifier) == query["code_challenge"]
        assert query["state"] not in (record.digest, str(record.pk))  # only a digest is stored
        assert record.expires_at - record.created_at == timedelta(minutes=10)

    def test_smartsheet_asks_for_the_minimum_scopes_and_no_pkce(
        self, admin_client, two_workspaces, sandbox
    ):
        query = query_of(start(admin_client, "smartsheet", two_workspaces["a"])["authorize_url"])
        assert query["scope"] == "READ_SHEETS WRITE_SHEETS CREATE_SHEETS"
        assert "code_challenge" not in query

    def test_a_member_connects_their_own_smartsheet_but_not_the_workspace_crm(
        self, client, two_workspaces, sandbox
    ):
        client.force_login(two_workspaces["a_member"])
        start(client, "smartsheet", two_workspaces["a"])
        response = client.post(
            "/integrations/hubspot/auth/start",
            {"workspace": two_workspaces["a"].pk},
            content_type="application/json",
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"

    def test_another_workspace_is_a_404(self, admin_client, two_workspaces):
        response = admin_client.post(
            "/integrations/smartsheet/auth/start",
            {"workspace": two_workspaces["b"].pk},
            content_type="application/json",
        )
        assert response.status_code == 404

    def test_an_unknown_provider_or_a_bad_domain_is_a_clear_error(
        self, admin_client, two_workspaces
    ):
        unknown = admin_client.post(
            "/integrations/myspace/auth/start",
            {"workspace": two_workspaces["a"].pk},
            content_type="application/json",
        )
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_provider"
        bad = admin_client.post(
            "/integrations/salesforce/auth/start",
            {"workspace": two_workspaces["a"].pk, "domain": "prod"},
            content_type="application/json",
        )
        assert bad.status_code == 400 and "domain" in bad.json()["error"]["details"]

    def test_start_needs_the_csrf_token_of_the_session(self, two_workspaces):
        from django.test import Client

        strict = Client(enforce_csrf_checks=True)
        strict.force_login(two_workspaces["a_admin"])
        response = strict.post(
            "/integrations/smartsheet/auth/start",
            {"workspace": two_workspaces["a"].pk},
            content_type="application/json",
        )
        assert response.status_code == 403
        assert not OAuthState.objects.exists()

    def test_live_mode_without_client_credentials_says_what_to_set(
        self, admin_client, two_workspaces, settings
    ):
        settings.HUBSPOT_CLIENT_ID = ""
        response = admin_client.post(
            "/integrations/hubspot/auth/start",
            {"workspace": two_workspaces["a"].pk},
            content_type="application/json",
        )
        assert response.status_code == 503
        assert "HUBSPOT_CLIENT_ID" in response.json()["error"]["message"]


class TestCallback:
    @pytest.mark.parametrize(
        ("provider", "domain"),
        [("smartsheet", ""), ("salesforce", "login"), ("salesforce", "test"), ("hubspot", "")],
    )
    def test_the_full_flow_stores_an_encrypted_connection_and_audits_it(
        self, admin_client, two_workspaces, sandbox, provider, domain
    ):
        started = start(admin_client, provider, two_workspaces["a"], domain=domain)
        params = sandbox.consent(started["authorize_url"])
        response = callback(admin_client, provider, params)

        assert response.status_code == 200, response.content
        connection = Connection.objects.get(provider=provider)
        assert connection.status == "connected" and connection.external_email
        assert connection.access_token and connection.refresh_token
        assert connection.external_email.encode() in response.content
        assert b"window.opener.postMessage" in response.content
        assert connection.user == (two_workspaces["a_admin"] if provider == "smartsheet" else None)
        event = AuditEvent.objects.get(action="connection.connect")
        assert event.actor == two_workspaces["a_admin"] and event.workspace == two_workspaces["a"]
        assert event.changes["access_token"] == {"before": None, "after": "[REDACTED]"}

    def test_a_reused_state_is_rejected(self, admin_client, two_workspaces, sandbox):
        params = sandbox.consent(
            start(admin_client, "smartsheet", two_workspaces["a"])["authorize_url"]
        )
        assert callback(admin_client, "smartsheet", params).status_code == 200
        second = sandbox.consent(
            start(admin_client, "smartsheet", two_workspaces["a"])["authorize_url"]
        )
        replay = callback(admin_client, "smartsheet", {**second, "state": params["state"]})
        assert replay.status_code == 400
        assert b"already been used" in replay.content

    def test_an_expired_state_is_rejected(self, admin_client, two_workspaces, sandbox):
        params = sandbox.consent(
            start(admin_client, "hubspot", two_workspaces["a"])["authorize_url"]
        )
        OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        response = callback(admin_client, "hubspot", params)
        assert response.status_code == 400 and b"expired" in response.content
        assert not Connection.objects.exists()

    def test_another_users_state_is_rejected_and_left_usable_for_them(
        self, client, two_workspaces, sandbox
    ):
        client.force_login(two_workspaces["a_admin"])
        params = sandbox.consent(start(client, "smartsheet", two_workspaces["a"])["authorize_url"])
        client.force_login(two_workspaces["a_member"])
        stolen = callback(client, "smartsheet", params)
        assert stolen.status_code == 400 and b"someone else" in stolen.content
        assert not Connection.objects.exists()
        client.force_login(two_workspaces["a_admin"])
        assert callback(client, "smartsheet", params).status_code == 200

    def test_an_unknown_state_or_a_missing_one_is_rejected(
        self, admin_client, two_workspaces, sandbox
    ):
        params = sandbox.consent(
            start(admin_client, "smartsheet", two_workspaces["a"])["authorize_url"]
        )
        assert (
            callback(admin_client, "smartsheet", {**params, "state": "forged"}).status_code == 400
        )
        assert callback(admin_client, "smartsheet", {"code": params["code"]}).status_code == 400
        assert (
            callback(admin_client, "hubspot", params).status_code == 400
        )  # another provider's state
        assert not Connection.objects.exists()

    def test_a_pkce_verifier_that_does_not_match_is_refused_by_salesforce(
        self, admin_client, two_workspaces, sandbox
    ):
        params = sandbox.consent(
            start(admin_client, "salesforce", two_workspaces["a"])["authorize_url"]
        )
        record = OAuthState.objects.get()
        record.code_verifier = "x" * 64  # not the verifier whose challenge was sent
        record.save()
        response = callback(admin_client, "salesforce", params)
        assert response.status_code == 400
        assert b"invalid code verifier" in response.content
        assert not Connection.objects.exists()
        assert sandbox.count("salesforce", "POST /services/oauth2/token") == 1

    def test_a_smartsheet_hash_made_with_the_wrong_secret_is_refused(
        self, admin_client, two_workspaces, sandbox, settings
    ):
        params = sandbox.consent(
            start(admin_client, "smartsheet", two_workspaces["a"])["authorize_url"]
        )
        settings.SMARTSHEET_CLIENT_SECRET = "not-the-app-secret"
        response = callback(admin_client, "smartsheet", params)
        assert response.status_code == 400
        assert b"Smartsheet refused" in response.content
        assert not Connection.objects.exists()

    def test_a_denied_consent_is_reported_as_denied(self, admin_client, two_workspaces, sandbox):
        params = sandbox.consent(
            start(admin_client, "hubspot", two_workspaces["a"])["authorize_url"], approve=False
        )
        response = callback(admin_client, "hubspot", params)
        assert response.status_code == 200
        assert b'data-status="denied"' in response.content
        assert AuditEvent.objects.filter(action="connection.denied").exists()

    @pytest.mark.parametrize("provider", ["smartsheet", "salesforce", "hubspot"])
    def test_a_denied_consent_is_one_sentence_with_one_period(
        self, admin_client, two_workspaces, sandbox, provider
    ):
        params = sandbox.consent(
            start(admin_client, provider, two_workspaces["a"])["authorize_url"], approve=False
        )
        message = callback(admin_client, provider, params).context["result"]["message"]
        assert message.endswith(".") and not message.endswith("..")
        assert "_" not in message  # no bare error code such as access_denied

    def test_the_popup_page_posts_to_the_hub_origin_only(
        self, admin_client, two_workspaces, sandbox
    ):
        params = sandbox.consent(
            start(admin_client, "smartsheet", two_workspaces["a"])["authorize_url"]
        )
        page = callback(admin_client, "smartsheet", params).content.decode()
        assert '"http://127.0.0.1:8000"' in page
        assert '"*"' not in page

    def test_the_callback_needs_a_signed_in_user(self, client):
        response = client.get("/integrations/smartsheet/auth/callback?code=x&state=y")
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


class TestStatus:
    def test_status_reports_the_users_own_smartsheet_and_the_workspace_crm(
        self, client, two_workspaces, sandbox
    ):
        member, admin = two_workspaces["a_member"], two_workspaces["a_admin"]
        connect_through_consent(
            sandbox, user=admin, workspace=two_workspaces["a"], provider="smartsheet"
        )
        connect_through_consent(
            sandbox, user=admin, workspace=two_workspaces["a"], provider="hubspot"
        )
        client.force_login(member)
        smartsheet = client.get(
            f"/integrations/smartsheet/auth/status?workspace={two_workspaces['a'].pk}"
        ).json()
        hubspot = client.get(
            f"/integrations/hubspot/auth/status?workspace={two_workspaces['a'].pk}"
        ).json()
        assert smartsheet["connected"] is False  # the admin's personal link is not the member's
        assert hubspot["connected"] is True and hubspot["email"]
        assert hubspot["org"] == ""  # HubSpot has no choice of org

    def test_status_names_the_salesforce_org(self, client, two_workspaces, sandbox):
        connection = connect_through_consent(
            sandbox,
            user=two_workspaces["a_admin"],
            workspace=two_workspaces["a"],
            provider="salesforce",
            domain="test",
        )
        client.force_login(two_workspaces["a_admin"])
        status = client.get(
            f"/integrations/salesforce/auth/status?workspace={two_workspaces['a'].pk}"
        ).json()
        assert (status["domain"], status["instance_url"]) == ("test", connection.instance_url)
        assert status["org"] == f"Sandbox org, {connection.instance_url}"

    def test_status_of_another_workspace_is_a_404(self, client, two_workspaces):
        client.force_login(two_workspaces["a_admin"])
        assert (
            client.get(
                f"/integrations/smartsheet/auth/status?workspace={two_workspaces['b'].pk}"
            ).status_code
            == 404
        )

    def test_disconnect_through_the_page_endpoint(self, client, two_workspaces, sandbox):
        connection = connect_through_consent(
            sandbox,
            user=two_workspaces["a_admin"],
            workspace=two_workspaces["a"],
            provider="smartsheet",
        )
        client.force_login(two_workspaces["a_admin"])
        response = client.post(
            "/integrations/smartsheet/auth/disconnect",
            {"workspace": two_workspaces["a"].pk},
            content_type="application/json",
        )
        assert response.status_code == 200 and response.json()["status"] == "revoked"
        connection.refresh_from_db()
        assert connection.access_token == "" and connection.refresh_token == ""


def test_a_member_of_two_workspaces_has_one_smartsheet_link_in_each(two_workspaces, sandbox):
    member = two_workspaces["a_member"]
    MembershipFactory(workspace=two_workspaces["b"], user=member)
    first = connect_through_consent(
        sandbox, user=member, workspace=two_workspaces["a"], provider="smartsheet"
    )
    again = connect_through_consent(
        sandbox, user=member, workspace=two_workspaces["a"], provider="smartsheet"
    )
    other = connect_through_consent(
        sandbox, user=member, workspace=two_workspaces["b"], provider="smartsheet"
    )
    assert first.pk == again.pk != other.pk
    assert flow.redirect_uri("smartsheet").endswith("/integrations/smartsheet/auth/callback")


def test_the_pkce_challenge_is_rfc_7636_s256():
    # RFC 7636, appendix B.
    assert (
        flow.pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_a_member_cannot_disconnect_the_workspace_crm(client, two_workspaces, sandbox):
    connect_through_consent(
        sandbox, user=two_workspaces["a_admin"], workspace=two_workspaces["a"], provider="hubspot"
    )
    client.force_login(two_workspaces["a_member"])
    response = client.post(
        "/integrations/hubspot/auth/disconnect",
        {"workspace": two_workspaces["a"].pk},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert Connection.objects.get().status == "connected"


@pytest.mark.parametrize(
    ("provider", "domain"),
    [("smartsheet", ""), ("hubspot", ""), ("salesforce", "login"), ("salesforce", "test")],
)
def test_a_granted_connection_is_stored_as_the_consent_flow_stores_it(
    two_workspaces, sandbox, provider, domain
):
    # The tests' one-call `connect` must stand in for the flow: the same row, audit and usable
    # tokens, or every test built on it proves something about a connection the hub never makes.
    admin = two_workspaces["a_admin"]
    MembershipFactory(workspace=two_workspaces["b"], user=admin, role=Membership.Role.ADMIN)
    user, workspace = admin, two_workspaces["a"]
    consented = connect_through_consent(
        sandbox, user=user, workspace=workspace, provider=provider, domain=domain
    )
    granted = connect(
        sandbox, user=user, workspace=two_workspaces["b"], provider=provider, domain=domain
    )
    same = [
        "provider", "user_id", "label", "external_user_id", "external_email",
        "external_account_id", "instance_url", "auth_domain", "scopes", "status",
        "last_error", "connected_by_id",
    ]  # fmt: skip
    assert [getattr(granted, f) for f in same] == [getattr(consented, f) for f in same]
    assert bool(granted.refresh_token) == bool(consented.refresh_token)
    assert (granted.expires_at is None) == (consented.expires_at is None)
    if granted.expires_at:
        assert abs(granted.expires_at - consented.expires_at) < timedelta(minutes=1)
    audits = AuditEvent.objects.filter(action="connection.connect").order_by("pk")
    assert [event.workspace_id for event in audits] == [workspace.pk, two_workspaces["b"].pk]
    assert connection_services.connection_test(connection=granted, actor=user)["ok"] is True
