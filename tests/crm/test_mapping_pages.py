"""The connect wizard and the field-mapping page through Django's test client, against the
Salesforce emulator: each wizard step for an admin (a member is refused every one), the
settings step saved through config_update, the success page leading to the mappings; the
mapping page's tab per entity, its add / edit / remove dialogs through the mapping services
(a refused change said in its dialog), Auto-map's proposals accepted all or none, and the
preview on recent Salesforce records with the unmapped required fields highlighted."""

import re

import pytest

from crm import sync
from crm.models import CrmConfig
from integrations.accounts.models import AuditEvent
from integrations.mapping.models import FieldMapping
from tests.integrations.helpers import connect

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]


def get(client, user, url: str, status: int = 200) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status, response.content[:800]
    return response.content.decode()


def post(client, user, url: str, data: dict | None = None):
    client.force_login(user)
    return client.post(url, data or {})


def mapped(config, entity: str) -> dict[str, tuple]:
    rows = sync.mapping_set_for(config, entity).fields.all()
    return {
        row.target_field: (row.source_field, row.direction, row.transform, row.params)
        for row in rows
    }


# --- The connect wizard --------------------------------------------------------------------------


def test_the_wizard_offers_each_crm_and_goes_on_to_the_settings_once_connected(
    client, sandbox, two_workspaces, admin
):
    workspace = two_workspaces["a"]
    html = get(client, admin, f"/crm/connect/?workspace={workspace.pk}")
    assert 'id="provider-salesforce"' in html and 'id="provider-hubspot"' in html
    assert 'aria-label="Salesforce"' in html and 'aria-label="HubSpot"' in html  # the logos
    assert 'name="next" value="setup"' in html
    assert 'aria-current="step"' in html

    # A refusal comes back to the wizard's first step, said there.
    refused = post(
        client,
        admin,
        "/crm/connect/salesforce",
        {"workspace": workspace.pk, "next": "setup", "domain": "elsewhere"},
    )
    assert refused["Location"] == f"/crm/connect/?workspace={workspace.pk}"
    assert "domain must be one of: login, test" in client.get(refused["Location"]).content.decode()
    assert not CrmConfig.objects.exists()

    # Without a connection, Connect goes to the consent page (the popup's page, scripts off).
    started = post(
        client, admin, "/crm/connect/salesforce", {"workspace": workspace.pk, "next": "setup"}
    )
    assert "/services/oauth2/authorize?" in started["Location"]
    # With one (what the popup just made), the config is linked and step 3 follows.
    connect(sandbox, user=admin, workspace=workspace, provider="salesforce")
    done = post(
        client, admin, "/crm/connect/salesforce", {"workspace": workspace.pk, "next": "setup"}
    )
    config = CrmConfig.objects.get()
    assert done["Location"] == f"/crm/configs/{config.pk}/setup"
    assert config.status == "connected"


def test_the_settings_step_saves_through_the_service_then_the_success_page_leads_to_mappings(
    client, config, admin
):
    url = f"/crm/configs/{config.pk}/setup"
    html = get(client, admin, url)
    for name in ("sync_direction", "sync_frequency", "daily_at", "entities", "conflict_resolution"):
        assert f'name="{name}"' in html
    assert 'name="propagate_deletes"' not in html  # the advanced options wait for Configure

    # A daily sync without its time: said on the page, nothing saved.
    refused = post(
        client,
        admin,
        url,
        {
            "sync_direction": "pull",
            "sync_frequency": "daily",
            "entities": ["contact"],
            "conflict_resolution": "crm_wins",
        },
    )
    assert refused.status_code == 400
    assert "A daily sync needs its time of day" in refused.content.decode()
    config.refresh_from_db()
    assert config.sync_frequency != "daily"

    saved = post(
        client,
        admin,
        url,
        {
            "sync_direction": "pull",
            "sync_frequency": "daily",
            "daily_at": "06:30",
            "entities": ["contact"],
            "conflict_resolution": "crm_wins",
        },
    )
    assert saved["Location"] == f"/crm/configs/{config.pk}/done"
    config.refresh_from_db()
    assert (config.sync_direction, config.sync_frequency, config.entities) == (
        "pull",
        "daily",
        ["contact"],
    )
    assert config.daily_at.strftime("%H:%M") == "06:30"
    assert AuditEvent.objects.filter(action="crm.config.update").exists()

    done = get(client, admin, saved["Location"])
    assert "Salesforce connected successfully" in done
    assert "daily at 06:30 UTC" in done
    assert f'href="/crm/configs/{config.pk}/mappings/">Configure field mappings' in done


