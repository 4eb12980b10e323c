"""What no route serves: every emulator answers an unknown path (404) and a method the path
does not take (405) with its provider's own JSON error, never Starlette's plain text; and the
answers issue 14 found kinder than the real services (Salesforce's quota before
authentication, HubSpot's OAuth errors and token metadata)."""

import pytest

from integrations import sandbox as sandbox_module
from integrations.connections import http

pytestmark = pytest.mark.django_db
# These tests ask for paths and methods the providers do not publish, on purpose.
UNKNOWN = pytest.mark.contract(
    requests=False, reason="asks for unpublished paths and methods, for their 404 / 405 answers"
)


def session():
    return http.session("tests")  # not a limited provider name: no bucket in the way


def assert_json(response, status: int):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def dataverse_token(sandbox) -> str:
    return (
        session()
        .post(
            f"{sandbox.url('azure')}/{sandbox_module.DATAVERSE_TENANT_ID}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sandbox_module.DATAVERSE_CLIENT_ID,
                "client_secret": sandbox_module.DATAVERSE_CLIENT_SECRET,
                "scope": f"{sandbox.url('dataverse')}/.default",
            },
        )
        .json()["access_token"]
    )


HUBSPOT_CALLBACK = "http://127.0.0.1:8000/integrations/hubspot/auth/callback"
HUBSPOT_CLIENT = {"client_id": "hub-hubspot-sandbox", "client_secret": "sandbox-secret-hubspot"}


def hubspot_tokens(sandbox) -> dict:
    code = sandbox.consent(
        f"http://127.0.0.1:{sandbox.server.ports['browser']}/hubspot/oauth/authorize?"
        f"client_id=hub-hubspot-sandbox&redirect_uri={HUBSPOT_CALLBACK}&scope=oauth&state=s"
    )["code"]
    return (
        session()
        .post(
            f"{sandbox.url('hubspot')}/oauth/v3/token",
            data={
                **HUBSPOT_CLIENT,
                "grant_type": "authorization_code",
                "redirect_uri": HUBSPOT_CALLBACK,
                "code": code,
            },
        )
        .json()
    )


# --- unknown paths and methods, one test per provider -------------------------------------------


@UNKNOWN
def test_smartsheet_answers_1006_for_an_unknown_path_and_1122_for_a_wrong_method(sandbox):
    base = f"{sandbox.url('smartsheet')}/2.0"
    missing = assert_json(session().get(f"{base}/nope"), 404)
    assert missing["errorCode"] == 1006 and missing["message"] == "Not Found"
    assert missing["refId"]
    wrong = session().patch(f"{base}/users/me")
    body = assert_json(wrong, 405)
    assert body["errorCode"] == 1122 and body["refId"]
    assert body["message"] == "Requested URL does not support this method: PATCH."
    assert wrong.headers["Allow"] == "GET, HEAD"


@UNKNOWN
def test_salesforce_answers_not_found_and_method_not_allowed_as_arrays(sandbox):
    base = f"{sandbox.url('salesforce')}/services/data/v62.0"
    missing = assert_json(session().get(f"{base}/no-such-resource"), 404)
    assert missing == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    wrong = session().patch(f"{base}/sobjects/User/005000000000000")
    assert assert_json(wrong, 405) == [
        {
            "message": "HTTP Method 'PATCH' not allowed. Allowed are GET,HEAD",
            "errorCode": "METHOD_NOT_ALLOWED",
        }
    ]
    assert wrong.headers["Allow"] == "GET, HEAD"


@UNKNOWN
def test_hubspot_answers_its_error_shape_for_an_unknown_path_and_a_wrong_method(sandbox):
    base = sandbox.url("hubspot")
    missing = assert_json(session().get(f"{base}/crm/v3/nope"), 404)
    assert missing["category"] == "OBJECT_NOT_FOUND" and missing["message"] == "resource not found"
    assert missing["status"] == "error" and missing["correlationId"]
    wrong = session().put(f"{base}/oauth/v3/token")
    body = assert_json(wrong, 405)
    assert {"category", "correlationId", "message"} <= set(body)
    assert "PUT" in body["message"] and wrong.headers["Allow"] == "POST"


