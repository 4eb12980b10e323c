"""Writes of CRM sync: `<entity>_<verb>` functions with keyword-only arguments."""

from datetime import datetime

from celery import current_app
from django.db import transaction
from django.utils import timezone

from crm.models import CrmConfig, SyncLog
from integrations.accounts.audit import audit_record
from integrations.accounts.models import User
from integrations.accounts.services import require_workspace_admin
from integrations.errors import ApplicationError, Conflict
from integrations.runs import request_run

# A run of both entities goes accounts first: a contact's account is linked by then.
ENTITY_ORDER = ("account", "contact")


def sync_request(
    *,
    config: CrmConfig,
    entity: str,
    actor: User | None,
    trigger: str = SyncLog.Trigger.BUTTON,
    dry_run: bool = False,
    action: str = "",
    queue: bool = True,
) -> SyncLog:
    """Queue a run of one entity (a dry run plans and changes nothing); a run of it going is
    a 409 naming it. Workspace admins only (actor None: the system). `queue` False: the caller
    does the run itself (the command)."""
    require_workspace_admin(actor=actor, workspace=config.workspace, doing="sync a CRM")
    if entity not in config.entities:
        raise ApplicationError(f"{config} does not sync {entity}s (it syncs: {config.entities}).")
    return request_run(
        SyncLog.objects.filter(config=config, entity=entity),
        # By the task's name (crm/tasks.py calls into this module: no import back).
        task=current_app.signature(SyncLog.run_task) if queue else None,
        action=action or ("crm.sync.dry_run" if dry_run else "crm.sync.request"),
        busy=f"A sync of {config}'s {entity}s is already going.",
        workspace=config.workspace,
        config=config,
        entity=entity,
        direction=config.sync_direction,  # the log's choices carry the config's values
        trigger=trigger,
        requested_by=actor,
        dry_run=dry_run,
    )


def retry_failed(*, log: SyncLog, actor: User | None) -> SyncLog:
    """Run the log's config and entity again: the records that failed in it were left with
    their old base and are read again by id, so this run plans them again."""
    return sync_request(
        config=log.config,
        entity=log.entity,
        actor=actor,
        trigger=SyncLog.Trigger.BUTTON if actor else SyncLog.Trigger.API,
        action="crm.sync.retry",
    )


def ordered_entities(config: CrmConfig) -> list[str]:
    return [entity for entity in ENTITY_ORDER if entity in (config.entities or [])]


def sync_due(*, now: datetime | None = None) -> dict:
    """The beat's minute: queue a run of every entity of each active config whose schedule
    came due (realtime every minute, hourly, daily at its time; manual never), and move its
    next_sync_at on. A config paused for the spent API quota resumes once its time is up; one
    paused by a person stays paused."""
    from crm import sync

    now = now or timezone.now()
    outcome = {"queued": 0, "busy": 0, "resumed": 0}
    quota_over = CrmConfig.objects.filter(
        status=CrmConfig.Status.PAUSED, resume_at__isnull=False, resume_at__lte=now
    )
    for config in quota_over:
        CrmConfig.objects.filter(pk=config.pk, status=CrmConfig.Status.PAUSED).update(
            status=CrmConfig.Status.CONNECTED, status_reason="", resume_at=None
        )
        audit_record(action="crm.config.resumed", target=config, workspace=config.workspace_id)
        outcome["resumed"] += 1
    due = (
        CrmConfig.objects.filter(
            is_active=True, status=CrmConfig.Status.CONNECTED, connection__isnull=False
        )
        .exclude(sync_frequency=CrmConfig.Frequency.MANUAL)
        .select_related("workspace")
    )
    for config in due:
        if config.next_sync_at is None and config.sync_frequency == CrmConfig.Frequency.DAILY:
            # First seen: the first run is at the configured time, not now.
            schedule_next(config, after=now)
            continue
        if config.next_sync_at is not None and config.next_sync_at > now:
            continue
        for entity in ordered_entities(config):
            try:
                sync_request(
                    config=config, entity=entity, actor=None, trigger=SyncLog.Trigger.SCHEDULE
                )
                outcome["queued"] += 1
            except Conflict:
                outcome["busy"] += 1  # the one going does the work
        CrmConfig.objects.filter(pk=config.pk).update(next_sync_at=sync.next_due(config, now))
    return outcome


def schedule_next(config: CrmConfig, *, after: datetime | None = None) -> CrmConfig:
    """Set next_sync_at from the config's frequency (none for manual): call after a change of
    frequency or time of day."""
    from crm import sync

    with transaction.atomic():
        config.next_sync_at = sync.next_due(config, after or timezone.now())
        CrmConfig.objects.filter(pk=config.pk).update(next_sync_at=config.next_sync_at)
    return config
