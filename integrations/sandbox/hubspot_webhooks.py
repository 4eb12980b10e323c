"""HubSpot's webhooks for the HubSpot emulator: the Webhooks API v3 (an app's settings, its
event subscriptions) and the deliveries themselves, POSTed to the app's target URL from a
background thread so that no CRM write waits on them.

Served (the developer API key as `?hapikey=`, as the real API takes it):
`GET/PUT/DELETE /webhooks/v3/{appId}/settings`, `GET/POST /webhooks/v3/{appId}/subscriptions`,
`GET/PATCH/DELETE /webhooks/v3/{appId}/subscriptions/{subscriptionId}` and
`POST /webhooks/v3/{appId}/subscriptions/batch/update`. Events: `contact.` / `company.`
`creation`, `propertyChange` (one per subscribed property whose value changed), `deletion`
(an archive) and `associationChange` (a contact <-> company association made through the API).
An app hears the accounts that installed it (that hold a refresh token of it).

Deliveries: a JSON array of at most 100 events a request, signed with the app's client secret
(`X-HubSpot-Signature-v3` = base64 HMAC-SHA256 of method + target URL + body + timestamp,
`X-HubSpot-Request-Timestamp` in epoch ms, `X-HubSpot-Signature-Version: v3`; the legacy v1
`X-HubSpot-Signature`, sha256 hex of secret + body, beside it). A delivery fails on a refused
connection, no answer within 5 s, or any 4xx / 5xx; its events are then sent again (their
`attemptNumber` + 1) up to 10 times over about 24 hours of the emulator's clock, each delay
jittered. One request is in flight at a time (within any `maxConcurrentRequests`, which must be
at least 5). Events wait `webhook_batch_window` seconds (config, default 0.1) so that a burst
of writes goes out in batches, as HubSpot's does.

The developer API key has no API of its own (a developer account shows it in its settings):
the control plane hands one out, `POST /_sandbox/webhooks/developer-key {"client_id"}` ->
{"hapikey", "appId"}. `GET /_sandbox/webhooks/deliveries` lists what was sent (body, headers,
answer), `POST /_sandbox/webhooks/deliveries/{n}/replay` sends one again (re-signed now, as a
duplicate HubSpot may send; `{"same_headers": true}`: byte for byte, as a replayed capture),
`POST /_sandbox/webhooks/flush` waits until nothing due is left to send.

# Reference: HubSpot/HubSpot-public-api-spec-collection
#   PublicApiSpecs/Webhooks/Webhooks/Rollouts/147891/v3/webhooks.json (facts only, its licence
#   keeps it out of here): the paths and methods above; security `developer_hapikey` (query
#   `hapikey`); SettingsChangeRequest requires targetUrl, throttling; ThrottlingSettings
#   requires maxConcurrentRequests; SettingsResponse requires createdAt, targetUrl, throttling;
#   SubscriptionCreateRequest requires eventType (the enum lists contact./company. creation,
#   deletion, propertyChange, associationChange, merge, restore, privacyDeletion, ...);
#   SubscriptionResponse requires active, createdAt, eventType, id (a string);
#   SubscriptionListResponse requires results; DELETE answers 204; batch/update takes
#   {inputs: [{id, active}]} and answers BatchResponseSubscriptionResponse (207 with errors of
#   category SUBSCRIPTION_ID_NOT_FOUND for unknown ids).
# Reference: developers.hubspot.com/docs/api/webhooks ("Webhook settings": a concurrency limit,
#   "Each request can contain up to 100 events"; maxConcurrentRequests "must be a number greater
#   than five"; period SECONDLY or ROLLING_MINUTE; new subscriptions are paused unless active;
#   "Webhook payloads": objectId, propertyName / propertyValue (property changes only),
#   changeSource, eventId ("not guaranteed to be unique"), subscriptionId, portalId, appId,
#   occurredAt (ms), subscriptionType, attemptNumber (from 0); association changes add
#   associationType, fromObjectId, toObjectId, associationRemoved, isPrimaryAssociation; the same
#   notification may come more than once, in no set order; "Retries": up to 10 times, spread
#   over the next 24 hours with randomized delays, on a failed connection, a response slower
#   than five seconds, or any 4xx / 5xx; "Limits": 1000 subscriptions per app, past it a 400).
# Reference: ../shared/providers/hubspot.md "Webhooks v3 signature" (the signed string, base64
#   HMAC-SHA256 with the client secret, timestamps older than 5 minutes refused by receivers).
# The target URL must be HTTPS at HubSpot; here a loopback http:// URL is accepted too, since
# the hub runs locally over plain HTTP (choice).
"""

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import threading
import time
from urllib.parse import urlsplit

