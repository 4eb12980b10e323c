"""Writes of the platform: audit events, workspaces and memberships, API tokens, heartbeats
and the beat schedule. Views, admin actions, commands and tasks call these, never the ORM."""

import functools
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from integrations import context, http, providers, selectors
from integrations.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from integrations.models import (
    ApiToken,
    AuditEvent,
    Connection,
    Heartbeat,
    Membership,
    OAuthState,
    User,
    Workspace,
)
from integrations.providers import dataverse
from integrations.providers.base import Identity, TokenSet, rate_key
from integrations.redaction import REDACTED, is_secret_key, redact_data, redact_text
from integrations.schedules import MANAGED_PREFIX, SCHEDULES, Schedule

logger = logging.getLogger(__name__)

# --- Audit -----------------------------------------------------------------------------------


def _jsonable(value):
    """Plain JSON data (dates as ISO strings, decimals as strings), as a JSONField stores it."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(instance: models.Model) -> dict:
    """The stored values of a row's concrete fields, as JSON-safe data (for audit diffs)."""
    data = {}
    for field in instance._meta.concrete_fields:
        value = field.value_from_object(instance)
        if isinstance(value, bytes | memoryview):
            value = f"<{len(value)} bytes>"
        data[field.attname] = _jsonable(value)
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
        field: {
            side: REDACTED if value not in (None, "") else value for side, value in values.items()
        }
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
        details=_jsonable(redact_data(details or {})),
        ip=origin.ip,
    )


# Every @audited service, by dotted name: the services that change state. The role tests
# (tests/integrations/test_roles.py) hold a row for each, so a new one without a test fails.
AUDITED_SERVICES: dict[str, Callable] = {}


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

    AUDITED_SERVICES[f"{func.__module__}.{func.__qualname__}"] = wrapper
    return wrapper


# --- Workspaces and memberships -----------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 2
    while Workspace.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


# --- Who may do what ------------------------------------------------------------------------------
# The services are the boundary: an admin action, a page or an API view that forgets to check
# still cannot let a member do an admin's work. `actor=None` is the system itself (beat, a
# worker, a management command); every request passes its signed-in user.


def require_workspace_admin(
    *, actor: User | None, workspace: Workspace, doing: str = "do that"
) -> None:
    if actor is not None and not selectors.is_workspace_admin(
        user=actor, workspace_id=workspace.pk
    ):
        raise PermissionDenied(f"Only an admin of {workspace.name} can {doing}.")


def require_workspace_member(
    *, actor: User | None, workspace: Workspace, doing: str = "do that"
) -> None:
    if actor is not None and not (
        actor.is_superuser or selectors.workspace_list(user=actor).filter(pk=workspace.pk).exists()
    ):
        raise PermissionDenied(f"Only a member of {workspace.name} can {doing}.")


def may_connect(*, user: User, workspace: Workspace, provider: str) -> bool:
    """Personal connections are anyone's own; workspace connections are for its admins."""
    if providers.get(provider).SPEC.per_user:
        return selectors.workspace_list(user=user).filter(pk=workspace.pk).exists()
    return selectors.is_workspace_admin(user=user, workspace_id=workspace.pk)


def require_connection_manager(
    *, actor: User | None, connection: Connection, doing: str = "change this connection"
) -> None:
    """A personal connection is its owner's to manage; any connection is its workspace
    admins'."""
    if actor is None or (connection.user_id is not None and connection.user_id == actor.pk):
        return
    require_workspace_admin(actor=actor, workspace=connection.workspace, doing=doing)


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
    require_workspace_admin(actor=actor, workspace=workspace)
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
    require_workspace_admin(actor=actor, workspace=workspace, doing="add members")
    return _membership_create(workspace=workspace, user=user, role=role, actor=actor)


def membership_invite(*, workspace: Workspace, email: str, role: str, actor: User) -> Membership:
    """Add an existing user, found by email, to a workspace."""
    require_workspace_admin(actor=actor, workspace=workspace)
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
    require_workspace_admin(actor=actor, workspace=membership.workspace)
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
        require_workspace_admin(actor=actor, workspace=membership.workspace)
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
    if actor is not None and actor != user and not actor.is_superuser:
        raise PermissionDenied("An API token is made by its own user (or a superuser).")
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
    now = timezone.now()
    Heartbeat.objects.update_or_create(
        name=name,
        defaults={"at": now, "beats": F("beats") + 1},
        create_defaults={"at": now, "beats": 1},
    )


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


# --- Connections -------------------------------------------------------------------------------

TOKEN_EARLY = timedelta(seconds=60)  # a token this close to expiry is refreshed before use
REFRESH_AHEAD = timedelta(minutes=15)  # the beat task refreshes tokens expiring this soon
REFRESH_IDLE = timedelta(hours=24)  # and every refresh token at least this often


