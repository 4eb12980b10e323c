"""The Connect popup in a real browser: the whole flow for each OAuth provider, messages
from foreign origins ignored, and a closed popup answered only after asking the server."""

import time

import pytest

from integrations.connections.models import Connection
from projects.services import project_create
from tests.integrations.helpers import connect_through_consent

pytestmark = pytest.mark.django_db(transaction=True)


def row(page, provider: str):
    return page.locator(f'tr.provider[data-provider="{provider}"]')


def open_connections(page, hub, workspace):
    page.goto(f"{hub.url}/integrations/connections/?workspace={workspace.pk}")
    page.wait_for_selector("tr.provider")


@pytest.mark.parametrize(
    ("provider", "domain"), [("smartsheet", ""), ("salesforce", "test"), ("hubspot", "")]
)
def test_the_full_popup_flow(signed_in, hub, two_workspaces, timings, provider, domain):
    page = signed_in(two_workspaces["a_admin"])
    open_connections(page, hub, two_workspaces["a"])
    polls = []
    page.on(
        "request",
        lambda request: polls.append(request.url) if "/auth/status" in request.url else None,
    )
    if domain:
        row(page, provider).locator("select.domain").select_option(domain)

    with page.expect_popup() as popup_info:
        row(page, provider).locator("button.connect").click()
        clicked = time.monotonic()
    popup = popup_info.value
    popup.wait_for_selector("#approve")
    popup.click("#approve")
    row(page, provider).locator(".email").wait_for()
    timings[provider] = round(time.monotonic() - clicked, 2)

    connection = Connection.objects.get(provider=provider)
    assert row(page, provider).locator(".email").inner_text() == connection.external_email
    assert row(page, provider).get_attribute("data-outcome") == "connected"
    assert connection.status == "connected"
    assert connection.auth_domain == domain
    assert polls == []  # the popup's message told the page; it never had to ask the server
    for _ in range(50):  # the popup closes itself (it may already have)
        if popup.is_closed():
            break
        page.wait_for_timeout(100)
    assert popup.is_closed()


def test_a_message_from_another_origin_is_ignored(signed_in, hub, two_workspaces, sandbox):
    page = signed_in(two_workspaces["a_admin"])
    open_connections(page, hub, two_workspaces["a"])
    forged = {"provider": "smartsheet", "status": "connected", "email": "mallory@evil.example"}

    with page.expect_popup() as popup_info:
        row(page, "smartsheet").locator("button.connect").click()
    popup = popup_info.value
    popup.wait_for_selector("#approve")
    # From the popup itself while it shows the provider's page (right source, wrong origin)...
    popup.evaluate("message => window.opener.postMessage(message, '*')", forged)
    # ...and from a frame of another origin in the page (wrong source, wrong origin).
    foreign = f"http://127.0.0.1:{sandbox.server.ports['browser']}/smartsheet/b/authorize"
    page.evaluate(
        "src => { const f = document.createElement('iframe'); f.src = src; document.body.appendChild(f); }",
        foreign,
    )
    frame = None
    for _ in range(50):
        frame = next((f for f in page.frames if f.url.startswith(foreign)), None)
        if frame is not None:
            break
        page.wait_for_timeout(100)
    frame.wait_for_load_state()
    frame.evaluate("message => parent.postMessage(message, '*')", forged)
    page.wait_for_timeout(500)
    assert "mallory" not in row(page, "smartsheet").inner_text()
    assert row(page, "smartsheet").get_attribute("data-outcome") is None

    popup.click("#approve")
    row(page, "smartsheet").locator(".email").wait_for()
    assert (
        row(page, "smartsheet").locator(".email").inner_text()
        == Connection.objects.get().external_email
    )


def test_closing_the_popup_reports_not_connected_only_after_asking_the_server(
    signed_in, hub, two_workspaces
):
    page = signed_in(two_workspaces["a_admin"])
    open_connections(page, hub, two_workspaces["a"])
    polls = []
    page.on(
        "request",
        lambda request: polls.append(time.monotonic()) if "/auth/status" in request.url else None,
    )

    with page.expect_popup() as popup_info:
        row(page, "hubspot").locator("button.connect").click()
    popup = popup_info.value
    popup.wait_for_selector("#approve")
    popup.close()
    closed = time.monotonic()

    # Meanwhile the page says what it is doing, and for how long at most.
    status = row(page, "hubspot").locator(".status")
    status.get_by_text(
        "The sign-in window was closed; checking whether the connection was made"
    ).wait_for()
    assert status.inner_text().endswith("(up to 3 s)")
    page.wait_for_function(
        "document.querySelector('tr.provider[data-provider=hubspot]').dataset.outcome !== undefined",
        timeout=15000,
    )
    decided = time.monotonic()
    assert row(page, "hubspot").get_attribute("data-outcome") == "not_connected"
    assert status.inner_text() == (
        "Not connected: the sign-in window was closed before the connection was made."
    )
    assert len(polls) >= 3  # it asked the server, repeatedly, before saying so
    assert decided - closed >= 2.5  # and not before the poll window (3 s here) had passed
    assert not Connection.objects.exists()