import requests
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.hubspot_data import PROPS, SINGULAR, iso

BATCH_MAX = 100  # events a request
TIMEOUT = 5.0  # seconds HubSpot waits for an answer
MIN_CONCURRENCY = 5
SUBSCRIPTIONS_MAX = 1000
# Delays before retries 1..10 (seconds of the emulator's clock, each jittered by up to 20 %):
# 10 retries spread over about 24 hours, as documented (the exact schedule is not published).
RETRY_DELAYS = (60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 28800)
EVENT_TYPES = tuple(
    f"{obj}.{event}"
    for obj in ("contact", "company")
    for event in (
        "creation",
        "deletion",
        "propertyChange",
        "associationChange",
        "merge",
        "restore",
    )
) + ("contact.privacyDeletion",)
PERIODS = ("SECONDLY", "ROLLING_MINUTE")
KEPT_DELIVERIES = 500
# HubSpot signs the URI with these escapes decoded (request-validation docs); so do we.
DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def signed_uri(uri: str) -> str:
    for escaped, char in DECODED.items():
        uri = uri.replace(escaped, char).replace(escaped.lower(), char)
    return uri


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + signed_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HubSpotWebhooks:
    """The webhooks half of HubSpotEmulator (mixed in; uses its state, clock, config, apps,
    `api_error` and `app_id`)."""

    # --- state -----------------------------------------------------------------------------------

    def webhook_state(self) -> dict:
        return {
            "developer_keys": {},  # hapikey -> client id
            "settings": {},  # app id -> settings
            "subscriptions": {},  # app id -> {subscription id: subscription}
            "next_subscription": 1,
            "next_event": 100_001,
        }

    def _webhooks(self) -> dict:
        return self.state.setdefault("webhooks", self.webhook_state())

    def _outbox(self) -> "Outbox":
        outbox = getattr(self, "_webhook_outbox", None)
        if outbox is None:
            outbox = self._webhook_outbox = Outbox(self)
        return outbox

    # --- the events a write makes ------------------------------------------------------------------

    def _installed_apps(self) -> list[str]:
        """Client ids of the apps installed in the account (a refresh token of theirs lives)."""
        clients = {info.get("client_id") for info in self.state["refresh_tokens"].values()}
        return [cid for cid in self.state["apps"] if cid in clients]

    def _listeners(self, event_type: str, prop: str | None = None):
        """(client id, app id, subscription) of each active subscription to the event."""
        hooks = self._webhooks()
        for client_id in self._installed_apps():
            app_id = str(self.app_id(client_id))
            if app_id not in hooks["settings"]:
                continue
            for sub in hooks["subscriptions"].get(app_id, {}).values():
                if not sub["active"] or sub["eventType"] != event_type:
                    continue
                if event_type.endswith(".propertyChange") and sub.get("propertyName") != prop:
                    continue
                yield client_id, int(app_id), sub

    def webhook_record_changed(
        self, kind: str, record: dict, before: dict | None, *, source: str, deleted=False
    ) -> None:
        """Events for one record written: created (before None), its properties changed, or
        archived. `source` is HubSpot's changeSource."""
        singular = SINGULAR[kind]
        base = {"objectId": int(record["id"]), "changeSource": source}
        if deleted:
            self._announce(f"{singular}.deletion", base)
            return
        if before is None:
            self._announce(f"{singular}.creation", base)
            return
        for name, value in record["properties"].items():
            if before.get(name) != value:
                self._announce(
                    f"{singular}.propertyChange",
                    {**base, "propertyName": name, "propertyValue": value or ""},
                    prop=name,
                )

    def webhook_associated(
        self, contact: str, company: str, primary: bool, removed: bool = False
    ) -> None:
        """associationChange from each side of a contact <-> company association made (or
        removed)."""
        for singular, from_id, to_id, kind in (
            ("contact", contact, company, "CONTACT_TO_COMPANY"),
            ("company", company, contact, "COMPANY_TO_CONTACT"),
        ):
            self._announce(
                f"{singular}.associationChange",
                {
                    "objectId": int(from_id),
                    "changeSource": "INTEGRATION",
                    "associationType": kind,
                    "fromObjectId": int(from_id),
                    "toObjectId": int(to_id),
                    "associationRemoved": removed,
                    "isPrimaryAssociation": primary,
                },
            )

    def _announce(self, event_type: str, fields: dict, prop: str | None = None) -> None:
        hooks = self._webhooks()
        now = self.clock.time()
        for client_id, app_id, sub in self._listeners(event_type, prop):
            event = {
                "eventId": hooks["next_event"],
                "subscriptionId": int(sub["id"]),
                "portalId": self.state["portal"]["hub_id"],
                "appId": app_id,
                "occurredAt": int(now * 1000),
                "subscriptionType": event_type,
                "attemptNumber": 0,
                **fields,
            }
            hooks["next_event"] += 1
            window = float(self.config.get("webhook_batch_window", 0.1))
            self._outbox().add(client_id, event, due=now + window)

    # --- routes ----------------------------------------------------------------------------------

    def webhook_routes(self) -> list[Route]:
        base = "/webhooks/v3/{app_id}"
        return [
            Route(base + "/settings", self.hook_settings, methods=["GET", "PUT", "DELETE"]),
            Route(base + "/subscriptions", self.hook_subscriptions, methods=["GET", "POST"]),
            Route(base + "/subscriptions/batch/update", self.hook_batch_update, methods=["POST"]),
            Route(
                base + "/subscriptions/{subscription_id}",
                self.hook_subscription,
                methods=["GET", "PATCH", "DELETE"],
            ),
        ]

    def webhook_control_routes(self) -> list[Route]:
        return [
            Route("/_sandbox/webhooks/developer-key", self._cp_developer_key, methods=["POST"]),
            Route("/_sandbox/webhooks/deliveries", self._cp_deliveries, methods=["GET"]),
            Route(
                "/_sandbox/webhooks/deliveries/{number:int}/replay",
                self._cp_replay,
                methods=["POST"],
            ),
            Route("/_sandbox/webhooks/flush", self._cp_flush, methods=["POST"]),
        ]

    def _developer(self, request: Request) -> tuple[str | None, Response | None]:
        """The app id the request's developer key may manage, or HubSpot's refusal."""
        key = request.query_params.get("hapikey", "")
        client_id = self._webhooks()["developer_keys"].get(key)
        if client_id is None or client_id not in self.state["apps"]:
            return None, self.api_error(
                401,
                "INVALID_AUTHENTICATION",
                "The API key provided is invalid. View or manage your API key here: "
                "https://app.hubspot.com/l/api-key/",
            )
        app_id = str(self.app_id(client_id))
        if request.path_params["app_id"] != app_id:
            # UNVERIFIED / choice: another developer's app answers as not found.
            return None, self.api_error(404, "OBJECT_NOT_FOUND", "App not found for this key.")
        return app_id, None

    async def hook_settings(self, request: Request) -> Response:
        app_id, refused = self._developer(request)
        if refused:
            return refused
        hooks = self._webhooks()
        current = hooks["settings"].get(app_id)
        if request.method == "GET":
            if current is None:
                return self.api_error(404, "OBJECT_NOT_FOUND", "No webhook settings for this app.")
            return JSONResponse(current)
        if request.method == "DELETE":
            hooks["settings"].pop(app_id, None)
            self.dirty = True
            return Response(status_code=204)
        body, bad = await self._json(request)
        if bad:
            return bad
        problem = _settings_problem(body)
        if problem:
            return self._validation(problem)
        now = iso(self.clock.time())
        throttling = body["throttling"]
        hooks["settings"][app_id] = {
            "targetUrl": body["targetUrl"],
            "throttling": {
                "maxConcurrentRequests": int(throttling["maxConcurrentRequests"]),
                "period": throttling.get("period", "SECONDLY"),
            },
            "createdAt": current["createdAt"] if current else now,
            "updatedAt": now,
        }
        self.dirty = True
        return JSONResponse(hooks["settings"][app_id])

    async def hook_subscriptions(self, request: Request) -> Response:
        app_id, refused = self._developer(request)
        if refused:
            return refused
        hooks = self._webhooks()
        mine = hooks["subscriptions"].setdefault(app_id, {})
        if request.method == "GET":
            return JSONResponse({"results": list(mine.values())})
        body, bad = await self._json(request)
        if bad:
            return bad
        if not isinstance(body, dict) or body.get("eventType") not in EVENT_TYPES:
            return self._validation(
                "eventType must be one of: " + ", ".join(EVENT_TYPES),
                [{"message": "invalid eventType", "in": "eventType"}],
            )
        event_type = body["eventType"]
        prop = body.get("propertyName")
        if event_type.endswith(".propertyChange") and not prop:
            return self._validation("propertyName is required for propertyChange subscriptions")
        if len(mine) >= SUBSCRIPTIONS_MAX:
            return self.api_error(
                400,
                "VALIDATION_ERROR",
                "Couldn't create another subscription. You've reached the maximum number "
                f"allowed per application ({SUBSCRIPTIONS_MAX}).",
            )
        now = iso(self.clock.time())
        sub_id = str(hooks["next_subscription"])
        hooks["next_subscription"] += 1
        sub = {
            "id": sub_id,
            "eventType": event_type,
            "active": bool(body.get("active", False)),  # created paused unless said
            "createdAt": now,
            "updatedAt": now,
        }
        if prop and event_type.endswith(".propertyChange"):
            sub["propertyName"] = prop
        mine[sub_id] = sub
        self.dirty = True
        return JSONResponse(sub, status_code=201)

    async def hook_subscription(self, request: Request) -> Response:
        app_id, refused = self._developer(request)
        if refused:
            return refused
        mine = self._webhooks()["subscriptions"].setdefault(app_id, {})
        sub_id = request.path_params["subscription_id"]
        sub = mine.get(sub_id)
        if sub is None:
            return self.api_error(
                404,
                "OBJECT_NOT_FOUND",
                f"Failed to find subscriptions by id `{sub_id}`.",
            )
        if request.method == "GET":
            return JSONResponse(sub)
        if request.method == "DELETE":
            del mine[sub_id]
            self.dirty = True
            return Response(status_code=204)
        body, bad = await self._json(request)
        if bad:
            return bad
        if not isinstance(body, dict) or not isinstance(body.get("active", False), bool):
            return self._validation("active must be true or false")
        if "active" in body:
            sub["active"] = body["active"]
            sub["updatedAt"] = iso(self.clock.time())
            self.dirty = True
        return JSONResponse(sub)

    async def hook_batch_update(self, request: Request) -> Response:
        app_id, refused = self._developer(request)
        if refused:
            return refused
        started = self.clock.time()
        mine = self._webhooks()["subscriptions"].setdefault(app_id, {})
        body, bad = await self._json(request)
        if bad:
            return bad
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(
            isinstance(i, dict) and "id" in i and isinstance(i.get("active"), bool) for i in inputs
        ):
            return self._validation("inputs must be a list of {id, active}")
        results, missing = [], []
        for item in inputs:
            sub = mine.get(str(item["id"]))
            if sub is None:
                missing.append(str(item["id"]))
                continue
            sub["active"], sub["updatedAt"] = item["active"], iso(self.clock.time())
            results.append(sub)
        self.dirty = True
        answer = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(started),
            "completedAt": iso(self.clock.time()),
        }
        if not missing:
            return JSONResponse(answer)
        answer["numErrors"] = 1
        answer["errors"] = [
            {
                "status": "error",
                "category": "SUBSCRIPTION_ID_NOT_FOUND",
                "message": f"Failed to find subscriptions by id `{', '.join(missing)}`.",
                "context": {"subscriptionIds": missing},
                "errors": [],
                "links": {},
            }
        ]
        return JSONResponse(answer, status_code=207)

    def subscribe_app(self, client_id: str, target_url: str) -> None:
        """What a developer sets up once for the hub's app (the `sandbox` command does it for
        HUB_BASE_URL, so `make run` gets real-time HubSpot): the target URL, and active
        subscriptions to contact / company creation, deletion, association changes and changes
        of every property. Idempotent; kept subscriptions stay as they are."""
        hooks = self._webhooks()
        app_id = str(self.app_id(client_id))
        now = iso(self.clock.time())
        current = hooks["settings"].get(app_id)
        hooks["settings"][app_id] = {
            "targetUrl": target_url,
            "throttling": {"maxConcurrentRequests": 10, "period": "SECONDLY"},
            "createdAt": current["createdAt"] if current else now,
            "updatedAt": now,
        }
        mine = hooks["subscriptions"].setdefault(app_id, {})
        have = {(sub["eventType"], sub.get("propertyName")) for sub in mine.values()}
        wanted = [
            (f"{singular}.{event}", None)
            for singular in ("contact", "company")
            for event in ("creation", "deletion", "associationChange")
        ] + [
            (f"{SINGULAR[kind]}.propertyChange", name)
            for kind, props in PROPS.items()
            for name, spec in props.items()
            if not spec["modificationMetadata"]["readOnlyValue"]
        ]
        for event_type, prop in wanted:
            if (event_type, prop) in have:
                continue
            sub_id = str(hooks["next_subscription"])
            hooks["next_subscription"] += 1
            sub = {"id": sub_id, "eventType": event_type, "active": True}
            sub.update(createdAt=now, updatedAt=now)
            if prop:
                sub["propertyName"] = prop
            mine[sub_id] = sub
        self.dirty = True

    # --- control plane ---------------------------------------------------------------------------

    async def _cp_developer_key(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        client_id = body.get("client_id", "")
        if client_id not in self.state["apps"]:
            return JSONResponse({"error": f"no app {client_id!r} is registered"}, 400)
        hooks = self._webhooks()
        key = next((k for k, c in hooks["developer_keys"].items() if c == client_id), None)
        if key is None:
            key = hashlib.sha256(f"{self.seed}:{client_id}".encode()).hexdigest()[:36]
            hooks["developer_keys"][key] = client_id
            self.dirty = True
        return JSONResponse({"hapikey": key, "appId": self.app_id(client_id)})

    async def _cp_deliveries(self, request: Request) -> Response:
        return JSONResponse({"deliveries": self._outbox().listing()})

    async def _cp_replay(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        number = request.path_params["number"]
        found = await asyncio.to_thread(
            self._outbox().replay, number, bool(body.get("same_headers"))
        )
        if found is None:
            return JSONResponse({"error": f"no delivery {number}"}, 404)
        return JSONResponse(found)

    async def _cp_flush(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        idle = await asyncio.to_thread(self._outbox().wait_idle, float(body.get("timeout", 10)))
        return JSONResponse({"idle": idle, "deliveries": len(self._outbox().sent)})

    def webhooks_reset(self) -> None:
        outbox = getattr(self, "_webhook_outbox", None)
        if outbox is not None:
            outbox.clear()


def _settings_problem(body) -> str:
    if not isinstance(body, dict):
        return "Invalid input: a JSON object is required"
    target, throttling = body.get("targetUrl"), body.get("throttling")
    if not isinstance(target, str) or not target:
        return "targetUrl is required"
    parts = urlsplit(target)
    if not (parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname))):
        return "targetUrl must be an https URL"
    if not isinstance(throttling, dict):
        return "throttling is required"
    most = throttling.get("maxConcurrentRequests")
    if not isinstance(most, int) or isinstance(most, bool) or most < MIN_CONCURRENCY:
        return f"throttling.maxConcurrentRequests must be a number of at least {MIN_CONCURRENCY}"
    if throttling.get("period", "SECONDLY") not in PERIODS:
        return "throttling.period must be SECONDLY or ROLLING_MINUTE"
    return ""


class Outbox:
    """Events waiting to go out, and the thread that sends them (started on first use): due
    events of one app go in batches of at most 100, failed ones come back with their next
    attempt. Sent deliveries are kept (the last KEPT_DELIVERIES) for the control plane."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.lock = threading.Condition()
        self.pending: list[tuple[float, str, dict]] = []  # (due, client id, event)
        self.sent: list[dict] = []
        self.numbered = 0
        self.busy = False
        self.thread: threading.Thread | None = None
        self.session = requests.Session()
        self.session.trust_env = False  # the hub's own CA bundle variables are not HubSpot's

    def add(self, client_id: str, event: dict, *, due: float) -> None:
        with self.lock:
            self.pending.append((due, client_id, event))
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="hubspot-webhooks")
                self.thread.daemon = True
                self.thread.start()
            self.lock.notify_all()

    def clear(self) -> None:
        with self.lock:
            self.pending.clear()
            self.sent.clear()
            self.numbered = 0

    def listing(self) -> list[dict]:
        with self.lock:
            return [dict(d) for d in self.sent]

    def wait_idle(self, timeout: float) -> bool:
        """True once no event due within a second waits and nothing is in flight (within
        `timeout` seconds): retries scheduled later do not count."""
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                soon = self.emulator.clock.time() + 1.0
                due = any(at <= soon for at, _, _ in self.pending)
                if not due and not self.busy:
                    return True
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(min(left, 0.05))

    def _take(self) -> tuple[str, list[dict]] | None:
        """The next batch due (one app's, oldest first), removed from pending."""
        now = self.emulator.clock.time()
        due = sorted((p for p in self.pending if p[0] <= now), key=lambda p: p[0])
        if not due:
            return None
        client_id = due[0][1]
        batch = [p for p in due if p[1] == client_id][:BATCH_MAX]
        for item in batch:
            self.pending.remove(item)
        return client_id, [event for _, _, event in batch]

    def _run(self) -> None:
        while True:
            with self.lock:
                taken = self._take()
                if taken is None:
                    self.lock.wait(0.05)
                    continue
                self.busy = True
            try:
                self._deliver(*taken)
            finally:
                with self.lock:
                    self.busy = False
                    self.lock.notify_all()

    def _settings(self, client_id: str) -> tuple[dict | None, str]:
        state = self.emulator.state
        app_id = str(self.emulator.app_id(client_id))
        settings = state.get("webhooks", {}).get("settings", {}).get(app_id)
        secret = state["apps"].get(client_id, {}).get("secret", "")
        return settings, secret

    def _deliver(self, client_id: str, events: list[dict]) -> None:
        settings, secret = self._settings(client_id)
        if settings is None:
            return  # settings deleted meanwhile: subscriptions pause, events are dropped
        body = json.dumps(events, separators=(",", ":")).encode()
        record = self._post(settings["targetUrl"], secret, body, client_id)
        if record["ok"]:
            return
        clock = self.emulator.clock
        rng = self.emulator.runtime.rng
        again = []
        for event in events:
            attempt = event["attemptNumber"] + 1
            if attempt > len(RETRY_DELAYS):
                continue  # 10 retries spent: HubSpot gives up on it
            delay = RETRY_DELAYS[attempt - 1] * (1 + 0.2 * (rng.random() * 2 - 1))
            again.append((clock.time() + delay, client_id, {**event, "attemptNumber": attempt}))
        with self.lock:
            self.pending.extend(again)

    def _post(self, url: str, secret: str, body: bytes, client_id: str, headers=None) -> dict:
        if headers is None:
            stamp = str(int(self.emulator.clock.time() * 1000))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (sandbox)",
                "X-HubSpot-Signature-Version": "v3",
                "X-HubSpot-Request-Timestamp": stamp,
                "X-HubSpot-Signature-v3": signature_v3(secret, "POST", url, body, stamp),
                "X-HubSpot-Signature": hashlib.sha256(secret.encode() + body).hexdigest(),
            }
        started = time.monotonic()
        record = {
            "url": url,
            "client_id": client_id,
            "headers": headers,
            "body": body.decode(),
            "events": len(json.loads(body)),
            "sent_at": self.emulator.clock.time(),
        }
        try:
            # One connection per delivery: a kept-alive one holds a thread of the receiving
            # server (and its database session) between deliveries, past the end of a test.
            sent = {**headers, "Connection": "close"}
            answer = self.session.post(url, data=body, headers=sent, timeout=TIMEOUT)
            record["status"], record["error"] = answer.status_code, ""
            record["ok"] = 200 <= answer.status_code < 300
        except requests.RequestException as exc:
            record["status"], record["error"], record["ok"] = None, type(exc).__name__, False
        record["ms"] = round((time.monotonic() - started) * 1000, 1)
        with self.lock:
            self.numbered += 1
            record["number"] = self.numbered
            self.sent.append(record)
            del self.sent[:-KEPT_DELIVERIES]
        return record

    def replay(self, number: int, same_headers: bool) -> dict | None:
        with self.lock:
            original = next((d for d in self.sent if d["number"] == number), None)
        if original is None:
            return None
        _, secret = self._settings(original["client_id"])
        return self._post(
            original["url"],
            secret,
            original["body"].encode(),
            original["client_id"],
            headers=dict(original["headers"]) if same_headers else None,
        )