class ConnectionUnusable(ApplicationError):
    status_code = 409
    code = "connection_unusable"


def _expiring(connection: Connection, within: timedelta) -> bool:
    return connection.expires_at is not None and connection.expires_at - timezone.now() <= within


def _apply_tokens(connection: Connection, tokens: TokenSet) -> None:
    now = timezone.now()
    connection.access_token = tokens.access_token
    if tokens.refresh_token:
        connection.refresh_token = tokens.refresh_token
    connection.expires_at = (
        now + timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
    )
    connection.refreshed_at = now
    if tokens.scopes:
        connection.scopes = list(tokens.scopes)
    if tokens.instance_url:
        connection.instance_url = tokens.instance_url


def _public(connection: Connection) -> dict:
    """What an audit diff may show of a connection: everything but the secrets' values."""
    data = snapshot(connection)
    for field_name in ("access_token", "refresh_token", "client_secret"):
        data[field_name] = "set" if data.get(field_name) else ""
    return data


@audited
@transaction.atomic
def connection_connect(
    *,
    workspace: Workspace,
    provider: str,
    actor: User,
    tokens: TokenSet,
    identity: Identity,
    domain: str = "",
) -> Connection:
    """Store the outcome of an OAuth consent: a new connection, or the same one renewed."""
    spec = providers.get(provider).SPEC
    if not may_connect(user=actor, workspace=workspace, provider=provider):
        raise PermissionDenied(f"Only an admin of {workspace.name} can connect {spec.label}.")
    owner = actor if spec.per_user else None
    connection = Connection.objects.select_for_update().filter(
        workspace=workspace, provider=provider, user=owner
    ).first() or Connection(workspace=workspace, provider=provider, user=owner)
    before = _public(connection) if connection.pk else None
    _apply_tokens(connection, tokens)
    connection.auth_domain = domain
    connection.external_user_id = identity.user_id
    connection.external_email = identity.email
    connection.external_account_id = identity.account_id or tokens.account_id
    connection.label = identity.account_name or identity.email or identity.user_id
    connection.status = Connection.Status.CONNECTED
    connection.last_error = ""
    connection.last_error_at = None
    connection.connected_by = actor
    connection.connected_at = timezone.now()
    connection.save()
    http.charge(provider, rate_key(connection))  # the identity call made with these tokens
    audit_record(
        action="connection.connect",
        actor=actor,
        target=connection,
        before=before,
        after=_public(connection),
    )
    return connection


@audited
@transaction.atomic
def connection_create_client_credentials(
    *,
    workspace: Workspace,
    actor: User,
    tenant_id: str,
    client_id: str,
    client_secret: str,
    instance_url: str,
    label: str = "",
) -> Connection:
    """A Microsoft (Azure AD -> Dataverse) connection. Test it before syncing with it."""
    require_workspace_admin(actor=actor, workspace=workspace)
    connection, _ = Connection.objects.select_for_update().get_or_create(
        workspace=workspace, provider=Connection.Provider.DATAVERSE, user=None
    )
    before = _public(connection)
    connection.tenant_id, connection.client_id = tenant_id.strip(), client_id.strip()
    connection.client_secret = client_secret
    connection.instance_url = instance_url.rstrip("/")
    connection.label = label or connection.instance_url
    connection.access_token, connection.expires_at = "", None
    connection.status = Connection.Status.CONNECTED
    connection.connected_by, connection.connected_at = actor, timezone.now()
    connection.save()
    dataverse.forget(connection)
    audit_record(
        action="connection.connect",
        actor=actor,
        target=connection,
        before=before,
        after=_public(connection),
    )
    return connection


@audited
@transaction.atomic
def connection_set_requires_approval(
    *, connection: Connection, actor: User | None, required: bool
) -> Connection:
    """Turn the approval gate on or off for writes planned through this connection."""
    require_workspace_admin(
        actor=actor, workspace=connection.workspace, doing="decide which writes wait for approval"
    )
    locked = Connection.objects.select_for_update().get(pk=connection.pk)
    if locked.requires_approval != required:
        before = _public(locked)
        locked.requires_approval = required
        locked.save(update_fields=["requires_approval", "updated_at"])
        audit_record(
            action="connection.requires_approval",
            actor=actor,
            target=locked,
            before=before,
            after=_public(locked),
        )
    connection.requires_approval = required
    return locked


def _usable(connection: Connection) -> None:
    if connection.status == Connection.Status.PAUSED:
        raise ConnectionUnusable(f"{connection} is paused; resume it to use it.")
    if connection.status == Connection.Status.REVOKED or not (
        connection.access_token or connection.client_secret
    ):
        raise ConnectionUnusable(f"{connection} is not connected; connect it again.")


