"""Domain errors and the one place they become HTTP answers.

Services raise ApplicationError subclasses; `api_exception_handler` (DRF's EXCEPTION_HANDLER)
turns those, DRF's own exceptions and Django's into `{"error": {"code", "message", "details"}}`
with the right status. Anything unexpected is logged with its traceback and answered with a
generic 500 that carries only the request id — never a stack trace or an internal message.
"""

import logging

from django.core import exceptions as django_exceptions
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

from integrations import context

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A failure the caller can understand and act on. `message` is shown to users as is."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code:
            self.code = code


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class PermissionDenied(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


def error_body(code: str, message: str, details: object = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def internal_error_body() -> dict:
    return error_body(
        "internal_error",
        "Something went wrong on our side. Quote the request id if you report it.",
        {"request_id": context.current().request_id},
    )


def api_exception_handler(exc: Exception, ctx: dict) -> Response:
    # Imported here: rest_framework.views loads DRF's settings, which import our
    # authentication classes, which import the services that raise these errors.
    from rest_framework.views import exception_handler as drf_exception_handler
    from rest_framework.views import set_rollback

    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)

    if isinstance(exc, django_exceptions.ValidationError):
        # A model's full_clean() inside a service: same shape as a serializer's field errors.
        exc = drf_exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, django_exceptions.ObjectDoesNotExist):
        exc = Http404()

    # DRF's handler maps Http404 / PermissionDenied / APIException and sets the
    # WWW-Authenticate and Retry-After headers; we only reshape its body.
    response = drf_exception_handler(exc, ctx)
    if response is None:
        logger.exception("Unhandled error in %s", ctx.get("view").__class__.__name__)
        set_rollback()
        return Response(internal_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)

    if isinstance(exc, drf_exceptions.ValidationError):
        body = error_body("invalid", "The request has invalid fields.", _as_details(response.data))
    else:
        code = getattr(exc, "default_code", "error")
        if isinstance(exc, Http404):
            code = "not_found"
        elif isinstance(exc, django_exceptions.PermissionDenied):
            code = "permission_denied"
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        details = {"retry_after": exc.wait} if isinstance(exc, drf_exceptions.Throttled) else {}
        body = error_body(code, str(detail) or "Request failed.", details)
    response.data = body
    return response


def _as_details(data: object) -> dict:
    return data if isinstance(data, dict) else {"non_field_errors": data}
