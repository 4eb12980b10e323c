"""Microsoft Dataverse: client credentials from Azure AD with msal's
ConfidentialClientApplication, and the Web API on our HTTP layer.

msal's constructor does network I/O (tenant discovery), so one application object is kept
per (connection, secret) per process. Our own cache decides when a new token is needed (60 s
before expiry); msal's cache, which would refresh 5 minutes early, is cleared then.

# Reference: ../shared/providers/dataverse.md ("MSAL client credentials", "MSAL discovery and
# emulator setup": instance_discovery=False for a non-Microsoft host, http_client=session);
# learn.microsoft.com WhoAmI function (Web API v9.2).
"""

import hashlib
import threading

import msal

from integrations import http, sandbox
from integrations.providers.base import Identity, ProviderSpec, TokenSet, rate_key, sandbox_mode

SPEC = ProviderSpec(
    name="dataverse",
    label="Microsoft Dataverse",
    kind="client_credentials",
    per_user=False,
    scopes=(),  # "<environment URL>/.default", from the connection
    pkce=False,
)
API_PATH = "/api/data/v9.2"
TOKEN_EARLY = 60  # seconds before expiry at which our cached token counts as expired

_apps: dict[tuple[int, str], msal.ConfidentialClientApplication] = {}
_apps_lock = threading.Lock()


def login_base() -> str:
    return sandbox.api_url("azure") if sandbox_mode() else "https://login.microsoftonline.com"


def _app(connection) -> msal.ConfidentialClientApplication:
    digest = hashlib.sha256(
        f"{connection.tenant_id}|{connection.client_id}|{connection.client_secret}".encode()
    ).hexdigest()
    key = (connection.pk, digest)
    with _apps_lock:
        app = _apps.get(key)
        if app is None:
            for stale in [k for k in _apps if k[0] == connection.pk]:
                del _apps[stale]  # the secret or tenant changed
            app = msal.ConfidentialClientApplication(
                connection.client_id,
                client_credential=connection.client_secret,
                authority=f"{login_base()}/{connection.tenant_id}",
                http_client=http.session("azure", key=rate_key(connection)),
                # A host Microsoft does not know (the sandbox) must not be looked up in
                # Microsoft's instance list; in live mode msal validates it as usual.
                instance_discovery=not sandbox_mode(),
            )
            _apps[key] = app
        return app


def forget(connection) -> None:
    with _apps_lock:
        for key in [k for k in _apps if k[0] == connection.pk]:
            del _apps[key]


def resource(connection) -> str:
    return connection.instance_url.rstrip("/")


def acquire_token(connection) -> TokenSet:
    """A new token for the connection's environment (`<environment URL>/.default`)."""
    try:
        app = _app(connection)
        app.remove_tokens_for_client()  # our cache said "expired": make msal ask, not replay
        result = app.acquire_token_for_client(scopes=[f"{resource(connection)}/.default"])
    except ValueError as exc:
        forget(connection)
        raise http.Permanent(f"Azure AD settings are not usable: {exc}", provider="azure") from None
    if "access_token" not in result:
        forget(connection)  # msal replays a failed answer for a while; start clean next time
        first_line = (
            (result.get("error_description") or "").splitlines()[0]
            if result.get("error_description")
            else ""
        )
        error = result.get("error", "error")
        raise http.Permanent(
            f"Azure AD refused the client credentials ({error}): {first_line}",
            provider="azure",
            code=error,
        )
    return TokenSet(
        access_token=result["access_token"], expires_in=int(result.get("expires_in", 3599))
    )


def whoami(connection, access_token: str) -> Identity:
    return identify(access_token, instance_url=connection.instance_url, key=rate_key(connection))


def identify(access_token: str, *, instance_url: str, key: str) -> Identity:
    response = http.session("dataverse", key=key).get(
        f"{instance_url.rstrip('/')}{API_PATH}/WhoAmI",
        headers={
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        },
    )
    if response.status_code >= 400:
        http.raise_for_status(
            response,
            provider="dataverse",
            message=f"Dataverse refused WhoAmI ({response.status_code})",
        )
    body = response.json()
    return Identity(
        user_id=body["UserId"],
        account_id=body["OrganizationId"],
        extra={"business_unit_id": body["BusinessUnitId"]},
    )


def default_environment_url() -> str:
    """The environment URL a new connection starts with (the emulator in sandbox mode)."""
    return sandbox.api_url("dataverse") if sandbox_mode() else ""