def test_disconnect_from_the_page(signed_in, hub, two_workspaces, sandbox):
    page = signed_in(two_workspaces["a_admin"])
    open_connections(page, hub, two_workspaces["a"])
    assert row(page, "smartsheet").locator("button.disconnect").is_hidden()
    with page.expect_popup() as popup_info:
        row(page, "smartsheet").locator("button.connect").click()
    popup_info.value.click("#approve")
    row(page, "smartsheet").locator(".email").wait_for()
    assert row(page, "smartsheet").locator("button.connect").inner_text() == "Reconnect"

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    row(page, "smartsheet").locator("button.disconnect").click()
    page.wait_for_function(
        "document.querySelector('tr.provider[data-provider=smartsheet]').dataset.outcome === 'disconnected'"
    )
    assert questions == [
        "Disconnect Smartsheet? Syncs through it stop until someone connects again."
    ]
    assert Connection.objects.get().status == "revoked"
    assert sandbox.count("smartsheet", "DELETE /2.0/token") == 1
    assert row(page, "smartsheet").locator("button.disconnect").is_hidden()


def test_dismissing_the_disconnect_question_keeps_the_connection(
    signed_in, hub, two_workspaces, sandbox
):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    connect_through_consent(sandbox, user=admin, workspace=workspace, provider="salesforce")
    project = project_create(workspace=workspace, actor=admin, number="2201", name="Harbor")
    connect_through_consent(sandbox, user=admin, workspace=workspace, provider="smartsheet")
    page = signed_in(admin)
    disconnects = []
    page.on(
        "request",
        lambda request: (
            disconnects.append(request.url) if "/auth/disconnect" in request.url else None
        ),
    )

    # On the connections page (the workspace's Salesforce)...
    open_connections(page, hub, workspace)
    button = row(page, "salesforce").locator("button.disconnect")
    assert "danger" in button.get_attribute("class").split()  # not styled as the main action
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    button.click()
    page.wait_for_timeout(500)
    assert questions == [
        f"Disconnect Salesforce from {workspace.name}? Syncs through it stop until someone connects again."
    ]
    assert "Connected as" in row(page, "salesforce").locator(".status").inner_text()
    assert button.is_visible()

    # ...and in a project's header (the person's own Smartsheet).
    page.goto(f"{hub.url}/projects/{project.pk}/")
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("#smartsheet button.disconnect")
    page.wait_for_timeout(500)
    assert len(questions) == 2 and questions[1].startswith("Disconnect your Smartsheet account?")
    assert page.locator("#smartsheet .email").is_visible()

    assert disconnects == []
    assert set(Connection.objects.values_list("status", flat=True)) == {"connected"}
    assert sandbox.count("smartsheet", "DELETE /2.0/token") == 0


def test_a_denied_consent_is_reported_in_one_sentence(signed_in, hub, two_workspaces):
    page = signed_in(two_workspaces["a_admin"])
    open_connections(page, hub, two_workspaces["a"])
    with page.expect_popup() as popup_info:
        row(page, "hubspot").locator("button.connect").click()
    popup_info.value.click("#deny")
    page.wait_for_function(
        "document.querySelector('tr.provider[data-provider=hubspot]').dataset.outcome === 'denied'"
    )
    text = row(page, "hubspot").locator(".status").inner_text()
    assert text == "Not connected: HubSpot did not grant access: The user denied the request."
    assert ".." not in text


def test_the_salesforce_sandbox_org_is_shown_and_chosen_again_after_a_reload(
    signed_in, hub, two_workspaces
):
    page = signed_in(two_workspaces["a_admin"])
    open_connections(page, hub, two_workspaces["a"])
    salesforce = row(page, "salesforce")
    assert salesforce.locator("select.domain").input_value() == "login"  # the default
    salesforce.locator("select.domain").select_option("test")
    with page.expect_popup() as popup_info:
        salesforce.locator("button.connect").click()
    popup_info.value.click("#approve")
    salesforce.locator(".email").wait_for()
    connection = Connection.objects.get(provider="salesforce")
    org = f"Sandbox org, {connection.instance_url}"
    assert salesforce.locator(".org").inner_text() == org  # said at once, from the popup

    page.reload()
    assert salesforce.locator("select.domain").input_value() == "test"
    assert salesforce.locator(".org").inner_text() == org
    assert "Connected as" in salesforce.locator(".status").inner_text()