def test_a_member_is_refused_every_step_of_the_wizard(client, config, member):
    workspace = config.workspace
    for url in (
        f"/crm/connect/?workspace={workspace.pk}",
        f"/crm/configs/{config.pk}/setup",
        f"/crm/configs/{config.pk}/done",
    ):
        html = get(client, member, url, status=403)
        assert "Only a workspace admin can connect a CRM" in html, url
    answer = post(
        client,
        member,
        f"/crm/configs/{config.pk}/setup",
        {"sync_direction": "push", "sync_frequency": "manual", "entities": ["account"]},
    )
    assert answer.status_code == 403
    config.refresh_from_db()
    assert config.sync_direction == "bidirectional"


def test_a_disconnected_config_sends_the_wizard_back_to_its_first_step(client, config, admin):
    config.status = CrmConfig.Status.DISCONNECTED
    config.save()
    html = get(client, admin, f"/crm/configs/{config.pk}/setup", status=409)
    assert "is not connected" in html and "Connect Salesforce" in html
    client.force_login(admin)
    done = client.get(f"/crm/configs/{config.pk}/done")
    assert done["Location"] == f"/crm/connect/?workspace={config.workspace_id}"


# --- The field-mapping page ----------------------------------------------------------------------


def page_of(config, entity: str = "account", extra: str = "") -> str:
    return f"/crm/configs/{config.pk}/mappings/?entity={entity}{extra}"


def test_the_page_has_a_tab_per_entity_a_row_per_mapped_field_and_the_add_dialog(
    client, config, admin
):
    html = get(client, admin, page_of(config))
    assert 'data-entity="account" aria-current="page"' in html and 'data-entity="contact"' in html
    rows = re.findall(r'data-crm-field="(\w+)"', html)
    assert rows == list(mapped(config, "account"))
    assert "Account Name" in html  # the CRM's label beside its field
    # The dialog's lists: the CRM fields not mapped yet (searchable), the hub's fields, and the
    # registry's transforms with their parameters.
    dialog = html[html.index('<dialog id="add-mapping"') :]
    crm_options = re.findall(r'<option value="(\w+)">[^<]*\(\1, ', dialog)
    assert "AnnualRevenue" in crm_options and "Type" in crm_options and "Name" not in crm_options
    assert 'aria-label="Search Salesforce fields"' in dialog
    assert 'aria-label="Search hub fields"' in dialog and '<option value="domain">' in dialog
    assert 'name="param-truncate-max_length"' in dialog and 'name="param-enum_map-values"' in dialog
    assert '<dialog id="add-mapping" aria-labelledby="add-mapping-head">' in html  # closed

    contact = get(client, admin, page_of(config, "contact"))
    assert re.findall(r'data-crm-field="(\w+)"', contact) == list(mapped(config, "contact"))
    assert f'href="/crm/configs/{config.pk}/mappings/"' in get(
        client, admin, f"/crm/configs/{config.pk}/settings"
    )
    assert f'href="/crm/configs/{config.pk}/mappings/"' in get(client, admin, "/crm/")


