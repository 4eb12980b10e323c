"""The emulators behave like the providers (../shared/providers/*.md): status codes, error
bodies, limits, token rules and the control plane."""

import hashlib
import time
import uuid

import pytest

from integrations import sandbox as sandbox_module
from integrations.connections import http
from integrations.sandbox.core import s256

pytestmark = pytest.mark.django_db


def session():
    return http.session("tests")  # not a limited provider name: no bucket in the way


def smartsheet_token(sandbox, **params):
    query = {
        "response_type": "code",
        "client_id": "hub-smartsheet-sandbox",
        "scope": "READ_SHEETS",
        "state": "s",
        **params,
    }
    url = f"http://127.0.0.1:{sandbox.server.ports['browser']}/smartsheet/b/authorize?" + "&".join(
        f"{k}={v}" for k, v in query.items()
    )
    return url


class TestSmartsheet:
    def exchange(self, sandbox, secret="sandbox-secret-smartsheet"):
        params = sandbox.consent(
            smartsheet_token(
                sandbox, redirect_uri="http://127.0.0.1:8000/integrations/smartsheet/auth/callback"
            )
        )
        code = params["code"]
        assert int(params["expires_in"]) == 599_135
        return session().post(
            f"{sandbox.url('smartsheet')}/2.0/token",
            data={
                "grant_type": "authorization_code",
                "client_id": "hub-smartsheet-sandbox",
                "code": code,
                "hash": hashlib.sha256(f"{secret}|{code}".encode()).hexdigest(),
            },
        )

    def test_the_code_exchange_checks_the_hash_and_answers_the_documented_body(self, sandbox):
        wrong = self.exchange(sandbox, secret="guess")
        assert (
            wrong.status_code == 403
            and wrong.json()["errorCode"] == 1004
            and wrong.json()["error"] == "invalid_grant"
        )
        good = self.exchange(sandbox)
        assert good.status_code == 200
        assert set(good.json()) == {"access_token", "token_type", "refresh_token", "expires_in"}
        assert good.json()["token_type"] == "bearer" and good.json()["expires_in"] == 604_799

    def test_a_code_works_once(self, sandbox):
        params = sandbox.consent(smartsheet_token(sandbox))
        form = {
            "grant_type": "authorization_code",
            "client_id": "hub-smartsheet-sandbox",
            "code": params["code"],
            "client_secret": "sandbox-secret-smartsheet",
        }
        assert (
            session().post(f"{sandbox.url('smartsheet')}/2.0/token", data=form).status_code == 200
        )
        again = session().post(f"{sandbox.url('smartsheet')}/2.0/token", data=form)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    def test_refresh_returns_a_new_pair_and_the_old_one_stops_working(self, sandbox):
        first = self.exchange(sandbox).json()
        refreshed = (
            session()
            .post(
                f"{sandbox.url('smartsheet')}/2.0/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": "hub-smartsheet-sandbox",
                    "refresh_token": first["refresh_token"],
                    "hash": hashlib.sha256(
                        f"sandbox-secret-smartsheet|{first['refresh_token']}".encode()
                    ).hexdigest(),
                },
            )
            .json()
        )
        assert refreshed["refresh_token"] != first["refresh_token"]
        old = session().get(
            f"{sandbox.url('smartsheet')}/2.0/users/me",
            headers={"Authorization": f"Bearer {first['access_token']}"},
        )
        assert old.status_code == 401 and old.json()["errorCode"] == 1002

    @pytest.mark.parametrize(
        ("header", "code", "message"),
        [
            (None, 1001, "An Access Token is required."),
            ("Bearer nope", 1002, "Your Access Token is invalid."),
        ],
    )
    def test_token_failures_have_smartsheet_codes(self, sandbox, header, code, message):
        response = session().get(
            f"{sandbox.url('smartsheet')}/2.0/users/me",
            headers={"Authorization": header} if header else {},
        )
        assert response.status_code == 401
        assert (
            response.json()["errorCode"] == code
            and response.json()["message"] == message
            and response.json()["refId"]
        )

    def test_an_expired_token_is_1003(self, sandbox):
        token = self.exchange(sandbox).json()["access_token"]
        sandbox.expire_tokens("smartsheet")
        response = session().get(
            f"{sandbox.url('smartsheet')}/2.0/users/me",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.json()["errorCode"] == 1003

    def test_the_rate_limit_is_per_token_with_4003_and_no_retry_after(self, sandbox):
        sandbox.set_limit("smartsheet", 3, 60)
        first, second = (
            self.exchange(sandbox).json()["access_token"],
            self.exchange(sandbox).json()["access_token"],
        )
        statuses = [
            session().get(
                f"{sandbox.url('smartsheet')}/2.0/users/me",
                headers={"Authorization": f"Bearer {first}"},
            )
            for _ in range(4)
        ]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429]
        assert (
            statuses[-1].json()["errorCode"] == 4003 and "Retry-After" not in statuses[-1].headers
        )
        assert (
            session()
            .get(
                f"{sandbox.url('smartsheet')}/2.0/users/me",
                headers={"Authorization": f"Bearer {second}"},
            )
            .status_code
            == 200
        )

    def test_authorize_refuses_unknown_apps_scopes_and_response_types(self, sandbox):
        browser = session()
        assert browser.get(smartsheet_token(sandbox, client_id="unknown")).status_code == 400
        bad_scope = browser.get(
            smartsheet_token(sandbox, scope="READ_EVERYTHING"), allow_redirects=False
        )
        assert "error=invalid_scope" in bad_scope.headers["Location"]
        bad_type = browser.get(
            smartsheet_token(sandbox, response_type="token"), allow_redirects=False
        )
        assert "error=unsupported_response_type" in bad_type.headers["Location"]
        denied = sandbox.consent(smartsheet_token(sandbox), approve=False)
        assert denied == {"error": "access_denied", "state": "s"}


