"""Microsoft Dataverse: client credentials from Azure AD with msal's
ConfidentialClientApplication, and the Web API on our HTTP layer.

msal's constructor does network I/O (tenant discovery), so one application object is kept
per (connection, secret) per process. Our own cache decides when a new token is needed (60 s
before expiry); msal's cache, which would refresh 5 minutes early, is cleared then.

# Reference: ../shared/providers/dataverse.md ("MSAL client credentials", "MSAL discovery and
# emulator setup": instance_discovery=False for a non-Microsoft host, http_client=session);
# learn.microsoft.com WhoAmI function (Web API v9.2); "Web API basics" (OData headers, query
# options, Prefer odata.maxpagesize ≤ 5000, follow @odata.nextLink unchanged, error shape);
# learn.microsoft.com page-results and "Formatted values" (OData.Community.Display.V1.FormattedValue).
"""

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import msal
import requests
from django.conf import settings

from integrations.connections import http
from integrations.connections.providers.base import (
    Identity,
    ProviderSpec,
    TokenSet,
    rate_key,
    sandbox_mode,
)

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
    return settings.PROVIDER_URLS["azure_login"]


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


def acquire_token(connection, *, audience: str = "") -> TokenSet:
    """A new token for the connection's environment (`<environment URL>/.default`), or for
    `audience` (Project Online asks for its SharePoint host with the same Azure AD app)."""
    try:
        app = _app(connection)
        app.remove_tokens_for_client()  # our cache said "expired": make msal ask, not replay
        result = app.acquire_token_for_client(
            scopes=[f"{audience or resource(connection)}/.default"]
        )
    except ValueError as exc:
        forget(connection)
        raise http.Permanent(f"Azure AD settings are not usable: {exc}", provider="azure") from None
    except msal.exceptions.MsalServiceError as exc:
        # msal answers a 4xx with an error dict but raises on a 5xx (after our HTTP layer's
        # retries): Azure AD is failing, not refusing us.
        forget(connection)
        raise http.Unavailable(
            f"Azure AD failed to answer the token request ({exc})",
            provider="azure",
            status=502,
        ) from None
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


def headers(access_token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {access_token}",
        "Accept": "application/json",
        "OData-MaxVersion": "4.0",
        "OData-Version": "4.0",
    }


def raise_for_error(response, action: str) -> None:
    """Dataverse's error body is {"error": {"code": "0x…", "message": "…"}}; its message goes
    into the typed error (never the request, which carries the token)."""
    if response.status_code < 400:
        return
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    detail = (error.get("message") or "").splitlines()[0][:300] if error.get("message") else ""
    http.raise_for_status(
        response,
        provider="dataverse",
        message=f"Dataverse refused {action} ({response.status_code})"
        + (f": {detail}" if detail else ""),
        code=error.get("code") or "",
    )


def whoami(connection, access_token: str) -> Identity:
    return identify(access_token, instance_url=connection.instance_url, key=rate_key(connection))


def identify(access_token: str, *, instance_url: str, key: str) -> Identity:
    response = http.session("dataverse", key=key).get(
        f"{instance_url.rstrip('/')}{API_PATH}/WhoAmI", headers=headers(access_token)
    )
    raise_for_error(response, "WhoAmI")
    body = response.json()
    return Identity(
        user_id=body["UserId"],
        account_id=body["OrganizationId"],
        extra={"business_unit_id": body["BusinessUnitId"]},
    )


def default_environment_url() -> str:
    """The environment URL a new connection starts with (the emulator in sandbox mode)."""
    return settings.PROVIDER_URLS["dataverse_environment"]


# --- reading an entity set, page by page ---------------------------------------------------------

MAX_PAGE_SIZE = 5000  # Dataverse's default and maximum odata.maxpagesize
FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue"


@dataclass(frozen=True)
class Page:
    records: list[dict]
    next_link: str | None


def query_url(
    instance_url: str,
    entity_set: str,
    *,
    select: Iterable[str] = (),
    filter: str = "",
    orderby: str = "",
    top: int | None = None,
) -> str:
    """The first page's URL. Later pages come from `@odata.nextLink`, followed unchanged."""
    params = {}
    if select:
        params["$select"] = ",".join(select)
    if filter:
        params["$filter"] = filter
    if orderby:
        params["$orderby"] = orderby
    if top:
        params["$top"] = str(top)
    query = urlencode(params, quote_via=quote, safe="$,'()")
    return f"{instance_url.rstrip('/')}{API_PATH}/{entity_set}" + (f"?{query}" if query else "")


def api_session(connection) -> requests.Session:
    """One HTTP session for a run's calls, so page after page reuses its open connection."""
    return http.session("dataverse", key=rate_key(connection))


@dataclass
class Api:
    """The connection's SDK object (services.ConnectionClient): its token and one HTTP session
    for a run's calls, so page after page reuses its open connection."""

    token: str
    session: requests.Session

    def get_page(self, url: str, **options) -> "Page":
        return get_page(self.token, url, session=self.session, **options)


def sdk(connection, access_token: str) -> Api:
    return Api(access_token, api_session(connection))


def get_page(
    access_token: str,
    url: str,
    *,
    session: requests.Session,
    page_size: int = MAX_PAGE_SIZE,
    formatted_values: bool = True,
) -> Page:
    """One page of an entity set. The same `Prefer` goes with every page (the service
    requires it to keep the page size); 429 and 5xx are waited out by the HTTP layer."""
    prefer = [f"odata.maxpagesize={min(page_size, MAX_PAGE_SIZE)}"]
    if formatted_values:
        prefer.append(f'odata.include-annotations="{FORMATTED_VALUE}"')
    response = session.get(url, headers={**headers(access_token), "Prefer": ", ".join(prefer)})
    raise_for_error(response, "the query")
    body = response.json()
    return Page(records=body.get("value", []), next_link=body.get("@odata.nextLink"))


def label(record: dict, column: str) -> str:
    """The formatted value (a choice's label) Dataverse sent beside `column`, or ""."""
    return record.get(f"{column}@{FORMATTED_VALUE}") or ""