@UNKNOWN
def test_dataverse_answers_odata_errors_for_an_unknown_path_and_a_wrong_method(sandbox):
    auth = {"Authorization": f"Bearer {dataverse_token(sandbox)}"}
    api = f"{sandbox.url('dataverse')}/api/data/v9.2"
    for verb in ("GET", "POST"):
        missing = assert_json(session().request(verb, f"{api}/accounts", headers=auth), 404)
        assert missing == {
            "error": {
                "code": "0x8006088a",
                "message": "Resource not found for the segment 'accounts'.",
            }
        }
    # The documented case: a function called with POST is 404 "No HTTP resource...".
    function = assert_json(session().post(f"{api}/WhoAmI", headers=auth), 404)
    assert function["error"]["code"] == ""
    assert function["error"]["message"] == (
        "No HTTP resource was found that matches the request URI "
        f"'{sandbox.url('dataverse')}/api/data/v9.2/WhoAmI'."
    )
    wrong = session().delete(f"{api}/imi_jobs", headers=auth)
    assert assert_json(wrong, 405)["error"]["message"] == (
        "The requested resource does not support http method 'DELETE'."
    )
    assert wrong.headers["Allow"] == "GET, HEAD"
    outside = assert_json(session().get(f"{sandbox.url('dataverse')}/nope", headers=auth), 404)
    assert outside["error"]["message"].startswith("No HTTP resource was found")
    # Without a token the Web API authenticates first, whatever the path or method.
    assert session().post(f"{api}/accounts").status_code == 401


@UNKNOWN
def test_azure_ad_answers_aadsts900561_for_a_wrong_method_and_json_for_an_unknown_path(sandbox):
    tenant = f"{sandbox.url('azure')}/{sandbox_module.DATAVERSE_TENANT_ID}"
    wrong = assert_json(session().get(f"{tenant}/oauth2/v2.0/token"), 405)
    assert wrong["error"] == "invalid_request" and wrong["error_codes"] == [900561]
    assert wrong["error_description"].startswith(
        "AADSTS900561: The endpoint only accepts POST requests. Received a GET request."
    )
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(wrong)
    missing = assert_json(session().post(f"{tenant}/oauth2/v2.0/nope"), 404)
    assert missing["error"] == "invalid_request" and missing["error_codes"] == []


@UNKNOWN
def test_the_browser_pages_answer_unknown_paths_in_the_providers_shape_too(sandbox):
    browser = f"http://127.0.0.1:{sandbox.server.ports['browser']}"
    missing = assert_json(session().get(f"{browser}/smartsheet/b/nope"), 404)
    assert missing["errorCode"] == 1006


# --- Salesforce: authentication before the daily quota -----------------------------------------


def test_salesforce_answers_401_to_a_junk_or_expired_token_even_with_the_quota_spent(sandbox):
    code = sandbox.consent(
        f"http://127.0.0.1:{sandbox.server.ports['browser']}/salesforce/services/oauth2/authorize?"
        "response_type=code&client_id=hub-salesforce-sandbox&scope=api%20refresh_token&state=s"
        "&redirect_uri=http://127.0.0.1:8000/integrations/salesforce/auth/callback"
    )["code"]
    body = (
        session()
        .post(
            f"{sandbox.url('salesforce')}/services/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "client_id": "hub-salesforce-sandbox",
                "client_secret": "sandbox-secret-salesforce",
                "redirect_uri": "http://127.0.0.1:8000/integrations/salesforce/auth/callback",
                "code": code,
            },
        )
        .json()
    )
    user_url = (
        f"{body['instance_url']}/services/data/v62.0/sobjects/User/{body['id'].split('/')[-1]}"
    )
    live = {"Authorization": f"Bearer {body['access_token']}"}
    sandbox.set_limit("salesforce", 1, 86_400)
    assert session().get(user_url, headers=live).status_code == 200
    spent = session().get(user_url, headers=live)
    assert spent.status_code == 403 and spent.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    invalid = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    junk = session().get(user_url, headers={"Authorization": "Bearer 00Djunk!AR.nothing"})
    assert assert_json(junk, 401) == invalid
    sandbox.expire_tokens("salesforce")
    assert assert_json(session().get(user_url, headers=live), 401) == invalid


