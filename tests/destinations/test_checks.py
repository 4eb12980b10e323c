"""A destination that cannot write is reported by the system checks (at start-up)."""

import pytest
from django.core.checks import run_checks

from destinations.models import Destination

pytestmark = pytest.mark.django_db


def test_a_destination_missing_settings_is_reported_by_name(destination):
    assert not [w for w in run_checks(databases=["default"]) if w.id == "destinations.W001"]
    Destination.objects.filter(pk=destination.pk).update(service_key="", user_id=None)
    [warning] = [w for w in run_checks(databases=["default"]) if w.id == "destinations.W001"]
    assert "'Events frontend'" in warning.msg
    assert "service-role key, system user id are not set" in warning.msg
