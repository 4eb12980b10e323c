"""The destination's page in a real browser, on a phone: its requests and writes with their
states, and a workspace admin's retry of a failed write."""

import pytest

from destinations import services
from destinations.models import RecordWrite
from tests.destinations import conftest as destination_fixtures
from tests.destinations.conftest import rows
from tests.e2e import test_layout as layout
from tests.e2e.helpers import console_errors

# Fixtures of other folders, used here as they are.
admin, destination, phone = (
    destination_fixtures.admin,
    destination_fixtures.destination,
    layout.phone,
)
# A workspace admin who is not staff: the header has no Admin link.
HEADER = [name for name in layout.NAVIGATION if name != "Admin"]

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT = {"name": "Alexandra Montgomery-Vanderbilt", "email": "alexandra@example.com"}
EMAIL = {
    "from_email": "events@venue.ch",
    "to_email": "alexandra.montgomery-vanderbilt@construction-example.com",
    "subject": "Your summer party at the Grand Hall",
    "body_text": "Dear Alexandra, ...",
}


def test_an_admin_sees_the_writes_on_a_phone_and_retries_a_failed_one(
    phone, hub, sandbox, destination, admin
):
    answer = services.records_receive(
        destination=destination,
        actor=admin,
        key="workflow-2026-07-04-summer-party-0001",
        records=[
            {"entity": "clients", "data": CLIENT},
            {"entity": "tasks", "data": {"type": "call"}},  # refused: no title
            {"entity": "emails", "data": EMAIL},  # waits for approval
            {"entity": "clients", "data": CLIENT | {"id": "x-1", "email": "b@example.com"}},
        ],
    )
    assert answer["counts"] == {"written": 1, "refused": 1, "waiting": 1, "failed": 1}
    failed = RecordWrite.objects.get(status=RecordWrite.Status.FAILED)
    failed.row = {**failed.row, "id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"}  # fixed by hand
    failed.save()

    page = phone(admin)
    errors = console_errors(page)
    page.goto(f"{hub.url}/destinations/{destination.pk}/")
    layout.assert_fits(page, header=HEADER)
    states = page.eval_on_selector_all(
        "#writes tr[data-state]", "rows => rows.map(r => r.dataset.state)"
    )
    assert sorted(states) == ["failed", "refused", "waiting", "written"]
    assert "workflow-2026-07-04-summer-party-0001" in page.inner_text("#requests")
    assert "invalid input syntax for type uuid" in page.inner_text(f"tr[data-write='{failed.pk}']")

    page.select_option("#status", "failed")
    page.click("#filters button")
    page.wait_for_url("**status=failed")
    assert page.locator("#writes tr[data-state]").count() == 1
    page.click(f"tr[data-write='{failed.pk}'] button:has-text('Retry')")
    page.wait_for_selector("text=Written: Clients")
    layout.assert_fits(page, header=HEADER)
    assert page.locator("#no-writes").is_visible()  # no failed write left in the filter
    page.select_option("#status", "written")
    page.click("#filters button")
    page.wait_for_url("**status=written")
    assert page.locator(f"tr[data-write='{failed.pk}'] .badge").inner_text() == "written"
    assert len(rows(sandbox, "clients")) == 2
    assert errors == []


def test_a_member_sees_the_page_without_retry(phone, hub, sandbox, destination, two_workspaces):
    services.records_receive(
        destination=destination,
        actor=two_workspaces["a_admin"],
        key="k",
        records=[{"entity": "clients", "data": CLIENT | {"id": "x-1"}}],
    )
    page = phone(two_workspaces["a_member"])
    page.goto(f"{hub.url}/destinations/{destination.pk}/")
    layout.assert_fits(page, header=HEADER)
    assert page.locator("#writes tr[data-state='failed']").count() == 1
    assert page.locator("button:has-text('Retry')").count() == 0
