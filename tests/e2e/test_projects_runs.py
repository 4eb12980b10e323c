"""A project's sync runs in a real browser, against a real Celery worker and the Smartsheet
emulator: a second tab told of the run going (never "Done" for a run it did not start), a
reload during a run, what an inbound run changes shown on the page, the unmapped rows and
their admin-only actions, and a provider outage's retry note. Runs are made slow enough to
watch by the emulator's control plane (latency, 429s), never by sleeping here."""

import re

import pytest
from django.test import Client

from projects import services
from projects.models import ProjectSyncRun, PurchaseOrder, UnmappedRow
from tests.e2e.helpers import console_errors, press_and_follow
from tests.integrations.helpers import connect
from tests.projects.helpers import add, edit_row, row_of, rows_by_hand

pytestmark = pytest.mark.django_db(transaction=True)

FINISHED = "['succeeded', 'partial', 'failed', 'refused'].includes(document.getElementById('run-summary').dataset.status)"

# Every text the summary line shows, recorded in the page.
RECORD_SUMMARIES = """
window.__summaries = [];
new MutationObserver(() => window.__summaries.push(document.getElementById('run-summary').textContent))
  .observe(document.getElementById('run-summary'), { childList: true, characterData: true, subtree: true });
"""


def button(page, direction: str):
    return page.locator(f'button.sync[data-direction="{direction}"]')


@pytest.fixture
def signed_in(browser, hub):
    """A browser page signed in as the given user, each with a session of its own (the shared
    `signed_in` of conftest signs in through one test client, and a second user's sign-in
    there ends the first one's session)."""
    contexts = []

    def open_as(user):
        client = Client()
        client.force_login(user)
        context = browser.new_context()
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": hub.url}]
        )
        contexts.append(context)
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def people(two_workspaces, sandbox, hub):
    """A workspace admin and a member, each with their own Smartsheet connection."""
    admin, member = two_workspaces["a_admin"], two_workspaces["a_member"]
    for user in (admin, member):
        user.smartsheet = connect(
            sandbox, user=user, workspace=two_workspaces["a"], provider="smartsheet"
        )
    return admin, member


@pytest.fixture
def project(people, two_workspaces):
    admin, _ = people
    project = services.project_create(
        workspace=two_workspaces["a"], actor=admin, number="3101", name="Pier 9"
    )
    services.sheet_provision(project=project, actor=admin)
    project.refresh_from_db()
    return project


def slow_outbound(project, admin, sandbox, comments: int = 10) -> int:
    """Comments whose discussions each take half a second at Smartsheet: an outbound run of a
    few seconds. Returns the number of entries."""
    for n in range(comments):
        add(project, admin, "comment", text=f"Site note {n}")
    sandbox.fault("smartsheet", kind="latency", seconds=0.5, method="POST", path="*/discussions")
    return comments


def wait_running(page):
    page.wait_for_function(
        "document.getElementById('run-stage').textContent.startsWith('Posting comments')",
        timeout=30_000,
    )


def test_a_second_tab_is_told_of_the_run_going_and_starts_its_own_after_it(
    signed_in, hub, people, project, sandbox, celery_worker
):
    admin, member = people
    entries = slow_outbound(project, admin, sandbox)
    tab_a = signed_in(admin)
    tab_a.goto(f"{hub.url}/projects/{project.pk}/")
    tab_b = signed_in(member)
    errors = console_errors(tab_b)
    tab_b.goto(f"{hub.url}/projects/{project.pk}/")
    tab_b.evaluate(RECORD_SUMMARIES)

    button(tab_a, "outbound").click()
    wait_running(tab_a)
    button(tab_b, "inbound").click()

    # Tab B says what is in the way, whose it is and how far it is; its buttons wait.
    tab_b.wait_for_function(
        "document.getElementById('run-summary').dataset.status === 'busy'", timeout=10_000
    )
    summary = tab_b.inner_text("#run-summary")
    assert summary.startswith(
        f"Another run is in progress (Sync to Smartsheet, started by {admin.email}): "
        "Posting comments and attachments "
    )
    assert summary.endswith("Sync from Smartsheet has not started.")
    assert re.search(r"Posting comments and attachments \d+/10", summary)
    after = tab_b.locator("#run-after")
    assert after.inner_text() == "Start Sync from Smartsheet when it finishes"
    assert button(tab_b, "inbound").is_disabled() and button(tab_b, "outbound").is_disabled()

    after.click()
    tab_b.wait_for_function(FINISHED, timeout=60_000)
    # The inbound run ran, after the outbound one, and tab B reported it, not tab A's run.
    assert tab_b.inner_text("#run-summary") == f"Done: 0 created, 0 updated, {entries} unchanged"
    runs = list(
        ProjectSyncRun.objects.order_by("created_at").values_list("direction", "requested_by")
    )
    assert runs == [("outbound", admin.pk), ("inbound", member.pk)]
    seen = tab_b.evaluate("window.__summaries")
    assert not any(text.startswith(f"Done: {entries} created") for text in seen), seen
    assert tab_a.inner_text("#run-summary").startswith(f"Done: {entries} created")
    # The page never provoked the API's 409 (Chromium logs one as a console error).
    assert errors == []


