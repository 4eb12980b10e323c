"""The emulator framework: what every provider's sandbox shares.

An `Emulator` is a Starlette app with in-memory state (JSON-safe dicts, so it can be
snapshotted), wrapped in `SandboxMiddleware`, which for every request except the control
plane: counts and logs the call by endpoint, applies injected faults (latency, 5xx, 429
storms with Retry-After, timeouts, dropped connections) and enforces the provider's rate
limit with the provider's own 429 answer. The control plane under `/_sandbox/` resets,
seeds, sets the limit, injects faults, registers OAuth redirect URIs and reports calls.

OAuth pieces (apps, codes with their PKCE challenge, access and refresh tokens, the consent
page with Approve / Deny) live here too; the flows built on them are `oauth.py`'s, and each
provider module's profile decides its URLs, token formats, lifetimes and error bodies.

Every timestamp and expiry an emulator hands out reads its `Clock`, which tests move through
`POST /_sandbox/clock` instead of sleeping. Rate-limit windows, the call log and injected
latency stay on real time: they pace clients that wait in real seconds (Retry-After, the
hub's token buckets), and benchmarks read the call log against their own real clock.
"""

import asyncio
import base64
import fnmatch
import hashlib
import html
import json
import logging
import random
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Match, Route

from integrations.sandbox import contracts

logger = logging.getLogger(__name__)

CALL_LOG_SIZE = 20_000
# The consent pages' icon, inline: the pages of every emulator share one plain-HTTP server,
# which has no /favicon.ico of its own.
CONSENT_ICON = (
    "data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
        b'<rect width="32" height="32" rx="7" fill="#9a6700"/>'
        b'<path d="M9 17l5 5 9-11" fill="none" stroke="#fff" stroke-width="3.5"/></svg>'
    ).decode()
)


class DropConnection(Exception):
    """Raised after the response has started: uvicorn then closes the socket mid-answer."""


@dataclass
class Fault:
    """One injected misbehaviour. `count` limits how many requests it hits (None: all);
    `rate` is the chance each matching request is hit."""

    kind: str  # latency | error | storm | timeout | drop
    path: str = ""  # prefix of the request path, or a glob with "*"; empty matches every path
    method: str = ""
    count: int | None = None
    rate: float = 1.0
    seconds: float = 0.0  # latency and timeout
    status: int = 503  # error
    retry_after: float | None = None  # storm (429) and error
    code: int | None = None  # error: the provider's own error code, where its errors carry one

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method:
            return False
        return (
            fnmatch.fnmatchcase(path, self.path) if "*" in self.path else path.startswith(self.path)
        )


@dataclass
class RateLimit:
    limit: int
    window: float  # seconds


@dataclass
class Caller:
    """Who a request is from, for rate limiting: a token, an org, an account."""

    key: str


@dataclass
class EmulatorRuntime:
    """Everything about an emulator that is not provider data: counters, faults, limit."""

    calls: deque = field(default_factory=lambda: deque(maxlen=CALL_LOG_SIZE))
    by_endpoint: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    faults: list[Fault] = field(default_factory=list)
    windows: dict[str, deque] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    contract: contracts.ContractLog = field(default_factory=contracts.ContractLog)