def test_add_edit_and_remove_go_through_the_mapping_services(client, config, admin):
    added = post(
        client,
        admin,
        f"/crm/configs/{config.pk}/mappings/add",
        {
            "entity": "account",
            "crm_field": "Type",
            "app_field": "domain",
            "direction": "pull",
            "transform": "enum_map",
            "param-enum_map-values": '{"Customer - Direct": "direct"}',
            "param-enum_map-case": "lower",
            "param-enum_map-strict": "",
            "param-truncate-max_length": "9",  # another transform's: not this one's
        },
    )
    assert added.status_code == 302, added.content[:800]
    assert mapped(config, "account")["Type"] == (
        "domain",
        "pull",
        "enum_map",
        {"values": {"Customer - Direct": "direct"}, "case": "lower"},
    )
    field = FieldMapping.objects.get(target_field="Type")
    html = get(client, admin, page_of(config, extra=f"&edit={field.pk}"))
    dialog = html[html.index('<dialog id="edit-mapping"') :]
    assert "{&quot;Customer - Direct&quot;: &quot;direct&quot;}" in dialog  # its params shown

    edited = post(
        client,
        admin,
        f"/crm/configs/{config.pk}/mappings/{field.pk}/edit",
        {
            "entity": "account",
            "app_field": "domain",
            "direction": "both",
            "transform": "truncate",
            "param-truncate-max_length": "40",
            "param-truncate-mode": "cut",
        },
    )
    assert edited.status_code == 302, edited.content[:800]
    assert mapped(config, "account")["Type"] == (
        "domain",
        "both",
        "truncate",
        {"max_length": 40, "mode": "cut"},
    )
    removed = post(client, admin, f"/crm/configs/{config.pk}/mappings/{field.pk}/remove")
    assert removed.status_code == 302
    assert "Type" not in mapped(config, "account")
    actions = list(
        AuditEvent.objects.filter(action__startswith="crm.mapping.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["crm.mapping.add", "crm.mapping.update", "crm.mapping.remove"]


@pytest.mark.parametrize(
    ("form", "said"),
    [
        (
            {"crm_field": "Type", "transform": "enum_map", "param-enum_map-values": "{Lead: 1"},
            "enum_map: the parameter &#x27;values&#x27; must be written as JSON",
        ),
        (
            {"crm_field": "Type", "transform": "truncate"},
            "truncate: the parameter &#x27;max_length&#x27; is required.",
        ),
        (
            {"crm_field": "CreatedDate", "direction": "both"},
            "Account.CreatedDate is set by Salesforce only",
        ),
        ({"crm_field": "NoSuchField"}, "Select a valid choice"),
    ],
)
def test_a_refused_addition_is_said_in_its_dialog_and_adds_nothing(
    client, config, admin, form, said
):
    before = mapped(config, "account")
    answer = post(
        client,
        admin,
        f"/crm/configs/{config.pk}/mappings/add",
        {"entity": "account", "app_field": "domain", "direction": "pull", "transform": "rename"}
        | form,
    )
    assert answer.status_code == 400
    html = answer.content.decode()
    dialog = html[html.index('<dialog id="add-mapping"') :]
    assert "data-open" in dialog.split(">")[0]  # open again, with what was typed
    assert said in dialog, dialog[:3000]
    assert mapped(config, "account") == before


def test_removing_a_field_the_crm_requires_is_refused_on_the_page(client, config, admin):
    name = FieldMapping.objects.get(
        mapping_set=sync.mapping_set_for(config, "account"), target_field="Name"
    )
    answer = post(client, admin, f"/crm/configs/{config.pk}/mappings/{name.pk}/remove")
    html = client.get(answer["Location"]).content.decode()
    assert "Name is required to create a Account in the CRM" in html
    assert "Name" in mapped(config, "account")


def test_a_member_sees_the_mappings_read_only_and_is_refused_every_change(
    client, config, member, outsider
):
    html = get(client, member, page_of(config))
    assert 'id="read-only"' in html and "<dialog" not in html and "automap-button" not in html
    assert 'data-crm-field="Name"' in html
    field = FieldMapping.objects.get(
        mapping_set=sync.mapping_set_for(config, "account"), target_field="Website"
    )
    for url, data in (
        (f"/crm/configs/{config.pk}/mappings/add", {"crm_field": "Type", "app_field": "domain"}),
        (f"/crm/configs/{config.pk}/mappings/{field.pk}/edit", {"app_field": "domain"}),
        (f"/crm/configs/{config.pk}/mappings/{field.pk}/remove", {}),
        (f"/crm/configs/{config.pk}/mappings/automap", {"pair": "Type|domain|both"}),
    ):
        assert post(client, member, url, {"entity": "account", **data}).status_code == 403, url
    assert "Website" in mapped(config, "account")
    get(client, outsider, page_of(config), status=404)
    assert (
        post(client, outsider, f"/crm/configs/{config.pk}/mappings/{field.pk}/remove").status_code
        == 404
    )


def test_automap_proposes_pairs_with_a_confidence_and_maps_the_ticked_ones(client, config, admin):
    mapping_set = sync.mapping_set_for(config, "account")
    mapping_set.fields.filter(target_field__in=["Website", "Phone", "Industry"]).delete()

    html = get(client, admin, page_of(config, extra="&automap"))
    proposals = re.findall(
        r'name="pair" id="pair-\w+" value="(\w+)\|(\w+)\|(\w+)"( checked)?', html
    )
    found = {crm: (app, direction, bool(checked)) for crm, app, direction, checked in proposals}
    assert found["Website"] == ("website", "both", True)
    assert found["Industry"] == ("industry", "both", True)
    assert found["Phone"] == ("phone", "both", True)
    assert "Name" not in found  # mapped already
    assert re.search(r'data-pair="Website".*?100%', html, re.S)

    answer = post(
        client,
        admin,
        f"/crm/configs/{config.pk}/mappings/automap",
        {"entity": "account", "pair": ["Website|website|both", "Phone|phone|both"]},
    )
    assert answer.status_code == 302
    now = mapped(config, "account")
    assert now["Website"][:2] == ("website", "both") and now["Phone"][:2] == ("phone", "both")
    assert "Industry" not in now  # not ticked
    assert AuditEvent.objects.filter(action="crm.mapping.add").count() == 2


def test_automap_accepts_all_or_none(client, config, admin):
    sync.mapping_set_for(config, "account").fields.filter(target_field="Website").delete()
    answer = post(
        client,
        admin,
        f"/crm/configs/{config.pk}/mappings/automap",
        {"entity": "account", "pair": ["Website|website|both", "Nope|domain|both"]},
    )
    assert answer.status_code == 400
    assert "Nope → domain: crmField &#x27;Nope&#x27; is not a field" in answer.content.decode()
    assert "Website" not in mapped(config, "account")
    none = post(client, admin, f"/crm/configs/{config.pk}/mappings/automap", {"entity": "account"})
    assert none.status_code == 400 and "none was ticked" in none.content.decode()


def test_the_preview_maps_recent_crm_records_and_highlights_unmapped_required_fields(
    client, config, admin, sandbox
):
    ids = sandbox.salesforce_records(
        sobject="Account",
        records=[
            {"Name": "Acme Corp", "Website": "https://acme.example", "Industry": "Energy"},
            {"Name": "Globex", "Phone": "+1 555 0100"},
        ],
    )["Account"]
    html = get(client, admin, page_of(config, extra="&preview"))
    samples = re.findall(r'<article class="sample" data-record="(\w+)">', html)
    # The three modified last (the org's seed accounts are older): the two just made first.
    assert len(samples) == 3 and set(samples[:2]) == set(ids)
    acme = html[html.index(f'data-record="{ids[0]}"') :]
    acme = acme[: acme.index("</article>")]
    assert re.search(r'data-field="name">.*?Acme Corp.*?<code>Name</code>', acme, re.S)
    assert re.search(r'data-field="website">.*?https://acme.example', acme, re.S)
    assert 'class="missing"' not in html and 'id="unmapped-hub"' not in html

    # The account's name no longer pulled: the hub cannot make an account from Salesforce.
    FieldMapping.objects.filter(
        mapping_set=sync.mapping_set_for(config, "account"), target_field="Name"
    ).update(direction="push")
    html = get(client, admin, page_of(config, extra="&preview"))
    assert re.search(r'id="unmapped-hub">.*?<strong>name</strong>', html, re.S)
    assert html.count('<tr data-field="name" class="missing">') == 3  # in every sample
    assert 'id="unmapped-crm"' not in html  # Salesforce's Name is still pushed

    # Only pulled (a change the services refuse; the set as an import could leave it): a hub
    # account can no longer be made in Salesforce, which requires its Name.
    FieldMapping.objects.filter(
        mapping_set=sync.mapping_set_for(config, "account"), target_field="Name"
    ).update(direction="pull")
    html = get(client, admin, page_of(config, extra="&preview"))
    assert re.search(r'id="unmapped-crm">.*?<strong>Name</strong>', html, re.S)
    assert 'id="unmapped-hub"' not in html


def test_the_preview_says_plainly_when_the_crm_cannot_be_read(client, config, admin, sandbox):
    sandbox.fault("salesforce", kind="error", status=400, path="*/query*")
    html = get(client, admin, page_of(config, extra="&preview"))
    assert "The preview could not read Salesforce&#x27;s records" in html
    config.connection.status = "revoked"
    config.connection.save()
    html = get(client, admin, page_of(config, extra="&preview"))
    assert "Salesforce is not connected" in html


def test_a_hubspot_config_is_auto_mapped_and_previewed_through_its_properties(
    client, sandbox, two_workspaces, admin
):
    connection = connect(sandbox, user=admin, workspace=two_workspaces["a"], provider="hubspot")
    config = CrmConfig.objects.create(
        workspace=two_workspaces["a"],
        provider="hubspot",
        connection=connection,
        entities=["contact"],
    )
    sync.mapping_set_for(config, "contact").fields.filter(
        target_field__in=["jobtitle", "phone"]
    ).delete()
    [ada] = sandbox.hubspot_records(
        type="contacts",
        records=[
            {"firstname": "Ada", "lastname": "Lovelace", "jobtitle": "CTO", "phone": "+41 44 000"}
        ],
    )["contacts"]

    html = get(client, admin, page_of(config, "contact", "&automap"))
    assert 'aria-label="HubSpot"' in html and "HubSpot field mappings" in html
    proposals = dict(re.findall(r'value="(\w+)\|(\w+)\|\w+" checked', html))
    assert proposals["jobtitle"] == "title" and proposals["phone"] == "phone"
    answer = post(
        client,
        admin,
        f"/crm/configs/{config.pk}/mappings/automap",
        {"entity": "contact", "pair": ["jobtitle|title|both", "phone|phone|both"]},
    )
    assert answer.status_code == 302, answer.content[:800]

    html = get(client, admin, page_of(config, "contact", "&preview"))
    sample = html[html.index(f'data-record="{ada}"') :]
    sample = sample[: sample.index("</article>")]
    assert re.search(r'data-field="title">.*?CTO.*?<code>jobtitle</code>', sample, re.S)
    assert re.search(r'data-field="last_name">.*?Lovelace', sample, re.S)
