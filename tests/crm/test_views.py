"""The CRM pages through Django's test client: the settings page's cards (and its empty state)
for admins and members, the card's actions through the services, the sync history with its
filters, pages and a run's details, Configure, and the conflicts (a list, and a split view
resolved field by field through the resolve service). Members read and are refused every action
(403); another workspace's config, run or conflict is a 404."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Contact, CrmConfig, CrmLink, SyncConflict, SyncLog
from integrations.accounts.models import AuditEvent
from integrations.connections.models import Connection
from tests.integrations.helpers import connect

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]


def page(client, user, url: str, status: int = 200) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


def post(client, user, url: str, data: dict | None = None):
    client.force_login(user)
    return client.post(url, data or {})


def a_log(config, **fields) -> SyncLog:
    values = {
        "workspace": config.workspace,
        "config": config,
        "entity": "account",
        "direction": "bidirectional",
        "trigger": "button",
        "status": "succeeded",
        **fields,
    }
    return SyncLog.objects.create(**values)


# --- The settings page -------------------------------------------------------------------------


def test_an_admin_sees_the_card_with_its_figures_and_actions(client, config, admin):
    CrmLink.objects.bulk_create(
        CrmLink(
            workspace=config.workspace,
            config=config,
            entity="account",
            local_id=n,
            remote_id=f"001{n:015d}",
        )
        for n in range(1, 1235)
    )
    config.last_sync_at = timezone.now() - timedelta(hours=2, minutes=1)
    config.last_sync_status = "success"
    config.next_sync_at = timezone.now() + timedelta(minutes=28, seconds=30)
    config.api_usage = {"used": 1500, "limit": 15000}
    config.save()

    html = page(client, admin, "/crm/")

    assert 'id="crm-salesforce"' in html
    assert '<span class="badge connected" id="status-salesforce">Connected</span>' in html
    assert config.connection.external_email in html
    assert "2\xa0hours ago" in html
    assert "28\xa0minutes from now" in html
    assert "1,234 accounts · 0 contacts" in html
    assert "1,500 of 15,000 calls today (10%)" in html
    for action in ("sync", "pause", "disconnect", "settings"):
        assert f"/crm/configs/{config.pk}/{action}" in html
    assert "data-confirm=" in html  # Disconnect asks first
    assert "read-only" not in html
    # Salesforce has its card: only HubSpot is left to connect (then the wizard's settings).
    assert "Connect Salesforce" not in html
    assert 'action="/crm/connect/hubspot"' in html and "coming soon" not in html


def test_a_member_sees_the_card_read_only(client, config, member):
    html = page(client, member, f"/crm/?workspace={config.workspace_id}")
    assert 'id="crm-salesforce"' in html
    assert 'id="read-only"' in html
    assert "Only a workspace admin can sync" in html
    for action in ("sync", "pause", "resume", "disconnect"):
        assert f"/crm/configs/{config.pk}/{action}" not in html


def test_with_no_config_the_page_offers_salesforce_and_hubspot(
    client, two_workspaces, admin, member
):
    html = page(client, admin, "/crm/")
    assert 'id="crm-empty"' in html and "Connect your CRM to keep data in sync" in html
    assert 'action="/crm/connect/salesforce"' in html
    assert 'data-start-url="/integrations/salesforce/auth/start"' in html
    assert 'data-ready="0"' in html  # no working connection yet: the popup comes first
    assert 'action="/crm/connect/hubspot"' in html
    assert 'data-start-url="/integrations/hubspot/auth/start"' in html
    assert html.count('name="next" value="setup"') == 2  # then on to the wizard's settings
    assert 'href="/crm/connect/?workspace=' in html  # + Connect CRM: the wizard
    assert "Only a workspace admin can connect a CRM" not in html
    assert "Only a workspace admin can connect a CRM" in page(client, member, "/crm/")


def test_the_hub_navigation_links_the_crm_pages(client, admin):
    assert '<a href="/crm/">CRM</a>' in page(client, admin, "/")


# --- The card's actions ------------------------------------------------------------------------


def test_sync_now_queues_a_run_per_entity_and_the_card_shows_them_going(client, config, admin):
    response = post(client, admin, f"/crm/configs/{config.pk}/sync")
    assert response.status_code == 302
    assert response["Location"] == f"/crm/?workspace={config.workspace_id}"
    queued = SyncLog.objects.filter(config=config).order_by("pk")
    assert [(log.entity, log.status, log.trigger, log.requested_by) for log in queued] == [
        ("account", "queued", "button", admin),
        ("contact", "queued", "button", admin),
    ]

    html = client.get(response["Location"]).content.decode()
    assert "Salesforce sync started." in html
    for log in queued:
        assert f'<div class="run" data-run="{log.pk}" data-status="queued">' in html
    assert html.count("Waiting for a worker…") == 2
    assert 'title="A sync is going"' in html

    # Pressed again while they wait: refused with the reason, nothing more queued.
    again = post(client, admin, f"/crm/configs/{config.pk}/sync")
    assert "already going" in client.get(again["Location"]).content.decode()
    assert SyncLog.objects.filter(config=config).count() == 2


def test_pause_resume_and_disconnect_go_through_the_services(client, config, admin):
    post(client, admin, f"/crm/configs/{config.pk}/pause")
    config.refresh_from_db()
    assert config.status == "paused"
    html = page(client, admin, "/crm/")
    assert '<span class="badge paused"' in html and "None while paused" in html
    assert f"/crm/configs/{config.pk}/resume" in html
    assert 'title="Resume the sync first"' in html
    # A paused config's Sync now is refused by the service too.
    response = post(client, admin, f"/crm/configs/{config.pk}/sync")
    assert "resume it first" in client.get(response["Location"]).content.decode()
    assert not SyncLog.objects.exists()

    post(client, admin, f"/crm/configs/{config.pk}/resume")
    config.refresh_from_db()
    assert config.status == "connected"

    response = post(client, admin, f"/crm/configs/{config.pk}/disconnect")
    config.refresh_from_db()
    config.connection.refresh_from_db()
    assert config.status == "disconnected"
    assert config.connection.status == Connection.Status.REVOKED
    html = client.get(response["Location"]).content.decode()
    assert "Salesforce is disconnected" in html
    assert '<span class="badge disconnected"' in html
    assert 'action="/crm/connect/salesforce"' in html  # the card offers to connect again
    actions = set(
        AuditEvent.objects.filter(action__startswith="crm.config.").values_list("action", flat=True)
    )
    assert {"crm.config.disconnect"} <= actions


def test_connect_links_the_workspaces_working_connection_or_sends_to_the_consent(
    client, sandbox, two_workspaces, admin
):
    started = post(client, admin, "/crm/connect/salesforce", {"workspace": two_workspaces["a"].pk})
    assert started.status_code == 302
    assert "/services/oauth2/authorize?" in started["Location"]
    assert CrmConfig.objects.get().status == "disconnected"

    connection = connect(sandbox, user=admin, workspace=two_workspaces["a"], provider="salesforce")
    done = post(client, admin, "/crm/connect/salesforce", {"workspace": two_workspaces["a"].pk})
    assert done["Location"] == f"/crm/?workspace={two_workspaces['a'].pk}"
    config = CrmConfig.objects.get()
    assert (config.status, config.connection) == ("connected", connection)
    assert f"Salesforce is connected as {connection.external_email}" in (
        client.get(done["Location"]).content.decode()
    )

    hubspot = post(client, admin, "/crm/connect/hubspot", {"workspace": two_workspaces["a"].pk})
    assert hubspot.status_code == 302 and "/oauth/authorize?" in hubspot["Location"]
    assert post(client, admin, "/crm/connect/pipedrive").status_code == 404


def test_members_are_refused_every_action(client, config, member):
    log = a_log(config, failed=2, status="partial")
    for url in (
        f"/crm/configs/{config.pk}/sync",
        f"/crm/configs/{config.pk}/pause",
        f"/crm/configs/{config.pk}/disconnect",
        f"/crm/configs/{config.pk}/settings",
        f"/crm/history/{log.pk}/retry",
        "/crm/connect/salesforce",
    ):
        assert post(client, member, url).status_code == 403, url
    config.refresh_from_db()
    assert config.status == "connected" and config.connection.status == "connected"
    assert list(SyncLog.objects.all()) == [log]


def test_another_workspaces_config_and_runs_are_not_found(client, config, outsider):
    log = a_log(config)
    for url in (
        f"/crm/configs/{config.pk}/settings",
        f"/crm/history/{log.pk}/",
        f"/crm/?workspace={config.workspace_id}",
        f"/crm/history/?workspace={config.workspace_id}",
    ):
        page(client, outsider, url, status=404)
    for url in (
        f"/crm/configs/{config.pk}/sync",
        f"/crm/configs/{config.pk}/pause",
        f"/crm/configs/{config.pk}/disconnect",
        f"/crm/history/{log.pk}/retry",
    ):
        assert post(client, outsider, url).status_code == 404, url
    # Their own page knows nothing of it.
    assert "crm-salesforce" not in page(client, outsider, "/crm/")
    assert not SyncLog.objects.exclude(pk=log.pk).exists()


# --- Configure ----------------------------------------------------------------------------------


def test_configure_saves_the_settings_through_the_service(client, config, admin, member):
    form = {
        "sync_direction": "pull",
        "sync_frequency": "daily",
        "daily_at": "",
        "entities": ["contact"],
        "conflict_resolution": "manual_review",
        "create_if_missing": "on",
    }
    refused = post(client, admin, f"/crm/configs/{config.pk}/settings", form)
    assert refused.status_code == 400
    assert "A daily sync needs its time of day" in refused.content.decode()
    config.refresh_from_db()
    assert config.sync_frequency == "hourly"  # nothing half-written

    saved = post(client, admin, f"/crm/configs/{config.pk}/settings", {**form, "daily_at": "02:30"})
    assert saved.status_code == 302
    config.refresh_from_db()
    assert (config.sync_direction, config.sync_frequency, str(config.daily_at)) == (
        "pull",
        "daily",
        "02:30:00",
    )
    assert config.entities == ["contact"] and config.conflict_resolution == "manual_review"
    assert (config.create_if_missing, config.propagate_deletes) == (True, False)
    assert config.next_sync_at is not None
    assert AuditEvent.objects.filter(action="crm.config.update").exists()
    assert 'id="read-only"' in page(client, member, f"/crm/configs/{config.pk}/settings")


# --- Sync history -------------------------------------------------------------------------------


def test_the_history_filters_by_date_status_and_entity_and_pages(client, config, admin):
    now = timezone.now()
    old = a_log(config, entity="contact", status="failed", created_at=now - timedelta(days=10))
    partial = a_log(config, entity="account", status="partial", failed=5, updated=234)
    for n in range(26):
        a_log(config, entity="contact", created_at=now - timedelta(days=1, minutes=n))

    html = page(client, admin, "/crm/history/")
    assert "Page 1 of 2 (28 runs)" in html
    assert f'data-run="{partial.pk}"' in html and "234 synced" in html and "5 failed" in html
    assert f'data-run="{old.pk}"' not in html  # the oldest is on page 2
    assert f'data-run="{old.pk}"' in page(client, admin, "/crm/history/?page=2")

    def shown(query: str) -> set[int]:
        html = page(client, admin, f"/crm/history/?{query}")
        return {log.pk for log in SyncLog.objects.all() if f'data-run="{log.pk}"' in html}

    assert shown("status=partial") == {partial.pk}
    assert shown("status=failed&entity=contact") == {old.pk}
    assert shown("entity=account") == {partial.pk}
    day = (now - timedelta(days=10)).date().isoformat()
    assert shown(f"since={day}&until={day}") == {old.pk}
    bad = page(client, admin, "/crm/history/?since=yesterday", status=400)
    assert "From: enter a date as YYYY-MM-DD." in bad


def test_a_runs_page_shows_its_errors_conflicts_and_stages_and_retries_them(
    client, config, admin, member
):
    started = timezone.now() - timedelta(minutes=3)
    log = a_log(
        config,
        entity="contact",
        status="partial",
        updated=4,
        failed=2,
        processed=6,
        error_count=2,
        errors=[
            {"item": "contact 0035g00000AbCdEAAZ", "message": "REQUIRED_FIELD_MISSING: LastName"},
            {"item": "contact 17", "message": "The hub record was deleted meanwhile."},
        ],
        message="0 created, 4 updated, 0 unchanged, 2 failed",
        started_at=started,
        finished_at=started + timedelta(minutes=2, seconds=34),
    )
    SyncConflict.objects.create(
        workspace=config.workspace,
        config=config,
        log=log,
        entity="contact",
        local_id=9,
        remote_id="0035g00000XyZaBAAZ",
        conflicting_fields=["Title", "Phone"],
    )

    html = page(client, member, f"/crm/history/{log.pk}/")
    instance = config.connection.instance_url.rstrip("/")
    assert f'href="{instance}/0035g00000AbCdEAAZ"' in html
    assert "REQUIRED_FIELD_MISSING: LastName" in html
    assert "<code>17</code>" in html and "(hub)" in html
    assert "Title, Phone" in html and "0035g00000XyZaBAAZ" in html
    assert "2m 34s" in html
    for stage in ("Queued", "Started", "Partly done"):
        assert f"<strong>{stage}</strong>" in html
    assert "Only a workspace admin can retry." in html

    config.status = CrmConfig.Status.PAUSED
    config.save()
    assert "resume it on the" in page(client, admin, f"/crm/history/{log.pk}/")
    config.status = CrmConfig.Status.CONNECTED
    config.save()
    html = page(client, admin, f"/crm/history/{log.pk}/")
    assert f'action="/crm/history/{log.pk}/retry"' in html
    response = post(client, admin, f"/crm/history/{log.pk}/retry")
    retry = SyncLog.objects.exclude(pk=log.pk).get()
    assert (retry.entity, retry.status, retry.requested_by) == ("contact", "queued", admin)
    assert response["Location"] == f"/crm/history/{retry.pk}/"
    assert AuditEvent.objects.filter(action="crm.sync.retry").exists()
    html = client.get(response["Location"]).content.decode()
    assert "Retrying the failed contacts" in html
    assert f'id="run-live" class="run" data-run="{retry.pk}" data-status="queued" aria' in html


# --- Conflicts ----------------------------------------------------------------------------------


@pytest.fixture
def conflict(config):
    """Ada's title and phone edited on both sides since the last sync, held for review."""
    ada = Contact.objects.create(
        workspace=config.workspace,
        first_name="Ada",
        last_name="Lovelace",
        title="CEO",
        phone="+1 555 0100",
    )
    base = {"FirstName": "Ada", "LastName": "Lovelace", "Title": "Founder", "Phone": "+1 555 0000"}
    CrmLink.objects.create(
        workspace=config.workspace,
        config=config,
        entity="contact",
        local_id=ada.pk,
        remote_id="0035g00000AdaAAAAA",
        synced_values=base,
    )
    return SyncConflict.objects.create(
        workspace=config.workspace,
        config=config,
        entity="contact",
        local_id=ada.pk,
        remote_id="0035g00000AdaAAAAA",
        app_data={"Phone": "+1 555 0100", "Title": "CEO"},
        crm_data={"Phone": "+1 555 0199", "Title": "CTO"},
        base_data={"Phone": "+1 555 0000", "Title": "Founder"},
        conflicting_fields=["Phone", "Title"],
    )


