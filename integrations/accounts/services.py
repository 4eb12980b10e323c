"""Writes of accounts: workspaces, memberships and API tokens, and the role checks that every
room's services call before they change anything."""

import hashlib
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from integrations.accounts import selectors
from integrations.accounts.audit import audit_record, audited, snapshot
from integrations.accounts.models import ApiToken, Membership, User, Workspace
from integrations.errors import Conflict, NotFound, PermissionDenied

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
    if actor is not None and not selectors.is_workspace_member(
        user=actor, workspace_id=workspace.pk
    ):
        raise PermissionDenied(f"Only a member of {workspace.name} can {doing}.")


# --- Workspaces and memberships -----------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 2
    while Workspace.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


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
