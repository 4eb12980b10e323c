"""HubSpot webhooks into the hub (crm/hooks.py, crm/webhooks.py): a signed delivery is kept
once and queues a run of a real-time config; bad signatures, stale timestamps and replays
change nothing; a run going when notifications come gets a follow-up; old rows are pruned."""

import json
import time
from datetime import timedelta
from unittest.mock import patch

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import services, sync, tasks, webhooks
from crm.models import Contact, CrmConfig, CrmLink, HubSpotWebhookEvent, SyncLog
from integrations import schedules
from integrations.connections.providers import hubspot
from integrations.connections.services import client
from integrations.sandbox.hubspot_webhooks import signature_v3
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db
URI = "http://testserver/hooks/hubspot/"


@pytest.fixture
def hs_config(sandbox, two_workspaces):
    connection = connect(
        sandbox, user=two_workspaces["a_admin"], workspace=two_workspaces["a"], provider="hubspot"
    )
    return CrmConfig.objects.create(
        workspace=two_workspaces["a"],
        provider="hubspot",
        connection=connection,
        entities=["account", "contact"],
        sync_frequency=CrmConfig.Frequency.REALTIME,
    )


@pytest.fixture
def queued(monkeypatch):
    """The (config id, entity) pairs the receiver handed to the broker."""
    sent = []
    monkeypatch.setattr(
        webhooks, "_queue", lambda config_id, entity: sent.append((config_id, entity))
    )
    return sent


def notification(config, object_id, kind="contact.propertyChange", event_id=1, **extra):
    return {
        "eventId": event_id,
        "subscriptionId": 7,
        "portalId": int(config.connection.external_account_id),
        "appId": 1234,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": int(object_id),
        "changeSource": "CRM_UI",
        **({"propertyName": "firstname", "propertyValue": "Ada"} if "property" in kind else {}),
        **extra,
    }


def deliver(events, *, age=0.0, secret=None, stamp=None):
    """POST a batch as HubSpot does: its body signed with the app's client secret."""
    body = json.dumps(events).encode()
    stamp = stamp or str(int((time.time() - age) * 1000))
    signature = signature_v3(secret or settings.HUBSPOT_CLIENT_SECRET, "POST", URI, body, stamp)
    return Client().post(
        reverse("hooks-hubspot"),
        data=body,
        content_type="application/json",
        headers={
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Signature-Version": "v3",
            "X-HubSpot-Request-Timestamp": stamp,
        },
    )