def link_base(conflict) -> dict:
    return CrmLink.objects.get(config=conflict.config, local_id=conflict.local_id).synced_values


def test_the_conflicts_list_filters_by_status_and_entity_and_links_each(
    client, config, conflict, admin
):
    settled = SyncConflict.objects.create(
        workspace=config.workspace,
        config=config,
        entity="account",
        remote_id="0015g00000GoneAAAA",
        conflicting_fields=["Industry"],
        status="ignored",
    )
    html = page(client, admin, "/crm/conflicts/")
    assert f'data-conflict="{conflict.pk}"' in html and f'data-conflict="{settled.pk}"' not in html
    assert "Ada Lovelace" in html and "Phone, Title" in html
    assert f'href="/crm/conflicts/{conflict.pk}/">Review' in html

    def shown(query: str) -> set[int]:
        html = page(client, admin, f"/crm/conflicts/?{query}")
        return {c.pk for c in SyncConflict.objects.all() if f'data-conflict="{c.pk}"' in html}

    assert shown("status=all") == {conflict.pk, settled.pk}
    assert shown("status=ignored") == {settled.pk}
    assert shown("status=all&entity=account") == {settled.pk}
    assert "No conflict matches these filters." in page(
        client, admin, "/crm/conflicts/?entity=account"
    )
    # The settings card and the run's page lead to them.
    assert '<a class="conflicts-link" href="/crm/conflicts/?workspace=' in page(
        client, admin, "/crm/"
    )
    log = a_log(config, entity="contact", conflicts=1)
    SyncConflict.objects.filter(pk=conflict.pk).update(log=log)
    assert f'href="/crm/conflicts/{conflict.pk}/">Review' in page(
        client, admin, f"/crm/history/{log.pk}/"
    )


