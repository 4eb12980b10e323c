"""The CRM pages in a real browser on a phone-wide window. The settings page against a real
Celery worker and the Salesforce emulator: Sync now, the card showing the runs going, then
"last synced" once they end (runs made slow enough to watch by the emulator's latency, never
by sleeping here). A conflict resolved field by field on its split view, one field by its
"Always use" button (whose rule is then cleared)."""

import re

import pytest

from crm.models import Contact, CrmConfig, CrmLink, SyncConflict, SyncLog
from integrations import runs
from tests.e2e.helpers import console_errors
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH = 390
WIDTH_OF_PAGE = "document.documentElement.scrollWidth"


def test_sync_now_shows_the_runs_on_the_card_then_when_it_last_synced(
    signed_in, hub, two_workspaces, sandbox, celery_worker
):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    connection = connect(sandbox, user=admin, workspace=workspace, provider="salesforce")
    config = CrmConfig.objects.create(
        workspace=workspace,
        provider="salesforce",
        connection=connection,
        entities=["account", "contact"],
        sync_frequency=CrmConfig.Frequency.MANUAL,
    )
    sandbox.salesforce_records(accounts=12, contacts=12, seed=7)
    # Each SOQL query takes a moment at Salesforce: the runs last long enough to be seen.
    sandbox.fault("salesforce", kind="latency", seconds=0.7, path="*/query*")
    page = signed_in(admin)
    page.set_viewport_size({"width": WIDTH, "height": 844})
    errors = console_errors(page)
    page.goto(f"{hub.url}/crm/")
    card = page.locator("#crm-salesforce")
    assert card.locator(".last-synced").inner_text() == "Never"
    assert page.evaluate(WIDTH_OF_PAGE) <= WIDTH

    card.locator("button.sync-now").click()

    # The card shows the runs going, Sync now waiting for them; nothing scrolls sideways.
    card.locator(".run progress").first.wait_for(state="visible", timeout=10_000)
    assert card.locator("button.sync-now").is_disabled()
    assert page.evaluate(WIDTH_OF_PAGE) <= WIDTH
    stages = card.locator(".run-stage").all_inner_texts()
    assert stages and all(stage.strip() for stage in stages)

    # Once both have ended the card says when it last synced, and what is linked now.
    page.wait_for_function(
        "!/Never/.test(document.querySelector('#crm-salesforce .last-synced').textContent)",
        timeout=60_000,
    )
    assert re.match(
        r"(now|\d+\s+seconds? ago|a second ago) · success",
        card.locator(".last-synced").inner_text(),
    ), card.locator(".last-synced").inner_text()
    assert card.locator(".run").count() == 0
    assert card.locator("button.sync-now").is_enabled()
    logs = SyncLog.objects.filter(config=config).order_by("pk")
    assert [(log.entity, log.status) for log in logs] == [
        ("account", "succeeded"),
        ("contact", "succeeded"),
    ]
    accounts = CrmLink.objects.filter(config=config, entity="account").count()
    assert accounts >= 12
    assert f"{accounts} accounts" in card.locator(".linked").inner_text()
    assert page.evaluate(WIDTH_OF_PAGE) <= WIDTH
    assert errors == []


