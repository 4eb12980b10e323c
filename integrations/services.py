"""Writes of the platform: audit events, workspaces and memberships, API tokens, heartbeats
and the beat schedule. Views, admin actions, commands and tasks call these, never the ORM."""

import functools
import hashlib
import json
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from integrations import context, selectors
from integrations.errors import Conflict, NotFound, PermissionDenied
from integrations.models import ApiToken, AuditEvent, Heartbeat, Membership, User, Workspace
from integrations.redaction import REDACTED, is_secret_key, redact_data, redact_text
from integrations.schedules import MANAGED_PREFIX, SCHEDULES, Schedule

# --- Audit -----------------------------------------------------------------------------------


def snapshot(instance: models.Model) -> dict:
    """The stored values of a row's concrete fields, as JSON-safe data (for audit diffs)."""
    data = {}
    for field in instance._meta.concrete_fields:
        value = field.value_from_object(instance)
        if isinstance(value, bytes | memoryview):
            value = f"<{len(value)} bytes>"
        data[field.attname] = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return data


def diff(before: dict | None, after: dict | None) -> dict:
    """{"field": {"before": old, "after": new}} for every field whose value differs."""
    before, after = before or {}, after or {}
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def _redact_changes(changes: dict) -> dict:
    return {
        field: {side: REDACTED for side in values}
        if is_secret_key(field)
        else {side: redact_data(value) for side, value in values.items()}
        for field, values in changes.items()
    }


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    workspace: Workspace | int | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Record one audit event. The request id, task id and IP come from the current origin
    (integrations.context); secrets in the diff and details are redacted before they are stored.
    Runs inside the caller's transaction, so a rolled-back change leaves no event behind."""
    origin = context.current()
    if actor is not None and not actor.is_authenticated:
        actor = None
    if actor is not None:
        actor_kind, actor_label = AuditEvent.ActorKind.USER, actor.email
    elif origin.task_id:
        actor_kind, actor_label = AuditEvent.ActorKind.JOB, origin.task_name
    else:
        actor_kind, actor_label = AuditEvent.ActorKind.SYSTEM, ""

    target_repr = ""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_repr = redact_text(str(target))[:200]
        if workspace is None:
            workspace = (
                target.pk
                if isinstance(target, Workspace)
                else getattr(target, "workspace_id", None)
            )

    return AuditEvent.objects.create(
        workspace_id=workspace.pk if isinstance(workspace, Workspace) else workspace,
        actor=actor,
        actor_kind=actor_kind,
        actor_label=actor_label[:200],
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_repr=target_repr,
        request_id=origin.request_id,
        task_id=origin.task_id,
        changes=_redact_changes(diff(before, after)),
        details=redact_data(details or {}),
        ip=origin.ip,
    )


