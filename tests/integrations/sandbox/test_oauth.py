"""The one OAuth server (integrations/sandbox/oauth.py) keeps each provider's documented
differences: refresh rotation or not, who revokes what, redirect and PKCE rules, and token
and code lifetimes, which the emulators' clocks make testable without sleeping."""

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.connections import http
from integrations.sandbox.core import s256
from tests.integrations.sandbox.test_route_errors import dataverse_token

pytestmark = pytest.mark.django_db

CALLBACK = "http://127.0.0.1:8000/integrations/{}/auth/callback"
SMARTSHEET = {"client_id": "hub-smartsheet-sandbox", "secret": "sandbox-secret-smartsheet"}
HUBSPOT = {"client_id": "hub-hubspot-sandbox", "client_secret": "sandbox-secret-hubspot"}
SALESFORCE = {"client_id": "hub-salesforce-sandbox", "client_secret": "sandbox-secret-salesforce"}


def session():
    return http.session("tests")  # not a limited provider name: no bucket in the way


def page_url(sandbox, name: str, path: str, **query) -> str:
    text = "&".join(f"{key}={value}" for key, value in query.items())
    return f"http://127.0.0.1:{sandbox.server.ports['browser']}/{name}{path}?{text}"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- Smartsheet: rotation, hash proof, optional redirect_uri, revoke by the bearer -----------


def smartsheet_code(sandbox, **query) -> str:
    query = {
        "response_type": "code",
        "client_id": SMARTSHEET["client_id"],
        "scope": "READ_SHEETS",
        **query,
    }
    return sandbox.consent(page_url(sandbox, "smartsheet", "/b/authorize", **query))["code"]


def smartsheet_post(sandbox, grant: str, value: str, **form):
    field = "code" if grant == "authorization_code" else "refresh_token"
    proof = hashlib.sha256(f"{SMARTSHEET['secret']}|{value}".encode()).hexdigest()
    return session().post(
        f"{sandbox.url('smartsheet')}/2.0/token",
        data={
            "grant_type": grant,
            "client_id": SMARTSHEET["client_id"],
            field: value,
            "hash": proof,
            **form,
        },
    )


def smartsheet_pair(sandbox) -> dict:
    return smartsheet_post(sandbox, "authorization_code", smartsheet_code(sandbox)).json()


def smartsheet_me(sandbox, token: str):
    return session().get(f"{sandbox.url('smartsheet')}/2.0/users/me", headers=bearer(token))