class Clock:
    """The emulator's idea of now: real time plus an offset that tests set. Time keeps
    flowing from a set instant (writes a second apart still get stamps a second apart)."""

    def __init__(self):
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def set(self, moment: datetime) -> None:
        self.offset = moment.timestamp() - time.time()

    def real(self) -> None:
        self.offset = 0.0

    def stamp(self) -> str:
        """Now as the providers' ISO 8601 UTC timestamps, in whole seconds."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time()))


def json_error(body: Any, status: int, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def new_token(prefix: str = "", length: int = 32) -> str:
    return prefix + secrets.token_urlsafe(length)[:length]


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


class Emulator:
    """Base class of one provider's emulator. Subclasses set `name`, `title`, the default
    rate limit, and implement `initial_state`, `api_routes`, `rate_limited`, `caller`,
    and the fault bodies `error_response` / `storm_response`."""

    name = "emulator"
    title = "Emulator"
    default_limit = RateLimit(limit=1000, window=60)
    # Paths under these prefixes are API calls (counted against the rate limit when a
    # caller is known); the rest (OAuth pages, token endpoint) are only counted.
    api_prefixes: tuple[str, ...] = ()

    def __init__(self, *, seed: int = 0, config: dict | None = None):
        self.config = dict(config or {})
        # Contract checks of every exchange (contracts.py): on in the test suite's sandbox and
        # under `manage.py sandbox --strict`; off by default, as they cost (bodies are kept).
        self.checking = False
        self.seed = seed
        self.state: dict = {}
        self.clock = Clock()
        self.runtime = EmulatorRuntime()
        self.limit = RateLimit(self.default_limit.limit, self.default_limit.window)
        self.dirty = False
        # The body of the last reset while no request other than reading the counters and
        # the contract findings has reached the emulator since (SandboxMiddleware clears it).
        self.untouched_since: str | None = None
        self.reset(seed)

    # --- to override ------------------------------------------------------------------------

    def initial_state(self, seed: int) -> dict:
        return {"apps": {}, "codes": {}, "tokens": {}, "refresh_tokens": {}, "users": {}}

    def api_routes(self) -> list[Route]:
        return []

    def weight(self, request: Request) -> int:
        """How many requests this one counts as against the limit (Smartsheet: an upload is 10)."""
        return 1

    def caller(self, request: Request) -> Caller | None:
        """The rate-limit key of an API request (None: not limited)."""
        token = bearer_token(request)
        return Caller(key=hashlib.sha256(token.encode()).hexdigest()[:16]) if token else None

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return json_error(
            {"message": "Rate limit exceeded."}, 429, {"Retry-After": str(int(retry_after))}
        )

    def error_response(self, request: Request, status: int, code: int | None = None) -> Response:
        return json_error({"message": "Internal error"}, status)

    def storm_response(self, request: Request, retry_after: float | None) -> Response:
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
        return json_error({"message": "Rate limit exceeded."}, 429, headers)

    def extra_headers(self, request: Request, status: int) -> dict[str, str]:
        """Headers every answer carries (Salesforce's Sforce-Limit-Info, HubSpot's limits)."""
        return {}

    def route_error(self, request: Request, status: int, allowed: list[str]) -> Response:
        """The answer to a path no route serves (404) or to a method the path does not take
        (405; `allowed` lists the methods it does take). Each provider answers these with its
        own JSON error, so a client's error handling meets the real shape; the `Allow` header
        of a 405 is added by the caller."""
        message = "Not Found" if status == 404 else f"Method {request.method} is not allowed"
        return json_error({"message": message}, status)

    # --- lifecycle ----------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.seed = seed
        self.clock.real()  # before the seed: seeded data is stamped at real time
        self.state = self.initial_state(self.seed)
        self.runtime = EmulatorRuntime(rng=random.Random(self.seed))
        self.limit = RateLimit(self.default_limit.limit, self.default_limit.window)
        self.dirty = True

    def load(self, state: dict) -> None:
        self.state = state

    def app(self) -> Starlette:
        routes = self.control_routes() + self.api_routes()
        # Starlette's router raises HTTPException(404 / 405) for what no route serves; its
        # default answer is plain text, which no provider sends.
        handlers = {404: self._unrouted, 405: self._unrouted}
        application = Starlette(routes=routes, exception_handlers=handlers)
        application.add_middleware(SandboxMiddleware, emulator=self, routes=routes)
        return application

    async def _unrouted(self, request: Request, exc: HTTPException) -> Response:
        allow = (exc.headers or {}).get("Allow", "")
        allowed = sorted({method.strip() for method in allow.split(",") if method.strip()})
        response = self.route_error(request, exc.status_code, allowed)
        if response.status_code == 405 and "allow" not in response.headers:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    # --- rate limit ------------------------------------------------------------------------------

    def take(self, key: str, now: float, weight: int = 1) -> float:
        """Count a request of `weight` units for `key`; return 0 if allowed, else seconds until
        it would be. A sliding window: at most `limit` units within any `window` seconds."""
        window = self.runtime.windows.setdefault(key, deque())
        while window and window[0] <= now - self.limit.window:
            window.popleft()
        if len(window) + weight > self.limit.limit:
            return max(0.001, window[0] + self.limit.window - now) if window else self.limit.window
        window.extend([now] * weight)
        return 0.0

    # --- OAuth helpers ---------------------------------------------------------------------------

    def register_app(self, client_id: str, secret: str, redirect_uris: list[str] = ()) -> dict:
        app = self.state["apps"].setdefault(client_id, {"secret": secret, "redirect_uris": []})
        app["secret"] = secret or app["secret"]
        for uri in redirect_uris:
            if uri not in app["redirect_uris"]:
                app["redirect_uris"].append(uri)
        self.dirty = True
        return app

    def issue_code(self, **record) -> str:
        code = new_token(length=40)
        record.setdefault("expires_at", self.clock.time() + self.config.get("code_ttl", 600))
        self.state["codes"][code] = record
        self.dirty = True
        return code

    def take_code(self, code: str) -> dict | None:
        """A code is good once: taking it removes it whatever happens next."""
        record = self.state["codes"].pop(code, None)
        self.dirty = True
        if record is None or record["expires_at"] < self.clock.time():
            return None
        return record

    def issue_tokens(
        self, *, ttl: float | None, refresh: bool = True, refresh_token: str = "", **info
    ) -> dict:
        access = self.make_access_token(info)
        now = self.clock.time()
        self.state["tokens"][access] = {
            **info,
            "issued_at": now,
            "expires_at": now + ttl if ttl else None,
        }
        if refresh:
            refresh_token = refresh_token or self.make_refresh_token()
            self.state["refresh_tokens"][refresh_token] = {**info, "access_token": access}
        self.dirty = True
        return {"access_token": access, "refresh_token": refresh_token if refresh else ""}

    def make_access_token(self, info: dict) -> str:
        """A new access token; `info` is what it grants, for tokens that carry claims."""
        return new_token(length=32)

    def make_refresh_token(self) -> str:
        return new_token(length=32)

    def token_info(self, token: str | None) -> tuple[dict | None, str]:
        """(info, "") for a live token, or (None, "missing" | "invalid" | "expired")."""
        if not token:
            return None, "missing"
        info = self.state["tokens"].get(token)
        if info is None:
            return None, "invalid"
        if info["expires_at"] is not None and info["expires_at"] < self.clock.time():
            return None, "expired"
        return info, ""

    def revoke_access(self, token: str) -> bool:
        self.dirty = True
        return self.state["tokens"].pop(token, None) is not None

    def revoke_refresh(self, refresh_token: str) -> bool:
        record = self.state["refresh_tokens"].pop(refresh_token, None)
        if record is None:
            return False
        self.state["tokens"].pop(record.get("access_token", ""), None)
        self.dirty = True
        return True

    # --- the consent page ------------------------------------------------------------------------

    def consent_page(
        self, request: Request, *, app_name: str, scopes: list[str], users: list[dict]
    ) -> HTMLResponse:
        """A login-and-consent screen: pick a seeded user, then Approve or Deny. The form posts
        back to the same URL with the same query string."""
        options = "".join(
            f'<option value="{html.escape(str(u["id"]))}">{html.escape(u["name"])} &lt;{html.escape(u["email"])}&gt;</option>'
            for u in users
        )
        scope_items = (
            "".join(f"<li>{html.escape(s)}</li>" for s in scopes) or "<li>(default access)</li>"
        )
        # Phone-sized too (the popup may be a phone's tab), with an icon of its own so the
        # browser does not ask this server for /favicon.ico.
        page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="{CONSENT_ICON}">
<title>{html.escape(self.title)} – authorize {html.escape(app_name)}</title>
<style>*{{box-sizing:border-box}} body{{font:15px system-ui,sans-serif;max-width:30rem;margin:3rem auto;padding:0 1rem;color:#1f2328;overflow-wrap:anywhere}}
.box{{border:1px solid #d0d7de;border-radius:8px;padding:1.5rem}} button{{padding:.5rem 1.2rem;font:inherit;margin:0 .5rem .5rem 0}}
select{{display:block;width:100%;max-width:100%;margin-top:.25rem;padding:.4rem;font:inherit}}
.sandbox{{color:#9a6700;font-size:.85em}} @media (max-width:30rem){{body{{margin:1rem auto}} .box{{padding:1rem}}}}</style></head><body><div class="box">
<p class="sandbox">{html.escape(self.title)} sandbox — no real account is used.</p>
<h1>Allow {html.escape(app_name)}?</h1>
<form method="post">
<label>Sign in as <select name="user_id">{options}</select></label>
<p>{html.escape(app_name)} will be able to:</p><ul>{scope_items}</ul>
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></div></body></html>"""
        return HTMLResponse(page)

    def error_page(self, message: str, status: int = 400) -> HTMLResponse:
        return HTMLResponse(
            '<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, '
            f'initial-scale=1"><link rel="icon" href="{CONSENT_ICON}"></head>'
            f"<body><h1>{html.escape(self.title)}</h1>"
            f'<p id="error">{html.escape(message)}</p></body></html>',
            status_code=status,
        )

    @staticmethod
    def redirect(uri: str, params: dict) -> RedirectResponse:
        separator = "&" if "?" in uri else "?"
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return RedirectResponse(f"{uri}{separator}{query}", status_code=302)

    # --- control plane ------------------------------------------------------------------------------

    def control_routes(self) -> list[Route]:
        return [
            Route("/_sandbox/reset", self._cp_reset, methods=["POST"]),
            Route("/_sandbox/seed", self._cp_reset, methods=["POST"]),
            Route("/_sandbox/calls", self._cp_calls, methods=["GET", "DELETE"]),
            Route("/_sandbox/rate-limit", self._cp_rate_limit, methods=["GET", "PUT"]),
            Route("/_sandbox/faults", self._cp_faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sandbox/apps", self._cp_apps, methods=["POST"]),
            Route("/_sandbox/tokens/expire", self._cp_expire, methods=["POST"]),
            Route("/_sandbox/tokens", self._cp_tokens, methods=["POST"]),
            Route("/_sandbox/config", self._cp_config, methods=["GET", "PUT"]),
            Route("/_sandbox/state", self._cp_state, methods=["GET"]),
            Route("/_sandbox/clock", self._cp_clock, methods=["GET", "POST"]),
            Route("/_sandbox/contract", self._cp_contract, methods=["GET"]),
        ]

    async def _body(self, request: Request) -> dict:
        raw = await request.body()
        return json.loads(raw) if raw else {}

    async def _cp_reset(self, request: Request) -> Response:
        return JSONResponse(self.reset_from(await self._body(request)))

    def reset_from(self, body: dict) -> dict:
        """A control-plane reset: {"seed", "config", "apps": [bodies of POST /_sandbox/apps],
        "unless_untouched"}. A test suite resets every emulator before each test, and none of
        the re-seeding happens for an emulator nothing reached since the same reset. (Also
        what the sandbox server's one-call reset of every emulator runs: runner.py.)"""
        key = json.dumps(body, sort_keys=True)
        if body.get("unless_untouched") and self.untouched_since == key:
            return {"reset": False, "seed": self.seed, "untouched": True}
        self.reset(body.get("seed", self.seed))
        self.config.update(body.get("config", {}))
        for app in body.get("apps", []):
            self.register_from(app)
        self.untouched_since = key
        return {"reset": True, "seed": self.seed, "summary": self.summary()}

    async def _cp_calls(self, request: Request) -> Response:
        runtime = self.runtime
        if request.method == "DELETE":
            runtime.calls.clear()
            runtime.by_endpoint.clear()
            runtime.by_status.clear()
            return JSONResponse({"cleared": True})
        since = float(request.query_params.get("since", 0))
        log = [call for call in runtime.calls if call["t"] >= since]
        return JSONResponse(
            {
                "total": sum(runtime.by_endpoint.values()),
                "by_endpoint": dict(runtime.by_endpoint),
                "by_status": {str(k): v for k, v in runtime.by_status.items()},
                "log": log[-int(request.query_params.get("limit", 5000)) :],
            }
        )

    async def _cp_rate_limit(self, request: Request) -> Response:
        if request.method == "PUT":
            body = await self._body(request)
            self.limit = RateLimit(int(body["limit"]), float(body["window"]))
            self.runtime.windows.clear()
        return JSONResponse({"limit": self.limit.limit, "window": self.limit.window})

    async def _cp_faults(self, request: Request) -> Response:
        if request.method == "POST":
            body = await self._body(request)
            self.runtime.faults.append(Fault(**body))
        elif request.method == "DELETE":
            self.runtime.faults.clear()
        return JSONResponse({"faults": [vars(f) for f in self.runtime.faults]})

    async def _cp_apps(self, request: Request) -> Response:
        return JSONResponse(self.register_from(await self._body(request)))

    def register_from(self, body: dict) -> dict:
        """An app registered from a control-plane body; what the answer says of it."""
        app = self.register_app(
            body["client_id"], body.get("client_secret", ""), body.get("redirect_uris", [])
        )
        return {"client_id": body["client_id"], "redirect_uris": app["redirect_uris"]}

    async def _cp_expire(self, request: Request) -> Response:
        body = await self._body(request)
        now = self.clock.time()
        expired = 0
        for token, info in self.state["tokens"].items():
            if body.get("all") or token == body.get("token"):
                info["expires_at"] = now - 1
                expired += 1
        self.dirty = True
        return JSONResponse({"expired": expired})

    async def _cp_tokens(self, request: Request) -> Response:
        """A token pair for a registered app and a seeded user in one call, without the consent
        page and the code exchange: for tests whose subject is not the OAuth flow itself. The
        tokens are issued exactly as the provider's grant issues them (same store, lifetime,
        refresh, revoke, introspection and limits); the answer adds the identity the provider's
        who-am-i would give. Body: {"client_id", "scope"?, "user"?} (user: a seeded user's id;
        default the first one, whom the consent page offers first)."""
        body = await self._body(request)
        client_id = body.get("client_id", "")
        if client_id not in self.state["apps"]:
            return json_error({"error": f"no app {client_id!r} is registered"}, 400)
        users = self.state["users"]
        user_id = str(body.get("user") or next(iter(users), ""))
        if user_id not in users:
            return json_error({"error": f"no seeded user {user_id!r}"}, 400)
        scope = body.get("scope", "")
        scopes = scope.split() if isinstance(scope, str) else list(scope)
        try:
            answer = self.grant_tokens(client_id=client_id, user_id=user_id, scopes=scopes)
        except ValueError as exc:
            return json_error({"error": str(exc)}, 400)
        return JSONResponse(answer)

    def grant_tokens(self, *, client_id: str, user_id: str, scopes: list[str]) -> dict:
        """Issue a token pair as the provider's authorization-code grant would, and return
        {"access_token", "refresh_token", "expires_in", "scopes", "user_id", "email", "name",
        "account_id", "account_name", "instance_url", "identity_url"}. Emulators with an OAuth
        flow override it; ValueError refuses (e.g. a scope the provider does not know)."""
        raise ValueError(f"{self.title} issues no tokens through the control plane")

    async def _cp_config(self, request: Request) -> Response:
        if request.method == "PUT":
            self.config.update(await self._body(request))
        return JSONResponse(self.config)

    async def _cp_clock(self, request: Request) -> Response:
        """Move the emulator's clock: {"advance": seconds} (may be negative), {"set": an ISO
        8601 instant with its offset} or {"real": true}. Answers the clock's now."""
        if request.method == "POST":
            body = await self._body(request)
            try:
                if body.get("real"):
                    self.clock.real()
                elif "set" in body:
                    moment = datetime.fromisoformat(str(body["set"]).replace("Z", "+00:00"))
                    if moment.tzinfo is None:
                        raise ValueError("the instant needs its UTC offset")
                    self.clock.set(moment)
                elif "advance" in body:
                    self.clock.advance(float(body["advance"]))
                else:
                    raise ValueError('give "advance", "set" or "real"')
            except (TypeError, ValueError) as exc:
                return json_error({"error": str(exc)}, 400)
        return JSONResponse(
            {"now": self.clock.stamp(), "epoch": self.clock.time(), "offset": self.clock.offset}
        )

    async def _cp_contract(self, request: Request) -> Response:
        return JSONResponse(self.contract_report())

    def contract_report(self) -> dict:
        """{"checking", "exchanges", "validated", "unpublished", "violation_count",
        "violations"} since the last reset; all zero while checking is off."""
        return {"checking": self.checking, **self.runtime.contract.as_dict()}

    async def _cp_state(self, request: Request) -> Response:
        return JSONResponse(self.summary())

    def summary(self) -> dict:
        return {
            key: len(value) for key, value in self.state.items() if isinstance(value, dict | list)
        }


def route_path(request: Request) -> str:
    """The request's path inside the emulator's app (without the browser server's `/<name>`
    mount prefix)."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _endpoint(routes: list[Route], scope: dict) -> str:
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return f"{scope['method']} {route.path}"
    return f"{scope['method']} {scope['path']}"


# Control-plane requests that leave an emulator as it was (a reset itself included: it sets
# what it leaves). Every other request, an API call or a control one, marks it touched.
READS_ONLY = {
    ("POST", "/_sandbox/reset"),
    ("GET", "/_sandbox/calls"),
    ("GET", "/_sandbox/contract"),
}


class SandboxMiddleware:
    """Counting, faults and rate limiting around every emulator request (see module doc)."""

    def __init__(self, app, emulator: Emulator, routes: list[Route]):
        self.app = app
        self.emulator = emulator
        self.routes = routes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and (scope["method"], scope["path"]) not in READS_ONLY:
            self.emulator.untouched_since = None  # anything else may change its state
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        emulator, runtime = self.emulator, self.emulator.runtime
        request = Request(scope, receive)
        endpoint = _endpoint(self.routes, scope)
        started = time.time()
        record = {
            "t": started,
            "endpoint": endpoint,
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1")[:500],
            "status": None,
            "agent": request.headers.get("user-agent", ""),
            "change_agent": request.headers.get("smartsheet-change-agent"),
        }
        runtime.calls.append(record)
        runtime.by_endpoint[endpoint] += 1
        status_holder = {}
        kept = _Kept(request.headers.get("content-type", "")) if emulator.checking else None
        if kept is not None:
            # Read before any handler: an answer given without reading the body (a 4004, a
            # 429, a fault) still has its request checked.
            receive = await kept.receiving(receive)

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                extra = emulator.extra_headers(request, message["status"])
                if extra:
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    added = [
                        (k.lower().encode(), v.encode())
                        for k, v in extra.items()
                        if k.lower().encode() not in present
                    ]
                    message = {**message, "headers": [*message.get("headers", []), *added]}
            if kept is not None:
                kept.sent(message)
            await send(message)

        try:
            response = await self._intercept(request, scope)
            if response is not None:
                await response(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        except DropConnection:
            status_holder["status"] = "dropped"
            raise
        finally:
            status = status_holder.get("status", 0)
            record["status"] = status
            record["ms"] = round((time.time() - started) * 1000, 1)
            runtime.by_status[status] += 1
            if scope["method"] not in ("GET", "HEAD"):
                emulator.dirty = True
            if kept is not None and isinstance(status, int) and status:
                # After the answer is sent: the check costs the caller nothing.
                self._check(runtime, scope, kept, status)

    def _check(self, runtime: EmulatorRuntime, scope, kept: "_Kept", status: int) -> None:
        exchange = contracts.Exchange(
            method=scope["method"],
            path=route_path(Request(scope)),
            query=scope.get("query_string", b"").decode("latin-1"),
            request_type=kept.request_type,
            request_body=bytes(kept.request_body),
            status=status,
            response_type=kept.response_type,
            response_body=bytes(kept.response_body),
        )
        outcome = contracts.check(self.emulator.name, exchange)
        runtime.contract.add(outcome)
        for violation in outcome.violations:
            logger.warning(
                "contract violation: %s %s %s %s=%s: %s",
                violation.provider,
                violation.operation,
                violation.direction,
                violation.field,
                violation.value,
                violation.message,
            )

    async def _intercept(self, request: Request, scope) -> Response | None:
        emulator, runtime = self.emulator, self.emulator.runtime
        method, path = scope["method"], scope["path"]
        for fault in list(runtime.faults):
            if not fault.matches(method, path) or runtime.rng.random() >= fault.rate:
                continue
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    runtime.faults.remove(fault)
            if fault.kind == "latency":
                await asyncio.sleep(fault.seconds)
                continue
            if fault.kind == "timeout":
                await asyncio.sleep(fault.seconds or 3600)
                continue
            if fault.kind == "error":
                return emulator.error_response(request, fault.status, fault.code)
            if fault.kind == "storm":
                return emulator.storm_response(request, fault.retry_after)
            if fault.kind == "drop":
                return _Dropped()
        if any(path.startswith(prefix) for prefix in emulator.api_prefixes):
            caller = emulator.caller(request)
            if caller is not None:
                wait = emulator.take(caller.key, time.time(), emulator.weight(request))
                if wait:
                    return emulator.rate_limited(request, wait)
        return None


def _replay(messages: list, receive):
    pending = list(messages)

    async def replayed():
        return pending.pop(0) if pending else await receive()

    return replayed


class _Kept:
    """An exchange's bodies, kept for the contract checks: JSON and form bodies only (an
    upload's bytes say nothing a schema checks, and may be 25 MB)."""

    def __init__(self, request_type: str):
        self.request_type = request_type
        self.request_body = bytearray()
        self.response_type = ""
        self.response_body = bytearray()

    @staticmethod
    def _wanted(content_type: str) -> bool:
        kind = contracts.media_type(content_type)
        return contracts.is_json(kind) or kind == "application/x-www-form-urlencoded"

    async def receiving(self, receive):
        """Read a JSON or form body now; return a `receive` that hands it on as one message."""
        if not self._wanted(self.request_type):
            return receive
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([message], receive)
            self.request_body += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = {"type": "http.request", "body": bytes(self.request_body), "more_body": False}
        return _replay([body], receive)

    def sent(self, message) -> None:
        if message["type"] == "http.response.start":
            for name, value in message.get("headers", []):
                if name.lower() == b"content-type":
                    self.response_type = value.decode("latin-1")
        elif message["type"] == "http.response.body" and self._wanted(self.response_type):
            self.response_body += message.get("body", b"")


class _Dropped(Response):
    """Starts an answer, then drops the connection before its body."""

    def __init__(self):
        super().__init__(status_code=200, headers={"content-length": "64"})

    async def __call__(self, scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise DropConnection("sandbox fault: connection dropped")
