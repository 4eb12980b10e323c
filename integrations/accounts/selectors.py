"""Reads of accounts. `scope_to_user` is the one way any app narrows a queryset to the
workspaces of the user making the request; the API and admin both go through it."""

import functools

from django.db.models import Model, QuerySet

from integrations.accounts.models import ApiToken, AuditEvent, Membership, User, Workspace
from integrations.errors import NotFound


def workspace_ids_for(user: User, *, role: str | None = None) -> QuerySet:
    """Subquery of the ids of the workspaces `user` belongs to (with `role`, if given)."""
    memberships = Membership.objects.filter(user=user)
    if role is not None:
        memberships = memberships.filter(role=role)
    return memberships.values("workspace_id")


def scope_to_user(queryset: QuerySet, user, *, role: str | None = None) -> QuerySet:
    """Rows of `queryset` in the workspaces `user` belongs to; a superuser sees every row, an
    anonymous user none. The model says how to reach its workspace with `workspace_path`
    ("workspace" for WorkspaceOwned, "" for Workspace itself). Rows outside the scope simply
    do not exist for the caller: the API answers 404 for them, admin does not list them."""
    if not user or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    model: type[Model] = queryset.model
    try:
        path = model.workspace_path
    except AttributeError:
        raise TypeError(f"{model.__name__} does not say how to reach its workspace") from None
    if not _single_valued(model, path):
        # A many-valued path would repeat rows once per match; filter by primary key instead.
        ids = workspace_ids_for(user, role=role)
        return queryset.filter(
            pk__in=model._base_manager.filter(**{f"{path}__in": ids}).values("pk")
        )
    # A join on the workspace's memberships rather than `workspace__in=<subquery>`: the same
    # rows (a user has at most one membership per workspace, membership_unique), and Django
    # compiles the join in about 60 % of the subquery's time (0.3 ms less on every scoped read,
    # which most API requests make; bench/destination.py).
    member = f"{path}__memberships" if path else "memberships"
    conditions = {f"{member}__user": user}
    if role is not None:
        conditions[f"{member}__role"] = role
    return queryset.filter(**conditions)


@functools.cache
def _single_valued(model: type[Model], path: str) -> bool:
    """Does `path` reach one workspace per row (only forward foreign keys on the way)?"""
    for name in filter(None, path.split("__")):
        field = model._meta.get_field(name)
        if field.many_to_many or field.one_to_many:
            return False
        model = field.related_model
    return True


def is_workspace_admin(*, user: User, workspace_id: int) -> bool:
    """May `user` change the workspace's settings and rows? (Its admins and superusers may.)"""
    return user.is_superuser or (
        workspace_ids_for(user, role=Membership.Role.ADMIN)
        .filter(workspace_id=workspace_id)
        .exists()
    )


def is_workspace_member(*, user: User, workspace_id: int) -> bool:
    """Does `user` belong to the workspace? (Superusers belong to every one; an anonymous or
    inactive user to none, as scope_to_user reads them.) One query on the memberships: the
    workspace list scoped to the user, filtered to this one, was twice the time on a path
    every API request takes."""
    return user.is_superuser or (
        user.is_authenticated
        and user.is_active
        and Membership.objects.filter(user=user, workspace_id=workspace_id).exists()
    )


def other_admins(*, membership: Membership) -> QuerySet[Membership]:
    """The admins of a membership's workspace besides that membership (a workspace must keep
    at least one)."""
    return Membership.objects.filter(
        workspace_id=membership.workspace_id, role=Membership.Role.ADMIN
    ).exclude(pk=membership.pk)


def workspace_list(*, user: User) -> QuerySet[Workspace]:
    return scope_to_user(Workspace.objects.all(), user)


def membership_list(*, user: User) -> QuerySet[Membership]:
    return scope_to_user(Membership.objects.select_related("user", "workspace"), user)


def audit_event_list(*, user: User) -> QuerySet[AuditEvent]:
    """Audit events are for workspace admins: members do not read their colleagues' trail."""
    return scope_to_user(
        AuditEvent.objects.select_related("workspace"), user, role=Membership.Role.ADMIN
    )


def api_token_for_key(*, digest: str) -> ApiToken | None:
    # get(), not first(): the digest is unique, and first() would sort by the model's ordering
    # (created_at) in the query every API request starts with.
    try:
        return ApiToken.objects.select_related("user").get(digest=digest)
    except ApiToken.DoesNotExist:
        return None


def workspace_for(*, user: User, workspace_id) -> Workspace:
    """One of the user's workspaces by id, or NotFound (also for ids that are not numbers)."""
    workspace = (
        workspace_list(user=user).filter(pk=workspace_id).first()
        if str(workspace_id).isdigit()
        else None
    )
    if workspace is None:
        raise NotFound("No such workspace.")
    return workspace
