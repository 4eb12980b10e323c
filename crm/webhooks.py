"""Real-time CRM sync by HubSpot webhooks: what the receiver (crm/hooks.py) and the tasks call.

A delivery is believed only with a fresh, valid v3 signature (the HubSpot app's client
secret). Its notifications are kept once each (`HubSpotWebhookEvent`, unique per account,
subscription and eventId: a replay or a retry of one adds nothing) for the configs of the
account they come from (portalId = the connection's account id) that sync the entity. The
request only writes those rows and queues a task (`crm.webhook_sync`) per config and entity:
HubSpot waits five seconds for an answer and then sends the batch again, so nothing slow runs
in it. The task asks for an incremental run; the run reads the announced records by id
(search lags writes: a search-based read could miss them) beside its usual incremental read,
and marks them read once its cursors are saved.

Which configs react at once: active, connected, "realtime" ones. The others keep the ids and
their next scheduled (or manual) run reads them. While a run of the config and entity is going,
the task asks for nothing (the database allows one active run) and the run, as it ends, queues
a follow-up when notifications came in after it had started (`webhook_follow_up`): ids are
never lost and two runs never go at once. A notification of the hub's own write (an echo) is
read like any other and found equal to the link's base: no change, nothing written, no loop.
"""

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from crm import services
from crm.models import CrmConfig, HubSpotWebhookEvent, SyncLog
from integrations.connections.models import Connection
from integrations.connections.providers import hubspot_webhooks
from integrations.errors import Conflict

logger = logging.getLogger(__name__)

ENTITIES = {"contact": "contact", "company": "account"}
# Kept this long: a copy HubSpot sends again (its retries span 24 hours) still meets its row.
KEEP_DAYS = 3
WEBHOOK_TASK = "crm.webhook_sync"


def _reacts(config: CrmConfig) -> bool:
    return (
        config.is_active
        and config.status == CrmConfig.Status.CONNECTED
        and config.connection_id is not None
        and config.sync_frequency == CrmConfig.Frequency.REALTIME
    )


def _configs_of(portal_ids) -> dict[int, list[CrmConfig]]:
    """The HubSpot configs of each account (portal), through their connections."""
    found: dict[int, list[CrmConfig]] = {}
    configs = CrmConfig.objects.filter(
        provider=CrmConfig.Provider.HUBSPOT,
        connection__external_account_id__in=[str(p) for p in portal_ids],
    ).exclude(connection__status=Connection.Status.REVOKED)
    for config in configs.select_related("connection"):
        found.setdefault(int(config.connection.external_account_id), []).append(config)
    return found


def webhook_receive(*, body: bytes, headers, uri: str, method: str = "POST") -> dict:
    """Take one HubSpot delivery: verify it (hubspot_webhooks.Refused when it is not to be
    believed: nothing is stored), keep each new notification for the configs of its account
    that sync its entity, and queue the real-time configs' runs once committed. Answers
    {"events", "new", "queued": [[config id, entity], ...]}."""
    hubspot_webhooks.verify(
        method=method,
        uri=uri,
        body=body,
        headers=headers,
        secret=settings.HUBSPOT_CLIENT_SECRET,
    )
    events = hubspot_webhooks.parse(body)
    configs = _configs_of({event.portal_id for event in events})
    rows = []
    for event in events:
        entity = ENTITIES.get(event.object_type)
        if entity is None or not event.object_id:
            continue
        for config in configs.get(event.portal_id, []):
            if entity in (config.entities or []):
                rows.append(
                    HubSpotWebhookEvent(
                        workspace_id=config.workspace_id,
                        config=config,
                        entity=entity,
                        portal_id=event.portal_id,
                        subscription_id=event.subscription_id,
                        event_id=event.event_id,
                        subscription_type=event.subscription_type,
                        object_id=event.object_id,
                        change_source=event.change_source,
                        occurred_at=event.occurred_at,
                    )
                )
    by_id = {c.pk: c for found in configs.values() for c in found}
    queued: list[list] = []
    with transaction.atomic():
        seen = set(
            HubSpotWebhookEvent.objects.filter(
                config_id__in=by_id, event_id__in={r.event_id for r in rows}
            ).values_list("config_id", "portal_id", "subscription_id", "event_id")
        )
        new = []
        for row in rows:
            key = (row.config_id, row.portal_id, row.subscription_id, row.event_id)
            if key not in seen:  # a copy (a retry, a replay) adds nothing
                seen.add(key)
                new.append(row)
        # A copy arriving at the same moment loses at the constraint, quietly.
        HubSpotWebhookEvent.objects.bulk_create(new, ignore_conflicts=True)
        for config_id, entity in sorted({(r.config_id, r.entity) for r in new}):
            if _reacts(by_id[config_id]):
                queued.append([config_id, entity])
                transaction.on_commit(lambda c=config_id, e=entity: _queue_unless_busy(c, e))
    return {"events": len(events), "new": len(new), "queued": queued}


