"""HubSpot OAuth with plain requests on our HTTP layer: the SDK (hubspot-api-client 12)
wraps only the OAuth v1 API, which HubSpot retires on 2027-02-16; we use v3.

# Reference: ../shared/providers/hubspot.md (OAuth, v1 deprecation, 30-minute tokens);
# HubSpot-public-api-spec-collection PublicApiSpecs/Auth/Oauth/Rollouts/279897/v3/oauth.json
# (POST /oauth/v3/token, /token/introspect, /token/revoke; the Error schema every failure
# answers: category, correlationId and message, read by `_error_of`).
"""

from urllib.parse import urlencode

from django.conf import settings

from integrations.connections import http
from integrations.connections.providers.base import (
    Identity,
    ProviderSpec,
    TokenSet,
    oauth_client,
    rate_key,
)

SPEC = ProviderSpec(
    name="hubspot",
    label="HubSpot",
    kind="oauth",
    per_user=False,
    scopes=(
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
    ),
    # The token endpoints accept code_verifier, but the authorize page does not document
    # code_challenge: unconfirmed, so we rely on `state` (providers/hubspot.md).
    pkce=False,
)


def app_base() -> str:
    return settings.PROVIDER_URLS["hubspot_app"]


def api_base() -> str:
    return settings.PROVIDER_URLS["hubspot_api"]


def authorize_url(
    *, state: str, redirect_uri: str, code_challenge: str = "", domain: str = ""
) -> str:
    client_id, _ = oauth_client("hubspot")
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(SPEC.scopes),
        "state": state,
    }
    return f"{app_base()}/oauth/authorize?{urlencode(params)}"


def _post(path: str, form: dict, *, key: str, action: str) -> dict:
    response = http.session("hubspot", key=key).post(f"{api_base()}{path}", data=form)
    if response.status_code >= 400:
        reason, category = _error_of(response)
        http.raise_for_status(
            response,
            provider="hubspot",
            message=f"HubSpot refused to {action}: {reason}",
            code=category,
        )
    return response.json() if response.content else {}


# Reference: HubSpot/HubSpot-public-api-spec-collection
# PublicApiSpecs/Auth/Oauth/Rollouts/155908/v1/oauth.json and .../279897/v3/oauth.json
# (components/schemas/Error: required category, correlationId, message; no `status`).
def _error_of(response) -> tuple[str, str]:
    """(message, category) of a HubSpot error answer, by the spec's fields. The legacy
    `status` (BAD_REFRESH_TOKEN, ...) is not in the spec, so it is never read: HubSpot keeps
    it only for backward compatibility."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return str(response.status_code), ""
    reason = body.get("message") or body.get("error_description") or str(response.status_code)
    return reason, str(body.get("category") or "")


def _token_set(body: dict) -> TokenSet:
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token", ""),
        expires_in=int(body["expires_in"]) if body.get("expires_in") else None,
        scopes=tuple(body.get("scopes", ())),
        account_id=str(body.get("hub_id", "")),
    )


def exchange_code(
    *, code: str, redirect_uri: str, code_verifier: str = "", domain: str = ""
) -> TokenSet:
    client_id, secret = oauth_client("hubspot")
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    return _token_set(
        _post("/oauth/v3/token", form, key="oauth", action="exchange the authorization code")
    )


def refresh(connection) -> TokenSet:
    client_id, secret = oauth_client("hubspot")
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": secret,
        "refresh_token": connection.refresh_token,
    }
    return _token_set(
        _post("/oauth/v3/token", form, key=rate_key(connection), action="refresh the access token")
    )


def revoke(connection) -> None:
    client_id, secret = oauth_client("hubspot")
    form = {
        "client_id": client_id,
        "client_secret": secret,
        "token": connection.refresh_token,
        "token_type_hint": "refresh_token",
    }
    _post(
        "/oauth/v3/token/revoke", form, key=rate_key(connection), action="revoke the refresh token"
    )


def whoami(connection, access_token: str) -> Identity:
    return identify(access_token, key=rate_key(connection))


def identify(access_token: str, *, key: str) -> Identity:
    client_id, secret = oauth_client("hubspot")
    form = {
        "client_id": client_id,
        "client_secret": secret,
        "token": access_token,
        "token_type_hint": "access_token",
    }
    info = _post("/oauth/v3/token/introspect", form, key=key, action="say who is connected")
    if not info.get("active"):
        raise http.Unauthorized(
            "HubSpot: the access token is no longer active", provider="hubspot", status=401
        )
    return Identity(
        user_id=str(info.get("user_id", "")),
        email=info.get("user", ""),
        account_id=str(info.get("hub_id", "")),
        account_name=info.get("hub_domain", ""),
    )