class TestSalesforce:
    def authorize_url(self, sandbox, **params):
        query = {
            "response_type": "code",
            "client_id": "hub-salesforce-sandbox",
            "redirect_uri": "http://127.0.0.1:8000/integrations/salesforce/auth/callback",
            "scope": "api refresh_token",
            "state": "s",
            **params,
        }
        return (
            f"http://127.0.0.1:{sandbox.server.ports['browser']}/salesforce/services/oauth2/authorize?"
            + "&".join(f"{k}={v}" for k, v in query.items())
        )

    def token(self, sandbox, **form):
        base = {
            "grant_type": "authorization_code",
            "client_id": "hub-salesforce-sandbox",
            "client_secret": "sandbox-secret-salesforce",
            "redirect_uri": "http://127.0.0.1:8000/integrations/salesforce/auth/callback",
        }
        return session().post(
            f"{sandbox.url('salesforce')}/services/oauth2/token", data={**base, **form}
        )

    def test_pkce_rules(self, sandbox):
        verifier = "v" * 50
        code = sandbox.consent(
            self.authorize_url(sandbox, code_challenge=s256(verifier), code_challenge_method="S256")
        )["code"]
        missing = self.token(sandbox, code=code)
        assert missing.json() == {
            "error": "invalid_grant",
            "error_description": "invalid code verifier",
        }
        code = sandbox.consent(self.authorize_url(sandbox, code_challenge=s256(verifier)))["code"]
        wrong = self.token(sandbox, code=code, code_verifier="w" * 50)
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"
        code = sandbox.consent(self.authorize_url(sandbox, code_challenge=s256(verifier)))["code"]
        assert self.token(sandbox, code=code, code_verifier=verifier).status_code == 200

    def test_no_refresh_token_without_the_scope_and_no_expires_in(self, sandbox):
        code = sandbox.consent(self.authorize_url(sandbox, scope="api"))["code"]
        body = self.token(sandbox, code=code).json()
        assert "refresh_token" not in body and "expires_in" not in body
        assert body["id"].endswith(body["id"].split("/")[-1]) and body["token_type"] == "Bearer"

    def test_the_rest_api_answers_arrays_and_the_daily_quota_is_a_403(self, sandbox):
        code = sandbox.consent(self.authorize_url(sandbox))["code"]
        body = self.token(sandbox, code=code).json()
        user_url = (
            f"{body['instance_url']}/services/data/v62.0/sobjects/User/{body['id'].split('/')[-1]}"
        )
        expired = session().get(user_url, headers={"Authorization": "Bearer stale"})
        assert expired.status_code == 401 and expired.json() == [
            {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
        ]
        sandbox.set_limit("salesforce", 2, 86_400)
        answers = [
            session().get(user_url, headers={"Authorization": f"Bearer {body['access_token']}"})
            for _ in range(3)
        ]
        assert answers[0].headers["Sforce-Limit-Info"] == "api-usage=1/2"
        assert (
            answers[2].status_code == 403
            and answers[2].json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        )

    def test_the_test_domain_is_another_org(self, sandbox):
        login = session().get(f"{sandbox.url('salesforce')}/_sandbox/state").json()
        assert sandbox.url("salesforce") != sandbox.url("salesforce-test") and login["users"] == 3


class TestHubSpot:
    def tokens(self, sandbox, path="/oauth/v3/token"):
        url = f"http://127.0.0.1:{sandbox.server.ports['browser']}/hubspot/oauth/authorize?client_id=hub-hubspot-sandbox&redirect_uri=http://127.0.0.1:8000/integrations/hubspot/auth/callback&scope=oauth&state=s"
        code = sandbox.consent(url)["code"]
        return (
            session()
            .post(
                f"{sandbox.url('hubspot')}{path}",
                data={
                    "grant_type": "authorization_code",
                    "client_id": "hub-hubspot-sandbox",
                    "client_secret": "sandbox-secret-hubspot",
                    "redirect_uri": "http://127.0.0.1:8000/integrations/hubspot/auth/callback",
                    "code": code,
                },
            )
            .json()
        )

    def test_v3_tokens_say_their_use_and_last_thirty_minutes(self, sandbox):
        body = self.tokens(sandbox)
        assert body["token_use"] == "access_token" and body["expires_in"] == 1800 and body["hub_id"]
        assert "token_use" not in self.tokens(sandbox, "/oauth/v1/token")

    def test_an_expired_token_is_expired_authentication(self, sandbox):
        token = self.tokens(sandbox)["access_token"]
        sandbox.expire_tokens("hubspot")
        response = session().get(
            f"{sandbox.url('hubspot')}/account-info/v3/details",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert (
            response.status_code == 401 and response.json()["category"] == "EXPIRED_AUTHENTICATION"
        )
        assert "expired" in response.json()["message"]

    def test_the_rate_limit_answer_is_the_one_hubspot_was_seen_to_send(self, sandbox):
        # Which limit (errorType, policyName) and a correlation id, without the `category`
        # the spec's Error requires: the harsher of the bodies observed (FACTS.md §2).
        token = self.tokens(sandbox)["access_token"]
        sandbox.set_limit("hubspot", 1, 60)
        answers = [
            session().get(
                f"{sandbox.url('hubspot')}/account-info/v3/details",
                headers={"Authorization": f"Bearer {token}"},
            )
            for _ in range(2)
        ]
        body = answers[1].json()
        assert [a.status_code for a in answers] == [200, 429]
        assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "TEN_SECONDLY_ROLLING")
        assert body["message"] and uuid.UUID(body["correlationId"]) and "category" not in body

    def test_revoke_ends_the_refresh_token_only(self, sandbox):
        body = self.tokens(sandbox)
        form = {"client_id": "hub-hubspot-sandbox", "client_secret": "sandbox-secret-hubspot"}
        assert (
            session()
            .post(
                f"{sandbox.url('hubspot')}/oauth/v3/token/revoke",
                data={**form, "token": body["refresh_token"]},
            )
            .status_code
            == 200
        )
        refresh = session().post(
            f"{sandbox.url('hubspot')}/oauth/v3/token",
            data={**form, "grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        )
        assert refresh.status_code == 400 and refresh.json()["status"] == "BAD_REFRESH_TOKEN"
        introspect = (
            session()
            .post(
                f"{sandbox.url('hubspot')}/oauth/v3/token/introspect",
                data={**form, "token": body["access_token"]},
            )
            .json()
        )
        assert introspect["active"] is True and introspect["user"]


class TestMicrosoft:
    def token(self, sandbox, **form):
        base = {
            "grant_type": "client_credentials",
            "client_id": sandbox_module.DATAVERSE_CLIENT_ID,
            "client_secret": sandbox_module.DATAVERSE_CLIENT_SECRET,
            "scope": f"{sandbox.url('dataverse')}/.default",
        }
        return session().post(
            f"{sandbox.url('azure')}/{sandbox_module.DATAVERSE_TENANT_ID}/oauth2/v2.0/token",
            data={**base, **form},
        )

    def test_discovery_and_token(self, sandbox):
        document = (
            session()
            .get(
                f"{sandbox.url('azure')}/{sandbox_module.DATAVERSE_TENANT_ID}/v2.0/.well-known/openid-configuration"
            )
            .json()
        )
        assert document["token_endpoint"].endswith(
            f"/{sandbox_module.DATAVERSE_TENANT_ID}/oauth2/v2.0/token"
        )
        body = self.token(sandbox).json()
        assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}

    @pytest.mark.parametrize(
        ("form", "status", "code"),
        [
            ({"client_secret": "x"}, 401, 7000215),
            ({"client_id": "unknown"}, 400, 700016),
            ({"scope": "https://x/user.read"}, 400, 1002012),
        ],
    )
    def test_aadsts_errors(self, sandbox, form, status, code):
        response = self.token(sandbox, **form)
        assert response.status_code == status
        body = response.json()
        assert body["error_codes"] == [code] and body["error_description"].startswith(
            f"AADSTS{code}:"
        )
        assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)

    def test_an_unknown_tenant_is_90002(self, sandbox):
        response = session().get(
            f"{sandbox.url('azure')}/no-such-tenant/v2.0/.well-known/openid-configuration"
        )
        assert response.status_code == 400 and response.json()["error_codes"] == [90002]

    def test_dataverse_who_am_i_and_its_limit(self, sandbox):
        token = self.token(sandbox).json()["access_token"]
        url = f"{sandbox.url('dataverse')}/api/data/v9.2/WhoAmI"
        body = session().get(url, headers={"Authorization": f"Bearer {token}"}).json()
        assert (
            body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")
            and body["UserId"]
        )
        anonymous = session().get(url)
        assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith(
            "Bearer authorization_uri="
        )
        sandbox.set_limit("dataverse", 1, 300)
        assert session().get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        limited = session().get(url, headers={"Authorization": f"Bearer {token}"})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert limited.json()["error"]["code"] == "0x80072322"


class TestControlPlane:
    def test_calls_are_counted_by_endpoint_and_reset(self, sandbox):
        for _ in range(3):
            session().get(f"{sandbox.url('smartsheet')}/2.0/users/me")
        calls = sandbox.calls("smartsheet")
        assert calls["by_endpoint"] == {"GET /2.0/users/me": 3} and calls["by_status"] == {"401": 3}
        sandbox.reset()
        assert sandbox.calls("smartsheet")["total"] == 0

    def test_injected_latency_is_visible_at_the_emulator(self, sandbox):
        sandbox.fault("smartsheet", kind="latency", seconds=0.3, count=1)
        started = time.monotonic()
        session().get(f"{sandbox.url('smartsheet')}/2.0/users/me")
        assert time.monotonic() - started >= 0.3
        assert sandbox.calls("smartsheet")["log"][-1]["ms"] >= 300

    def test_seeded_data_is_deterministic(self, sandbox):
        first = sandbox.consent(smartsheet_token(sandbox))
        sandbox.reset()
        assert first  # the consent page lists the same seeded users after a reset:
        page_a = session().get(smartsheet_token(sandbox)).text
        sandbox.reset()
        assert session().get(smartsheet_token(sandbox)).text == page_a

    def test_a_granted_token_is_refreshed_introspected_and_revoked_like_a_consented_one(
        self, sandbox
    ):
        form = {"client_id": "hub-hubspot-sandbox", "client_secret": "sandbox-secret-hubspot"}
        granted = sandbox.grant("hubspot", client_id=form["client_id"], scope="oauth")
        url = sandbox.url("hubspot")
        assert granted["expires_in"] == 1800 and granted["account_id"]
        introspect = session().post(
            f"{url}/oauth/v3/token/introspect", data={**form, "token": granted["access_token"]}
        )
        assert introspect.json()["active"] is True
        assert introspect.json()["user"] == granted["email"]
        refresh = session().post(
            f"{url}/oauth/v3/token",
            data={**form, "grant_type": "refresh_token", "refresh_token": granted["refresh_token"]},
        )
        assert refresh.status_code == 200 and refresh.json()["hub_id"] == int(granted["account_id"])
        revoke = session().post(
            f"{url}/oauth/v3/token/revoke", data={**form, "token": granted["refresh_token"]}
        )
        assert revoke.status_code == 200

    def test_a_granted_token_counts_against_the_limit_of_its_caller(self, sandbox):
        granted = sandbox.grant(
            "smartsheet", client_id="hub-smartsheet-sandbox", scope="READ_SHEETS"
        )
        sandbox.set_limit("smartsheet", 1, 60)
        me = f"{sandbox.url('smartsheet')}/2.0/users/me"
        headers = {"Authorization": f"Bearer {granted['access_token']}"}
        first, second = session().get(me, headers=headers), session().get(me, headers=headers)
        assert first.status_code == 200 and first.json()["email"] == granted["email"]
        assert second.status_code == 429 and second.json()["errorCode"] == 4003

    def test_a_salesforce_grant_follows_the_scopes_and_names_the_first_user_by_default(
        self, sandbox
    ):
        app = "hub-salesforce-sandbox"
        first = sandbox.grant("salesforce", client_id=app, scope="api")
        assert first["refresh_token"] == "" and first["expires_in"] is None
        assert first["identity_url"].endswith(f"/{first['account_id']}/{first['user_id']}")
        again = sandbox.grant(
            "salesforce", client_id=app, scope="api refresh_token", user=first["user_id"]
        )
        assert again["user_id"] == first["user_id"] and again["refresh_token"]
        assert sandbox.grant("salesforce-test", client_id=app)["account_id"] != first["account_id"]

    @pytest.mark.parametrize(
        "body",
        [
            {"client_id": "unknown", "scope": "READ_SHEETS"},
            {"client_id": "hub-smartsheet-sandbox", "scope": "READ_SHEETS", "user": "nobody"},
            {"client_id": "hub-smartsheet-sandbox", "scope": "NOT_A_SCOPE"},
        ],
    )
    def test_a_grant_refuses_an_unknown_app_user_or_scope(self, sandbox, body):
        response = session().post(f"{sandbox.url('smartsheet')}/_sandbox/tokens", json=body)
        assert response.status_code == 400 and response.json()["error"]