def _queue_unless_busy(config_id: int, entity: str) -> None:
    """Queue a run's request unless a run of the config's entity is queued or going: a queued
    one reads these notifications when it starts, a going one has its follow-up queued as it
    ends (tasks.sync_run), so another task would only find it busy. After a bulk sync HubSpot
    announces each record the hub wrote (its echoes): hundreds of deliveries, which queued a
    task each ahead of a person's next change (seconds to tens of seconds of backlog)."""
    active = (SyncLog.Status.QUEUED, SyncLog.Status.RUNNING)
    if not SyncLog.objects.filter(config_id=config_id, entity=entity, status__in=active).exists():
        _queue(config_id, entity)


def _queue(config_id: int, entity: str) -> None:
    try:
        # No publish retries: the request must answer within HubSpot's five seconds. A broker
        # that is down loses nothing: the rows wait for the config's one-minute poll.
        current_app.signature(WEBHOOK_TASK).apply_async((config_id, entity), retry=False)
    except OperationalError as exc:
        logger.warning("webhook run of config %s %s not queued: %s", config_id, entity, exc)


def webhook_sync(*, config_id: int, entity: str) -> SyncLog | None:
    """The task's body: an incremental run of the config's entity, if the config still reacts
    and announced records wait; None when nothing is to do or a run is going (that run queues
    a follow-up as it ends)."""
    config = CrmConfig.objects.select_related("workspace").filter(pk=config_id).first()
    if config is None or not _reacts(config) or entity not in (config.entities or []):
        return None
    if not HubSpotWebhookEvent.objects.filter(
        config=config, entity=entity, read_at__isnull=True
    ).exists():
        return None  # a run read them meanwhile
    try:
        return services.sync_request(
            config=config,
            entity=entity,
            actor=None,
            trigger=SyncLog.Trigger.SCHEDULE,
            action="crm.sync.webhook",
            webhook=True,
        )
    except Conflict:
        return None


def webhook_follow_up(*, run: SyncLog) -> SyncLog | None:
    """After a run: when notifications for its config and entity came in after it started and
    are unread, queue the next run (a real-time config only). Those it took and could not
    finish wait for the next poll instead, so a failing run never loops."""
    if run.dry_run or run.started_at is None:
        return None
    waiting = HubSpotWebhookEvent.objects.filter(
        config_id=run.config_id,
        entity=run.entity,
        read_at__isnull=True,
        received_at__gt=run.started_at,
    )
    if not waiting.exists():
        return None
    return webhook_sync(config_id=run.config_id, entity=run.entity)


def webhook_events_prune(*, now=None) -> int:
    """Delete the notifications older than KEEP_DAYS (the beat's daily entry); answers how many."""
    cutoff = (now or timezone.now()) - timedelta(days=KEEP_DAYS)
    deleted, _ = HubSpotWebhookEvent.objects.filter(received_at__lt=cutoff).delete()
    return deleted