def test_a_smartsheet_refresh_rotates_the_refresh_token_which_then_works_once(sandbox):
    first = smartsheet_pair(sandbox)
    second = smartsheet_post(sandbox, "refresh_token", first["refresh_token"]).json()
    assert second["refresh_token"] not in ("", first["refresh_token"])
    reused = smartsheet_post(sandbox, "refresh_token", first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    third = smartsheet_post(sandbox, "refresh_token", second["refresh_token"])
    assert third.status_code == 200 and smartsheet_me(sandbox, third.json()["access_token"]).ok


def test_a_smartsheet_refresh_with_a_wrong_hash_is_403_and_the_token_survives_it(sandbox):
    first = smartsheet_pair(sandbox)
    wrong = smartsheet_post(sandbox, "refresh_token", first["refresh_token"], hash="0" * 64)
    assert wrong.status_code == 403 and wrong.json()["errorCode"] == 1004
    assert smartsheet_post(sandbox, "refresh_token", first["refresh_token"]).status_code == 200


def test_smartsheet_takes_the_registered_redirect_uri_when_none_is_sent(sandbox):
    query = {"response_type": "code", "client_id": SMARTSHEET["client_id"], "scope": "READ_SHEETS"}
    url = page_url(sandbox, "smartsheet", "/b/authorize", **query)
    answer = session().post(
        url, data={"user_id": "1", "decision": "approve"}, allow_redirects=False
    )
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK.format("smartsheet")
    # No redirect_uri at the consent page: none is compared at the token endpoint either.
    code = parse_qs(location.query)["code"][0]
    other = smartsheet_post(sandbox, "authorization_code", code, redirect_uri="https://x.test/")
    assert other.status_code == 200


def test_smartsheet_compares_a_redirect_uri_sent_at_the_consent_page(sandbox):
    code = smartsheet_code(sandbox, redirect_uri=CALLBACK.format("smartsheet"))
    other = smartsheet_post(sandbox, "authorization_code", code, redirect_uri="https://x.test/")
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"


def test_a_smartsheet_revoke_ends_the_callers_token_and_its_refresh_token_only(sandbox):
    first, second = smartsheet_pair(sandbox), smartsheet_pair(sandbox)
    revoked = session().delete(
        f"{sandbox.url('smartsheet')}/2.0/token", headers=bearer(first["access_token"])
    )
    assert revoked.json() == {"message": "SUCCESS", "resultCode": 0}
    assert smartsheet_me(sandbox, first["access_token"]).json()["errorCode"] == 1002
    assert smartsheet_post(sandbox, "refresh_token", first["refresh_token"]).status_code == 400
    assert smartsheet_me(sandbox, second["access_token"]).status_code == 200


def test_smartsheet_delete_all_for_api_client_ends_every_token_of_the_app_and_user(sandbox):
    first, second = smartsheet_pair(sandbox), smartsheet_pair(sandbox)
    session().delete(
        f"{sandbox.url('smartsheet')}/2.0/token?deleteAllForApiClient=true",
        headers=bearer(first["access_token"]),
    )
    assert smartsheet_me(sandbox, second["access_token"]).status_code == 401
    assert smartsheet_post(sandbox, "refresh_token", second["refresh_token"]).status_code == 400


# --- HubSpot and Salesforce: refresh tokens that do not rotate ----------------------------------


def hubspot_code(sandbox, **query) -> str:
    query = {
        "client_id": HUBSPOT["client_id"],
        "redirect_uri": CALLBACK.format("hubspot"),
        "scope": "oauth",
        **query,
    }
    return sandbox.consent(page_url(sandbox, "hubspot", "/oauth/authorize", **query))["code"]


def hubspot_post(sandbox, **form):
    return session().post(f"{sandbox.url('hubspot')}/oauth/v3/token", data={**HUBSPOT, **form})


def hubspot_pair(sandbox, **form) -> dict:
    return hubspot_post(
        sandbox,
        grant_type="authorization_code",
        redirect_uri=CALLBACK.format("hubspot"),
        code=hubspot_code(sandbox),
        **form,
    ).json()


def test_a_hubspot_refresh_answers_the_same_refresh_token_which_keeps_working(sandbox):
    pair = hubspot_pair(sandbox)
    refreshes = [
        hubspot_post(sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"])
        for _ in range(2)
    ]
    assert [r.json()["refresh_token"] for r in refreshes] == [pair["refresh_token"]] * 2
    assert refreshes[1].json()["access_token"] != refreshes[0].json()["access_token"]


def test_hubspot_checks_a_code_challenge_it_was_sent_as_s256(sandbox):
    verifier = "v" * 50
    form = {"grant_type": "authorization_code", "redirect_uri": CALLBACK.format("hubspot")}
    code = hubspot_code(sandbox, code_challenge=s256(verifier))
    wrong = hubspot_post(sandbox, code=code, code_verifier="w" * 50, **form)
    assert wrong.status_code == 400 and wrong.json()["status"] == "BAD_CODE_VERIFIER"
    code = hubspot_code(sandbox, code_challenge=s256(verifier))
    assert hubspot_post(sandbox, code=code, code_verifier=verifier, **form).status_code == 200


def salesforce_pair(sandbox, scope="api refresh_token") -> dict:
    query = {
        "response_type": "code",
        "client_id": SALESFORCE["client_id"],
        "redirect_uri": CALLBACK.format("salesforce"),
        "scope": scope,
    }
    code = sandbox.consent(page_url(sandbox, "salesforce", "/services/oauth2/authorize", **query))
    return salesforce_post(
        sandbox,
        grant_type="authorization_code",
        redirect_uri=CALLBACK.format("salesforce"),
        code=code["code"],
    ).json()


def salesforce_post(sandbox, path="/services/oauth2/token", **form):
    return session().post(f"{sandbox.url('salesforce')}{path}", data={**SALESFORCE, **form})


def salesforce_me(sandbox, token: str):
    return session().get(
        f"{sandbox.url('salesforce')}/services/oauth2/userinfo", headers=bearer(token)
    )


def test_a_salesforce_refresh_answers_no_refresh_token_and_the_old_one_keeps_working(sandbox):
    pair = salesforce_pair(sandbox)
    for _ in range(2):
        refreshed = salesforce_post(
            sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"]
        )
        assert refreshed.status_code == 200 and "refresh_token" not in refreshed.json()
        assert salesforce_me(sandbox, refreshed.json()["access_token"]).status_code == 200


@pytest.fixture
def rotation_on(sandbox):
    """A Salesforce org with refresh-token rotation turned on (control plane)."""
    sandbox.configure("salesforce", rotate_refresh=True)
    yield
    sandbox.configure("salesforce", rotate_refresh=False)  # the config outlives a reset


def test_a_salesforce_org_with_rotation_on_answers_a_new_refresh_token_and_ends_the_old(
    sandbox, rotation_on
):
    pair = salesforce_pair(sandbox)
    refreshed = salesforce_post(
        sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"]
    ).json()
    assert refreshed["refresh_token"] not in ("", pair["refresh_token"])
    reused = salesforce_post(
        sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"]
    )
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }


def test_salesforce_revokes_an_access_token_alone_or_a_refresh_token_with_its_session(sandbox):
    pair = salesforce_pair(sandbox)
    revoke = "/services/oauth2/revoke"
    assert salesforce_post(sandbox, revoke, token=pair["access_token"]).status_code == 200
    assert salesforce_me(sandbox, pair["access_token"]).status_code == 401
    refreshed = salesforce_post(
        sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"]
    ).json()
    assert salesforce_post(sandbox, revoke, token=pair["refresh_token"]).status_code == 200
    assert salesforce_me(sandbox, refreshed["access_token"]).status_code == 401
    unknown = salesforce_post(sandbox, revoke, token=pair["refresh_token"])
    assert unknown.status_code == 400 and unknown.json() == {
        "error": "invalid_token",
        "error_description": "invalid token",
    }


# --- lifetimes, on the emulators' clocks ---------------------------------------------------------


def test_a_smartsheet_token_expires_after_its_documented_lifetime_on_the_clock(sandbox):
    token = smartsheet_pair(sandbox)["access_token"]
    sandbox.advance_clock("smartsheet", 604_799 - 5)
    assert smartsheet_me(sandbox, token).status_code == 200
    sandbox.advance_clock("smartsheet", 10)
    assert smartsheet_me(sandbox, token).json()["errorCode"] == 1003


def test_a_hubspot_token_expires_after_thirty_minutes_and_says_how_long_ago(sandbox):
    token = hubspot_pair(sandbox)["access_token"]
    details = f"{sandbox.url('hubspot')}/account-info/v3/details"
    sandbox.advance_clock("hubspot", 1800 - 5)
    assert session().get(details, headers=bearer(token)).status_code == 200
    sandbox.advance_clock("hubspot", 65)
    expired = session().get(details, headers=bearer(token))
    assert expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert "expired 60 second(s) ago" in expired.json()["message"]


def test_a_salesforce_session_dies_after_the_orgs_timeout_and_a_refresh_revives_it(sandbox):
    pair = salesforce_pair(sandbox)
    sandbox.advance_clock("salesforce", 7200 + 1)
    assert salesforce_me(sandbox, pair["access_token"]).status_code == 401
    refreshed = salesforce_post(
        sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"]
    ).json()
    assert salesforce_me(sandbox, refreshed["access_token"]).status_code == 200


def test_an_azure_ad_token_expires_on_azure_ads_clock_for_dataverse(sandbox):
    token = dataverse_token(sandbox)
    who_am_i = f"{sandbox.url('dataverse')}/api/data/v9.2/WhoAmI"
    sandbox.advance_clock("dataverse", 3600)  # the issuer's clock decides, not the API's
    assert session().get(who_am_i, headers=bearer(token)).status_code == 200
    sandbox.advance_clock("azure", 3600)
    assert session().get(who_am_i, headers=bearer(token)).status_code == 401


def test_a_code_is_good_for_ten_minutes_on_the_clock(sandbox):
    fresh, stale = smartsheet_code(sandbox), smartsheet_code(sandbox)
    assert smartsheet_post(sandbox, "authorization_code", fresh).status_code == 200
    sandbox.advance_clock("smartsheet", 601)
    late = smartsheet_post(sandbox, "authorization_code", stale)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
