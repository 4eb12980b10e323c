"""Logging filters installed on every handler by settings.LOGGING."""

import logging
import traceback

from integrations import context
from integrations.redaction import REDACTED, is_secret_key, redact_data, redact_text

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    """Stamps each record with the request id or Celery task id it belongs to."""

    def filter(self, record: logging.LogRecord) -> bool:
        origin = context.current()
        record.request_id = getattr(record, "request_id", "") or origin.request_id
        record.task_id = getattr(record, "task_id", "") or origin.task_id
        return True


class RedactingFilter(logging.Filter):
    """Removes tokens, passwords, client secrets and Authorization headers from a record: its
    arguments, its formatted message, its exception text, its stack and its `extra` fields.

    The record is rewritten in place (message pre-formatted, exc_info replaced by redacted
    text) so no formatter downstream can render the original values again."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = redact_data(record.args)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed format string: keep what we can show
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact_text(message), None
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text, record.exc_info = redact_text(text), None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for key in set(vars(record)) - _STANDARD:
            value = getattr(record, key)
            if not isinstance(value, str | int | float | bool | list | tuple | dict | type(None)):
                value = str(value)  # how a formatter would show it (an HttpRequest shows its URL)
            setattr(record, key, REDACTED if is_secret_key(key) and value else redact_data(value))
        return True
