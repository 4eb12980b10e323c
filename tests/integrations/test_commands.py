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
