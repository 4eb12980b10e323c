"""Domain errors: services raise ApplicationError subclasses, each with its HTTP status and a
code, and `error_body` is the shape every error answer has. How they (and DRF's, Django's and a
provider's failures) become answers is integrations/error_responses.py.
"""

from rest_framework import status

from integrations import context


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


class TooLarge(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "too_large"


def error_body(code: str, message: str, details: object = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def internal_error_body() -> dict:
    return error_body(
        "internal_error",
        "Something went wrong on our side. Quote the request id if you report it.",
        {"request_id": context.current().request_id},
    )
