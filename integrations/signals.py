"""Receivers connected in IntegrationsConfig.ready(): the audit of admin saves and deletes,
of logins and failed logins, the task context of Celery workers, a mapping set's time moved
when one of its fields changes, and the heap settled after a process's first request."""

import gc

from celery import signals as celery_signals
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.signals import request_finished
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import Signal

from integrations import context
from integrations.accounts import audit
from integrations.mapping.models import FieldMapping, field_mapping_changed

# Sent by `bootstrap_demo` with `workspace` and `user` once the demo workspace exists: each
# product adds its own demo data (the platform knows none of them).
demo_ready = Signal()

# Rows written as a side effect of admin work (its own log, sessions, beat's change counter,
# our own trail) are not themselves "admin changes".
_NOT_AUDITED = {
    "integrations.auditevent",
    "integrations.heartbeat",
    "admin.logentry",
    "sessions.session",
    "django_celery_beat.periodictasks",
    "contenttypes.contenttype",
    "auth.permission",
}


def _in_admin(sender) -> bool:
    origin = context.current()
    return (
        origin.via == "admin"
        and origin.model_audit
        and sender._meta.label_lower not in _NOT_AUDITED
    )


def _actor():
    # The admin request's user: authentication middleware has set it by the time a view saves.
    user = getattr(context.current().request, "user", None)
    return user if user is not None and user.is_authenticated else None


def admin_pre_save(sender, instance, raw=False, **kwargs):
    if raw or not _in_admin(sender):
        return
    before = None
    if instance.pk is not None:
        old = sender._base_manager.filter(pk=instance.pk).first()
        before = audit.snapshot(old) if old is not None else None
    instance._audit_before = before


def admin_post_save(sender, instance, created, raw=False, **kwargs):
    if raw or not _in_admin(sender):
        return
    before = getattr(instance, "_audit_before", None)
    after = audit.snapshot(instance)
    if not created and not audit.diff(before, after):
        return
    audit.audit_record(
        action="admin.create" if created else "admin.update",
        actor=_actor(),
        target=instance,
        before=before,
        after=after,
    )


def admin_post_delete(sender, instance, **kwargs):
    if not _in_admin(sender):
        return
    audit.audit_record(
        action="admin.delete", actor=_actor(), target=instance, before=audit.snapshot(instance)
    )


def admin_m2m_changed(sender, instance, action, model, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear") or not _in_admin(type(instance)):
        return
    audit.audit_record(
        action="admin.update",
        actor=_actor(),
        target=instance,
        details={
            "relation": model._meta.label_lower,
            "change": action.removeprefix("post_"),
            "ids": sorted(pk_set or []),
        },
    )


def login_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in `credentials`; keep only the identifier tried.
    tried = credentials.get("email") or credentials.get("username") or ""
    audit.audit_record(action="auth.login_failed", details={"login": str(tried)[:200]})


def logged_in(sender, request, user, **kwargs):
    audit.audit_record(action="auth.login", actor=user, target=user)


_task_tokens: dict[str, object] = {}


def task_started(task_id=None, task=None, **kwargs):
    _task_tokens[task_id] = context.bind(task_id=task_id or "", task_name=task.name, via="task")


def task_finished(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        context.reset(token)


def request_done(**kwargs):
    context.clear()


def settle_heap(**kwargs):
    """After a process's first request, once: collect, then move every object left into the
    garbage collector's permanent generation (gc.freeze). What is alive then is what the process
    keeps (modules, classes, the URLconf, compiled regexes; the first request imports and
    builds what later ones reuse), and a full collection walked all of it again each time the
    objects of later requests had grown by a quarter of it: 110-180 ms at a time, 20-30 µs per
    record of a destination's requests (bench/destination.py). Objects freed by their reference
    count are freed as before; only a cycle among the frozen ones would stay."""
    request_finished.disconnect(settle_heap, dispatch_uid="hub_settle_heap")
    gc.collect()
    gc.freeze()


def connect() -> None:
    post_save.connect(
        field_mapping_changed, sender=FieldMapping, dispatch_uid="mapping_field_saved"
    )
    post_delete.connect(
        field_mapping_changed, sender=FieldMapping, dispatch_uid="mapping_field_deleted"
    )
    request_finished.connect(request_done, dispatch_uid="hub_request_done")
    request_finished.connect(settle_heap, dispatch_uid="hub_settle_heap")
    pre_save.connect(admin_pre_save, dispatch_uid="audit_admin_pre_save")
    post_save.connect(admin_post_save, dispatch_uid="audit_admin_post_save")
    post_delete.connect(admin_post_delete, dispatch_uid="audit_admin_post_delete")
    m2m_changed.connect(admin_m2m_changed, dispatch_uid="audit_admin_m2m")
    user_login_failed.connect(login_failed, dispatch_uid="audit_login_failed")
    user_logged_in.connect(logged_in, dispatch_uid="audit_logged_in")
    celery_signals.task_prerun.connect(task_started, dispatch_uid="hub_task_started")
    celery_signals.task_postrun.connect(task_finished, dispatch_uid="hub_task_finished")