def test_a_signed_delivery_is_kept_and_queues_a_run_of_each_entity(
    hs_config, queued, no_queue, django_capture_on_commit_callbacks
):
    events = [
        notification(hs_config, 501, event_id=1),
        notification(hs_config, 601, kind="company.creation", event_id=2),
        notification(hs_config, 502, kind="contact.deletion", event_id=3),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        answer = deliver(events)
    assert answer.status_code == 200
    assert answer.json() == {
        "events": 3,
        "new": 3,
        "queued": [[hs_config.pk, "account"], [hs_config.pk, "contact"]],
    }
    assert queued == [(hs_config.pk, "account"), (hs_config.pk, "contact")]
    waiting = HubSpotWebhookEvent.objects.filter(config=hs_config, read_at__isnull=True)
    assert sorted(waiting.values_list("entity", "object_id")) == [
        ("account", "601"),
        ("contact", "501"),
        ("contact", "502"),
    ]
    # The task asks for a run (never runs it in the request); the run reads those ids by id.
    tasks.webhook_sync(hs_config.pk, "contact")
    run = SyncLog.objects.get(config=hs_config, entity="contact")
    assert run.status == SyncLog.Status.QUEUED and run.trigger == SyncLog.Trigger.SCHEDULE
    assert sync._announced(hs_config, "contact")[0] == {"501", "502"}


@pytest.mark.parametrize(
    "how", ["wrong secret", "tampered body", "no signature", "stale timestamp", "future"]
)
def test_a_delivery_not_to_be_believed_is_refused_and_nothing_is_kept(
    hs_config, queued, how, django_capture_on_commit_callbacks
):
    events = [notification(hs_config, 501)]
    with django_capture_on_commit_callbacks(execute=True):
        if how == "wrong secret":
            answer = deliver(events, secret="not-the-secret")
        elif how == "stale timestamp":
            answer = deliver(events, age=6 * 60)  # signed right, but 6 minutes old
        elif how == "future":
            answer = deliver(events, age=-6 * 60)
        else:
            body = json.dumps(events).encode()
            stamp = str(int(time.time() * 1000))
            good = signature_v3(settings.HUBSPOT_CLIENT_SECRET, "POST", URI, body, stamp)
            headers = {"X-HubSpot-Request-Timestamp": stamp}
            if how == "tampered body":
                headers["X-HubSpot-Signature-v3"] = good
                body = body.replace(b"501", b"999")
            answer = Client().post(
                reverse("hooks-hubspot"),
                data=body,
                content_type="application/json",
                headers=headers,
            )
    assert answer.status_code == 401
    expected = {
        "wrong secret": "signature_invalid",
        "tampered body": "signature_invalid",
        "no signature": "signature_missing",
        "stale timestamp": "timestamp_stale",
        "future": "timestamp_stale",
    }[how]
    assert answer.json()["error"] == expected and answer.json()["message"]
    if how == "stale timestamp":
        assert "5 minutes" in answer.json()["message"]
    assert not HubSpotWebhookEvent.objects.exists() and queued == []


def test_a_replayed_delivery_answers_2xx_and_does_nothing(
    hs_config, queued, django_capture_on_commit_callbacks
):
    events = [notification(hs_config, 501, event_id=42)]
    with django_capture_on_commit_callbacks(execute=True):
        first = deliver(events)
    retried = [{**events[0], "attemptNumber": 1}]  # HubSpot's retry of the same notification
    with django_capture_on_commit_callbacks(execute=True):
        again = deliver(events)
        retry = deliver(retried)
    assert first.json()["new"] == 1
    assert again.status_code == retry.status_code == 200
    assert again.json()["new"] == retry.json()["new"] == 0
    assert again.json()["queued"] == retry.json()["queued"] == []
    assert HubSpotWebhookEvent.objects.count() == 1 and len(queued) == 1


def test_a_config_that_is_not_realtime_keeps_the_ids_for_its_next_run(
    hs_config, queued, django_capture_on_commit_callbacks
):
    CrmConfig.objects.filter(pk=hs_config.pk).update(sync_frequency=CrmConfig.Frequency.HOURLY)
    with django_capture_on_commit_callbacks(execute=True):
        answer = deliver([notification(hs_config, 501)])
    assert answer.json()["new"] == 1 and answer.json()["queued"] == [] and queued == []
    assert sync._announced(hs_config, "contact")[0] == {"501"}


def test_notifications_of_an_unknown_account_are_answered_and_dropped(hs_config, queued):
    answer = deliver([{**notification(hs_config, 501), "portalId": 999}])
    assert answer.status_code == 200 and answer.json()["new"] == 0
    assert not HubSpotWebhookEvent.objects.exists()


def test_a_run_going_gets_a_follow_up_when_it_ends_and_never_a_second_run(
    hs_config, queued, no_queue, django_capture_on_commit_callbacks
):
    going = services.sync_request(config=hs_config, entity="contact", actor=None)
    SyncLog.objects.filter(pk=going.pk).update(
        status=SyncLog.Status.RUNNING, started_at=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        deliver([notification(hs_config, 501)])
    # No task while a run is going (after a bulk sync HubSpot's echoes came by the hundred, a
    # task each, ahead of a person's next change); had one been queued, it would find the run
    # going: no second run (the database would refuse it anyway).
    assert queued == []
    assert webhooks.webhook_sync(config_id=hs_config.pk, entity="contact") is None
    assert SyncLog.objects.filter(config=hs_config, entity="contact").count() == 1
    # The run ends (it had read nothing: the notification came after it started) ...
    SyncLog.objects.filter(pk=going.pk).update(
        status=SyncLog.Status.SUCCEEDED, finished_at=timezone.now()
    )
    going.refresh_from_db()
    follow = webhooks.webhook_follow_up(run=going)
    assert follow is not None and follow.status == SyncLog.Status.QUEUED
    assert follow.entity == "contact" and follow.pk != going.pk


def test_a_run_that_took_the_ids_and_failed_queues_no_follow_up(
    hs_config, queued, no_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deliver([notification(hs_config, 501)])
    run = services.sync_request(config=hs_config, entity="contact", actor=None)
    SyncLog.objects.filter(pk=run.pk).update(
        status=SyncLog.Status.FAILED, started_at=timezone.now(), finished_at=timezone.now()
    )
    run.refresh_from_db()
    # Its ids stay unread (the next poll reads them), but a failing run does not loop.
    assert webhooks.webhook_follow_up(run=run) is None
    assert HubSpotWebhookEvent.objects.filter(read_at__isnull=True).count() == 1


def test_old_notifications_are_pruned_by_a_daily_beat_entry(
    hs_config, queued, django_capture_on_commit_callbacks
):
    deliver([notification(hs_config, 501, event_id=1), notification(hs_config, 502, event_id=2)])
    HubSpotWebhookEvent.objects.filter(object_id="501").update(
        received_at=timezone.now() - timedelta(days=webhooks.KEEP_DAYS, hours=1)
    )
    assert tasks.webhook_prune() == 1
    assert list(HubSpotWebhookEvent.objects.values_list("object_id", flat=True)) == ["502"]
    entry = next(s for s in schedules.SCHEDULES if s.task == "crm.webhook_prune")
    assert entry.crontab and entry.name.startswith("hub.")


def test_the_receiver_takes_posts_only(db):
    assert Client().get(reverse("hooks-hubspot")).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_a_change_made_in_hubspot_arrives_in_the_hub_through_its_webhook(
    sandbox, two_workspaces, live_server, settings, queued, no_queue
):
    settings.PROVIDER_RATE_LIMITS = {
        **settings.PROVIDER_RATE_LIMITS,
        hubspot.SEARCH_LIMIT: (10_000, 1.0),
    }
    sandbox.configure("hubspot", search_per_second=10_000)
    connection = connect(
        sandbox, user=two_workspaces["a_admin"], workspace=two_workspaces["a"], provider="hubspot"
    )
    config = CrmConfig.objects.create(
        workspace=two_workspaces["a"],
        provider="hubspot",
        connection=connection,
        entities=["account", "contact"],
        sync_frequency=CrmConfig.Frequency.REALTIME,
    )
    for entity in ("account", "contact"):  # a first run links both sides
        assert sync.run_once(config, entity, client(connection))["errors"] == []
    link = CrmLink.objects.filter(config=config, entity="contact").order_by("pk").first()
    sandbox.hubspot_webhooks(
        f"{live_server.url}/hooks/hubspot/", events=("creation",), properties=("firstname",)
    )
    sandbox.configure("hubspot", search_delay=60)  # only the by-id read can see the change
    try:
        sandbox.hubspot_edit("contacts", link.remote_id, {"firstname": "Webhooked"})
        (delivered,) = sandbox.hubspot_deliveries()
        assert delivered["status"] == 200
        assert queued == [(config.pk, "contact")]  # the request queued, it did not sync
        assert Contact.objects.get(pk=link.local_id).first_name != "Webhooked"
        tasks.webhook_sync(config.pk, "contact")
        run = SyncLog.objects.get(config=config, entity="contact", status=SyncLog.Status.QUEUED)
        with patch.object(webhooks, "webhook_sync", wraps=webhooks.webhook_sync) as follow:
            tasks.sync_run(run.pk)
        run.refresh_from_db()
        assert run.status == SyncLog.Status.SUCCEEDED and run.updated == 1, run.message
        assert Contact.objects.get(pk=link.local_id).first_name == "Webhooked"
        assert not HubSpotWebhookEvent.objects.filter(read_at__isnull=True).exists()
        follow.assert_not_called()  # nothing came while it ran: no follow-up
        # The hub's own write comes back as a notification (an echo): its run reads the record,
        # finds it equal to the base and writes nothing, so nothing comes back again.
        Contact.objects.filter(pk=link.local_id).update(
            first_name="From the hub", updated_at=timezone.now()
        )
        assert sync.run_once(config, "contact", client(connection))["updated"] == 1
        echo = sandbox.hubspot_deliveries()[1:]
        assert [json.loads(d["body"])[0]["changeSource"] for d in echo] == ["INTEGRATION"]
        tasks.webhook_sync(config.pk, "contact")
        run = SyncLog.objects.get(config=config, entity="contact", status=SyncLog.Status.QUEUED)
        tasks.sync_run(run.pk)
        run.refresh_from_db()
        assert (run.status, run.created, run.updated) == (SyncLog.Status.SUCCEEDED, 0, 0)
        assert len(sandbox.hubspot_deliveries()) == 2
    finally:
        sandbox.configure("hubspot", search_delay=0, search_per_second=5)


def test_a_webhook_run_reads_the_announced_records_by_id_and_leaves_the_rest_to_the_poll(
    sandbox, hs_config, queued, no_queue, django_capture_on_commit_callbacks
):
    for entity in ("account", "contact"):  # a first run links both sides
        assert sync.run_once(hs_config, entity, client(hs_config.connection))["errors"] == []
    hs_config.refresh_from_db()
    cursors = hs_config.cursors["contact"]
    links = list(CrmLink.objects.filter(config=hs_config, entity="contact").order_by("pk")[:6])
    # A bulk change in HubSpot (inside the lookback a listing would read again), and one of its
    # records announced by a webhook.
    for n, link in enumerate(links):
        sandbox.hubspot_edit("contacts", link.remote_id, {"firstname": f"Bulk{n}"})
    with django_capture_on_commit_callbacks(execute=True):
        deliver([notification(hs_config, links[0].remote_id)])
    sandbox.clear_calls("hubspot")
    run = webhooks.webhook_sync(config_id=hs_config.pk, entity="contact")
    assert run.webhook
    tasks.sync_run(run.pk)
    run.refresh_from_db()
    assert run.status == SyncLog.Status.SUCCEEDED and run.updated == 1, run.message
    calls = sandbox.calls("hubspot")["by_endpoint"]
    assert not [name for name in calls if "search" in name], calls  # no listing: by id only
    names = [Contact.objects.get(pk=link.local_id).first_name for link in links]
    assert names[0] == "Bulk0" and not any(name.startswith("Bulk") for name in names[1:])
    hs_config.refresh_from_db()
    assert hs_config.cursors["contact"]["crm"] == cursors["crm"]  # the poll reads the rest
    assert hs_config.cursors["contact"]["hub"] == cursors["hub"]
    sync.run_once(hs_config, "contact", client(hs_config.connection))
    assert [Contact.objects.get(pk=link.local_id).first_name for link in links] == [
        f"Bulk{n}" for n in range(len(links))
    ]
