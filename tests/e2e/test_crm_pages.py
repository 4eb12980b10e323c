"""The CRM settings page in a real browser on a phone-wide window, against a real Celery worker
and the Salesforce emulator: Sync now, the card showing the runs going, then "last synced"
once they end. Runs are made slow enough to watch by the emulator's latency, never by
sleeping here."""

import re

import pytest

from crm.models import CrmConfig, CrmLink, SyncLog
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
