"""Management commands of the platform."""

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from integrations.accounts.models import Membership, User, Workspace
from integrations.schedules import SCHEDULES

pytestmark = pytest.mark.django_db


def test_setup_periodic_tasks_is_idempotent(capsys):
    call_command("setup_periodic_tasks")
    first = list(PeriodicTask.objects.values_list("pk", "name", "interval_id"))
    call_command("setup_periodic_tasks")
    assert list(PeriodicTask.objects.values_list("pk", "name", "interval_id")) == first
    assert f"0 created, 0 updated, {len(SCHEDULES)} unchanged, 0 removed" in capsys.readouterr().out


def test_setup_periodic_tasks_migrates_a_database_not_set_up_yet_first(capsys, monkeypatch):
    # The plan a new database has (all of it) stood in by two steps; the migrate it then
    # runs, recorded instead of run (the test database is migrated already).
    from django.db.migrations.executor import MigrationExecutor

    from integrations.management.commands import setup_periodic_tasks

    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [1, 2])
    called = []
    monkeypatch.setattr(
        setup_periodic_tasks, "call_command", lambda name, **options: called.append(name)
    )
    call_command("setup_periodic_tasks")
    assert called == ["migrate"]
    out = capsys.readouterr().out
    assert "The database has 2 unapplied migrations: migrating first." in out
    assert f"{len(SCHEDULES)} created" in out  # and then the schedule is written


def test_bootstrap_demo_creates_the_admin_once_and_prints_the_password_once(capsys):
    call_command("bootstrap_demo", email="admin@example.com")
    first = capsys.readouterr().out
    password = first.split("Password:")[1].split()[0]
    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.check_password(password)
    assert Membership.objects.get(user=admin).role == "admin"

    call_command("bootstrap_demo", email="admin@example.com")
    second = capsys.readouterr().out
    assert password not in second
    assert "admin@example.com" in second and "http://127.0.0.1:8000/" in second
    assert (User.objects.count(), Workspace.objects.count()) == (1, 1)


def test_bootstrap_demo_gives_the_demo_a_dataverse_connection_in_sandbox_mode(capsys):
    from integrations.connections.models import Connection

    call_command("bootstrap_demo", email="admin@example.com")
    call_command("bootstrap_demo", email="admin@example.com")
    connection = Connection.objects.get(provider="dataverse")
    assert connection.workspace.slug == "demo" and connection.client_secret
    pwa = Connection.objects.get(provider="project_online")  # once, though run twice
    assert pwa.workspace.slug == "demo" and pwa.instance_url.endswith("/sites/pwa")


async def _a_malformed_token_call(server) -> None:
    """What the patched `serve` does instead of serving: one HubSpot token call whose
    grant_type the spec does not allow, through the emulator's app as uvicorn would call it."""
    for sock in server.sockets.values():
        sock.close()
    messages = [{"type": "http.request", "body": b"grant_type=password", "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        pass

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/oauth/v3/token",
        "raw_path": b"/oauth/v3/token",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "server": ("127.0.0.1", 0),
        "client": ("127.0.0.1", 1),
    }
    await server.emulators["hubspot"].app()(scope, receive, send)


@pytest.mark.parametrize("strict", [True, False])
def test_sandbox_strict_logs_each_contract_violation_on_one_warning_line(
    strict, settings, monkeypatch, caplog
):
    from integrations.sandbox import runner

    settings.SANDBOX_PORTS = {**settings.SANDBOX_PORTS, "browser": 0, "hubspot": 0}
    monkeypatch.setattr(runner.SandboxServer, "serve", _a_malformed_token_call)
    options = ["--strict"] if strict else []
    with caplog.at_level("WARNING", logger="integrations.sandbox.core"):
        call_command("sandbox", "--only", "hubspot", "--no-snapshot", *options)
    lines = [r.getMessage() for r in caplog.records if "contract violation" in r.getMessage()]
    if not strict:
        assert lines == []  # checking costs: it is off unless asked for
        return
    assert [record.levelname for record in caplog.records if "contract" in record.getMessage()] == [
        "WARNING"
    ]
    [line] = lines
    assert "hubspot POST /oauth/v3/token request form.grant_type=password" in line
