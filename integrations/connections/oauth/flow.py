"""Start and finish an authorization. Writes go through connections.services."""

import base64
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.accounts.audit import audit_record
from integrations.accounts.models import User, Workspace
from integrations.connections import providers
from integrations.connections import services as connections
from integrations.connections.models import Connection, OAuthState
from integrations.connections.providers.base import oauth_client
from integrations.errors import ApplicationError, PermissionDenied

STATE_TTL = timedelta(minutes=10)


class OAuthRejected(ApplicationError):
    """The callback cannot be trusted or completed (state, code, or the provider said no)."""

    code = "oauth_rejected"


class OAuthDenied(ApplicationError):
    code = "oauth_denied"


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)) without padding. (The emulators check it
    with their own code: a shared helper would hide a mistake on both sides at once.)"""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def redirect_uri(provider: str) -> str:
    """The exact callback URL registered with each provider (HUB_BASE_URL decides its host)."""
    return f"{settings.HUB_BASE_URL}/integrations/{provider}/auth/callback"


def _digest(state: str) -> str:
    # Only a digest is stored: a database reader cannot finish someone else's authorization.
    return hashlib.sha256(state.encode()).hexdigest()


def oauth_start(*, user: User, workspace: Workspace, provider: str, domain: str = "") -> dict:
    """Create a single-use state (and PKCE verifier) and return the provider's authorize URL."""
    spec = providers.get(provider).SPEC
    if spec.kind != "oauth":
        raise ApplicationError(
            f"{spec.label} connects with client credentials, not a consent page.", code="not_oauth"
        )
    if not connections.may_connect(user=user, workspace=workspace, provider=provider):
        raise PermissionDenied(f"Only an admin of {workspace.name} can connect {spec.label}.")
    if spec.domains:
        domain = domain or spec.domains[0]
        if domain not in spec.domains:
            raise ApplicationError(
                f"domain must be one of: {', '.join(spec.domains)}.",
                code="invalid",
                details={"domain": [f"{domain!r} is not a choice."]},
            )
    else:
        domain = ""
    oauth_client(provider)  # NotConfigured if the app credentials are missing
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64) if spec.pkce else ""
    now = timezone.now()
    record = OAuthState.objects.create(
        digest=_digest(state),
        user=user,
        workspace=workspace,
        provider=provider,
        auth_domain=domain,
        code_verifier=verifier,
        redirect_uri=redirect_uri(provider),
        created_at=now,
        expires_at=now + STATE_TTL,
    )
    url = providers.get(provider).authorize_url(
        state=state,
        redirect_uri=record.redirect_uri,
        code_challenge=pkce_challenge(verifier) if verifier else "",
        domain=domain,
    )
    return {"authorize_url": url, "started_at": record.created_at, "expires_at": record.expires_at}


def _claim(*, user: User, provider: str, state: str) -> OAuthState:
    """The state of this callback, checked and used up. Each refusal is an OAuthRejected."""
    if not state:
        raise OAuthRejected("The provider's answer carries no state; start again.")
    record = OAuthState.objects.filter(digest=_digest(state)).select_related("workspace").first()
    if record is None or record.provider != provider:
        raise OAuthRejected("This authorization was not started here; start again.")
    if record.user_id != user.pk:
        # Not used up: a stolen state must not let anyone cancel the real user's flow.
        raise OAuthRejected("This authorization was started by someone else.")
    with transaction.atomic():
        claimed = OAuthState.objects.filter(pk=record.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        )
    if not claimed:
        raise OAuthRejected("This authorization has already been used; start again.")
    if record.expires_at < timezone.now():
        raise OAuthRejected(
            "This authorization took longer than 10 minutes and expired; start again."
        )
    return record


def oauth_callback(*, user: User, provider: str, params: dict) -> Connection:
    """Finish an authorization: check the state, exchange the code (with the PKCE verifier or
    Smartsheet's hash), ask who connected, store the connection and audit it."""
    module = providers.get(provider)
    record = _claim(user=user, provider=provider, state=params.get("state", ""))
    if params.get("error"):
        # Providers' descriptions may end with a period of their own (HubSpot's does): the
        # sentence below adds one. Without a description, the error code in words.
        description = params.get("error_description") or params["error"].replace("_", " ")
        description = description.rstrip(". ")
        audit_record(
            action="connection.denied",
            actor=user,
            workspace=record.workspace,
            details={"provider": provider, "error": params["error"]},
        )
        raise OAuthDenied(f"{module.SPEC.label} did not grant access: {description}.")
    code = params.get("code", "")
    if not code:
        raise OAuthRejected("The provider's answer carries no authorization code.")
    tokens = module.exchange_code(
        code=code,
        redirect_uri=record.redirect_uri,
        code_verifier=record.code_verifier,
        domain=record.auth_domain,
    )
    probe = Connection(
        workspace=record.workspace,
        provider=provider,
        instance_url=tokens.instance_url,
        auth_domain=record.auth_domain,
        external_user_id=module.user_id_of(tokens.identity_url) if tokens.identity_url else "",
    )
    identity = connections.whoami(probe, tokens.access_token)
    return connections.connection_connect(
        workspace=record.workspace,
        provider=provider,
        actor=user,
        tokens=tokens,
        identity=identity,
        domain=record.auth_domain,
    )
