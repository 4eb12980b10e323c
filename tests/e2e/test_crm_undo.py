"""Undo a CRM run in a real browser on a phone-wide window, against a real Celery worker and the
Salesforce emulator: a run's page → Undo this run → the confirmation → the undo run's page,
which shows what was put back and the field refused because it was edited after the run."""

import pytest

from crm import remote, services, sync
from crm.models import Contact, CrmConfig, CrmLink, SyncLog
from integrations.connections.services import client
from tests.e2e.helpers import console_errors
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH = 390


def executed(config, actor) -> SyncLog:
    run = services.sync_request(config=config, entity="contact", actor=actor, queue=False)
    sync.execute(run.pk)
    run.refresh_from_db()
    return run


def test_undo_a_run_from_its_page(signed_in, hub, two_workspaces, sandbox, celery_worker):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    connection = connect(sandbox, user=admin, workspace=workspace, provider="salesforce")
    config = CrmConfig.objects.create(
        workspace=workspace,
        provider="salesforce",
        connection=connection,
        entities=["contact"],
        sync_frequency=CrmConfig.Frequency.MANUAL,
    )
    ada = Contact.objects.create(
        workspace=workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
    )
    executed(config, admin)
    ada.phone, ada.title = "+41 44 000 00 00", "CTO"
    ada.save()
    run = executed(config, admin)
    assert run.updated == 1, run.message
    ada_id = CrmLink.objects.get(config=config, entity="contact", local_id=ada.pk).remote_id
    sandbox.salesforce_edit(ada_id, {"Title": "Boss"})  # edited after the run

    page = signed_in(admin)
    page.set_viewport_size({"width": WIDTH, "height": 844})
    errors = console_errors(page)
    page.goto(f"{hub.url}/crm/history/{run.pk}")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Undo this run").click()

    # The undo run's page, reloaded by itself once the worker is done.
    page.wait_for_url(lambda url: f"/crm/history/{run.pk}" not in url, timeout=10_000)
    undo = SyncLog.objects.get(undoes=run)
    assert page.url.rstrip("/").endswith(f"/crm/history/{undo.pk}")
    assert asked and f"Undo run {run.pk}?" in asked[0]
    page.locator("#refused").wait_for(state="visible", timeout=30_000)
    refused = page.locator("#refused tbody tr")
    assert refused.count() == 1
    text = refused.inner_text()
    assert "Title" in text and "Boss" in text and "CTO" in text
    restored = page.locator("#changes tbody tr").inner_text()
    assert "Phone" in restored and "+41 44 000 00 00" in restored
    assert page.locator("#undoes").inner_text().startswith(f"This run undoes run {run.pk}")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    crm = remote.remote_for(config, client(config.connection))
    (row,) = crm.read_ids("contact", ["Phone", "Title"], [ada_id])
    assert (row.values["Phone"], row.values["Title"]) == (None, "Boss")
    # The run undone says so, and offers no second undo.
    page.goto(f"{hub.url}/crm/history/{run.pk}")
    assert page.locator("#undone-by").inner_text() == f"Undone by run {undo.pk}."
    assert page.get_by_role("button", name="Undo this run").count() == 0
    assert errors == []
