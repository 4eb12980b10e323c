"""Smartsheet through the official smartsheet-python-sdk, on our HTTP layer.

The SDK takes no session or CA option (smartsheet-python-sdk#94), so we give its client our
session (bucket, retries, counting, sandbox CA) and turn its own retries off: one layer
retries, not two.

# Reference: https://smartsheet.redoc.ly (OAuth: /token with `hash`, DELETE /token,
# GET /users/me) and ../shared/providers/smartsheet.md §1, §6.
"""

import hashlib
from contextlib import contextmanager
from urllib.parse import urlencode

import smartsheet
from smartsheet.exceptions import ApiError, UnexpectedRequestError
from smartsheet.session import redact_token

from integrations import http, sandbox
from integrations.providers.base import (
    Identity,
    ProviderSpec,
    TokenSet,
    oauth_client,
    rate_key,
    sandbox_mode,
)

SPEC = ProviderSpec(
    name="smartsheet",
    label="Smartsheet",
    kind="oauth",
    per_user=True,
    scopes=("READ_SHEETS", "WRITE_SHEETS", "CREATE_SHEETS"),
    pkce=False,  # not documented by Smartsheet; the token call carries a hash of the secret
)
PLACEHOLDER_TOKEN = "oauth-exchange"  # the SDK refuses to build a client without a token


def _authorize_base() -> str:
    return (
        f"{sandbox.browser_url('smartsheet')}/b/authorize"
        if sandbox_mode()
        else "https://app.smartsheet.com/b/authorize"
    )


def api_base() -> str:
    return (
        f"{sandbox.api_url('smartsheet')}/2.0"
        if sandbox_mode()
        else "https://api.smartsheet.com/2.0"
    )


def client(access_token: str, *, key: str) -> smartsheet.Smartsheet:
    """An SDK client whose requests go through integrations.http."""
    sdk = smartsheet.Smartsheet(
        access_token, api_base=api_base(), max_retry_time=0, user_agent="IntegrationHub/1.0"
    )
    session = http.session("smartsheet", key=key)
    session.hooks["response"].append(redact_token)  # keeps the SDK's request log free of tokens
    sdk._session = session
    sdk.errors_as_exceptions(True)
    return sdk


@contextmanager
def _translated(action: str):
    """SDK exceptions -> our typed errors, with a message for people."""
    try:
        yield
    except ApiError as exc:
        result = exc.error.result
        message = f"Smartsheet refused to {action}: {result.message} (error {result.code})"
        status = result.status_code or 400
        if status in (401, 403) and result.code in (1001, 1002, 1003):
            raise http.Unauthorized(
                message, provider="smartsheet", status=401, code=str(result.code)
            ) from None
        if status == 429 or result.code == 4003:
            raise http.RateLimited(
                message, provider="smartsheet", status=429, code=str(result.code)
            ) from None
        if status >= 500:
            raise http.Unavailable(
                message, provider="smartsheet", status=status, code=str(result.code)
            ) from None
        raise http.Permanent(
            message, provider="smartsheet", status=status, code=str(result.code)
        ) from None
    except UnexpectedRequestError as exc:
        cause = exc.__cause__
        if isinstance(cause, http.ProviderError):
            raise cause from None
        raise http.Unavailable(
            f"Smartsheet could not be reached to {action}", provider="smartsheet"
        ) from None


def _hash(secret: str, value: str) -> str:
    # Smartsheet's token call proves the secret with sha256(app_secret + "|" + code-or-refresh).
    return hashlib.sha256(f"{secret}|{value}".encode()).hexdigest()


def authorize_url(
    *, state: str, redirect_uri: str, code_challenge: str = "", domain: str = ""
) -> str:
    client_id, _ = oauth_client("smartsheet")
    params = {
        "response_type": "code",
        "client_id": client_id,
        "scope": " ".join(SPEC.scopes),
        "state": state,
        "redirect_uri": redirect_uri,
    }
    return f"{_authorize_base()}?{urlencode(params)}"


def _token_set(token) -> TokenSet:
    return TokenSet(
        access_token=token.access_token,
        refresh_token=token.refresh_token or "",
        expires_in=int(token.expires_in) if token.expires_in else None,
        scopes=SPEC.scopes,
    )


def exchange_code(
    *, code: str, redirect_uri: str, code_verifier: str = "", domain: str = ""
) -> TokenSet:
    client_id, secret = oauth_client("smartsheet")
    with _translated("exchange the authorization code"):
        token = client(PLACEHOLDER_TOKEN, key="oauth").Token.get_access_token(
            client_id, code, _hash(secret, code), redirect_uri
        )
    return _token_set(token)


def refresh(connection) -> TokenSet:
    client_id, secret = oauth_client("smartsheet")
    refresh_token = connection.refresh_token
    with _translated("refresh the access token"):
        token = client(PLACEHOLDER_TOKEN, key=rate_key(connection)).Token.refresh_access_token(
            client_id, refresh_token, _hash(secret, refresh_token)
        )
    return _token_set(token)


def revoke(connection) -> None:
    with _translated("revoke the access token"):
        client(connection.access_token, key=rate_key(connection)).Token.revoke_access_token()


def whoami(connection, access_token: str) -> Identity:
    return identify(access_token, key=rate_key(connection))


def identify(access_token: str, *, key: str) -> Identity:
    with _translated("say who is connected"):
        profile = client(access_token, key=key).Users.get_current_user()
    name = " ".join(part for part in (profile.first_name, profile.last_name) if part)
    account = profile.account
    return Identity(
        user_id=str(int(profile.id)),
        email=profile.email or "",
        name=name,
        account_id=str(int(account.id)) if account and account.id else "",
        account_name=(account.name or "") if account else "",
    )
