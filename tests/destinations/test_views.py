"""The destination's page outside admin: its requests and writes with their state, the
status filter, and the retry of a failed write (workspace admins only)."""

import pytest

from destinations import services
from destinations.models import RecordWrite
from integrations import approvals
from integrations.approvals.models import OutboundChange

pytestmark = pytest.mark.django_db

CLIENT = {"name": "Anna", "email": "anna@example.com"}
EMAIL = {"from_email": "a@venue.ch", "to_email": "b@example.com", "subject": "Hi", "body_text": "."}


@pytest.fixture
def sent(sandbox, destination, admin):
    """A written client, a refused task (no title), a client the destination refuses (its id
    is no UUID: failed), an email waiting for approval and one a reviewer rejected."""
    answer = services.records_receive(
        destination=destination,
        actor=admin,
        key="page-1",
        records=[
            {"entity": "clients", "data": CLIENT},
            {"entity": "tasks", "data": {"type": "call"}},
            {"entity": "clients", "data": CLIENT | {"id": "not-a-uuid", "email": "c@example.com"}},
            {"entity": "emails", "data": EMAIL},
            {"entity": "emails", "data": EMAIL | {"subject": "No"}},
        ],
    )
    change = OutboundChange.objects.get(pk=answer["records"][4]["change_id"])
    approvals.reject(changes=[change], actor=admin, note="no")
    return answer


def states(page) -> list[str]:
    return [w.state for w in page.context["writes"]]


def test_the_page_shows_each_writes_state_and_the_request(client, destination, admin, sent):
    client.force_login(admin)
    page = client.get(f"/destinations/{destination.pk}/")
    assert page.status_code == 200
    assert sorted(states(page)) == ["failed", "refused", "rejected", "waiting", "written"]
    html = page.content.decode()
    assert sent["records"][0]["id"] in html and "page-1" in html
    assert "invalid input syntax for type uuid" in html
    assert services.project(destination).key not in html
    failed = client.get(f"/destinations/{destination.pk}/?status=failed")
    assert states(failed) == ["failed"]
    assert states(client.get(f"/destinations/{destination.pk}/?status=rejected")) == ["rejected"]
    assert states(client.get(f"/destinations/{destination.pk}/?status=waiting")) == ["waiting"]
    listing = client.get(f"/destinations/?workspace={destination.workspace_id}")
    assert destination.name in listing.content.decode()


def test_an_admin_retries_a_failed_write_from_the_page(client, destination, admin, sent):
    write = RecordWrite.objects.get(status=RecordWrite.Status.FAILED)
    write.row = {**write.row, "id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"}  # fixed by hand
    write.save()
    client.force_login(admin)
    answer = client.post(
        f"/destinations/{destination.pk}/writes/{write.pk}/retry", {"status": "failed"}
    )
    assert answer.status_code == 302 and answer["Location"].endswith("?status=failed")
    write.refresh_from_db()
    assert write.status == RecordWrite.Status.WRITTEN and write.attempts == 2


def test_a_member_sees_the_page_but_cannot_retry(client, destination, two_workspaces, sent):
    member = two_workspaces["a_member"]
    client.force_login(member)
    page = client.get(f"/destinations/{destination.pk}/")
    assert page.status_code == 200 and "Retry" not in page.content.decode()
    write = RecordWrite.objects.get(status=RecordWrite.Status.FAILED)
    client.post(f"/destinations/{destination.pk}/writes/{write.pk}/retry")
    write.refresh_from_db()
    assert write.status == RecordWrite.Status.FAILED and write.attempts == 1


def test_another_workspaces_destination_is_not_found(client, destination, two_workspaces):
    client.force_login(two_workspaces["b_admin"])
    assert client.get(f"/destinations/{destination.pk}/").status_code == 404
    write_url = f"/destinations/{destination.pk}/writes/1/retry"
    assert client.post(write_url).status_code == 404
