"""Request-scoped context for logs and audit, and the audit of admin actions."""

import re
import uuid

from django.conf import settings
from django.urls import reverse

from integrations import context
from integrations.accounts.audit import audit_record

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_ip(request) -> str | None:
    if settings.TRUST_PROXY_HEADERS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            # The proxy appends the address it saw, so the last hop is the one it vouches for.
            return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Gives every request an id (a well-formed incoming X-Request-ID is kept, so a trace can
    cross services), binds it with the client IP for logs and audit, and echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = None

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Not reset when this returns: Django logs 4xx/5xx answers after the middleware chain,
        # and those lines need the id too. The request_finished signal clears it.
        context.start(
            request_id=request.id,
            ip=client_ip(request),
            via=self._via(request.path),
            request=request,
        )
        response = self.get_response(request)
        response["X-Request-ID"] = request.id
        return response

    def _via(self, path: str) -> str:
        if self.admin_prefix is None:
            self.admin_prefix = reverse("admin:index")
        if path.startswith(self.admin_prefix):
            return "admin"
        return "api" if path.startswith("/api/") else "web"


def _action_ran(response) -> bool:
    # An action that ran redirects back to the changelist or returns its own non-page answer
    # (a CSV, say); an intermediate page (a confirmation or a form) is HTML and changed nothing.
    if response.status_code in (301, 302, 303):
        return True
    return response.status_code == 200 and "html" not in response.get("Content-Type", "")


class AdminActionAuditMiddleware:
    """Admin changelist actions may write with queryset.update(), which sends no model
    signals; so every action that ran is recorded here, whatever ModelAdmin it belongs to.
    (Saves and deletes through admin forms are recorded field by field in signals.py; bulk
    deletion confirms first and is recorded there too, so it is skipped here.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.method == "POST"
            and context.current().via == "admin"
            and _action_ran(response)
            and request.POST.get("action")
            and request.POST.get("action") != "delete_selected"
            and (
                request.POST.getlist("_selected_action") or request.POST.get("select_across") == "1"
            )
        ):
            self._record(request)
        return response

    def _record(self, request) -> None:
        model_admin = getattr(getattr(request.resolver_match, "func", None), "model_admin", None)
        target_type = model_admin.model._meta.label_lower if model_admin else ""
        audit_record(
            action="admin.action",
            actor=request.user,
            target_type=target_type,
            details={
                "name": request.POST.get("action"),
                "ids": request.POST.getlist("_selected_action")[:500],
                "all": request.POST.get("select_across") == "1",
            },
        )
