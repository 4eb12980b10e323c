"""The HubSpot emulator's webhooks: subscriptions through the Webhooks API with the developer
key (hubspot-api-client's own webhooks client), deliveries of signed batches that HubSpot's
own verifier (the SDK's Signature) accepts, batches of at most 100, retries after a failure
with the next attemptNumber, and a replay for duplicate tests."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from hubspot import Client
from hubspot.utils.signature import Signature
from hubspot.webhooks import SettingsChangeRequest, SubscriptionCreateRequest, ThrottlingSettings

pytestmark = pytest.mark.django_db


class Receiver:
    """A local target URL: keeps each POST (path, headers, body) and answers `statuses` in
    turn (then 204)."""

    def __init__(self):
        self.received: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/hubspot/?v=1"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def installed(sandbox):
    """The hub's app installed in the emulator's account (a token pair of it exists)."""
    return sandbox.grant(
        "hubspot", client_id=settings.HUBSPOT_CLIENT_ID, scope="crm.objects.contacts.read"
    )


def test_subscriptions_are_made_through_the_webhooks_api_with_the_developer_key(sandbox):
    key = sandbox.control(
        "hubspot", "POST", "webhooks/developer-key", {"client_id": settings.HUBSPOT_CLIENT_ID}
    )
    sdk = Client.create(
        api_key=key["hapikey"],
        host=sandbox.url("hubspot"),
        ssl_ca_cert=str(settings.SANDBOX_CA_BUNDLE),
    )
    answer = sdk.webhooks.settings_api.configure(
        key["appId"],
        SettingsChangeRequest(
            target_url="https://hub.example.com/hooks/hubspot/",
            throttling=ThrottlingSettings(max_concurrent_requests=10),
        ),
    )
    assert answer.target_url == "https://hub.example.com/hooks/hubspot/"
    made = sdk.webhooks.subscriptions_api.create(
        key["appId"],
        SubscriptionCreateRequest(event_type="contact.propertyChange", property_name="email"),
    )
    assert made.active is False  # created paused unless said
    listed = sdk.webhooks.subscriptions_api.get_all(key["appId"]).results
    assert [(s.event_type, s.property_name) for s in listed] == [
        ("contact.propertyChange", "email")
    ]
    # A wrong key is HubSpot's 401; fewer than 5 concurrent requests a 400.
    wrong = sandbox.http.get(
        f"{sandbox.url('hubspot')}/webhooks/v3/{key['appId']}/settings",
        params={"hapikey": "nope"},
        timeout=10,
    )
    assert wrong.status_code == 401 and wrong.json()["category"] == "INVALID_AUTHENTICATION"
    low = sandbox.http.put(
        f"{sandbox.url('hubspot')}/webhooks/v3/{key['appId']}/settings",
        params={"hapikey": key["hapikey"]},
        json={"targetUrl": "https://x.example/h", "throttling": {"maxConcurrentRequests": 2}},
        timeout=10,
    )
    assert low.status_code == 400 and low.json()["category"] == "VALIDATION_ERROR"


def test_the_emulator_delivers_signed_batches_the_sdk_verifier_accepts(
    sandbox, receiver, installed
):
    sandbox.hubspot_webhooks(receiver.url, events=("creation",), properties=("firstname",))
    contacts = [{"email": f"w{i}@example.com", "lastname": f"W{i}"} for i in range(130)]
    made = sandbox.hubspot_records(type="contacts", records=contacts)["contacts"]
    edited = sandbox.hubspot_edit("contacts", made[0], {"firstname": "Ada"})
    deliveries = sandbox.hubspot_deliveries()
    events = []
    for sent in receiver.received:
        headers = sent["headers"]
        assert headers["X-HubSpot-Signature-Version"] == "v3"
        assert Signature.is_valid(
            signature=headers["X-HubSpot-Signature-v3"],
            client_secret=settings.HUBSPOT_CLIENT_SECRET,
            request_body=sent["body"].decode(),
            http_uri=receiver.url,
            http_method="POST",
            signature_version="v3",
            timestamp=headers["X-HubSpot-Request-Timestamp"],
        )
        batch = json.loads(sent["body"])
        assert 1 <= len(batch) <= 100
        events += batch
    assert len(deliveries) == len(receiver.received) >= 2  # 131 events: more than one batch
    created = [e for e in events if e["subscriptionType"] == "contact.creation"]
    assert sorted(str(e["objectId"]) for e in created) == sorted(made)
    (change,) = [e for e in events if e["subscriptionType"] == "contact.propertyChange"]
    assert change["objectId"] == int(edited["id"]) and change["propertyValue"] == "Ada"
    assert change["propertyName"] == "firstname" and change["changeSource"] == "CRM_UI"
    assert {e["attemptNumber"] for e in events} == {0}
    assert {e["appId"] for e in events} == {
        sandbox.control(
            "hubspot", "POST", "webhooks/developer-key", {"client_id": settings.HUBSPOT_CLIENT_ID}
        )["appId"]
    }
    assert len({e["eventId"] for e in events}) == len(events)


def test_a_failed_delivery_is_sent_again_with_the_next_attempt_number(sandbox, receiver, installed):
    sandbox.hubspot_webhooks(receiver.url, events=("creation",))
    receiver.statuses = [503]
    (made,) = sandbox.hubspot_records(type="companies", records=[{"name": "Retry Co"}])["companies"]
    first = sandbox.hubspot_deliveries()
    assert [d["status"] for d in first] == [503]
    sandbox.advance_clock("hubspot", 80)  # past the first retry's delay (60 s, +-20 %)
    again = sandbox.hubspot_deliveries()
    assert [d["status"] for d in again] == [503, 204]
    (event,) = json.loads(receiver.received[1]["body"])
    assert event["objectId"] == int(made) and event["attemptNumber"] == 1


def test_a_replay_sends_the_same_events_again(sandbox, receiver, installed):
    sandbox.hubspot_webhooks(receiver.url, events=("deletion",))
    company = sandbox.hubspot_rows("companies")[0]["id"]
    sandbox.hubspot_delete("companies", company)
    (sent,) = sandbox.hubspot_deliveries()
    replayed = sandbox.control("hubspot", "POST", f"webhooks/deliveries/{sent['number']}/replay")
    assert replayed["status"] == 204 and replayed["body"] == sent["body"]
    same = sandbox.control(
        "hubspot",
        "POST",
        f"webhooks/deliveries/{sent['number']}/replay",
        {"same_headers": True},
    )
    assert same["headers"] == sent["headers"]
    assert [r["body"] for r in receiver.received] == [sent["body"].encode()] * 3


def test_an_app_not_installed_in_the_account_hears_nothing(sandbox, receiver):
    sandbox.hubspot_webhooks(receiver.url, events=("creation",))
    sandbox.hubspot_records(type="companies", records=[{"name": "Quiet Co"}])
    assert sandbox.hubspot_deliveries() == [] and receiver.received == []


def test_the_sandbox_command_subscribes_the_hubs_app_to_its_receiver(settings):
    from integrations import sandbox as sandbox_module
    from integrations.sandbox import runner

    emulators = runner.build(["hubspot"])
    sandbox_module.register_hub(emulators, "http://127.0.0.1:8000")
    sandbox_module.register_hub(emulators, "http://127.0.0.1:8000")  # idempotent
    hubspot = emulators["hubspot"]
    hooks = hubspot.state["webhooks"]
    app_id = str(hubspot.app_id(settings.HUBSPOT_CLIENT_ID))
    assert hooks["settings"][app_id]["targetUrl"] == "http://127.0.0.1:8000/hooks/hubspot/"
    subscriptions = list(hooks["subscriptions"][app_id].values())
    kinds = {(s["eventType"], s.get("propertyName")) for s in subscriptions}
    assert len(kinds) == len(subscriptions) and all(s["active"] for s in subscriptions)
    assert {("contact.creation", None), ("company.deletion", None)} <= kinds
    assert ("contact.propertyChange", "firstname") in kinds
    assert ("contact.propertyChange", "lastmodifieddate") not in kinds  # read-only
