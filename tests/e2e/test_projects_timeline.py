"""A project's timeline in a real browser: connect Smartsheet through the popup, add a
comment, create the sheet, press each sync button and follow the run to its summary. The runs
go through the API to a real Celery worker, which drives the SDK against the emulator."""

import pytest

from integrations.connections.models import Connection
from projects import services
from projects.models import Comment, RowMapping
from tests.e2e.helpers import press_and_follow
from tests.projects.helpers import add, person, timeline

pytestmark = pytest.mark.django_db(transaction=True)


def press(page, direction: str) -> tuple[str, list[float]]:
    return press_and_follow(page, f'button.sync[data-direction="{direction}"]')


def test_connect_comment_provision_and_both_sync_buttons(
    signed_in, hub, two_workspaces, sandbox, celery_worker
):
    user = two_workspaces["a_admin"]
    project = services.project_create(
        workspace=two_workspaces["a"], actor=user, number="2201", name="Harbor Clinic"
    )
    page = signed_in(user)
    page.goto(f"{hub.url}/projects/{project.pk}/")

    # Without Smartsheet, authoring is blocked with a prompt, not a redirect.
    assert page.url.endswith(f"/projects/{project.pk}/")
    assert page.locator("#connect-prompt").is_visible()
    assert page.locator("#add-comment").count() == 0

    with page.expect_popup() as popup_info:
        page.click("#smartsheet button.connect")
    popup_info.value.click("#approve")
    page.locator("#smartsheet .email").wait_for()
    connection = Connection.objects.get(provider="smartsheet", user=user)
    assert page.inner_text("#smartsheet .email") == connection.external_email

    # Enough entries that the outbound run has several steps to report.
    timeline(project, user, task_blocks=3, per_block={"purchaseorder": 2, "comment": 2})
    page.reload()
    page.fill("#add-comment textarea[name=text]", "Walls closed on level 2.")
    page.click("#add-comment button[type=submit]")
    page.wait_for_selector("text=Walls closed on level 2.")
    comment = Comment.objects.get(text="Walls closed on level 2.")
    assert (comment.author, comment.ss_email) == (user, connection.external_email)

    page.click("#provision")
    page.wait_for_selector('button.sync[data-direction="outbound"]')

    # Each discussion takes a moment at Smartsheet: the bar has steps to show on the way.
    sandbox.fault("smartsheet", kind="latency", seconds=0.3, method="POST", path="*/discussions")
    summary, progress = press(page, "outbound")
    entities = 3 + 3 * 4 + 1
    assert summary == f"Done: {entities} created, 0 updated, 0 unchanged"
    assert progress[-1] == 100
    assert any(0 < value < 100 for value in progress)  # it moved while the run worked
    assert progress == sorted(progress)  # and never went backwards
    assert RowMapping.objects.count() == entities
    assert page.locator('button.sync[data-direction="inbound"]').is_enabled()

    # Someone adds a row by hand in Smartsheet: the inbound run lists it as unmapped.
    sandbox.control("smartsheet", "DELETE", "faults")
    link = project.sheet_link
    link.refresh_from_db()
    columns = {k: int(v) for k, v in link.columns.items()}
    from integrations.connections.providers import smartsheet

    smartsheet.add_rows(
        person(user),
        sheet_id=link.sheet_id,
        parent_id=None,
        cells=[[{"columnId": columns["name"], "value": "Crane booking"}]],
    )
    summary, progress = press(page, "inbound")
    # The first inbound run reads every row: ours come back unchanged, the new one unmapped.
    assert summary == (
        f"Done: 0 created, 0 updated, {entities} unchanged, 1 unmapped — review the 1 unmapped row"
    )
    assert progress[-1] == 100
    # The summary leads to them.
    page.click("#run-summary a")
    page.wait_for_url(f"{hub.url}/projects/{project.pk}/unmapped/")
    assert page.inner_text("#unmapped-rows tbody td:first-child") == "Crane booking"


def test_a_failed_item_is_named_in_the_summary(
    signed_in, hub, two_workspaces, sandbox, celery_worker
):
    from tests.integrations.helpers import connect

    user = two_workspaces["a_admin"]
    user.smartsheet = connect(
        sandbox, user=user, workspace=two_workspaces["a"], provider="smartsheet"
    )
    project = services.project_create(
        workspace=two_workspaces["a"], actor=user, number="2202", name="Depot"
    )
    services.sheet_provision(project=project, actor=user)
    comment = add(project, user, "comment", text="Fence repaired")
    sandbox.fault("smartsheet", kind="error", status=400, method="POST", path="*/discussions")

    page = signed_in(user)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    summary, _ = press(page, "outbound")
    assert summary.startswith("Done, with failures: 1 created") and "1 failed" in summary
    errors = page.locator("#run-errors li").all_inner_texts()
    assert len(errors) == 1
    assert errors[0].startswith(f"Comment “{comment.text}”: the comment could not be posted")
    assert "(error 4000)" in errors[0]  # Smartsheet's own words, passed on


def test_a_popup_closed_without_a_word_is_explained_on_the_project_page(
    signed_in, hub, two_workspaces
):
    # The same words as the Connections page: what is being checked, and for how long.
    user = two_workspaces["a_admin"]
    project = services.project_create(
        workspace=two_workspaces["a"], actor=user, number="2202", name="Pier Offices"
    )
    page = signed_in(user)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    with page.expect_popup() as popup_info:
        page.click("#smartsheet button.connect")
    popup_info.value.wait_for_selector("#approve")
    popup_info.value.close()
    status = page.locator("#smartsheet .status")
    status.get_by_text(
        "The sign-in window was closed; checking whether the connection was made… (up to 3 s)"
    ).wait_for()
    status.get_by_text("Smartsheet: not connected").wait_for(timeout=15_000)
