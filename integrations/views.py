"""Server-rendered pages of the platform and the project-wide error pages."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults

from integrations import selectors
from integrations.errors import error_body, internal_error_body


@login_required
def home(request):
    memberships = selectors.membership_list(user=request.user).filter(user=request.user)
    return render(request, "home.html", {"memberships": memberships})


def hub(request) -> dict:
    """Context processor: switches the pages need."""
    return {"allow_signup": settings.ACCOUNT_ALLOW_SIGNUP}


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