def test_a_second_tab_that_does_not_wait_is_told_when_the_other_run_ends(
    signed_in, hub, people, project, sandbox, celery_worker
):
    admin, member = people
    slow_outbound(project, admin, sandbox, comments=6)
    tab_a = signed_in(admin)
    tab_a.goto(f"{hub.url}/projects/{project.pk}/")
    tab_b = signed_in(member)
    errors = console_errors(tab_b)
    tab_b.goto(f"{hub.url}/projects/{project.pk}/")
    button(tab_a, "outbound").click()
    wait_running(tab_a)
    button(tab_b, "inbound").click()
    tab_b.wait_for_function(
        "document.getElementById('run-summary').dataset.status === 'other-ended'", timeout=60_000
    )
    assert tab_b.inner_text("#run-summary") == (
        f"The other run (Sync to Smartsheet, started by {admin.email}) has ended (done). "
        "Sync from Smartsheet did not run: press its button to start it."
    )
    assert button(tab_b, "inbound").is_enabled() and not tab_b.locator("#run-after").is_visible()
    assert ProjectSyncRun.objects.count() == 1 and errors == []


def test_a_page_reloaded_during_a_run_follows_it_with_both_buttons_disabled(
    signed_in, hub, people, project, sandbox, celery_worker
):
    admin, _ = people
    entries = slow_outbound(project, admin, sandbox)
    page = signed_in(admin)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    button(page, "outbound").click()
    wait_running(page)

    page.reload()
    # At once, as rendered: the run, not an idle page.
    assert page.locator("#run").is_visible()
    assert button(page, "outbound").is_disabled() and button(page, "inbound").is_disabled()
    assert page.inner_text("#run-summary") == (
        f"In progress: Sync to Smartsheet, started by {admin.email}."
    )
    # Then followed: the stage moves on, and the buttons come back when it ends.
    page.wait_for_function(
        "/Posting comments and attachments ([5-9]|10)\\/10/.test(document.getElementById('run-stage').textContent)",
        timeout=30_000,
    )
    assert button(page, "outbound").is_disabled()
    page.wait_for_function(FINISHED, timeout=60_000)
    assert page.inner_text("#run-summary") == (
        f"Sync to Smartsheet, started by {admin.email} — Done: {entries} created, 0 updated, 0 unchanged"
    )
    assert button(page, "outbound").is_enabled() and button(page, "inbound").is_enabled()


def test_an_amount_changed_in_smartsheet_shows_once_sync_from_is_done(
    signed_in, hub, people, project, sandbox, celery_worker
):
    admin, _ = people
    po = add(project, admin, "purchaseorder", number="PO-12", vendor="Acme Steel", amount=250)
    page = signed_in(admin)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    entry = f"#entry-purchaseorder-{po.pk} .amount"
    assert page.inner_text(entry) == "amount 250.00"
    summary, _ = press_and_follow(page, 'button.sync[data-direction="outbound"]')
    assert summary.startswith("Done: 1 created")

    edit_row(project, admin, row_of(po), amount=1250.5)
    summary, _ = press_and_follow(page, 'button.sync[data-direction="inbound"]')
    assert summary == "Done: 0 created, 1 updated, 0 unchanged"
    page.wait_for_function(
        f"document.querySelector('{entry}').textContent === 'amount 1,250.50'", timeout=10_000
    )
    assert PurchaseOrder.objects.get().amount == 1250.5


def test_unmapped_rows_are_reached_from_the_summary_and_dealt_with_by_admins_only(
    signed_in, hub, people, project, sandbox, celery_worker
):
    admin, member = people
    rows_by_hand(
        project,
        admin,
        {"name": "PO-77", "type": "Purchase Order", "amount": 77},
        {"name": "Crane booking"},
    )
    page = signed_in(member)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    summary, _ = press_and_follow(page, 'button.sync[data-direction="inbound"]')
    assert (
        summary
        == "Done: 0 created, 0 updated, 0 unchanged, 2 unmapped — review the 2 unmapped rows"
    )
    page.click("#run-summary a")
    page.wait_for_url(f"{hub.url}/projects/{project.pk}/unmapped/")
    assert page.locator("#unmapped-rows tbody tr").count() == 2
    assert page.locator("#admins-only").is_visible()
    assert page.locator("button.import, button.link, button.ignore").count() == 0

    page = signed_in(admin)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    page.click("#unmapped-notice a")
    po_row, crane_row = UnmappedRow.objects.order_by("row_id")
    page.click(f"#unmapped-{po_row.pk} button.import")
    page.wait_for_selector("text=Imported “PO-77” as purchase order")
    page.click(f"#unmapped-{crane_row.pk} button.ignore")
    page.wait_for_selector("#no-unmapped")
    page.click(f"text=← {project.number} — {project.name}")
    imported = PurchaseOrder.objects.get(number="PO-77")
    assert page.inner_text(f"#entry-purchaseorder-{imported.pk} .amount") == "amount 77.00"


def test_a_provider_outage_shows_the_retry_and_when_the_next_attempt_goes(
    signed_in, hub, people, project, sandbox, celery_worker
):
    admin, _ = people
    add(project, admin, "purchaseorder", number="PO-1", vendor="Acme")
    sandbox.fault("smartsheet", kind="storm", retry_after=4, method="POST", path="*/rows", count=1)
    page = signed_in(admin)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    button(page, "outbound").click()
    page.wait_for_function(
        "/^The provider is not answering: retrying \\(429\\), next attempt in [1-5] s\\.$/"
        ".test(document.getElementById('run-note').textContent)",
        timeout=20_000,
    )
    page.wait_for_function(FINISHED, timeout=30_000)
    assert page.inner_text("#run-summary").startswith("Done: 1 created")
    assert page.inner_text("#run-note") == ""