def audited(func):
    """Marks a service that records its own audit event. While it runs, the per-row audit of
    admin saves is off, so an admin page that calls it leaves one event, not two."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        token = context.bind(model_audit=False)
        try:
            return func(*args, **kwargs)
        finally:
            context.reset(token)

    return wrapper


# --- Workspaces and memberships -----------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 2
    while Workspace.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _require_admin(*, user: User, workspace: Workspace) -> None:
    if not selectors.is_workspace_admin(user=user, workspace_id=workspace.pk):
        raise PermissionDenied("Only an admin of this workspace can do that.")


@audited
@transaction.atomic
def workspace_create(*, name: str, creator: User | None = None, slug: str = "") -> Workspace:
    """Create a workspace; its creator becomes its first admin."""
    workspace = Workspace.objects.create(name=name, slug=slug or _unique_slug(name))
    audit_record(
        action="workspace.create", actor=creator, target=workspace, after=snapshot(workspace)
    )
    if creator is not None:
        _membership_create(
            workspace=workspace, user=creator, role=Membership.Role.ADMIN, actor=creator
        )
    return workspace


@audited
@transaction.atomic
def workspace_update(*, workspace: Workspace, actor: User, name: str) -> Workspace:
    _require_admin(user=actor, workspace=workspace)
    before = snapshot(workspace)
    workspace.name = name
    workspace.full_clean()
    workspace.save(update_fields=["name"])
    audit_record(
        action="workspace.update",
        actor=actor,
        target=workspace,
        before=before,
        after=snapshot(workspace),
    )
    return workspace


def _membership_create(
    *, workspace: Workspace, user: User, role: str, actor: User | None
) -> Membership:
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise Conflict(f"{user.email} is already a member of {workspace.name}.")
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    audit_record(
        action="membership.create", actor=actor, target=membership, after=snapshot(membership)
    )
    return membership


@audited
@transaction.atomic
def membership_add(
    *, workspace: Workspace, user: User, role: str, actor: User | None
) -> Membership:
    """Add a user to a workspace. `actor` must be an admin of it (None: the system itself)."""
    if actor is not None:
        _require_admin(user=actor, workspace=workspace)
    return _membership_create(workspace=workspace, user=user, role=role, actor=actor)


def membership_invite(*, workspace: Workspace, email: str, role: str, actor: User) -> Membership:
    """Add an existing user, found by email, to a workspace."""
    _require_admin(user=actor, workspace=workspace)
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise NotFound(f"No user signs in with {email.strip()}.", code="user_not_found")
    return membership_add(workspace=workspace, user=user, role=role, actor=actor)


def _refuse_removing_the_last_admin(membership: Membership) -> None:
    # Lock the workspace's admin rows first, so two admins demoting each other at the same
    # moment cannot both see the other one still there.
    list(
        Membership.objects.select_for_update()
        .filter(workspace_id=membership.workspace_id, role=Membership.Role.ADMIN)
        .values_list("pk", flat=True)
    )
    if (
        membership.role == Membership.Role.ADMIN
        and not selectors.other_admins(membership=membership).exists()
    ):
        raise Conflict("A workspace needs at least one admin.", code="last_admin")


@audited
@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    _require_admin(user=actor, workspace=membership.workspace)
    if role != Membership.Role.ADMIN:
        _refuse_removing_the_last_admin(membership)
    before = snapshot(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action="membership.update",
        actor=actor,
        target=membership,
        before=before,
        after=snapshot(membership),
    )
    return membership


@audited
@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    if actor != membership.user:
        _require_admin(user=actor, workspace=membership.workspace)
    _refuse_removing_the_last_admin(membership)
    audit_record(
        action="membership.delete", actor=actor, target=membership, before=snapshot(membership)
    )
    membership.delete()


# --- API tokens --------------------------------------------------------------------------------

API_TOKEN_PREFIX = "hub_"


def api_token_digest(key: str) -> str:
    # The key carries 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


@audited
@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: datetime | None = None, actor: User | None = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with its key. The key is not stored: show it now or never."""
    key = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[: len(API_TOKEN_PREFIX) + 6],
        digest=api_token_digest(key),
        expires_at=expires_at,
    )
    audit_record(
        action="api_token.create",
        actor=actor or user,
        target=token,
        details={"user": user.email, "prefix": token.prefix},
    )
    return token, key


def api_token_touch(*, token: ApiToken) -> None:
    """Note that a token was used, at most once a minute (not a write per request)."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


# --- Heartbeats ----------------------------------------------------------------------------------


def heartbeat_touch(*, name: str) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})


# --- Beat schedule --------------------------------------------------------------------------------


@audited
@transaction.atomic
def periodic_tasks_sync(*, schedules: tuple[Schedule, ...] = SCHEDULES) -> dict[str, list[str]]:
    """Make django-celery-beat's rows match `schedules`. Idempotent: a second run changes
    nothing. `enabled` is never touched on an existing row, so an admin's pause survives."""
    outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "removed": []}
    for schedule in schedules:
        fields = {
            **_schedule_rows(schedule),
            "task": schedule.task,
            "kwargs": json.dumps(schedule.kwargs, sort_keys=True),
            "description": schedule.description,
        }
        task = PeriodicTask.objects.filter(name=schedule.name).first()
        if task is None:
            PeriodicTask.objects.create(name=schedule.name, **fields)
            outcome["created"].append(schedule.name)
            continue
        changed = [key for key, value in fields.items() if getattr(task, key) != value]
        if changed:
            for key in changed:
                setattr(task, key, fields[key])
            task.save()
            outcome["updated"].append(schedule.name)
        else:
            outcome["unchanged"].append(schedule.name)
    stale = PeriodicTask.objects.filter(name__startswith=MANAGED_PREFIX).exclude(
        name__in=[schedule.name for schedule in schedules]
    )
    outcome["removed"] = sorted(stale.values_list("name", flat=True))
    stale.delete()
    if outcome["created"] or outcome["updated"] or outcome["removed"]:
        audit_record(action="schedule.sync", details=outcome)
    return outcome


def _schedule_rows(schedule: Schedule) -> dict:
    if schedule.every is not None:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=int(schedule.every.total_seconds()), period=IntervalSchedule.SECONDS
        )
        return {"interval": interval, "crontab": None}
    minute, hour, day_of_month, month_of_year, day_of_week = schedule.crontab.split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=ZoneInfo(schedule.timezone),
    )
    return {"interval": None, "crontab": crontab}
