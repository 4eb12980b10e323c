"""What the CRM tests share: the people of the two workspaces and a Salesforce config of
workspace A connected through the sandbox's consent flow."""

import pytest

from crm.models import CrmConfig
from integrations import runs
from tests.integrations.helpers import connect


@pytest.fixture
def no_queue(monkeypatch):
    """A run is not put on the broker on commit: the test runs it itself (sync.execute), or
    what the pages and the API show of a queued run is its subject."""
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)


@pytest.fixture
def admin(two_workspaces):
    return two_workspaces["a_admin"]


@pytest.fixture
def member(two_workspaces):
    return two_workspaces["a_member"]


@pytest.fixture
def outsider(two_workspaces):
    return two_workspaces["b_admin"]


@pytest.fixture
def config(sandbox, two_workspaces):
    connection = connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="salesforce",
    )
    return CrmConfig.objects.create(
        workspace=two_workspaces["a"],
        provider="salesforce",
        connection=connection,
        entities=["account", "contact"],
    )
