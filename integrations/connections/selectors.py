"""Reads of connections, scoped to the caller's workspaces."""

from django.db.models import Q, QuerySet

from integrations.accounts.models import Membership, User, Workspace
from integrations.accounts.selectors import scope_to_user, workspace_ids_for
from integrations.connections import providers
from integrations.connections.models import Connection


def connection_list(*, user: User) -> QuerySet[Connection]:
    """Connections the user may see: their workspaces' shared ones and their own personal
    ones (a colleague's personal Smartsheet link is theirs alone, unless you are an admin)."""
    visible = scope_to_user(Connection.objects.select_related("workspace", "user"), user)
    if user.is_superuser:
        return visible
    admin_of = workspace_ids_for(user, role=Membership.Role.ADMIN)
    return visible.filter(Q(user__isnull=True) | Q(user=user) | Q(workspace_id__in=admin_of))


def connection_for(*, user: User, workspace: Workspace, provider: str) -> Connection | None:
    """The connection that a page for `user` in `workspace` uses for `provider`: the user's
    own for personal providers (Smartsheet), the workspace's for the others."""
    owner = user if providers.get(provider).SPEC.per_user else None
    return Connection.objects.filter(workspace=workspace, provider=provider, user=owner).first()
