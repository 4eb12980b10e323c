"""Salesforce: OAuth web-server flow with PKCE (our own calls: simple-salesforce has no OAuth
code or refresh support), REST through simple-salesforce on our HTTP layer.

# Reference: ../shared/providers/salesforce.md (web-server flow, PKCE, token fields and
# signature, refresh without a new refresh token, revoke, INVALID_SESSION_ID, pinned API
# version); help.salesforce.com remoteaccess_oauth_web_server_flow.htm.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from integrations.connections import http
from integrations.connections.providers.base import (
    Identity,
    ProviderSpec,
    TokenSet,
    oauth_client,
    rate_key,
)

# The SDK is imported where it is used: its ~60 ms of imports would otherwise be paid by every
# process that starts Django (the web, beat, each command), most of which never call Salesforce.
if TYPE_CHECKING:
    from simple_salesforce import Salesforce
    from simple_salesforce.exceptions import SalesforceError

SPEC = ProviderSpec(
    name="salesforce",
    label="Salesforce",
    kind="oauth",
    per_user=False,
    scopes=("api", "refresh_token"),
    pkce=True,
    domains=("login", "test"),
)


def login_host(domain: str = "login", *, browser: bool = False) -> str:
    """The login host of a domain (login: production orgs, test: sandbox orgs); the one a
    browser opens differs from the API's only in sandbox mode (settings.PROVIDER_URLS)."""
    return settings.PROVIDER_URLS[f"salesforce_{domain or 'login'}{'_browser' if browser else ''}"]


def authorize_url(
    *, state: str, redirect_uri: str, code_challenge: str = "", domain: str = "login"
) -> str:
    client_id, _ = oauth_client("salesforce")
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(SPEC.scopes),
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    return f"{login_host(domain, browser=True)}/services/oauth2/authorize?{urlencode(params)}"


def _post_token(domain: str, form: dict, *, key: str, action: str) -> dict:
    response = http.session("salesforce", key=key).post(
        f"{login_host(domain)}/services/oauth2/token", data=form
    )
    if response.status_code != 200:
        body = _json(response)
        error = body.get("error", "") if isinstance(body, dict) else ""
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        http.raise_for_status(
            response,
            provider="salesforce",
            message=f"Salesforce refused to {action}: {description or error or response.status_code}",
            code=error,
        )
    return response.json()


def _json(response) -> object:
    try:
        return response.json()
    except ValueError:
        return {}


def _check_signature(body: dict, secret: str) -> None:
    # The token answer is signed: base64(HMAC-SHA256(client secret, id + issued_at)).
    expected = base64.b64encode(
        hmac.new(
            secret.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256
        ).digest()
    ).decode()
    if not hmac.compare_digest(expected, body.get("signature", "")):
        raise http.Permanent(
            "Salesforce's token answer has a bad signature",
            provider="salesforce",
            code="bad_signature",
        )


def _token_set(body: dict, refresh_token: str = "") -> TokenSet:
    identity_url = body["id"]
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token", refresh_token),
        expires_in=None,  # Salesforce does not say: the org's session timeout decides
        scopes=tuple(body.get("scope", "").split()),
        instance_url=body["instance_url"],
        identity_url=identity_url,
        account_id=urlsplit(identity_url).path.rstrip("/").split("/")[-2],
    )


def exchange_code(
    *, code: str, redirect_uri: str, code_verifier: str = "", domain: str = "login"
) -> TokenSet:
    client_id, secret = oauth_client("salesforce")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    body = _post_token(domain, form, key="oauth", action="exchange the authorization code")
    _check_signature(body, secret)
    return _token_set(body)


def refresh(connection) -> TokenSet:
    client_id, secret = oauth_client("salesforce")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": connection.refresh_token,
        "client_id": client_id,
        "client_secret": secret,
    }
    body = _post_token(
        connection.auth_domain, form, key=rate_key(connection), action="refresh the access token"
    )
    _check_signature(body, secret)
    # No new refresh token unless the org rotates them: keep the one we have.
    return _token_set(body, refresh_token=connection.refresh_token)


