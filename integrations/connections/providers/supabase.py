"""Supabase: a project's Data API (PostgREST, under /rest/v1) through PostgREST's official
Python client, postgrest-py. The client speaks httpx; its transport is swapped for one that
sends every request through the hub's HTTP layer (`http.session`: token bucket, retries with
Retry-After, timeouts, call counting, sandbox TLS), as hubspot.py hands the HubSpot SDK the
hub's pool. The client's own retry loop is switched off: the layer retries, once.

Why postgrest and not the `supabase` package: the hub uses the Data API only; `supabase`
brings the Auth, Storage, Realtime (websockets) and Functions clients along with the same
postgrest client underneath.

# Reference: https://supabase.com/docs/guides/api/api-keys (the `apikey` header on every
# request; legacy keys are JWTs whose `role` claim is anon or service_role; the new secret keys
# `sb_secret_...` act as service_role, publishable keys `sb_publishable_...` as anon; the
# service role bypasses row-level security and belongs on servers only).
# Reference: https://docs.postgrest.org/en/v14/references/errors.html (error bodies: code,
# message, details, hint; the statuses they come with).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import requests
from django.conf import settings

from integrations.connections import http
from integrations.connections.providers.base import sandbox_mode

if TYPE_CHECKING:
    from postgrest import SyncPostgrestClient

PROVIDER = "supabase"
REST_PATH = "/rest/v1"
SERVICE_ROLE = "service_role"
# The tables the destination writes, and the two it reads slugs from (seed Part A, "Frontend
# Compatibility": rooms are read only).
TABLES = (
    "clients",
    "events",
    "offers",
    "offer_line_items",
    "tasks",
    "emails",
    "rooms",
    "products",
)

# The hub's last raw answer in this context: postgrest-py's APIError has no status, and the
# typed error (Unauthorized, RateLimited with Retry-After...) needs it.
_last_answer: ContextVar[requests.Response | None] = ContextVar("supabase_answer", default=None)


@dataclass(frozen=True)
class Project:
    """What a call needs to reach one Supabase project: its URL, the key, and the rate-limit
    key of the destination it belongs to."""

    url: str
    key: str
    rate_key: str


def project_url(configured: str) -> str:
    """The project's base URL: the configured one live, the emulator's in sandbox mode (as
    every provider is pointed at its emulator)."""
    if sandbox_mode():
        return settings.PROVIDER_URLS["supabase_project"]
    return configured.rstrip("/")


def key_role(key: str) -> str:
    """The Postgres role a key acts as ("" when it cannot be told): read from a legacy JWT
    key's payload (not verified: the project verifies it; we only refuse a wrong kind early),
    or from a new-style key's prefix."""
    key = key.strip()
    if key.startswith("sb_secret_"):
        return SERVICE_ROLE
    if key.startswith("sb_publishable_"):
        return "anon"
    parts = key.split(".")
    if len(parts) != 3:
        return ""
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return ""
    return str(claims.get("role", "")) if isinstance(claims, dict) else ""


# Set by urllib3 from the connection it holds; httpx's values would clash.
DROPPED = frozenset({"host", "connection", "accept-encoding", "user-agent"})
# requests has decoded an answer's body already: these no longer describe it.
UNDECODED = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@cache
def _transport_class():
    """httpx's transport, sending through a session of the hub's HTTP layer. Made on first use
    with httpx: postgrest and httpx take half a second to import, which every Django process
    (web, beat, each command) would pay at start-up for a destination it may never write."""
    import httpx

    class HubTransport(httpx.BaseTransport):
        """A request (URL, headers, body: HubClient's, or httpx's built one) goes to the
        session's adapter as a prepared request, with the session's headers and what the
        environment says for its host (proxies, CA bundle: Session.request's
        merge_environment_settings, kept per host). Session.request would build it again
        (cookies merged, URL parsed, hooks): a third of the time spent in the hub's HTTP
        stack per call (bench/destination.py)."""

        def __init__(self, session: requests.Session):
            self.session = session
            self._environment: dict[str, dict] = {}

        def settings_for(self, origin: str) -> dict:
            """What the environment says for `origin` ("scheme://host:port")."""
            found = self._environment.get(origin)
            if found is None:
                found = self._environment[origin] = self.session.merge_environment_settings(
                    origin + "/", {}, None, None, None
                )
            return found

        def send(
            self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes | None
        ) -> requests.Response:
            """`method url` with `headers` (over the session's) and `body`, through the
            session; the answer is also kept for _run (postgrest's errors carry no status)."""
            prepared = requests.PreparedRequest()
            prepared.method = method
            prepared.url = url
            prepared.headers = requests.structures.CaseInsensitiveDict(self.session.headers)
            prepared.headers.update((k, v) for k, v in headers if k.lower() not in DROPPED)
            prepared.body = body or None
            prepared.hooks = {"response": []}
            scheme, _, rest = url.partition("://")
            origin = f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"
            # Straight to the session's adapter, the hub's HubAdapter (bucket, retries,
            # timeouts, counting): Session.send around it only timed the call, looked for a
            # redirect it does not follow, and read each answer's cookies into a jar the hub
            # never sends: 118 → 108 µs of CPU per call (a canned answer behind the adapter).
            adapter = self.session.get_adapter(url)
            answer = adapter.send(prepared, **self.settings_for(origin))
            _last_answer.set(answer)
            return answer

        @staticmethod
        def headers_of(answer: requests.Response) -> list[tuple[str, str]]:
            return [(k, v) for k, v in answer.headers.items() if k.lower() not in UNDECODED]

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            answer = self.send(
                request.method, str(request.url), request.headers.items(), request.read()
            )
            return httpx.Response(
                answer.status_code,
                headers=self.headers_of(answer),
                content=answer.content,
                request=request,
            )

        def close(self) -> None:
            self.session.close()

    return HubTransport