def test_the_conflicts_list_says_when_what_it_lists_changes(client, config, conflict, admin):
    """The page's script asks every second (`?watch=1`) and reloads when the stamp moves."""

    def stamp(query: str = "") -> str:
        client.force_login(admin)
        answer = client.get(f"/crm/conflicts/?{query}watch=1")
        assert answer.status_code == 200
        return answer.json()["stamp"]

    html = page(client, admin, "/crm/conflicts/")
    first = stamp()
    assert f'data-stamp="{first}"' in html and 'data-watch-url="?watch=1"' in html
    assert stamp() == first  # nothing changed: no reload
    found = SyncConflict.objects.create(  # a run finds another
        workspace=config.workspace,
        config=config,
        entity="account",
        remote_id="0015g00000NewAAAAA",
        conflicting_fields=["Industry"],
    )
    second = stamp()
    assert second != first
    SyncConflict.objects.filter(pk=found.pk).update(status="ignored")  # settled elsewhere
    assert stamp() != second  # a page showing it reloads (to the first list again)
    assert stamp("entity=contact&") == stamp("entity=contact&")  # the filters are its own


def test_the_split_view_shows_the_base_and_both_sides_of_each_field(
    client, conflict, admin, member
):
    html = page(client, admin, f"/crm/conflicts/{conflict.pk}/")
    for field, base, app, crm in (
        ("Phone", "+1 555 0000", "+1 555 0100", "+1 555 0199"),
        ("Title", "Founder", "CEO", "CTO"),
    ):
        assert f'<fieldset class="conflict-field" data-field="{field}">' in html
        assert f"Last synced: {base}" in html
        assert (
            f'name="choice-{field}" value="app"' in html
            and f'name="choice-{field}" value="crm"' in html
        )
        assert (
            f'name="merged-{field}" value="{app}"' in html
        )  # the merged value starts as the hub's
        assert app in html and crm in html
    assert "LastName" in html  # the fields not in conflict, as last synced
    assert 'id="resolve-button"' in html and 'id="ignore"' in html

    read_only = page(client, member, f"/crm/conflicts/{conflict.pk}/")
    assert 'id="read-only"' in read_only and '<fieldset class="plain" disabled>' in read_only
    assert 'id="resolve-button"' not in read_only and 'id="ignore"' not in read_only