def revoke(connection) -> None:
    # Revoking the refresh token also ends every access token issued from it.
    token = connection.refresh_token or connection.access_token
    response = http.session("salesforce", key=rate_key(connection)).post(
        f"{login_host(connection.auth_domain)}/services/oauth2/revoke", data={"token": token}
    )
    if response.status_code != 200:
        http.raise_for_status(
            response,
            provider="salesforce",
            message="Salesforce refused to revoke the token",
            code=str(_json(response).get("error", "")),
        )


def client(*, access_token: str, instance_url: str, key: str) -> Salesforce:
    """simple-salesforce on our session. Pinned API version (SALESFORCE_API_VERSION)."""
    from simple_salesforce import Salesforce

    return Salesforce(
        instance_url=instance_url,
        session_id=access_token,
        session=http.session("salesforce", key=key),
        version=settings.SALESFORCE_API_VERSION,
    )


def sdk(connection, access_token: str) -> Salesforce:
    """The connection's simple-salesforce client (the platform's one client makes it, and a
    new one after each refresh: simple-salesforce fixes its headers at construction)."""
    return client(
        access_token=access_token, instance_url=connection.instance_url, key=rate_key(connection)
    )


def _first_error(exc: SalesforceError) -> dict:
    """The first entry of Salesforce's error array ({} when the answer was not one)."""
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0]
    return {}


def translated(action: str):
    """simple-salesforce's exceptions as the platform's: an expired session is Unauthorized
    (the one client refreshes once and calls again), the spent daily quota RateLimited with
    REQUEST_LIMIT_EXCEEDED (a pause until the quota recovers, never a retry), the rest
    Permanent with Salesforce's own code and message."""

    def wrap(function):
        def wrapped(*args, **kwargs):
            from simple_salesforce.exceptions import (
                SalesforceError,
                SalesforceExpiredSession,
                SalesforceRefusedRequest,
            )

            try:
                return function(*args, **kwargs)
            except SalesforceExpiredSession:
                raise http.Unauthorized(
                    "Salesforce: the session expired or was revoked",
                    provider="salesforce",
                    status=401,
                    code="INVALID_SESSION_ID",
                ) from None
            except SalesforceRefusedRequest as exc:
                code = str(_first_error(exc).get("errorCode", ""))
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise http.RateLimited(
                        "Salesforce: the org's daily API limit is used up",
                        provider="salesforce",
                        status=403,
                        code=code,
                    ) from None
                raise http.Permanent(
                    f"Salesforce refused to {action} ({code or exc.status})",
                    provider="salesforce",
                    status=exc.status,
                    code=code,
                ) from None
            except SalesforceError as exc:
                first = _first_error(exc)
                code, detail = str(first.get("errorCode", "")), str(first.get("message", ""))
                raise http.Permanent(
                    f"Salesforce refused to {action} ({code or exc.status})"
                    + (f": {detail}" if detail else ""),
                    provider="salesforce",
                    status=exc.status,
                    code=code,
                ) from None

        return wrapped

    return wrap


def identify(*, access_token: str, instance_url: str, user_id: str, key: str) -> Identity:
    sf = client(access_token=access_token, instance_url=instance_url, key=key)
    user = translated("read the user")(sf.User.get)(user_id)
    return Identity(
        user_id=user["Id"],
        email=user.get("Email", ""),
        name=user.get("Name", ""),
        extra={"username": user.get("Username", "")},
    )


def whoami(connection, access_token: str) -> Identity:
    return identify(
        access_token=access_token,
        instance_url=connection.instance_url,
        user_id=connection.external_user_id,
        key=rate_key(connection),
    )


def user_id_of(identity_url: str) -> str:
    return urlsplit(identity_url).path.rstrip("/").split("/")[-1]


