"""The project's shape: every app registered with the same rooms, no missing migrations."""

import importlib

import pytest
from django.apps import apps
from django.core.management import call_command

APPS = ["integrations", "projects", "timetracker", "migration", "crm"]
ROOMS = ["models", "services", "selectors", "api", "tasks", "admin", "urls"]


@pytest.mark.parametrize("app", APPS)
def test_each_app_is_registered_with_its_rooms(app):
    assert apps.is_installed(app)
    for room in ROOMS:
        importlib.import_module(f"{app}.{room}")


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