def test_resolving_field_by_field_merges_the_choices(client, conflict, admin):
    url = f"/crm/conflicts/{conflict.pk}/"
    missing = post(client, admin, url, {"choice-Phone": "crm"})
    assert missing.status_code == 400 and "Choose a value for Title." in missing.content.decode()

    response = post(client, admin, url, {"choice-Phone": "crm", "choice-Title": "app"})
    assert response.status_code == 302 and response["Location"] == url
    conflict.refresh_from_db()
    assert (conflict.status, conflict.strategy, conflict.resolved_by) == (
        "resolved",
        "manual",
        admin,
    )
    assert conflict.merged_data == {"Phone": "+1 555 0199", "Title": "CEO"}
    ada = Contact.objects.get(pk=conflict.local_id)
    assert (ada.phone, ada.title) == ("+1 555 0199", "CEO")
    # The base becomes the CRM's values: the next run writes only the hub's title to the CRM.
    assert link_base(conflict) == {
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Title": "CTO",
        "Phone": "+1 555 0199",
    }
    assert SyncLog.objects.get(config=conflict.config).entity == "contact"  # queued
    html = client.get(url).content.decode()
    assert "Conflict resolved" in html and 'id="conflict-status">Resolved' in html
    assert "Both sides keep: <strong>CEO</strong>" in html
    assert 'id="resolve-button"' not in html
    again = post(client, admin, url, {"choice-Phone": "app", "choice-Title": "app"})
    assert again.status_code == 409 and "resolved already" in again.content.decode()


