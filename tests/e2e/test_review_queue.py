"""The review queue in a real browser: a change planned while the page is open appears by
itself (polling every 2 s); approving it there is recorded and queues its application."""

import pytest
import tenacity

from integrations import approvals
from integrations.approvals.models import OutboundChange
from projects import services
from projects import sync as projects_sync
from tests.e2e.helpers import press_and_follow
from tests.integrations.helpers import connect
from tests.projects.helpers import add, rows_of

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


def test_a_held_project_row_approved_on_the_page_appears_in_smartsheet(
    signed_in, hub, two_workspaces, sandbox, celery_worker
):
    """The projects sync under "requires approval": Sync to Smartsheet holds its rows; the
    one approved on the review page is written by the worker, the rejected one never."""
    admin = two_workspaces["a_admin"]
    admin.smartsheet = connect(
        sandbox, user=admin, workspace=two_workspaces["a"], provider="smartsheet"
    )
    admin.smartsheet.requires_approval = True
    admin.smartsheet.save(update_fields=["requires_approval"])
    project = services.project_create(
        workspace=two_workspaces["a"], actor=admin, number="2207", name="Harbor Court"
    )
    services.sheet_provision(project=project, actor=admin)
    project.refresh_from_db()
    framing = add(project, admin, "taskblock", title="Framing", notes="north wing")
    add(project, admin, "taskblock", title="Roofing")

    page = signed_in(admin)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    summary, _ = press_and_follow(page, 'button.sync[data-direction="outbound"]')
    assert summary == (
        "Done: 0 created, 0 updated, 0 unchanged, 2 waiting for approval"
        " — review the 2 held changes"
    )
    assert rows_of(project, admin) == {}
    wanted, unwanted = OutboundChange.objects.filter(owner=projects_sync.OWNER).order_by("pk")
    page.click("#run-summary a")
    page.wait_for_url(f"{hub.url}/integrations/review/")
    row = page.locator(f'tr[data-id="{wanted.pk}"]')
    row.wait_for()
    assert "2207 · " in row.inner_text() and "Framing" in row.inner_text()
    row.locator("button.approve-one").click()
    page.wait_for_function("document.getElementById('outcome').dataset.state === 'done'")
    page.locator(f'tr[data-id="{unwanted.pk}"] button.reject-one').click()
    page.wait_for_function("document.getElementById('outcome').textContent === 'Rejected 1.'")
    page.locator("#empty").wait_for()

    # The worker applies the approved change: wait for its outcome, then read the sheet.
    for attempt in tenacity.Retrying(
        stop=tenacity.stop_after_delay(30), wait=tenacity.wait_fixed(0.2), reraise=True
    ):
        with attempt:
            wanted.refresh_from_db()
            assert wanted.status == "applied", wanted.error
    names = [row["name"] for row in rows_of(project, admin).values()]
    assert names == [framing.title]
    unwanted.refresh_from_db()
    assert unwanted.status == "rejected"