@cache
def _client_class():
    """The httpx client postgrest-py is given, on the transport above."""
    import httpx

    class Sent:
        """What an answer's `request` tells postgrest-py (the Prefer header it sent, to read a
        count): the method, the headers, and the URL (parsed only if asked for)."""

        __slots__ = ("method", "headers", "_url")

        def __init__(self, method: str, url: str, headers: httpx.Headers):
            self.method, self.headers, self._url = method, headers, url

        @property
        def url(self) -> httpx.URL:
            return httpx.URL(self._url)

    class HubClient(httpx.Client):
        """postgrest-py's calls (`request(method, url, content=, params=, headers=, auth=)`,
        the URL absolute, the body JSON already encoded) go to the transport's session as
        they come. httpx's way built a Request (the URL parsed and normalised again, the
        headers merged) and ran its auth, redirect and cookie steps around the transport (the
        cookie jar read on every answer, though the hub never uses cookies with PostgREST):
        284 µs of CPU per call against 110 this way (the network replaced by a canned
        answer), ~10 of the hub's µs per record in bench/destination.py. What is sent is the
        same (tests/integrations/sandbox/test_supabase.py compares both ways). A call of any
        other shape (a form, cookies, auth, a relative URL) goes httpx's own way."""

        def __init__(self, base: str, transport: httpx.BaseTransport):
            super().__init__(base_url=base, transport=transport, follow_redirects=False)
            self.hub = transport
            self.defaults = list(self.headers.items())

        def request(self, method, url, *, content=None, params=None, headers=None, **options):
            if (
                any(value is not None for value in options.values())
                or not isinstance(url, str)
                or not url.startswith(("https://", "http://"))
                or any(mark in url for mark in "?#@")
                or not isinstance(content, bytes | None)
            ):
                return super().request(
                    method,
                    url,
                    content=content,
                    params=params,
                    headers=headers,
                    **options,
                )
            method = method.upper()
            query = str(
                params if isinstance(params, httpx.QueryParams) else httpx.QueryParams(params)
            )
            if query:
                url = f"{url}?{query}"
            headers = headers if isinstance(headers, httpx.Headers) else httpx.Headers(headers)
            sent = [*self.defaults, *headers.items()]
            if "content-length" not in headers and "transfer-encoding" not in headers:
                if content:
                    sent.append(("Content-Length", str(len(content))))
                elif method in ("POST", "PUT", "PATCH"):
                    sent.append(("Content-Length", "0"))
            answer = self.hub.send(method, url, sent, content)
            response = httpx.Response(
                answer.status_code, headers=self.hub.headers_of(answer), content=answer.content
            )
            response.request = Sent(method, url, headers)
            return response

    return HubClient


_clients = threading.local()


