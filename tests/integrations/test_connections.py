"""Connection services against the emulators: tokens, refresh (and its race), test,
disconnect and revoke, pause, the beat task, client credentials, and their API and admin."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import close_old_connections, connections
from django.utils import timezone

from integrations.accounts.models import AuditEvent
from integrations.connections import http
from integrations.connections import services as connection_services
from integrations.connections.models import Connection
from tests.integrations.helpers import connect, connect_dataverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def smartsheet(sandbox, two_workspaces):
    return connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="smartsheet",
    )


def expire_locally(connection: Connection) -> Connection:
    Connection.objects.filter(pk=connection.pk).update(
        expires_at=timezone.now() - timedelta(seconds=5)
    )
    connection.refresh_from_db()
    return connection


class TestRefresh:
    @pytest.mark.django_db(transaction=True)
    def test_twenty_concurrent_callers_with_an_expired_token_cause_one_refresh(
        self, sandbox, two_workspaces
    ):
        connection = connect(
            sandbox,
            user=two_workspaces["a_admin"],
            workspace=two_workspaces["a"],
            provider="smartsheet",
        )
        stale = expire_locally(connection)
        sandbox.clear_calls("smartsheet")
        barrier = threading.Barrier(20)
        tokens, errors = [], []

        def caller():
            try:
                barrier.wait(timeout=10)
                tokens.append(connection_services.access_token(Connection.objects.get(pk=stale.pk)))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=caller) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        close_old_connections()

        assert errors == []
        assert len(tokens) == 20 and len(set(tokens)) == 1
        assert tokens[0] != stale.access_token
        assert sandbox.count("smartsheet", "POST /2.0/token") == 1  # measured at the emulator

    def test_a_401_causes_one_refresh_and_one_retry(self, smartsheet, sandbox):
        sandbox.expire_tokens("smartsheet")  # the provider ended the token before its expiry
        sandbox.clear_calls("smartsheet")
        result = connection_services.connection_test(connection=smartsheet)
        assert result["ok"] is True
        calls = sandbox.calls("smartsheet")["by_endpoint"]
        assert calls == {"GET /2.0/users/me": 2, "POST /2.0/token": 1}

    def test_salesforce_without_expiry_refreshes_on_the_401_only(self, sandbox, two_workspaces):
        connection = connect(
            sandbox,
            user=two_workspaces["a_admin"],
            workspace=two_workspaces["a"],
            provider="salesforce",
        )
        assert connection.expires_at is None
        first_refresh = connection.refresh_token
        sandbox.expire_tokens("salesforce")
        assert connection_services.connection_test(connection=connection)["ok"] is True
        connection.refresh_from_db()
        assert connection.refresh_token == first_refresh  # Salesforce keeps the refresh token

    def test_a_failed_refresh_sets_error_with_the_reason_and_is_audited(
        self, smartsheet, sandbox, client, superuser
    ):
        Connection.objects.filter(pk=smartsheet.pk).update(refresh_token="no-longer-valid")
        smartsheet.refresh_from_db()
        with pytest.raises(http.ProviderError):
            connection_services.connection_refresh(connection=smartsheet)
        smartsheet.refresh_from_db()
        assert smartsheet.status == "error"
        assert smartsheet.last_error.startswith("Refresh failed: Smartsheet refused to refresh")
        assert AuditEvent.objects.filter(
            action="connection.refresh_failed", target_id=str(smartsheet.pk)
        ).exists()
        client.force_login(superuser)
        listing = client.get("/admin/integrations/connection/").content.decode()
        assert "Refresh failed" in listing and "Error" in listing

    def test_a_successful_refresh_clears_the_error(self, smartsheet, sandbox):
        Connection.objects.filter(pk=smartsheet.pk).update(
            status="error", last_error="earlier trouble"
        )
        smartsheet.refresh_from_db()
        refreshed = connection_services.connection_refresh(connection=smartsheet)
        assert refreshed.status == "connected"

    def test_the_beat_task_refreshes_tokens_expiring_soon_and_idle_ones(
        self, sandbox, two_workspaces
    ):
        soon = connect(
            sandbox,
            user=two_workspaces["a_admin"],
            workspace=two_workspaces["a"],
            provider="hubspot",
        )
        idle = connect(
            sandbox,
            user=two_workspaces["a_admin"],
            workspace=two_workspaces["a"],
            provider="salesforce",
        )
        fresh = connect(
            sandbox,
            user=two_workspaces["a_admin"],
            workspace=two_workspaces["a"],
            provider="smartsheet",
        )
        Connection.objects.filter(pk=soon.pk).update(
            expires_at=timezone.now() + timedelta(minutes=10)
        )
        Connection.objects.filter(pk=idle.pk).update(
            refreshed_at=timezone.now() - timedelta(hours=25)
        )
        before = {c.pk: c.access_token for c in Connection.objects.all()}

        outcome = connection_services.connections_refresh_due()

        after = {c.pk: c.access_token for c in Connection.objects.all()}
        assert outcome == {"refreshed": 2, "failed": 0}
        assert after[soon.pk] != before[soon.pk] and after[idle.pk] != before[idle.pk]
        assert after[fresh.pk] == before[fresh.pk]


class TestTest:
    def test_test_connection_answers_ok_and_the_user(self, smartsheet):
        result = connection_services.connection_test(connection=smartsheet)
        assert result == {
            "ok": True,
            "user": smartsheet.external_email,
            "account": result["account"],
        }
        smartsheet.refresh_from_db()
        assert smartsheet.last_tested_at is not None

    def test_the_command(self, smartsheet, capsys):
        call_command("test_connection", str(smartsheet.pk))
        assert f"OK — connected as {smartsheet.external_email}" in capsys.readouterr().out
        with pytest.raises(CommandError, match="No connection with id 999"):
            call_command("test_connection", "999")

    def test_the_command_reports_a_failure_clearly(self, sandbox, two_workspaces):
        bad = connect_dataverse(
            user=two_workspaces["a_admin"], workspace=two_workspaces["a"], secret="wrong"
        )
        with pytest.raises(CommandError, match="AADSTS7000215: Invalid client secret"):
            call_command("test_connection", str(bad.pk))

    def test_the_api_endpoint(self, api, smartsheet, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.post(f"/api/integrations/connections/{smartsheet.pk}/test")
        assert response.status_code == 200 and response.json()["ok"] is True
        api.force_authenticate(two_workspaces["b_admin"])
        assert api.post(f"/api/integrations/connections/{smartsheet.pk}/test").status_code == 404

    def test_the_admin_action(self, client, superuser, smartsheet):
        client.force_login(superuser)
        response = client.post(
            "/admin/integrations/connection/",
            {"action": "test_connections", "_selected_action": [smartsheet.pk]},
            follow=True,
        )
        assert "Tested OK: 1 connection(s)." in response.content.decode()

    def test_a_paused_connection_is_not_used(self, smartsheet, sandbox):
        connection_services.connection_set_paused(connection=smartsheet, paused=True, actor=None)
        smartsheet.refresh_from_db()
        sandbox.clear_calls("smartsheet")
        result = connection_services.connection_test(connection=smartsheet)
        assert result["ok"] is False and "paused" in result["error"]
        assert sandbox.calls("smartsheet")["total"] == 0
        connection_services.connection_set_paused(connection=smartsheet, paused=False, actor=None)
        assert connection_services.connection_test(connection=smartsheet)["ok"] is True


class TestRefreshThroughTheApi:
    """POST /api/integrations/connections/<id>/refresh: a provider's failure is a 502 with the
    error shape (it was a 500), and a disconnected connection stays disconnected."""

    def url(self, connection, verb="refresh"):
        return f"/api/integrations/connections/{connection.pk}/{verb}"

    def test_a_refused_refresh_is_a_502_with_the_reason(self, api, smartsheet, two_workspaces):
        Connection.objects.filter(pk=smartsheet.pk).update(refresh_token="no-longer-valid")
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.post(self.url(smartsheet))
        assert response.status_code == 502
        error = response.json()["error"]
        assert error["code"] == "provider_error" and "refuse" in error["message"]
        assert error["details"]["provider"] == "smartsheet"

    def test_an_unavailable_provider_is_a_502_too(self, api, smartsheet, sandbox, two_workspaces):
        sandbox.fault("smartsheet", kind="error", status=503, path="/2.0/token", count=20)
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.post(self.url(smartsheet))
        assert (response.status_code, response.json()["error"]["code"]) == (
            502,
            "provider_unavailable",
        )

    def test_a_disconnected_connection_is_neither_refreshed_nor_resumed(
        self, api, smartsheet, sandbox, two_workspaces
    ):
        connection_services.connection_disconnect(connection=smartsheet, actor=None)
        sandbox.clear_calls("smartsheet")
        api.force_authenticate(two_workspaces["a_admin"])
        for verb in ("refresh", "resume", "pause"):
            response = api.post(self.url(smartsheet, verb))
            assert response.status_code == 409, verb
            assert response.json()["error"]["code"] == "connection_unusable"
        smartsheet.refresh_from_db()
        assert smartsheet.status == "revoked" and smartsheet.refresh_token == ""
        assert sandbox.calls("smartsheet")["total"] == 0  # nothing was even tried

    def test_resume_only_unpauses(self, api, smartsheet, two_workspaces):
        Connection.objects.filter(pk=smartsheet.pk).update(status="error", last_error="trouble")
        api.force_authenticate(two_workspaces["a_admin"])
        assert api.post(self.url(smartsheet, "resume")).json()["status"] == "error"
        assert api.post(self.url(smartsheet, "pause")).json()["status"] == "paused"
        assert api.post(self.url(smartsheet, "resume")).json()["status"] == "connected"


class TestDisconnect:
    def test_it_revokes_at_the_provider_then_forgets_the_tokens(self, smartsheet, sandbox):
        token = smartsheet.access_token
        disconnected = connection_services.connection_disconnect(connection=smartsheet, actor=None)
        assert (
            disconnected.status == "revoked"
            and disconnected.access_token == ""
            and disconnected.refresh_token == ""
        )
        assert sandbox.count("smartsheet", "DELETE /2.0/token") == 1
        # The revoked token no longer works at the provider.
        response = http.session("smartsheet").get(
            f"{sandbox.url('smartsheet')}/2.0/users/me",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401 and response.json()["errorCode"] == 1002
        event = AuditEvent.objects.get(action="connection.disconnect")
        assert event.details == {"revoked_at_provider": True, "revoke_error": ""}

    def test_a_failed_revoke_still_disconnects_and_is_recorded(self, smartsheet, sandbox):
        sandbox.fault("smartsheet", kind="error", status=500, method="DELETE", path="/2.0/token")
        disconnected = connection_services.connection_disconnect(connection=smartsheet, actor=None)
        assert disconnected.status == "revoked" and disconnected.access_token == ""
        assert "did not confirm the revoke" in disconnected.last_error
        assert (
            AuditEvent.objects.get(action="connection.disconnect").details["revoked_at_provider"]
            is False
        )

    @pytest.mark.parametrize("provider", ["salesforce", "hubspot"])
    def test_crm_revokes(self, sandbox, two_workspaces, provider):
        connection = connect(
            sandbox,
            user=two_workspaces["a_admin"],
            workspace=two_workspaces["a"],
            provider=provider,
        )
        refresh_token = connection.refresh_token
        connection_services.connection_disconnect(connection=connection, actor=None)
        with pytest.raises(http.ProviderError):
            connection.refresh_token = refresh_token
            connection.status = "connected"
            connection.save()
            connection_services.connection_refresh(connection=connection)

    def test_the_api_delete_disconnects(self, api, smartsheet, two_workspaces):
        api.force_authenticate(two_workspaces["a_member"])
        assert (
            api.delete(f"/api/integrations/connections/{smartsheet.pk}").status_code == 404
        )  # not theirs
        api.force_authenticate(two_workspaces["a_admin"])
        assert api.delete(f"/api/integrations/connections/{smartsheet.pk}").status_code == 204
        smartsheet.refresh_from_db()
        assert smartsheet.status == "revoked"


class TestClientCredentials:
    def test_the_token_is_reused_until_a_minute_before_expiry(self, sandbox, two_workspaces):
        connection = connect_dataverse(
            user=two_workspaces["a_admin"], workspace=two_workspaces["a"]
        )
        assert connection_services.connection_test(connection=connection)["ok"] is True
        assert connection_services.connection_test(connection=connection)["ok"] is True
        token_calls = "POST /{tenant}/oauth2/v2.0/token"
        assert sandbox.count("azure", token_calls) == 1
        Connection.objects.filter(pk=connection.pk).update(
            expires_at=timezone.now() + timedelta(seconds=61)
        )
        connection.refresh_from_db()
        connection_services.connection_test(connection=connection)
        assert sandbox.count("azure", token_calls) == 1  # 61 s left: still good
        Connection.objects.filter(pk=connection.pk).update(
            expires_at=timezone.now() + timedelta(seconds=59)
        )
        connection.refresh_from_db()
        connection_services.connection_test(connection=connection)
        assert sandbox.count("azure", token_calls) == 2

    def test_a_bad_secret_is_a_clear_error(self, sandbox, two_workspaces):
        connection = connect_dataverse(
            user=two_workspaces["a_admin"], workspace=two_workspaces["a"], secret="nope"
        )
        result = connection_services.connection_test(connection=connection)
        assert result["ok"] is False and "AADSTS7000215" in result["error"]
        assert "nope" not in result["error"]

    def test_a_secret_with_non_ascii_characters_is_refused_like_any_wrong_one(
        self, sandbox, two_workspaces
    ):
        # The fuzzer's find: the emulator compared secrets as str and crashed (a 500) on "é".
        connection = connect_dataverse(
            user=two_workspaces["a_admin"], workspace=two_workspaces["a"], secret="clé-é"
        )
        result = connection_services.connection_test(connection=connection)
        assert result["ok"] is False and "AADSTS7000215" in result["error"]

    def test_azure_failing_to_answer_is_a_502_not_a_500(self, api, sandbox, two_workspaces):
        connection = connect_dataverse(
            user=two_workspaces["a_admin"], workspace=two_workspaces["a"]
        )
        sandbox.fault("azure", kind="error", status=500, path="*/oauth2/v2.0/token", count=20)
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.post(f"/api/integrations/connections/{connection.pk}/refresh")
        assert (response.status_code, response.json()["error"]["code"]) == (
            502,
            "provider_unavailable",
        )
        assert "Azure AD failed to answer" in response.json()["error"]["message"]

    def test_the_api_creates_one_without_echoing_the_secret(self, api, sandbox, two_workspaces):
        from integrations import sandbox as sandbox_module

        api.force_authenticate(two_workspaces["a_admin"])
        body = {
            "workspace": two_workspaces["a"].pk,
            "provider": "dataverse",
            "tenant_id": sandbox_module.DATAVERSE_TENANT_ID,
            "client_id": sandbox_module.DATAVERSE_CLIENT_ID,
            "client_secret": sandbox_module.DATAVERSE_CLIENT_SECRET,
            "instance_url": sandbox_module.api_url("dataverse"),
        }
        response = api.post("/api/integrations/connections", body, format="json")
        assert response.status_code == 201, response.content
        assert sandbox_module.DATAVERSE_CLIENT_SECRET not in response.content.decode()
        assert (
            api.post(f"/api/integrations/connections/{response.json()['id']}/test").json()["ok"]
            is True
        )
        api.force_authenticate(two_workspaces["a_member"])
        assert api.post("/api/integrations/connections", body, format="json").status_code == 403