# --- HubSpot OAuth, as the published spec says ----------------------------------------------------

SPEC_ERROR = {"category", "correlationId", "message"}  # Error.required, v1 and v3 oauth.json


def test_hubspot_token_errors_carry_the_spec_fields_the_rfc_pair_and_the_legacy_status(sandbox):
    for path in ("/oauth/v1/token", "/oauth/v3/token"):
        refused = session().post(
            f"{sandbox.url('hubspot')}{path}",
            data={**HUBSPOT_CLIENT, "grant_type": "refresh_token", "refresh_token": "na1-nope"},
        )
        body = assert_json(refused, 400)
        assert set(body) >= SPEC_ERROR and body["category"] == "VALIDATION_ERROR"
        assert body["status"] == "BAD_REFRESH_TOKEN" and body["error"] == "invalid_grant"
        assert body["error_description"] == body["message"]


def test_hubspot_introspection_has_the_spec_fields_of_access_and_refresh_tokens(sandbox):
    tokens = hubspot_tokens(sandbox)
    url = f"{sandbox.url('hubspot')}/oauth/v3/token/introspect"
    access = session().post(url, data={**HUBSPOT_CLIENT, "token": tokens["access_token"]}).json()
    assert {
        "active",
        "app_id",
        "client_id",
        "expires_in",
        "hub_id",
        "is_private_distribution",
        "scopes",
        "signed_access_token",
        "token",
        "token_type",
        "token_use",
        "user_id",
    } <= set(access)
    assert access["token_use"] == "access_token" and access["token_type"] == "bearer"
    signed = access["signed_access_token"]
    assert {
        "appId",
        "appInstallId",
        "audience",
        "expiresAt",
        "hubId",
        "hublet",
        "installingUserId",
        "isPrivateDistribution",
        "isServiceAccount",
        "isUserLevel",
        "newSignature",
        "scopeToScopeGroupPks",
        "scopes",
        "signature",
        "trialScopeToScopeGroupPks",
        "trialScopes",
        "userId",
    } <= set(signed)
    assert isinstance(signed["scopes"], str) and signed["hubId"] == access["hub_id"]
    refresh = session().post(url, data={**HUBSPOT_CLIENT, "token": tokens["refresh_token"]}).json()
    assert {
        "active",
        "app_id",
        "client_id",
        "hub_id",
        "scopes",
        "token",
        "token_type",
        "token_use",
        "user_id",
    } <= set(refresh)
    assert refresh["token_use"] == "refresh_token" and "signed_access_token" not in refresh


def test_hubspot_v1_token_metadata_get_and_delete_as_the_spec_says(sandbox):
    tokens = hubspot_tokens(sandbox)
    base = f"{sandbox.url('hubspot')}/oauth/v1"
    access = session().get(f"{base}/access-tokens/{tokens['access_token']}").json()
    assert {"app_id", "expires_in", "hub_id", "scopes", "token", "token_type", "user_id"} <= set(
        access
    )
    assert access["token"] == tokens["access_token"] and access["token_type"] == "bearer"
    refresh_url = f"{base}/refresh-tokens/{tokens['refresh_token']}"
    refresh = assert_json(session().get(refresh_url), 200)
    assert {"client_id", "hub_id", "scopes", "token", "token_type", "user_id"} <= set(refresh)
    assert refresh["token"] == tokens["refresh_token"] and refresh["client_id"] == (
        "hub-hubspot-sandbox"
    )
    deleted = session().delete(refresh_url)
    assert deleted.status_code == 204 and deleted.content == b""
    gone = assert_json(session().get(refresh_url), 404)
    assert set(gone) >= SPEC_ERROR and gone["category"] == "OBJECT_NOT_FOUND"
    # Access tokens issued with it live on.
    assert session().get(f"{base}/access-tokens/{tokens['access_token']}").status_code == 200
