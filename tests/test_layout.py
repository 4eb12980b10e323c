"""The project's shape: every app registered with the same rooms, the platform's rooms each
with theirs, no missing migrations."""

import importlib

import pytest
from django.apps import apps
from django.core.management import call_command

APPS = ["projects", "timetracker", "migration", "crm", "destinations"]
ROOMS = ["models", "services", "selectors", "api", "tasks", "admin", "urls"]
# The platform is one app whose rooms are sub-packages, each with the modules its concern
# needs; the app's own models, admin, tasks and urls gather them for Django and Celery.
PLATFORM = {
    "integrations": ["models", "tasks", "admin", "urls"],
    "integrations.accounts": ["models", "services", "selectors", "api", "admin", "audit"],
    "integrations.connections": ["models", "services", "selectors", "api", "tasks", "admin"],
    "integrations.mapping": ["models", "engine", "api", "admin"],
    "integrations.approvals": ["models", "api", "tasks", "admin"],
    "integrations.runs": ["api", "tasks", "admin"],
    "integrations.sync": ["models", "planner"],
}


@pytest.mark.parametrize("app", APPS)
def test_each_app_is_registered_with_its_rooms(app):
    assert apps.is_installed(app)
    for room in ROOMS:
        importlib.import_module(f"{app}.{room}")


@pytest.mark.parametrize("package", PLATFORM)
def test_each_room_of_the_platform_has_its_modules(package):
    assert apps.is_installed("integrations")
    for module in PLATFORM[package]:
        importlib.import_module(f"{package}.{module}")


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