# --- data: reads by modstamp, writes by sObject Collections ----------------------------------
# Reference: ../shared/providers/salesforce.md ("REST endpoints": query pages of at most 2,000
# with nextRecordsUrl, queryAll with IsDeleted, Collections of at most 200 with per-record
# results and allOrNone, SystemModstamp as the incremental cursor, LastModifiedDate for "edited
# at"; "simple-salesforce": query_all_iter follows nextRecordsUrl, no Collections helper, so
# restful("composite/sobjects")).

COLLECTION_SIZE = 200


def soql_datetime(moment) -> str:
    """A SOQL datetime literal (UTC, no quotes)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


# Reference: ../shared/providers/salesforce.md "REST endpoints" (a GET query's URL carries the
# SOQL; Salesforce's request-URI limit is 16,384 characters): an 18-character id in a query
# string costs 27 (quoted, percent-encoded, comma), so 300 ids per query stay well under it.
IDS_PER_QUERY = 300


def literal(value) -> str:
    """A SOQL literal: text quoted with backslash escapes (quote, backslash, newline...),
    numbers and booleans as they are, None as null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    for raw, escaped in (("\\", "\\\\"), ("'", "\\'"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = text.replace(raw, escaped)
    return f"'{text}'"


def like_literal(text: str) -> str:
    """A LIKE pattern matching `text` anywhere: its own % and _ escaped (\\% and \\_)."""
    escaped = str(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "'%" + escaped.replace("'", "\\'").replace("\n", "\\n") + "%'"


def _names(sobject: str, fields, deleted: bool) -> list[str]:
    wanted = ["Id", "SystemModstamp", "LastModifiedDate", *(["IsDeleted"] if deleted else [])]
    names = list(dict.fromkeys([*wanted, *fields]))
    bad = [name for name in [sobject, *names] if not NAME.match(name)]
    if bad:  # names come from mapping sets and describe: never text to splice into a query
        raise http.Permanent(f"not a Salesforce field or object name: {bad[0]!r}")
    return names


def read(
    sf: Salesforce, sobject: str, fields, *, since=None, deleted: bool = False, where: str = ""
) -> list:
    """The records of `sobject` (every one, or those whose SystemModstamp is after `since`),
    in SystemModstamp, Id order, each with Id, SystemModstamp, LastModifiedDate (and IsDeleted
    when `deleted`: queryAll, so records in the recycle bin come too). `where`: a further
    condition, built by the caller from `literal` values. Every page (2,000 at most each,
    followed by nextRecordsUrl) or an error: a read that fails half-way returns nothing, so no
    caller mistakes part of a listing for all of it."""
    names = _names(sobject, fields, deleted)
    conditions = [f"SystemModstamp > {soql_datetime(since)}"] if since else []
    if where:
        conditions.append(f"({where})")
    clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    query = f"SELECT {', '.join(names)} FROM {sobject}{clause} ORDER BY SystemModstamp, Id"  # noqa: S608 - names checked above
    every_page = translated(f"read {sobject} records")(list)
    return every_page(sf.query_all_iter(query, include_deleted=deleted))


def read_ids(sf: Salesforce, sobject: str, fields, ids, *, deleted: bool = False) -> list:
    """The records with these ids (those in the recycle bin too with `deleted`), one query per
    IDS_PER_QUERY ids; ids Salesforce does not have are simply not in the answer."""
    names = _names(sobject, fields, deleted)
    ids = sorted(set(ids))
    rows = []
    for start in range(0, len(ids), IDS_PER_QUERY):
        chunk = ", ".join(literal(i) for i in ids[start : start + IDS_PER_QUERY])
        query = f"SELECT {', '.join(names)} FROM {sobject} WHERE Id IN ({chunk})"  # noqa: S608 - names checked, ids quoted
        every_page = translated(f"read {sobject} records")(list)
        rows.extend(every_page(sf.query_all_iter(query, include_deleted=deleted)))
    return rows


# Reference: developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/
# sforce_api_calls_soql_select_orderby.htm and sforce_api_calls_soql_select_limit.htm.
def recent(sf: Salesforce, sobject: str, fields, n: int) -> list:
    """The `n` records of `sobject` modified last, newest first (one query of at most 200
    rows, one page): the samples a field-mapping preview shows."""
    names = _names(sobject, fields, deleted=False)
    limit = max(1, min(int(n), 200))
    query = (
        f"SELECT {', '.join(names)} FROM {sobject} ORDER BY LastModifiedDate DESC, Id LIMIT {limit}"  # noqa: S608 - names checked, the limit an int
    )
    return translated(f"read recent {sobject} records")(sf.query)(query).get("records", [])


@dataclass(frozen=True)
class Result:
    """One record's outcome in a Collections call: its id, or Salesforce's error."""

    id: str
    ok: bool
    code: str = ""
    message: str = ""


def _results(answer) -> list[Result]:
    results = []
    for item in answer:
        errors = item.get("errors") or []
        first = errors[0] if errors else {}
        results.append(
            Result(
                id=item.get("id") or "",
                ok=bool(item.get("success")),
                code=str(first.get("statusCode", "")),
                message=str(first.get("message", "")),
            )
        )
    return results


def _collection(sf: Salesforce, method: str, sobject: str, records: list[dict], action: str):
    """One sObject Collections call of up to 200 records, allOrNone false (each record
    succeeds or fails alone); results in the records' order."""
    body = {
        "allOrNone": False,
        "records": [{"attributes": {"type": sobject}, **record} for record in records],
    }
    call = translated(f"{action} {sobject} records")(sf.restful)
    return _results(call("composite/sobjects", method=method, json=body))


def create(sf: Salesforce, sobject: str, records: list[dict]) -> list[Result]:
    """Create up to 200 records in one call."""
    return _collection(sf, "POST", sobject, records, "create")


def update(sf: Salesforce, sobject: str, records: list[dict]) -> list[Result]:
    """Update up to 200 records (each with its Id) in one call."""
    return _collection(sf, "PATCH", sobject, records, "update")


def delete(sf: Salesforce, ids: list[str]) -> list[Result]:
    """Delete up to 200 records in one call, each on its own."""
    call = translated("delete records")(sf.restful)
    return _results(
        call(
            "composite/sobjects",
            method="DELETE",
            params={"ids": ",".join(ids), "allOrNone": "false"},
        )
    )


def describe(sf: Salesforce, sobject: str) -> list[dict]:
    """The object's fields as the hub offers them for mapping: name, label, type, whether a
    create must send it (createable, not nillable, no default) and whether it may be written
    on create and on update."""
    described = translated(f"describe {sobject}")(getattr(sf, sobject).describe)()
    return [
        {
            "name": field["name"],
            "label": field.get("label", field["name"]),
            "type": field.get("type", ""),
            "required": bool(field.get("createable"))
            and not field.get("nillable", True)
            and not field.get("defaultedOnCreate", False),
            "createable": bool(field.get("createable")),
            "updateable": bool(field.get("updateable")),
            "picklist": [p["value"] for p in field.get("picklistValues") or [] if p.get("active")],
        }
        for field in described.get("fields", [])
    ]


def count(sf: Salesforce, sobject: str) -> int:
    """How many records of `sobject` the org holds (one `SELECT COUNT()` query)."""
    if not NAME.match(sobject):
        raise http.Permanent(f"not a Salesforce object name: {sobject!r}")
    query = f"SELECT COUNT() FROM {sobject}"  # noqa: S608 - the name is checked above
    return int(translated(f"count {sobject} records")(sf.query)(query)["totalSize"])


def usage(sf: Salesforce) -> dict:
    """The org's API use as the last answer's Sforce-Limit-Info said it: {used, limit}."""
    found = (sf.api_usage or {}).get("api-usage")
    return {"used": found.used, "limit": found.total} if found else {}
