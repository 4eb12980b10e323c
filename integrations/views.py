"""The hub's own pages (home) and the project-wide error pages; each room serves its pages
from its own `views` (connections, the review queue)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views import defaults

from integrations.accounts import selectors
from integrations.accounts.models import Membership
from integrations.errors import ApplicationError, PermissionDenied, error_body, internal_error_body


def page_workspace(request):
    """The workspace an app's page is about: ?workspace=<id> (or the form's), else the user's
    first by name; a 404 for a workspace the user is not in, or when they are in none."""
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    wanted = request.GET.get("workspace") or request.POST.get("workspace")
    if wanted:
        membership = memberships.filter(workspace_id=wanted).first() if wanted.isdigit() else None
        if membership is None:
            raise Http404("No such workspace.")
        return membership.workspace
    first = memberships.order_by("workspace__name").first()
    if first is None:
        raise Http404("You belong to no workspace yet.")
    return first.workspace


@dataclass
class Pressed:
    """How a page's button went: `failed` when its service refused (the reason is on the page
    as an error message)."""

    failed: bool = False


@contextmanager
def button(request, *, prefix: str = "") -> Iterator[Pressed]:
    """A page's button calling services, as every app's pages answer it: a PermissionDenied is
    the page's 403 (a member pressing an admin's button, which the page shows disabled), as the
    API would answer; any other ApplicationError becomes the next page's error message (after
    `prefix`) and the yielded Pressed says it failed. The caller says what went well and where
    the page goes next."""
    pressed = Pressed()
    try:
        yield pressed
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, f"{prefix}{exc.message}")
        pressed.failed = True


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
