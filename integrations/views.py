"""Server-rendered pages of the platform and the project-wide error pages."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views import defaults
from django.views.decorators.csrf import ensure_csrf_cookie

from integrations import providers, selectors
from integrations.errors import error_body, internal_error_body
from integrations.oauth.views import DOMAIN_LABELS, hub_origin, opens_oauth_popups, status_of
from integrations.services import may_connect


@login_required
def home(request):
    memberships = selectors.membership_list(user=request.user).filter(user=request.user)
    return render(request, "home.html", {"memberships": memberships})


def hub(request) -> dict:
    """Context processor: switches the pages need."""
    return {"allow_signup": settings.ACCOUNT_ALLOW_SIGNUP}


def favicon(request):
    """`/favicon.ico`, which browsers ask for whatever the page names (and for answers that
    are not pages): the static icon. A temporary redirect, cached for a day, because the
    static name carries a content hash in production and changes with the icon."""
    response = redirect(static("hub/favicon.svg"))
    patch_cache_control(response, public=True, max_age=86400)
    return response


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "No such endpoint."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _wants_json(request):
        return JsonResponse(internal_error_body(), status=500)
    return defaults.server_error(request)


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


@login_required
@ensure_csrf_cookie
def review_queue(request):
    """Outgoing changes waiting for a person: the page polls the API every 2 s (the seed's
    open question, decided) and approves or rejects through it."""
    return render(
        request,
        "integrations/review.html",
        {"config": {"pollMs": 2000, "listUrl": "/api/integrations/outbound-changes"}},
    )
