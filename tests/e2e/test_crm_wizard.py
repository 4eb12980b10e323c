"""The connect wizard and the field-mapping page in a real browser on a phone-wide window,
against the Salesforce emulator: from the empty settings page through the wizard (a closed
sign-in window said plainly, then consent in the emulator's popup), the settings step, the
success page, back and forward, to the mapping page; and on the mapping page Auto-map then the
add dialog (searchable lists, a transform's parameters) and the preview on Salesforce records
with an unmapped required field highlighted."""

import re

import pytest

from crm import sync
from crm.models import CrmConfig
from integrations.mapping.models import FieldMapping
from tests.e2e.helpers import console_errors
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH = 390
WIDTH_OF_PAGE = "document.documentElement.scrollWidth"


def fits(page) -> bool:
    return page.evaluate(WIDTH_OF_PAGE) <= WIDTH


def test_the_connect_wizard_end_to_end(signed_in, hub, two_workspaces):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    page = signed_in(admin)
    page.set_viewport_size({"width": WIDTH, "height": 844})
    errors = console_errors(page)
    page.goto(f"{hub.url}/crm/?workspace={workspace.pk}")
    page.get_by_role("link", name="+ Connect CRM").click()

    # Step 1: a card per CRM, with its logo.
    page.wait_for_url("**/crm/connect/?workspace=*")
    salesforce = page.locator("#provider-salesforce")
    assert salesforce.get_by_role("img", name="Salesforce").is_visible()
    assert page.locator("#provider-hubspot").get_by_role("img", name="HubSpot").is_visible()
    assert (
        page.locator('.steps [aria-current="step"]').inner_text().strip().endswith("Choose a CRM")
    )
    assert fits(page)

    # Step 2: the sign-in window closed before consenting: said on the card, nothing made.
    with page.expect_popup() as first:
        salesforce.get_by_role("button", name="Connect Salesforce").click()
    first.value.wait_for_selector("#approve")
    first.value.close()
    note = salesforce.locator(".connect-note")
    note.filter(has_text="Not connected").wait_for(timeout=15_000)
    assert "closed before the connection was made" in note.inner_text()
    assert salesforce.get_by_role("button", name="Connect Salesforce").is_enabled()
    assert not CrmConfig.objects.filter(connection__isnull=False).exists()

    # Consent in the emulator's window: the wizard goes on to its settings step.
    salesforce.get_by_label("Org").select_option("test")
    with page.expect_popup() as second:
        salesforce.get_by_role("button", name="Connect Salesforce").click()
    second.value.wait_for_selector("#approve")
    second.value.click("#approve")
    page.wait_for_url("**/crm/configs/*/setup", timeout=15_000)
    config = CrmConfig.objects.get(workspace=workspace)
    assert config.connection.auth_domain == "test"
    assert fits(page)
    # Back to the first step: it knows Salesforce is set up, and Connect goes on without a
    # second sign-in (the connection works).
    page.go_back()
    page.wait_for_url("**/crm/connect/?workspace=*")
    assert "Salesforce is set up in Alpha" in salesforce.locator(".already").inner_text()
    salesforce.get_by_role("button", name="Connect Salesforce").click()
    page.wait_for_url("**/crm/configs/*/setup")

    # Step 3: the time of day shows for a daily sync only.
    form = page.locator("#setup-form")
    daily_at = form.locator('[data-field="daily_at"]')
    form.get_by_role("radio", name="Manual", exact=True).check()
    assert daily_at.is_hidden()
    form.get_by_role("radio", name="CRM → hub", exact=True).check()
    form.get_by_role("radio", name="Daily", exact=True).check()
    assert daily_at.is_visible()
    form.locator('input[name="daily_at"]').fill("06:30")
    form.get_by_role("checkbox", name="Contacts", exact=True).uncheck()
    form.locator('select[name="conflict_resolution"]').select_option("crm_wins")
    page.get_by_role("button", name="Complete setup").click()

    # Step 4: success, and the way to the field mappings.
    page.wait_for_url(f"**/crm/configs/{config.pk}/done")
    assert "Salesforce connected successfully" in page.locator("h1").inner_text()
    assert "daily at 06:30 UTC" in page.locator("#connected").inner_text()
    config.refresh_from_db()
    assert (config.sync_direction, config.sync_frequency, config.entities) == (
        "pull",
        "daily",
        ["account"],
    )
    assert config.conflict_resolution == "crm_wins"
    assert fits(page)

    # Back shows the settings as saved; forward the success page again.
    page.go_back()
    page.wait_for_url("**/setup")
    assert page.locator('input[name="sync_frequency"][value="daily"]').is_checked()
    page.go_forward()
    page.wait_for_url("**/done")
    page.get_by_role("link", name="Configure field mappings").click()
    page.wait_for_url(f"**/crm/configs/{config.pk}/mappings/")
    assert page.locator('#mappings tr[data-crm-field="Name"]').is_visible()
    assert fits(page)
    assert errors == []