def test_a_conflict_is_resolved_field_by_field(
    signed_in, hub, two_workspaces, sandbox, monkeypatch
):
    # The run the resolve queues stays queued (no worker here): the page and the rows are the
    # subject.
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    connection = connect(sandbox, user=admin, workspace=workspace, provider="salesforce")
    config = CrmConfig.objects.create(
        workspace=workspace, provider="salesforce", connection=connection, entities=["contact"]
    )
    ada = Contact.objects.create(
        workspace=workspace,
        first_name="Ada",
        last_name="Lovelace",
        title="CEO",
        phone="+1 555 0100",
    )
    CrmLink.objects.create(
        workspace=workspace,
        config=config,
        entity="contact",
        local_id=ada.pk,
        remote_id="0035g00000AdaAAAAA",
        synced_values={"LastName": "Lovelace", "Title": "Founder", "Phone": "+1 555 0000"},
    )
    conflict = SyncConflict.objects.create(
        workspace=workspace,
        config=config,
        entity="contact",
        local_id=ada.pk,
        remote_id="0035g00000AdaAAAAA",
        app_data={"Phone": "+1 555 0100", "Title": "CEO"},
        crm_data={"Phone": "+1 555 0199", "Title": "CTO"},
        base_data={"Phone": "+1 555 0000", "Title": "Founder"},
        conflicting_fields=["Phone", "Title"],
    )
    page = signed_in(admin)
    page.set_viewport_size({"width": WIDTH, "height": 844})
    errors = console_errors(page)
    page.goto(f"{hub.url}/crm/")
    page.get_by_role("link", name="1 conflict waiting").click()
    page.locator("#conflicts").get_by_role(
        "link", name="Review the conflict on Ada Lovelace"
    ).click()
    page.wait_for_url(f"**/crm/conflicts/{conflict.pk}/")
    assert page.evaluate(WIDTH_OF_PAGE) <= WIDTH

    phone = page.locator('.conflict-field[data-field="Phone"]')
    title = page.locator('.conflict-field[data-field="Title"]')
    assert "+1 555 0000" in phone.locator(".base").inner_text()
    title.get_by_label("Keep app").check()
    # Always use Salesforce for Phone: its rule is set and the conflict resolved with Title's
    # choice.
    phone.get_by_role("button", name="Always use Salesforce for Phone").click()

    page.locator("#conflict-status", has_text="Resolved").wait_for(timeout=10_000)
    rule = page.locator('#field-rules [data-rule="Phone"]')
    assert "always Salesforce's value" in rule.inner_text()
    assert "Both sides keep: +1 555 0199" in phone.inner_text()
    assert "Both sides keep: CEO" in title.inner_text()
    assert page.get_by_role("button", name="Resolve with selected values").count() == 0
    assert page.evaluate(WIDTH_OF_PAGE) <= WIDTH
    conflict.refresh_from_db()
    ada.refresh_from_db()
    assert (conflict.status, conflict.merged_data) == (
        "resolved",
        {"Phone": "+1 555 0199", "Title": "CEO"},
    )
    assert (ada.phone, ada.title) == ("+1 555 0199", "CEO")
    assert SyncLog.objects.filter(config=config, entity="contact").exists()
    config.refresh_from_db()
    assert config.field_policies == {"contact": {"Phone": "crm_wins"}}
    rule.get_by_role("button", name="Clear the rule for Phone").click()
    page.get_by_text("The rule for Phone is cleared").wait_for(timeout=10_000)
    assert page.locator("#field-rules").count() == 0
    config.refresh_from_db()
    assert config.field_policies == {}
    assert errors == []


def test_the_conflicts_list_shows_a_conflict_a_run_finds_within_two_seconds(
    signed_in, hub, two_workspaces, sandbox
):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    connection = connect(sandbox, user=admin, workspace=workspace, provider="salesforce")
    config = CrmConfig.objects.create(
        workspace=workspace, provider="salesforce", connection=connection, entities=["contact"]
    )
    ada = Contact.objects.create(workspace=workspace, first_name="Ada", last_name="Lovelace")
    page = signed_in(admin)
    page.set_viewport_size({"width": WIDTH, "height": 844})
    errors = console_errors(page)
    page.goto(f"{hub.url}/crm/conflicts/?workspace={workspace.pk}")
    page.locator("#no-conflicts").wait_for(state="visible")
    # What a run does when it meets the same field changed on both sides.
    found = SyncConflict.objects.create(
        workspace=workspace,
        config=config,
        entity="contact",
        local_id=ada.pk,
        remote_id="0035g00000AdaAAAAA",
        app_data={"Title": "CEO"},
        crm_data={"Title": "CTO"},
        base_data={"Title": "Founder"},
        conflicting_fields=["Title"],
    )
    page.locator(f'tr[data-conflict="{found.pk}"]').wait_for(state="visible", timeout=2_000)
    assert "Title" in page.locator(f'tr[data-conflict="{found.pk}"]').inner_text()
    assert page.evaluate(WIDTH_OF_PAGE) <= WIDTH
    assert errors == []
