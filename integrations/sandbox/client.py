"""A client of the emulators' control planes, for tests and benchmarks: reset, counters,
faults, limits, token expiry, the emulators' clocks, tokens granted in one call, and the
consent page a person would click through."""

import re
import time
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings

from integrations import sandbox

KEEP_ALIVE_SECONDS = 2  # well inside the server's 5 s


class SandboxClient:
    """The running emulators, driven the way tests and benchmarks must: over HTTP, through
    each emulator's control plane (never by reaching into its memory)."""

    def __init__(self, server):
        self.server = server
        # One keep-alive session per running server, whatever the number of clients: a test
        # makes a client, and a new session's TLS handshakes to seven emulators (each parsing
        # the CA bundle again) cost more than the test's own calls.
        self.http = getattr(server, "control_session", None)
        if self.http is None:
            self.http = server.control_session = requests.Session()
            self.http.trust_env = False
            self.http.verify = str(settings.SANDBOX_CA_BUNDLE)

    def url(self, name: str) -> str:
        return f"https://{self.server.host}:{self.server.ports[name]}"

    def control(self, name: str, verb: str, path: str, body: dict | None = None):
        return self._request(verb, self.url(name), path, body)

    def _request(self, verb: str, base: str, path: str, body: dict | None):
        # The emulators' server closes a connection idle for 5 s (uvicorn's keep-alive): a
        # request sent on one it is closing meets "Remote end closed connection". Connections
        # idle for a while are dropped here first, so only fresh ones are reused.
        now = time.monotonic()
        if now - getattr(self.server, "control_used_at", now) > KEEP_ALIVE_SECONDS:
            self.http.close()
        self.server.control_used_at = now
        response = self.http.request(verb, f"{base}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def control_all(self, verb: str, path: str, body: dict | None = None):
        """The server's control plane of every emulator at once (reset, contract), on its
        plain HTTP port: one call where one per emulator took ten (runner.py)."""
        return self._request(
            verb, f"http://{self.server.host}:{self.server.ports['browser']}", path, body
        )

    def reset(self, hub_base_url: str | None = None, *, unless_untouched: bool = False) -> None:
        """Every emulator back to seed 0 with the hub's apps registered, in one call.
        `unless_untouched`: an emulator that nothing reached since the same reset keeps its
        state as it is (the suite's per-test reset: most tests use one emulator or none)."""
        apps = {
            name: [app]
            for name, app in sandbox.hub_registrations(hub_base_url).items()
            if name in self.server.emulators
        }
        apps["azure"] = [
            {
                "tenant_id": sandbox.DATAVERSE_TENANT_ID,
                "client_id": sandbox.DATAVERSE_CLIENT_ID,
                "client_secret": sandbox.DATAVERSE_CLIENT_SECRET,
            }
        ]
        bodies = {}
        for name in self.server.emulators:
            bodies[name] = {"seed": 0, "apps": apps.get(name, [])}
            if unless_untouched:
                bodies[name]["unless_untouched"] = True
        self.control_all("POST", "reset", {"emulators": bodies})

    def calls(self, name: str) -> dict:
        return self.control(name, "GET", "calls")

    def count(self, name: str, endpoint: str) -> int:
        return self.calls(name)["by_endpoint"].get(endpoint, 0)

    def contracts(self) -> dict[str, dict]:
        """Every emulator's `contract(name)`, by name, in one call."""
        return self.control_all("GET", "contract")

    def contract(self, name: str) -> dict:
        """What the emulator's contract checks found since its last reset: {"exchanges",
        "validated", "unpublished", "violation_count", "violations": [{provider, operation,
        direction, field, value, message}]} (integrations/sandbox/contracts)."""
        return self.control(name, "GET", "contract")

    def clear_calls(self, name: str) -> None:
        self.control(name, "DELETE", "calls")

    def set_limit(self, name: str, limit: int, window: float) -> None:
        self.control(name, "PUT", "rate-limit", {"limit": limit, "window": window})

    def fault(self, name: str, **fault) -> None:
        self.control(name, "POST", "faults", fault)

    def expire_tokens(self, name: str) -> None:
        self.control(name, "POST", "tokens/expire", {"all": True})

    def advance_clock(self, name: str | None, seconds: float) -> None:
        """Move one emulator's clock (every emulator's with None) `seconds` ahead: its token
        expiries and timestamps move, its rate-limit windows do not. A reset sets it back."""
        for each in [name] if name else self.server.emulators:
            self.control(each, "POST", "clock", {"advance": seconds})

    def configure(self, name: str, **config) -> None:
        self.control(name, "PUT", "config", config)

    def grant(self, name: str, *, client_id: str, scope: str = "", user: str = "") -> dict:
        """A token pair and the user's identity in one control-plane call, issued as the
        provider's own grant would (for tests whose subject is not the consent flow)."""
        body = {"client_id": client_id, "scope": scope}
        if user:
            body["user"] = user
        return self.control(name, "POST", "tokens", body)

    def salesforce_records(self, name: str = "salesforce", **body) -> dict[str, list[str]]:
        """Add rows to a Salesforce org: {"accounts": n, "contacts": n, "seed": s} (realistic,
        the same for the same seed) or {"sobject": ..., "records": [{field: value}]}. Answers
        the new ids by object."""
        return self.control(name, "POST", "records", body)

    def salesforce_edit(
        self,
        record_id: str,
        fields: dict | None = None,
        *,
        user: str = "",
        system: bool = False,
        name: str = "salesforce",
    ) -> dict:
        """Change a row as another Salesforce user would (default: the org's last seeded user,
        not the one the hub signs in as): LastModifiedDate, LastModifiedById and SystemModstamp
        move. `system`: an automated update, only SystemModstamp moves. Answers the row."""
        body = {"fields": fields or {}, "system": system}
        if user:
            body["user"] = user
        return self.control(name, "PATCH", f"records/{record_id}", body)

    def salesforce_delete(self, record_id: str, *, user: str = "", name: str = "salesforce"):
        """Move a row to the recycle bin as another Salesforce user would."""
        suffix = f"?user={user}" if user else ""
        return self.control(name, "DELETE", f"records/{record_id}{suffix}")

    def hubspot_records(self, **body) -> dict[str, list[str]]:
        """Add rows to the HubSpot account: {"companies": n, "contacts": n, "seed": s}
        (realistic, the same for the same seed, searchable at once) or {"type": "contacts",
        "records": [{property: value}]}. Answers the new ids by type."""
        return self.control("hubspot", "POST", "records", body)

    def hubspot_rows(self, object_type: str) -> list[dict]:
        """Every row of `companies` or `contacts` as stored, archived ones too."""
        return self.control("hubspot", "GET", f"records?type={object_type}")["records"]

    def hubspot_edit(self, object_type: str, object_id: str, properties: dict) -> dict:
        """Change a row as a HubSpot user would: its last-modified property moves."""
        body = {"properties": properties}
        return self.control("hubspot", "PATCH", f"records/{object_type}/{object_id}", body)

    def hubspot_delete(self, object_type: str, object_id: str) -> dict:
        """Archive a row as a HubSpot user would."""
        return self.control("hubspot", "DELETE", f"records/{object_type}/{object_id}")

    def hubspot_webhooks(
        self,
        target_url: str,
        *,
        client_id: str = "",
        events: tuple[str, ...] = ("creation", "deletion"),
        properties: tuple[str, ...] = (),
        objects: tuple[str, ...] = ("contact", "company"),
    ) -> dict:
        """Point the hub's HubSpot app (`client_id`, default the hub's) at `target_url` and
        subscribe it, active, to each object's `events` and to changes of `properties`, as a
        developer does: a developer API key from the control plane (HubSpot shows it in the
        developer account; no API gives it), then the Webhooks API's own paths with it.
        Answers {"appId", "hapikey", "subscriptions": [ids]}."""
        client_id = client_id or settings.HUBSPOT_CLIENT_ID
        key = self.control("hubspot", "POST", "webhooks/developer-key", {"client_id": client_id})
        base = f"{self.url('hubspot')}/webhooks/v3/{key['appId']}"
        params = {"hapikey": key["hapikey"]}
        settings_body = {
            "targetUrl": target_url,
            "throttling": {"maxConcurrentRequests": 10, "period": "SECONDLY"},
        }
        self.http.put(
            f"{base}/settings", params=params, json=settings_body, timeout=10
        ).raise_for_status()
        wanted = [{"eventType": f"{o}.{e}"} for o in objects for e in events] + [
            {"eventType": f"{o}.propertyChange", "propertyName": p}
            for o in objects
            for p in properties
        ]
        made = []
        for body in wanted:
            answer = self.http.post(
                f"{base}/subscriptions", params=params, json={**body, "active": True}, timeout=10
            )
            answer.raise_for_status()
            made.append(answer.json()["id"])
        return {"appId": key["appId"], "hapikey": key["hapikey"], "subscriptions": made}

    def hubspot_deliveries(self, *, flush: bool = True) -> list[dict]:
        """The webhook requests the HubSpot emulator sent (oldest first), once nothing due is
        left to send (`flush`)."""
        if flush:
            self.control("hubspot", "POST", "webhooks/flush", {"timeout": 10})
        return self.control("hubspot", "GET", "webhooks/deliveries")["deliveries"]

    def consent(self, authorize_url: str, *, approve: bool = True, user_index: int = 0) -> dict:
        """Do what a person does on the consent page; return the redirect's query."""
        browser = requests.Session()
        browser.trust_env = False
        page = browser.get(authorize_url, timeout=10)
        if page.status_code != 200:
            raise RuntimeError(f"consent page answered {page.status_code}: {page.text[:300]}")
        user_id = re.findall(r'<option value="([^"]+)"', page.text)[user_index]
        answer = browser.post(
            authorize_url,
            data={"user_id": user_id, "decision": "approve" if approve else "deny"},
            allow_redirects=False,
            timeout=10,
        )
        if answer.status_code != 302:
            raise RuntimeError(f"consent answered {answer.status_code}: {answer.text[:300]}")
        return {
            key: values[0]
            for key, values in parse_qs(urlsplit(answer.headers["Location"]).query).items()
        }