def client(project: Project) -> SyncPostgrestClient:
    """The official client for one project, on the hub's HTTP layer: one per project, key and
    thread, kept while the HTTP settings it was made with hold, so the next request reuses its
    connection instead of opening one (and a TLS handshake) per request."""
    base = f"{project_url(project.url)}{REST_PATH}"
    ident = (
        base,
        hashlib.sha256(project.key.encode()).hexdigest(),
        project.rate_key,
        settings.INTEGRATIONS_MODE,
        settings.HTTP_MAX_ATTEMPTS,
        settings.HTTP_MAX_RETRY_WAIT,
        settings.HTTP_BACKOFF_BASE,
        settings.HTTP_CONNECT_TIMEOUT,
        settings.HTTP_READ_TIMEOUT,
        id(http.sandbox_tls_context()) if sandbox_mode() else None,
    )
    kept = getattr(_clients, "by_project", None)
    if kept is None:
        kept = _clients.by_project = {}
    found = kept.get(ident)
    if found is None:
        if len(kept) >= 32:
            kept.clear()  # settings changed often (tests): old clients are not wanted again
        found = kept[ident] = _new_client(base, project)
    return found


def _new_client(base: str, project: Project) -> SyncPostgrestClient:
    from postgrest import SyncPostgrestClient

    headers = {"apikey": project.key}
    if "." in project.key:
        # A legacy JWT key is also the bearer PostgREST reads the role from; the new keys
        # are not JWTs and go in `apikey` only (the gateway maps them to their role).
        headers["Authorization"] = f"Bearer {project.key}"
    transport = _transport_class()(http.session(PROVIDER, key=project.rate_key))
    session = _client_class()(base, transport)
    return SyncPostgrestClient(base, headers=headers, http_client=session, retry_enabled=False)


class Refused(http.Permanent):
    """PostgREST refused the request: its `code`, `details` and `hint` are kept apart from the
    message so pages can show them."""

    def __init__(self, message: str, *, status: int | None, code: str, details, hint):
        super().__init__(message, provider=PROVIDER, status=status, code=code)
        self.details = "" if details is None else str(details)
        self.hint = "" if hint is None else str(hint)


def _run(builder, action: str) -> list[dict]:
    from postgrest import APIError

    _last_answer.set(None)
    try:
        return list(builder.execute().data)
    except APIError as exc:
        answer = _last_answer.get()
        message = f"Supabase refused to {action}: {exc.message or 'no message'}"
        if exc.code:
            message += f" ({exc.code})"
        if exc.hint:
            message += f" Hint: {exc.hint}"
        if (
            answer is not None
            and answer.status_code in (401, 429)
            or (answer is not None and answer.status_code >= 500)
        ):
            http.raise_for_status(answer, provider=PROVIDER, message=message, code=exc.code or "")
        raise Refused(
            message,
            status=answer.status_code if answer is not None else None,
            code=exc.code or "",
            details=exc.details,
            hint=exc.hint,
        ) from None


def read(
    pg: SyncPostgrestClient,
    table: str,
    *,
    columns: str = "*",
    eq: dict | None = None,
    in_: dict | None = None,
    limit: int | None = None,
) -> list[dict]:
    """Rows of `table` matching every `eq` (column = value) and `in_` (column in values)."""
    builder = pg.from_(table).select(columns)
    for column, value in (eq or {}).items():
        builder = builder.eq(column, value)
    for column, values in (in_ or {}).items():
        builder = builder.in_(column, list(values))
    if limit is not None:
        builder = builder.limit(limit)
    return _run(builder, f"read {table}")


def insert(
    pg: SyncPostgrestClient, table: str, rows: list[dict], *, on_conflict: str = ""
) -> list[dict]:
    """Insert `rows` (one request: PostgREST takes an array), or upsert them on the unique
    column `on_conflict` (resolution=merge-duplicates); the rows as stored come back
    (return=representation), in the order sent."""
    if on_conflict:
        builder = pg.from_(table).upsert(rows, on_conflict=on_conflict)
    else:
        builder = pg.from_(table).insert(rows)
    return _run(builder, f"write {table}")


def update(pg: SyncPostgrestClient, table: str, values: dict, *, eq: dict) -> list[dict]:
    """Set `values` on the rows matching every `eq`; the rows as stored come back."""
    builder = pg.from_(table).update(values)
    for column, value in eq.items():
        builder = builder.eq(column, value)
    return _run(builder, f"update {table}")


def delete(
    pg: SyncPostgrestClient, table: str, *, eq: dict | None = None, in_: dict | None = None
) -> list[dict]:
    """Delete the rows matching every `eq` and `in_`; the rows deleted come back."""
    builder = pg.from_(table).delete()
    for column, value in (eq or {}).items():
        builder = builder.eq(column, value)
    for column, values in (in_ or {}).items():
        builder = builder.in_(column, list(values))
    return _run(builder, f"delete rows of {table}")


def probe(pg: SyncPostgrestClient, table: str) -> None:
    """One cheap read proving that `table` answers to this key (a missing table is PGRST205)."""
    _run(pg.from_(table).select("id").limit(1), f"read {table}")