def access_token(connection: Connection) -> str:
    """A token that is good for at least another minute: refreshed first if need be (and the
    caller's `connection` then holds the new one)."""
    _usable(connection)
    if not connection.access_token or _expiring(connection, TOKEN_EARLY):
        connection_refresh(connection=connection, seen_token=connection.access_token)
    return connection.access_token


class ConnectionClient:
    """One client per connection: the only way code calls a provider with a connection's
    token. It owns the current token, the provider's SDK object made from it (each provider
    module's `sdk(connection, token)`: the Smartsheet SDK, a Dataverse session…) and the single
    refresh on a 401. Callers pass a function of the client; no caller keeps a token of its
    own or reads one back out of an SDK."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self._module = providers.get(connection.provider)
        self._token = ""
        self._sdk = None

    @property
    def token(self) -> str:
        token = access_token(self.connection)
        if token != self._token:
            self._token, self._sdk = token, None  # an SDK object carries the old one
        return token

    @property
    def sdk(self):
        token = self.token
        if self._sdk is None:
            self._sdk = self._module.sdk(self.connection, token)
        return self._sdk

    def call(self, function):
        """`function(self)`; on Unauthorized refresh once and call once more. A 401 means the
        request was refused, so repeating even a POST is safe; concurrent callers holding the
        same refused token cause one refresh (connection_refresh)."""
        seen = self.token
        try:
            return function(self)
        except http.Unauthorized:
            connection_refresh(connection=self.connection, seen_token=seen)
            return function(self)


def client(connection: Connection) -> ConnectionClient:
    return ConnectionClient(connection)


def connection_refresh(
    *, connection: Connection, seen_token: str | None = None, actor: User | None = None
) -> Connection:
    """Get a new access token. Serialized per connection across processes: the row is locked
    (PostgreSQL) or the write lock is taken at BEGIN (SQLite, IMMEDIATE transactions), and a
    caller holding `seen_token` finds the work done if someone refreshed while it waited —
    so any number of concurrent callers with the same expired token cause one refresh. The
    caller's `connection` is given the new tokens.
    A failure sets status `error` with the reason, and is raised after that is saved."""
    require_connection_manager(actor=actor, connection=connection, doing="refresh its tokens")
    failure = None
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        if seen_token is not None and locked.access_token and locked.access_token != seen_token:
            _adopt_tokens(connection, locked)
            return locked  # refreshed by someone else while we waited for the lock
        if locked.status == Connection.Status.REVOKED:
            # Disconnected stays disconnected: only a new consent (or new client
            # credentials) brings it back, never a refresh or a resume.
            raise ConnectionUnusable(f"{locked} is disconnected; connect it again.")
        module = providers.get(locked.provider)
        try:
            if module.SPEC.kind == "client_credentials":
                tokens = module.acquire_token(locked)
            else:
                if not locked.refresh_token:
                    raise http.Permanent(
                        f"{module.SPEC.label} gave no refresh token; connect again",
                        provider=locked.provider,
                    )
                tokens = module.refresh(locked)
        except http.ProviderError as exc:
            failure = exc
            locked.status = Connection.Status.ERROR
            locked.last_error = f"Refresh failed: {exc.message}"[:2000]
            locked.last_error_at = timezone.now()
            locked.save(update_fields=["status", "last_error", "last_error_at", "updated_at"])
            audit_record(
                action="connection.refresh_failed",
                actor=actor,
                target=locked,
                details={"error": exc.message},
            )
            logger.warning("refresh of connection %s failed: %s", locked.pk, exc.message)
        else:
            _apply_tokens(locked, tokens)
            if locked.status == Connection.Status.ERROR:
                locked.status = Connection.Status.CONNECTED
            locked.save()
            audit_record(
                action="connection.refresh",
                actor=actor,
                target=locked,
                details={"expires_at": locked.expires_at},
            )
    if failure is not None:
        raise failure
    _adopt_tokens(connection, locked)
    return locked


def _adopt_tokens(connection: Connection, fresh: Connection) -> None:
    # The caller's object holds the new tokens too, so its next call neither refreshes again
    # nor sends the token just replaced.
    if connection is not fresh:
        connection.access_token, connection.refresh_token = fresh.access_token, fresh.refresh_token
        connection.expires_at, connection.status = fresh.expires_at, fresh.status


def whoami(connection: Connection, token: str) -> Identity:
    return providers.get(connection.provider).whoami(connection, token)


@audited
def connection_test(*, connection: Connection, actor: User | None = None) -> dict:
    """Call the provider's who-am-i with the connection. Returns {"ok", "user", "account"} or
    {"ok": False, "error"} with a message safe to show (no tokens, no internals)."""
    require_workspace_member(actor=actor, workspace=connection.workspace, doing="test it")
    connection.refresh_from_db()  # test what is stored now, not what the caller last saw
    try:
        identity = client(connection).call(lambda c: whoami(connection, c.token))
    except (http.ProviderError, ApplicationError) as exc:
        message = getattr(exc, "message", str(exc))
        if isinstance(exc, http.Unauthorized | http.Permanent):
            Connection.objects.filter(pk=connection.pk).update(
                status=Connection.Status.ERROR,
                last_error=message[:2000],
                last_error_at=timezone.now(),
            )
        audit_record(
            action="connection.test",
            actor=actor,
            target=connection,
            details={"ok": False, "error": message},
        )
        return {"ok": False, "error": message}
    connection.refresh_from_db()
    updates = {"last_tested_at": timezone.now()}
    if identity.email:
        updates["external_email"] = identity.email
    if not connection.external_user_id:
        updates["external_user_id"] = identity.user_id
    Connection.objects.filter(pk=connection.pk).update(**updates)
    audit_record(
        action="connection.test",
        actor=actor,
        target=connection,
        details={"ok": True, "user": identity.email or identity.user_id},
    )
    return {
        "ok": True,
        "user": identity.email or identity.user_id,
        "account": identity.account_name or identity.account_id,
    }


@audited
@transaction.atomic
def connection_disconnect(*, connection: Connection, actor: User | None) -> Connection:
    """Revoke at the provider, then forget the tokens here. A failed revoke still disconnects
    locally; the failure is recorded on the connection and in the audit trail."""
    require_connection_manager(actor=actor, connection=connection, doing="disconnect it")
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    before = _public(connection)
    module = providers.get(connection.provider)
    revoke_error = ""
    if module.SPEC.kind == "oauth" and (connection.access_token or connection.refresh_token):
        try:
            module.revoke(connection)
        except http.ProviderError as exc:
            revoke_error = exc.message
            logger.warning(
                "revoking connection %s at %s failed: %s",
                connection.pk,
                connection.provider,
                exc.message,
            )
    connection.access_token = connection.refresh_token = connection.client_secret = ""
    connection.expires_at = None
    connection.status = Connection.Status.REVOKED
    connection.last_error = (
        f"Disconnected here, but the provider did not confirm the revoke: {revoke_error}"
        if revoke_error
        else ""
    )
    connection.last_error_at = timezone.now() if revoke_error else None
    connection.save()
    if module.SPEC.kind == "client_credentials":
        dataverse.forget(connection)
    audit_record(
        action="connection.disconnect",
        actor=actor,
        target=connection,
        before=before,
        after=_public(connection),
        details={"revoked_at_provider": not revoke_error, "revoke_error": revoke_error},
    )
    return connection


@audited
@transaction.atomic
def connection_set_paused(
    *, connection: Connection, paused: bool, actor: User | None
) -> Connection:
    """Pause (no sync uses it, tokens are kept fresh) or resume a connection. Resuming
    un-pauses only: a disconnected or credential-less connection needs a new consent, and one
    in error keeps its error until a refresh or a test succeeds."""
    require_connection_manager(actor=actor, connection=connection, doing="pause or resume it")
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    if connection.status == Connection.Status.REVOKED or not (
        connection.access_token or connection.refresh_token or connection.client_secret
    ):
        raise ConnectionUnusable(f"{connection} is disconnected; connect it again instead.")
    if not paused and connection.status != Connection.Status.PAUSED:
        return connection  # nothing to resume
    before = _public(connection)
    connection.status = Connection.Status.PAUSED if paused else Connection.Status.CONNECTED
    connection.save(update_fields=["status", "updated_at"])
    audit_record(
        action="connection.pause" if paused else "connection.resume",
        actor=actor,
        target=connection,
        before=before,
        after=_public(connection),
    )
    return connection


def connections_refresh_due() -> dict[str, int]:
    """Beat task body: refresh tokens expiring within 15 minutes, and every refresh token
    not used for a day (some providers drop idle ones). Also drops stale OAuth states."""
    now = timezone.now()
    due = (
        Connection.objects.filter(
            status__in=[Connection.Status.CONNECTED, Connection.Status.PAUSED]
        )
        .exclude(refresh_token="")
        .filter(
            Q(expires_at__lte=now + REFRESH_AHEAD)
            | Q(refreshed_at__lte=now - REFRESH_IDLE)
            | Q(refreshed_at__isnull=True)
        )
    )
    outcome = {"refreshed": 0, "failed": 0}
    for connection in due:
        try:
            connection_refresh(connection=connection, seen_token=connection.access_token)
            outcome["refreshed"] += 1
        except http.ProviderError:
            outcome["failed"] += 1
    OAuthState.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    return outcome
