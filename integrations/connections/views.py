"""The Connections page: every provider for one workspace, with Connect / Disconnect."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from integrations.accounts import selectors
from integrations.connections import providers
from integrations.connections.oauth.views import (
    DOMAIN_LABELS,
    hub_origin,
    opens_oauth_popups,
    status_of,
)
from integrations.connections.services import may_connect


@login_required
@ensure_csrf_cookie
@opens_oauth_popups
def connections(request):
    """Every provider for one workspace: status, and Connect / Disconnect (the popup flow)."""
    workspaces = list(selectors.workspace_list(user=request.user))
    if not workspaces:
        return render(request, "home.html", {"memberships": []})
    chosen = request.GET.get("workspace") or workspaces[0].pk
    workspace = selectors.workspace_for(user=request.user, workspace_id=chosen)
    rows = []
    for module in providers.REGISTRY.values():
        status = status_of(user=request.user, workspace=workspace, provider=module.SPEC.name)
        rows.append(
            {
                "name": module.SPEC.name,
                "label": module.SPEC.label,
                "kind": module.SPEC.kind,
                "per_user": module.SPEC.per_user,
                "domains": _domain_choices(module.SPEC.domains, status),
                "may_connect": may_connect(
                    user=request.user, workspace=workspace, provider=module.SPEC.name
                ),
                "status": status,
            }
        )
    popup = {
        "workspace": workspace.pk,
        "allowedOrigin": hub_origin(),
        "pollSeconds": settings.OAUTH_STATUS_POLL_SECONDS,
        "csrfToken": get_token(request),
    }
    return render(
        request,
        "integrations/connections.html",
        {"workspace": workspace, "workspaces": workspaces, "rows": rows, "popup": popup},
    )


def _domain_choices(domains: tuple[str, ...], status: dict) -> list[dict]:
    """The login choices (Salesforce: production or sandbox org) with the connection's own
    one selected: a reload must not show "Production org" beside a sandbox connection, and
    Reconnect goes back to the same org."""
    current = status["domain"] if status["connection"] else ""
    return [
        {"value": domain, "label": DOMAIN_LABELS.get(domain, domain), "selected": domain == current}
        for domain in domains
    ]