@pytest.mark.parametrize(
    ("form", "strategy", "phone", "title"),
    [
        ({"choice-Phone": "crm", "choice-Title": "crm"}, "use_crm", "+1 555 0199", "CTO"),
        (
            {"choice-Phone": "app", "choice-Title": "merged", "merged-Title": " Chief Executive "},
            "manual",
            "+1 555 0100",
            "Chief Executive",
        ),
    ],
)
def test_one_side_everywhere_is_its_strategy_and_a_merged_value_is_written(
    client, conflict, admin, form, strategy, phone, title
):
    post(client, admin, f"/crm/conflicts/{conflict.pk}/", form)
    conflict.refresh_from_db()
    assert (conflict.status, conflict.strategy) == ("resolved", strategy)
    ada = Contact.objects.get(pk=conflict.local_id)
    assert (ada.phone, ada.title) == (phone, title)
    assert link_base(conflict)["Title"] == "CTO"


def test_a_value_the_hub_cannot_hold_is_refused_and_nothing_is_written(client, conflict, admin):
    form = {"choice-Phone": "app", "choice-Title": "merged", "merged-Title": "x" * 200}
    response = post(client, admin, f"/crm/conflicts/{conflict.pk}/", form)
    assert response.status_code == 400 and "Title:" in response.content.decode()
    conflict.refresh_from_db()
    assert conflict.status == "pending"
    assert Contact.objects.get(pk=conflict.local_id).title == "CEO"
    assert link_base(conflict)["Title"] == "Founder"
    assert not SyncLog.objects.exists()


