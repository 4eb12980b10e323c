"""The write step's gate: planned writes become review-queue changes, one per record."""

import pytest

from integrations import approvals
from integrations.approvals.models import OutboundChange
from integrations.sync import gate

pytestmark = pytest.mark.django_db

OWNER = "test.gate"


@pytest.fixture
def owner():
    approvals.register_applier(OWNER, lambda change: None)
    yield OWNER
    approvals.APPLIERS.pop(OWNER, None)


@pytest.fixture
def connection(two_workspaces):
    from integrations.connections.models import Connection

    return Connection.objects.create(
        workspace=two_workspaces["a"], provider="hubspot", requires_approval=True, access_token="x"
    )


def write(key: str, email: str, operation: str = "update") -> gate.Outgoing:
    return gate.Outgoing(
        key=key,
        operation=operation,
        target_entity="contact",
        target_id="" if operation == "create" else key,
        label=f"Contact {key}",
        before=None if operation == "create" else {"email": "old@example.com"},
        after={"email": email},
        payload={"email": email},
    )


def test_each_write_waits_once_and_a_new_plan_refreshes_it(owner, connection):
    first = gate.hold(
        [write("1", "a@example.com"), write("2", "b@example.com", "create")],
        workspace=connection.workspace,
        owner=owner,
        connection=connection,
    )
    assert [c.payload for c in first] == [
        {"email": "a@example.com", "key": "1"},
        {"email": "b@example.com", "key": "2"},
    ]
    assert first[0].changes == {"email": {"before": "old@example.com", "after": "a@example.com"}}

    again = gate.hold(
        [write("1", "a2@example.com"), write("2", "b@example.com", "create")],
        workspace=connection.workspace,
        owner=owner,
        connection=connection,
    )

    assert [c.pk for c in again] == [c.pk for c in first]  # refreshed in place
    assert OutboundChange.objects.filter(owner=owner).count() == 2
    assert again[0].changes["email"]["after"] == "a2@example.com"


def test_an_approved_change_is_not_planned_again(owner, connection, two_workspaces):
    (change,) = gate.hold(
        [write("1", "a@example.com")],
        workspace=connection.workspace,
        owner=owner,
        connection=connection,
    )
    approvals.approve(changes=[change], actor=two_workspaces["a_admin"])

    (same,) = gate.hold(
        [write("1", "other@example.com")],
        workspace=connection.workspace,
        owner=owner,
        connection=connection,
    )

    same.refresh_from_db()
    assert same.pk == change.pk and same.status == "approved"
    assert same.payload["email"] == "a@example.com"  # what the person approved
    assert list(gate.waiting(owner, ["1", "2"])) == ["1"]


def test_a_decided_change_no_longer_waits(owner, connection, two_workspaces):
    (change,) = gate.hold(
        [write("1", "a@example.com")],
        workspace=connection.workspace,
        owner=owner,
        connection=connection,
    )
    approvals.reject(changes=[change], actor=two_workspaces["a_admin"])

    (fresh,) = gate.hold(
        [write("1", "a@example.com")],
        workspace=connection.workspace,
        owner=owner,
        connection=connection,
    )

    assert fresh.pk != change.pk and fresh.status == "pending"