def test_the_wizard_connects_hubspot_too(signed_in, hub, two_workspaces):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    page = signed_in(admin)
    page.set_viewport_size({"width": WIDTH, "height": 844})
    errors = console_errors(page)
    page.goto(f"{hub.url}/crm/connect/?workspace={workspace.pk}")
    card = page.locator("#provider-hubspot")
    with page.expect_popup() as popup:
        card.get_by_role("button", name="Connect HubSpot").click()
    popup.value.wait_for_selector("#approve")
    popup.value.click("#approve")
    page.wait_for_url("**/crm/configs/*/setup", timeout=15_000)
    page.get_by_role("radio", name="Real time", exact=True).check()
    page.get_by_role("button", name="Complete setup").click()
    page.wait_for_url("**/done")
    assert "HubSpot connected successfully" in page.locator("h1").inner_text()
    config = CrmConfig.objects.get(workspace=workspace, provider="hubspot")
    assert (config.status, config.sync_frequency) == ("connected", "realtime")
    page.get_by_role("link", name="Configure field mappings").click()
    page.locator('#mappings tr[data-crm-field="name"]').wait_for()
    assert fits(page)
    assert errors == []


def test_auto_map_then_preview(signed_in, hub, two_workspaces, sandbox):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    connection = connect(sandbox, user=admin, workspace=workspace, provider="salesforce")
    config = CrmConfig.objects.create(
        workspace=workspace, provider="salesforce", connection=connection, entities=["account"]
    )
    accounts = sync.mapping_set_for(config, "account")
    accounts.fields.filter(target_field__in=["Website", "Industry", "Phone"]).delete()
    [acme] = sandbox.salesforce_records(
        sobject="Account",
        records=[
            {
                "Name": "Acme Corp",
                "Website": "https://acme.example",
                "Industry": "Energy",
                "Phone": "+1 (555) 0100 ext. 42",
            }
        ],
    )["Account"]
    page = signed_in(admin)
    page.set_viewport_size({"width": WIDTH, "height": 844})
    errors = console_errors(page)
    page.goto(f"{hub.url}/crm/?workspace={workspace.pk}")
    page.locator("#crm-salesforce").get_by_role("link", name="Field mappings").click()
    page.wait_for_url(f"**/crm/configs/{config.pk}/mappings/")

    # Auto-map: the pairs with their confidence; Phone unticked, the others accepted.
    page.get_by_role("link", name="Auto-map fields").click()
    automap = page.locator("#automap")
    automap.wait_for()
    website = automap.locator('tr[data-pair="Website"]')
    assert "website" in website.inner_text() and "100%" in website.inner_text()
    assert website.get_by_role("checkbox").is_checked()
    automap.locator('tr[data-pair="Phone"]').get_by_role("checkbox").uncheck()
    assert fits(page)
    automap.get_by_role("button", name="Map selected").click()
    page.get_by_text("Mapped 2 fields").wait_for()
    rows = page.locator("#mappings tbody tr")
    assert {"Website", "Industry"} <= set(
        rows.evaluate_all("rows => rows.map(r => r.dataset.crmField)")
    )
    assert page.locator('#mappings tr[data-crm-field="Phone"]').count() == 0

    # The add dialog: find Phone by searching, keep 12 characters of it.
    page.get_by_role("link", name="+ Add mapping").click()
    dialog = page.locator("#add-mapping")
    assert dialog.is_visible()
    dialog.get_by_label("Search Salesforce fields").fill("phone")
    crm_list = dialog.locator('select[name="crm_field"]')
    shown = crm_list.evaluate("list => [...list.options].filter(o => !o.hidden).map(o => o.value)")
    assert shown == ["Phone"]
    dialog.get_by_label("Search hub fields").fill("phone")
    dialog.locator('select[name="app_field"]').select_option("phone")
    dialog.locator('select[name="transform"]').select_option("truncate")
    params = dialog.locator('fieldset.params[data-transform="truncate"]')
    assert params.is_visible()
    assert dialog.locator('fieldset.params[data-transform="rename"]').is_hidden()
    params.get_by_label("max_length").fill("12")
    assert fits(page)
    dialog.get_by_role("button", name="Add mapping").click()
    page.get_by_text("Phone ↔ phone is mapped").wait_for()
    phone = FieldMapping.objects.get(mapping_set=accounts, target_field="Phone")
    assert (phone.transform, phone.params) == ("truncate", {"max_length": 12})

    # The preview: the record as the hub would have it.
    page.get_by_role("link", name="Preview on Salesforce records").click()
    sample = page.locator(f'#preview .sample[data-record="{acme}"]')
    sample.wait_for()
    assert "Acme Corp" in sample.locator('tr[data-field="name"]').inner_text()
    assert "https://acme.example" in sample.locator('tr[data-field="website"]').inner_text()
    phone_row = sample.locator('tr[data-field="phone"]').inner_text()
    assert "+1 (555) 010" in phone_row and "ext. 42" in phone_row  # the hub's 12 and the CRM's
    assert page.locator("#unmapped-hub").count() == 0
    assert fits(page)

    # Name only pushed: the hub's required name is no longer filled, and the preview says so.
    page.locator('#mappings tr[data-crm-field="Name"]').get_by_role(
        "link", name=re.compile("Edit")
    ).click()
    edit = page.locator("#edit-mapping")
    edit.wait_for()
    edit.get_by_label("Push (hub → CRM)").check()
    edit.get_by_role("button", name="Save").click()
    page.get_by_text("The mapping of Name is saved").wait_for()
    page.get_by_role("link", name="Preview on Salesforce records").click()
    page.locator("#unmapped-hub").wait_for()
    assert "name" in page.locator("#unmapped-hub").inner_text()
    missing = page.locator(f'.sample[data-record="{acme}"] tr.missing[data-field="name"]')
    assert missing.is_visible()
    assert missing.evaluate("row => getComputedStyle(row).backgroundColor") == "rgb(255, 248, 197)"
    assert fits(page)
    assert errors == []
