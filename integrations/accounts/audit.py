"""The audit writer: `audit_record` is the one way an AuditEvent is written, and `audited`
marks the services that record their own event (every one of them is in AUDITED_SERVICES)."""

import functools
import json
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from integrations import context
from integrations.accounts.models import AuditEvent, User, Workspace
from integrations.redaction import REDACTED, is_secret_key, redact_data, redact_text


def _jsonable(value):
    """Plain JSON data (dates as ISO strings, decimals as strings), as a JSONField stores it."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(instance: models.Model) -> dict:
    """The stored values of a row's concrete fields, as JSON-safe data (for audit diffs)."""
    data = {}
    for field in instance._meta.concrete_fields:
        value = field.value_from_object(instance)
        if isinstance(value, bytes | memoryview):
            value = f"<{len(value)} bytes>"
        data[field.attname] = _jsonable(value)
    return data


def diff(before: dict | None, after: dict | None) -> dict:
    """{"field": {"before": old, "after": new}} for every field whose value differs."""
    before, after = before or {}, after or {}
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def _redact_changes(changes: dict) -> dict:
    return {
        field: {
            side: REDACTED if value not in (None, "") else value for side, value in values.items()
        }
        if is_secret_key(field)
        else {side: redact_data(value) for side, value in values.items()}
        for field, values in changes.items()
    }


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    workspace: Workspace | int | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Record one audit event. The request id, task id and IP come from the current origin
    (integrations.context); secrets in the diff and details are redacted before they are stored.
    Runs inside the caller's transaction, so a rolled-back change leaves no event behind."""
    origin = context.current()
    if actor is not None and not actor.is_authenticated:
        actor = None
    if actor is not None:
        actor_kind, actor_label = AuditEvent.ActorKind.USER, actor.email
    elif origin.task_id:
        actor_kind, actor_label = AuditEvent.ActorKind.JOB, origin.task_name
    else:
        actor_kind, actor_label = AuditEvent.ActorKind.SYSTEM, ""

    target_repr = ""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_repr = redact_text(str(target))[:200]
        if workspace is None:
            workspace = (
                target.pk
                if isinstance(target, Workspace)
                else getattr(target, "workspace_id", None)
            )

    return AuditEvent.objects.create(
        workspace_id=workspace.pk if isinstance(workspace, Workspace) else workspace,
        actor=actor,
        actor_kind=actor_kind,
        actor_label=actor_label[:200],
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_repr=target_repr,
        request_id=origin.request_id,
        task_id=origin.task_id,
        changes=_redact_changes(diff(before, after)),
        details=_jsonable(redact_data(details or {})),
        ip=origin.ip,
    )


# Every @audited service, by dotted name: the services that change state. The role tests
# (tests/integrations/test_roles.py) hold a row for each, so a new one without a test fails.
AUDITED_SERVICES: dict[str, Callable] = {}


def audited(func):
    """Marks a service that records its own audit event. While it runs, the per-row audit of
    admin saves is off, so an admin page that calls it leaves one event, not two."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        token = context.bind(model_audit=False)
        try:
            return func(*args, **kwargs)
        finally:
            context.reset(token)

    AUDITED_SERVICES[f"{func.__module__}.{func.__qualname__}"] = wrapper
    return wrapper