def test_ignore_writes_nothing(client, conflict, admin):
    response = post(client, admin, f"/crm/conflicts/{conflict.pk}/ignore")
    assert response["Location"] == f"/crm/conflicts/{conflict.pk}/"
    conflict.refresh_from_db()
    assert (conflict.status, conflict.resolved_by) == ("ignored", admin)
    assert Contact.objects.get(pk=conflict.local_id).title == "CEO"
    assert link_base(conflict)["Title"] == "Founder"
    assert not SyncLog.objects.exists()
    assert "Conflict ignored" in client.get(response["Location"]).content.decode()


def test_a_member_is_refused_and_another_workspace_sees_no_conflict(
    client, conflict, member, outsider
):
    url = f"/crm/conflicts/{conflict.pk}/"
    assert (
        post(client, member, url, {"choice-Phone": "app", "choice-Title": "app"}).status_code == 403
    )
    assert post(client, member, f"{url}ignore").status_code == 403
    page(client, outsider, url, status=404)
    assert (
        post(client, outsider, url, {"choice-Phone": "app", "choice-Title": "app"}).status_code
        == 404
    )
    assert post(client, outsider, f"{url}ignore").status_code == 404
    assert f'data-conflict="{conflict.pk}"' not in page(
        client, outsider, "/crm/conflicts/?status=all"
    )
    conflict.refresh_from_db()
    assert conflict.status == "pending"
    assert Contact.objects.get(pk=conflict.local_id).title == "CEO"


