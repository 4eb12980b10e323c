"""The review queue in a real browser: a change planned while the page is open appears by
itself (polling every 2 s); approving it there is recorded and queues its application."""

import pytest

from integrations import approvals
from integrations.approvals.models import OutboundChange

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner():
    approvals.register_applier("test.review", lambda change: None)
    yield "test.review"
    approvals.APPLIERS.pop("test.review", None)


def planned(workspace, owner, label):
    from integrations.connections.models import Connection

    connection = Connection.objects.create(
        workspace=workspace, provider="hubspot", requires_approval=True, access_token="x"
    )
    return approvals.plan(
        workspace=workspace,
        owner=owner,
        connection=connection,
        target_entity="contact",
        target_id="901",
        target_label=label,
        operation="update",
        before={"email": "old@example.com"},
        after={"email": "new@example.com"},
    )


def test_a_new_change_appears_and_is_approved(signed_in, hub, two_workspaces, owner):
    page = signed_in(two_workspaces["a_admin"])
    page.goto(f"{hub.url}/integrations/review/")
    page.locator("#empty").wait_for()  # nothing yet
    change = planned(two_workspaces["a"], owner, "Anna Muster")
    row = page.locator(f'tr[data-id="{change.pk}"]')
    row.wait_for(timeout=5_000)  # no reload: the page polls
    assert "old@example.com" in row.inner_text() and "new@example.com" in row.inner_text()
    page.fill("#note", "checked with Anna")
    row.locator("button.approve-one").click()
    page.wait_for_function("document.getElementById('outcome').dataset.state === 'done'")
    assert page.inner_text("#outcome") == "Approved 1."
    change.refresh_from_db()
    assert (change.status, change.note) in {
        ("approved", "checked with Anna"),
        ("applied", "checked with Anna"),
    }
    row.wait_for(state="detached", timeout=5_000)


def test_a_member_cannot_decide(signed_in, hub, two_workspaces, owner):
    change = planned(two_workspaces["a"], owner, "Bo")
    page = signed_in(two_workspaces["a_member"])
    page.goto(f"{hub.url}/integrations/review/")
    page.locator(f'tr[data-id="{change.pk}"] button.reject-one').click()
    page.wait_for_function("document.getElementById('outcome').dataset.state === 'refused'")
    assert "Only an admin of" in page.inner_text("#outcome")
    assert OutboundChange.objects.get(pk=change.pk).status == "pending"
