"""Audit receivers: sign-ins, failed sign-ins, and the Celery task context; the heap settled
after a process's first request."""

import gc

import pytest

from integrations import context, signals
from integrations.accounts import audit
from integrations.accounts.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_a_failed_login_leaves_an_audit_event(client):
    user = UserFactory(email="ana@example.com")
    response = client.post(
        "/accounts/login/",
        {"login": "ana@example.com", "password": "not-her-password"},
        HTTP_X_REQUEST_ID="req-login-00001",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200  # the form again, with its error

    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.details == {"login": "ana@example.com"}
    assert (event.actor, event.actor_kind, event.request_id, event.ip) == (
        None,
        "system",
        "req-login-00001",
        "203.0.113.9",
    )
    assert "not-her-password" not in str(event.details) + str(event.changes)
    assert user.pk  # the account exists; the event still does not say so


def test_a_failed_login_for_an_unknown_email_is_recorded_too(client):
    client.post("/accounts/login/", {"login": "ghost@example.com", "password": "whatever-123"})
    assert AuditEvent.objects.get(action="auth.login_failed").details == {
        "login": "ghost@example.com"
    }


def test_a_successful_login_is_recorded_and_redirects_home(client):
    user = UserFactory(email="bo@example.com")
    response = client.post("/accounts/login/", {"login": "bo@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor == user
    assert not AuditEvent.objects.filter(action="auth.login_failed").exists()


def test_the_admin_login_goes_through_the_same_audited_page(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_sign_up_is_closed_by_default(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": "Xy-long-pass-1", "password2": "Xy-long-pass-1"},
    )
    assert b"Sign Up Closed" in response.content
    assert not UserFactory._meta.model.objects.filter(email="new@example.com").exists()


def test_sign_up_opens_with_the_setting(client, settings):
    settings.ACCOUNT_ALLOW_SIGNUP = True
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": "Xy-long-pass-1", "password2": "Xy-long-pass-1"},
    )
    assert response.status_code == 302
    assert UserFactory._meta.model.objects.filter(email="new@example.com").exists()


def test_events_written_inside_a_task_name_the_job():
    class FakeTask:
        name = "timetracker.process_approved_jobs"

    signals.task_started(task_id="task-123", task=FakeTask())
    try:
        event = audit.audit_record(action="job.ran")
    finally:
        signals.task_finished(task_id="task-123")

    assert (event.actor_kind, event.actor_label, event.task_id) == (
        "job",
        "timetracker.process_approved_jobs",
        "task-123",
    )
    assert context.current().task_id == ""


def test_a_process_settles_its_heap_after_its_first_request_only(client, monkeypatch):
    from django.core.signals import request_finished

    # As a fresh process: the receiver connected, nothing frozen yet.
    request_finished.connect(signals.settle_heap, dispatch_uid="hub_settle_heap")
    gc.unfreeze()
    collections = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args) or 0)
    client.get("/accounts/login/")  # not /health/, which waits 2 s for a worker's ping
    assert gc.get_freeze_count() > 0 and len(collections) == 1
    client.get("/accounts/login/")
    assert len(collections) == 1  # the first request only