def test_always_use_sets_the_fields_rule_and_resolves_with_the_other_choices(
    client, conflict, admin
):
    url = f"/crm/conflicts/{conflict.pk}/"
    html = page(client, admin, url)
    assert 'name="always-Title" value="crm"' in html and 'name="always-Phone" value="app"' in html
    # Always use Salesforce for Title, with Phone kept from the app: the rule, and resolved.
    response = post(client, admin, url, {"choice-Phone": "app", "always-Title": "crm"})
    assert response.status_code == 302 and response["Location"] == url
    conflict.config.refresh_from_db()
    assert conflict.config.field_policies == {"contact": {"Title": "crm_wins"}}
    conflict.refresh_from_db()
    assert (conflict.status, conflict.merged_data) == (
        "resolved",
        {"Phone": "+1 555 0100", "Title": "CTO"},
    )
    ada = Contact.objects.get(pk=conflict.local_id)
    assert (ada.phone, ada.title) == ("+1 555 0100", "CTO")
    event = AuditEvent.objects.get(action="crm.config.field_policy")
    assert event.actor == admin and event.details["crm_field"] == "Title"
    assert AuditEvent.objects.filter(action="crm.conflict.resolve").exists()
    html = client.get(url).content.decode()
    assert "From now on Title always takes Salesforce&#x27;s value" in html
    assert '<li data-rule="Title"><strong>Title</strong>: always Salesforce\'s value' in html

    # Clearing it from the page: the strategy decides again.
    response = post(client, admin, f"{url}rule/clear", {"field": "Title"})
    assert response["Location"] == url
    conflict.config.refresh_from_db()
    assert conflict.config.field_policies == {}
    html = client.get(url).content.decode()
    assert "The rule for Title is cleared" in html and 'data-rule="Title"' not in html


def test_always_use_with_other_fields_undecided_sets_the_rule_and_waits(
    client, conflict, admin, member
):
    url = f"/crm/conflicts/{conflict.pk}/"
    response = post(client, admin, url, {"always-Phone": "app"})
    assert response.status_code == 302
    conflict.refresh_from_db()
    assert conflict.status == "pending"  # Title still needs a choice
    conflict.config.refresh_from_db()
    assert conflict.config.field_policies == {"contact": {"Phone": "app_wins"}}
    html = client.get(url).content.decode()
    assert "Choose a value for Title to resolve this one." in html
    # The field with a rule starts on its side, and says so.
    assert 'name="choice-Phone" value="app" checked' in html
    assert '<span class="badge rule">Always the app\'s</span>' in html
    # A member sees the rule but can neither set nor clear one.
    read_only = page(client, member, url)
    assert 'data-rule="Phone"' in read_only and "Clear rule" not in read_only
    assert post(client, member, url, {"always-Title": "crm"}).status_code == 403
    assert post(client, member, f"{url}rule/clear", {"field": "Phone"}).status_code == 403
    conflict.config.refresh_from_db()
    assert conflict.config.field_policies == {"contact": {"Phone": "app_wins"}}


def test_always_use_is_all_or_nothing_when_the_resolve_is_refused(client, conflict, admin):
    # A value the hub cannot hold for Phone: nothing is resolved and no rule is set.
    form = {"choice-Phone": "merged", "merged-Phone": "9" * 100, "always-Title": "crm"}
    response = post(client, admin, f"/crm/conflicts/{conflict.pk}/", form)
    assert response.status_code == 400 and "Phone:" in response.content.decode()
    conflict.refresh_from_db()
    conflict.config.refresh_from_db()
    assert (conflict.status, conflict.config.field_policies) == ("pending", {})
    assert not AuditEvent.objects.filter(action="crm.config.field_policy").exists()
