"""Where the code now running came from: the request or the Celery task.

Set by RequestContextMiddleware and by Celery's task signals; read by the audit service and
by the log filter, so neither needs the request passed down through every call.
"""

from contextvars import ContextVar, Token
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Origin:
    request_id: str = ""
    task_id: str = ""
    task_name: str = ""
    ip: str | None = None
    via: str = ""  # "admin", "api", "web", "task"; empty for commands and the shell
    # False while a service that writes its own audit event runs: the per-row audit of admin
    # saves (signals.py) stays quiet then, so one change makes one event.
    model_audit: bool = True
    # The HttpRequest, for receivers that must find its user (set later, by auth middleware).
    request: object = field(default=None, compare=False, repr=False)


_origin: ContextVar[Origin] = ContextVar("hub_origin", default=Origin())  # noqa: B039 - frozen


def current() -> Origin:
    return _origin.get()


def start(**fields) -> None:
    """Begin a fresh origin (a new request): nothing of the previous one carries over."""
    _origin.set(Origin(**fields))


def clear() -> None:
    _origin.set(Origin())


def bind(**fields) -> Token:
    """Layer fields over the current origin; undo with reset(token)."""
    return _origin.set(replace(_origin.get(), **fields))


def reset(token: Token) -> None:
    _origin.reset(token)
