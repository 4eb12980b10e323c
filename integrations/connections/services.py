"""Writes of connections: connect (OAuth consent or client credentials), refresh, test, pause,
disconnect; who may manage a connection; and `client(connection)`, the one way code calls a
provider with a connection's token."""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations.accounts import selectors as account_selectors
from integrations.accounts.audit import audit_record, audited, snapshot
from integrations.accounts.models import User, Workspace
from integrations.accounts.services import require_workspace_admin, require_workspace_member
from integrations.connections import http, providers
from integrations.connections.models import Connection, OAuthState
from integrations.connections.providers import dataverse
from integrations.connections.providers.base import Identity, TokenSet, rate_key
from integrations.errors import ApplicationError, PermissionDenied

logger = logging.getLogger(__name__)


# --- Who may connect and manage a connection -----------------------------------------------------


def may_connect(*, user: User, workspace: Workspace, provider: str) -> bool:
    """Personal connections are anyone's own; workspace connections are for its admins."""
    if providers.get(provider).SPEC.per_user:
        return account_selectors.workspace_list(user=user).filter(pk=workspace.pk).exists()
    return account_selectors.is_workspace_admin(user=user, workspace_id=workspace.pk)


def require_connection_manager(
    *, actor: User | None, connection: Connection, doing: str = "change this connection"
) -> None:
    """A personal connection is its owner's to manage; any connection is its workspace
    admins'."""
    if actor is None or (connection.user_id is not None and connection.user_id == actor.pk):
        return
    require_workspace_admin(actor=actor, workspace=connection.workspace, doing=doing)


# --- Connecting, tokens and the one client per connection ----------------------------------------

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
    provider: str = Connection.Provider.DATAVERSE,
) -> Connection:
    """A Microsoft connection through Azure AD client credentials: Dataverse (an environment
    URL) or Project Online (a PWA site URL). Test it before syncing with it."""
    require_workspace_admin(actor=actor, workspace=workspace)
    if providers.get(provider).SPEC.kind != "client_credentials":
        raise ApplicationError(f"{provider} does not connect with client credentials.")
    connection, _ = Connection.objects.select_for_update().get_or_create(
        workspace=workspace, provider=provider, user=None
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
