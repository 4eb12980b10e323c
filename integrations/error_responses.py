"""The one place errors become HTTP answers.

`api_exception_handler` (DRF's EXCEPTION_HANDLER) turns ApplicationErrors, DRF's own exceptions,
Django's and a provider's failures into `{"error": {"code", "message", "details"}}` with the
right status; `ApplicationErrorMiddleware` does the same for pages. Anything unexpected is logged
with its traceback and answered with a generic 500 that carries only the request id — never a
stack trace or an internal message.
"""

import logging

from django.conf import settings
from django.core import exceptions as django_exceptions
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

from integrations.connections import http
from integrations.errors import ApplicationError, TooLarge, error_body, internal_error_body

logger = logging.getLogger(__name__)


def provider_error_response(exc: "http.ProviderError") -> Response:
    """A provider's failure is not ours (500) nor the client's (4xx): 502, or 503 with
    Retry-After when the provider is only rate-limiting us. The message is already redacted."""
    from rest_framework.views import set_rollback

    set_rollback()
    details = {"provider": exc.provider, "provider_status": exc.status}
    if isinstance(exc, http.RateLimited):
        response = Response(
            error_body("provider_rate_limited", exc.message, details),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        if exc.retry_after is not None:
            response["Retry-After"] = str(max(1, round(exc.retry_after)))
        return response
    code = {
        http.Unauthorized: "provider_unauthorized",
        http.Timeout: "provider_timeout",
        http.Unavailable: "provider_unavailable",
    }.get(type(exc), "provider_error")
    return Response(error_body(code, exc.message, details), status=status.HTTP_502_BAD_GATEWAY)


def api_exception_handler(exc: Exception, ctx: dict) -> Response:
    # Imported here: rest_framework.views loads DRF's settings, which import our
    # authentication classes, which import the services that raise these errors.
    from rest_framework.views import exception_handler as drf_exception_handler
    from rest_framework.views import set_rollback

    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)

    if isinstance(exc, http.ProviderError):
        return provider_error_response(exc)

    refused = _refused_input(exc)
    if refused is not None:
        set_rollback()
        return Response(error_body(refused.code, refused.message), status=refused.status_code)

    if _only_duplicates(exc):
        set_rollback()
        if isinstance(exc, drf_exceptions.ValidationError):
            details = _as_details(exc.detail)
        else:
            details = exc.message_dict
        messages = [str(m) for messages in details.values() for m in messages]
        body = error_body("conflict", " ".join(messages), details)
        return Response(body, status=status.HTTP_409_CONFLICT)

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


class ApplicationErrorMiddleware:
    """The same mapping for pages, which are not DRF views: a domain error a page does not
    handle itself (a workspace that is not yours in `?workspace=`, an unknown provider in the
    URL) is its 4xx page, not a server error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.http import JsonResponse
        from django.views import defaults

        refused = exception if isinstance(exception, ApplicationError) else None
        refused = refused or _refused_input(exception)
        if refused is None:
            return None
        if request.path.startswith("/api/"):
            body = error_body(refused.code, refused.message, refused.details)
            return JsonResponse(body, status=refused.status_code)
        if refused.status_code == status.HTTP_404_NOT_FOUND:
            return defaults.page_not_found(request, Http404(refused.message))
        if refused.status_code == status.HTTP_403_FORBIDDEN:
            return defaults.permission_denied(request, django_exceptions.PermissionDenied())
        response = defaults.bad_request(request, exception)
        response.status_code = refused.status_code
        return response


def _refused_input(exc: Exception) -> ApplicationError | None:
    """Input that fails below the views (in Django's request reading or the database driver),
    answered as the client's mistake it is rather than as our 500."""
    if isinstance(exc, django_exceptions.RequestDataTooBig):
        return TooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    if isinstance(exc, django_exceptions.SuspiciousOperation):
        return ApplicationError("The request was refused as malformed.", code="bad_request")
    if isinstance(exc, OverflowError):
        # SQLite's driver cannot bind an integer beyond 64 bits (PostgreSQL finds no row):
        # such an id or number cannot name anything here.
        return ApplicationError("A number in the request is out of range.", code="out_of_range")
    return None


def _only_duplicates(exc: Exception) -> bool:
    """Whether every complaint about the input is a unique constraint (of the model, or of a
    model serializer's validators): the request is fine, the state it meets is not (409)."""
    if isinstance(exc, drf_exceptions.ValidationError):
        codes = set(_flat(exc.get_codes()))
    elif isinstance(exc, django_exceptions.ValidationError) and hasattr(exc, "error_dict"):
        codes = {error.code for errors in exc.error_dict.values() for error in errors}
    else:
        return False
    return bool(codes) and codes <= {"unique", "unique_together"}


def _flat(codes) -> list:
    if isinstance(codes, dict):
        return [code for value in codes.values() for code in _flat(value)]
    if isinstance(codes, list):
        return [code for value in codes for code in _flat(value)]
    return [codes]


def _as_details(data: object) -> dict:
    return data if isinstance(data, dict) else {"non_field_errors": data}
