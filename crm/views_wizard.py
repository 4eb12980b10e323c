"""The connect wizard (seed screen 2): choose a CRM → sign in through the platform's OAuth popup
→ what to sync, which way, how often, who wins → done, with the way to the field mappings.

Each step is a page of its own (GET), so the browser's back and forward buttons move between
steps and a reload repeats nothing; the popup's outcome is the POST of the connect form
(crm.views.config_connect with next=setup), which links the config and sends on to the
settings step. Workspace admins go through it; a member is told so (403) on every step."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from crm import selectors, services
from crm.models import CrmConfig, Entity
from crm.views import ConfigForm, _config
from integrations.accounts import selectors as account_selectors
from integrations.connections.models import Connection
from integrations.connections.oauth.views import hub_origin, opens_oauth_popups
from integrations.errors import ApplicationError, PermissionDenied
from integrations.views import page_workspace

ADMINS_ONLY = "Only a workspace admin can connect a CRM; ask one of {workspace}'s admins."
# The provider cards of step 1, in the seed's order.
PROVIDERS = (
    (
        CrmConfig.Provider.SALESFORCE,
        "Accounts and contacts of your Salesforce org, production or sandbox.",
    ),
    (CrmConfig.Provider.HUBSPOT, "Companies and contacts of your HubSpot account."),
)
STEPS = ("Choose a CRM", "Sign in", "Settings", "Done")


def wizard_url(workspace_id: int) -> str:
    return f"{reverse('crm-wizard')}?workspace={workspace_id}"


def _refused(request, workspace, step: int):
    """A member's answer on every step: what it is, and who can do it, on the page."""
    return render(
        request,
        "crm/wizard_refused.html",
        {
            "workspace": workspace,
            "message": ADMINS_ONLY.format(workspace=workspace.name),
            "steps": STEPS,
            "step": step,
        },
        status=403,
    )


def _is_admin(request, workspace) -> bool:
    return account_selectors.is_workspace_admin(user=request.user, workspace_id=workspace.pk)


# never_cache on every step: the back button then asks the hub again, so a step shows what is
# true now (the CRM connected a moment ago, the settings just saved), not the page as it was.
@never_cache
@login_required
@ensure_csrf_cookie
@opens_oauth_popups
def connect_wizard(request):
    """Step 1 (and 2): a card per CRM; Connect opens the sign-in popup, then the form's POST
    links the config and goes on to step 3. A CRM whose sync is set up already says so."""
    workspace = page_workspace(request)
    if not _is_admin(request, workspace):
        return _refused(request, workspace, 1)
    cards = []
    for provider, description in PROVIDERS:
        connection = selectors.connection_of(
            user=request.user, workspace=workspace, provider=provider
        )
        config = selectors.config_of(workspace=workspace, provider=provider)
        cards.append(
            {
                "provider": provider,
                "label": CrmConfig.Provider(provider).label,
                "description": description,
                "supported": provider in services.SUPPORTED,
                "ready": connection is not None
                and connection.status == Connection.Status.CONNECTED,
                "config": config if config and config.connection_id else None,
            }
        )
    return render(
        request,
        "crm/wizard.html",
        {
            "workspace": workspace,
            "workspaces": account_selectors.workspace_list(user=request.user),
            "cards": cards,
            "steps": STEPS,
            "step": 1,
            "page": {
                "workspace": workspace.pk,
                "allowedOrigin": hub_origin(),
                "pollSeconds": settings.OAUTH_STATUS_POLL_SECONDS,
            },
        },
    )


class SetupForm(ConfigForm):
    """Step 3: the seed's "Configure Sync" — the settings page's form without the
    advanced options (they keep their defaults; Configure changes them later)."""

    create_if_missing = None
    propagate_deletes = None


SETUP_FIELDS = tuple(SetupForm.base_fields)


def _connected(config: CrmConfig) -> bool:
    connection = config.connection
    return (
        config.status in (CrmConfig.Status.CONNECTED, CrmConfig.Status.PAUSED)
        and connection is not None
        and connection.status == Connection.Status.CONNECTED
    )


@never_cache
@login_required
def connect_setup(request, config_id: int):
    """Step 3: what to sync, which way, how often (and when, for daily) and who wins a
    conflict; saved through config_update, then step 4."""
    config = _config(request, config_id)
    if not _is_admin(request, config.workspace):
        return _refused(request, config.workspace, 3)
    context = {"config": config, "steps": STEPS, "step": 3, "workspace": config.workspace}
    if not _connected(config):
        # Reached by the forward button or a bookmark after a disconnect: say what to do.
        context["not_connected"] = True
        return render(request, "crm/wizard_setup.html", context, status=409)
    initial = {name: getattr(config, name) for name in SETUP_FIELDS}
    form = SetupForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.config_update(config=config, actor=request.user, **form.cleaned_data)
            except PermissionDenied as exc:
                raise DjangoPermissionDenied(exc.message) from exc
            except ApplicationError as exc:
                form.add_error("daily_at" if "dailyAt" in exc.details else None, exc.message)
            else:
                return redirect("crm-wizard-done", config_id=config.pk)
        status = 400
    context["form"] = form
    return render(request, "crm/wizard_setup.html", context, status=status)


@never_cache
@login_required
def connect_done(request, config_id: int):
    """Step 4: connected, what it will do, and the next step: the field mappings."""
    config = _config(request, config_id)
    if not _is_admin(request, config.workspace):
        return _refused(request, config.workspace, 4)
    if not _connected(config):
        return redirect(wizard_url(config.workspace_id))
    connection = config.connection
    return render(
        request,
        "crm/wizard_done.html",
        {
            "config": config,
            "workspace": config.workspace,
            "connected_as": connection.external_email or connection.label,
            "entities": [
                Entity(entity).label.lower() for entity in services.ordered_entities(config)
            ],
            "steps": STEPS,
            "step": 4,
        },
    )
