"""The seed's CRM API (/api/crm/…): connecting through the platform's OAuth flow, the config and
its field mappings, runs and their logs, and conflicts settled so that the next real run
against the Salesforce emulator carries the chosen values. Members read; workspace admins
change; another workspace's rows are 404s."""

import pytest

from crm import sync
from crm.models import Contact, CrmConfig, CrmLink, SyncConflict, SyncLog
from integrations.accounts.models import AuditEvent
from integrations.connections.models import Connection
from integrations.connections.services import client
from integrations.mapping.models import FieldMapping
from tests.integrations.helpers import connect

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]


def as_user(api, user):
    api.force_authenticate(user)
    return api


def crm_contact(config, remote_id: str) -> dict:
    """A Contact as Salesforce holds it, read through the connection's one client."""
    return client(config.connection).call(lambda c: c.sdk.Contact.get(remote_id))


def crm_writes(sandbox) -> int:
    """Collections calls (Salesforce's writes) since the counts were last cleared."""
    by_endpoint = sandbox.calls("salesforce")["by_endpoint"]
    return sum(n for endpoint, n in by_endpoint.items() if "/composite/sobjects" in endpoint)


def run_queued(config, entity: str) -> SyncLog:
    """Do the run the API queued (the worker's part), as the worker would."""
    queued = SyncLog.objects.get(config=config, entity=entity, status="queued")
    sync.execute(queued.pk)
    return SyncLog.objects.get(pk=queued.pk)


# --- Connecting -------------------------------------------------------------------------------


class TestConnect:
    def test_connecting_goes_through_the_platforms_consent_and_its_callback(
        self, api, sandbox, admin
    ):
        as_user(api, admin)
        started = api.post("/api/crm/connect", {"provider": "salesforce"}, format="json")
        assert started.status_code == 200, started.content
        body = started.json()
        assert body["config"]["status"] == "disconnected"
        assert "/services/oauth2/authorize?" in body["redirectUrl"]
        params = sandbox.consent(body["redirectUrl"])

        done = api.post(
            "/api/crm/oauth/callback",
            {"provider": "salesforce", "code": params["code"], "state": params["state"]},
            format="json",
        )

        assert done.status_code == 200, done.content
        assert done.json()["success"] is True
        assert done.json()["config"]["status"] == "connected"
        assert done.json()["config"]["connectedAs"]
        config = CrmConfig.objects.get()
        assert config.connection.status == Connection.Status.CONNECTED
        assert config.entities == ["account", "contact"]
        again = api.post(
            "/api/crm/oauth/callback",
            {"provider": "salesforce", "code": params["code"], "state": params["state"]},
            format="json",
        )
        assert again.status_code == 400  # the state is single-use
        assert AuditEvent.objects.filter(action="crm.config.link").count() == 1

    def test_with_the_workspaces_connection_working_no_consent_is_needed(
        self, api, sandbox, two_workspaces, admin
    ):
        connection = connect(
            sandbox, user=admin, workspace=two_workspaces["a"], provider="salesforce"
        )
        response = as_user(api, admin).post(
            "/api/crm/connect", {"provider": "salesforce"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["redirectUrl"] is None
        assert response.json()["config"]["status"] == "connected"
        assert CrmConfig.objects.get().connection == connection
        # One config per workspace and CRM: connecting again keeps it.
        as_user(api, admin).post("/api/crm/connect", {"provider": "salesforce"}, format="json")
        assert CrmConfig.objects.count() == 1

    def test_hubspot_connects_through_its_consent_and_an_unknown_crm_is_not_found(
        self, api, sandbox, admin
    ):
        as_user(api, admin)
        started = api.post("/api/crm/connect", {"provider": "hubspot"}, format="json")
        assert started.status_code == 200, started.content
        assert "/oauth/authorize?" in started.json()["redirectUrl"]
        params = sandbox.consent(started.json()["redirectUrl"])
        done = api.post(
            "/api/crm/oauth/callback",
            {"provider": "hubspot", "code": params["code"], "state": params["state"]},
            format="json",
        )
        assert done.status_code == 200, done.content
        assert done.json()["config"]["status"] == "connected"
        assert CrmConfig.objects.get().provider == "hubspot"
        assert api.post("/api/crm/pipedrive/test-connection", {}, format="json").status_code == 404

    def test_a_code_without_its_state_is_refused(self, api, admin):
        response = as_user(api, admin).post(
            "/api/crm/connect", {"provider": "salesforce", "authCode": "abc"}, format="json"
        )
        assert response.status_code == 400
        assert "authCode" in response.json()["error"]["details"]
        assert not CrmConfig.objects.exists()

    def test_a_member_cannot_connect(self, api, two_workspaces, member):
        response = as_user(api, member).post(
            "/api/crm/connect",
            {"provider": "salesforce", "workspace": two_workspaces["a"].pk},
            format="json",
        )
        assert response.status_code == 403
        assert not CrmConfig.objects.exists()

    def test_disconnecting_revokes_through_the_platform(self, api, config, admin, member):
        assert as_user(api, member).delete("/api/crm/disconnect/salesforce").status_code == 403
        response = as_user(api, admin).delete("/api/crm/disconnect/salesforce")
        assert response.status_code == 200, response.content
        assert response.json() == {"success": True}
        config.refresh_from_db()
        assert config.status == "disconnected"
        assert config.connection.status == Connection.Status.REVOKED
        assert config.connection.access_token == ""
        tested = api.post("/api/crm/salesforce/test-connection", {}, format="json")
        assert tested.json()["connected"] is False

    def test_test_connection_says_who_it_signs_in_as(self, api, config, member):
        response = as_user(api, member).post(
            "/api/crm/salesforce/test-connection", {}, format="json"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["connected"] is True
        assert body["user"]["email"] == config.connection.external_email
        assert body["user"]["id"] == config.connection.external_user_id

    def test_without_a_connection_the_test_says_so(self, api, admin):
        response = as_user(api, admin).post(
            "/api/crm/salesforce/test-connection", {}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["connected"] is False and response.json()["user"] is None
        assert "connect it first" in response.json()["error"]

    def test_available_fields_come_from_describe_and_are_cached(self, api, sandbox, config, member):
        as_user(api, member)
        response = api.get("/api/crm/salesforce/available-fields?entityType=contact")
        assert response.status_code == 200, response.content
        fields = {f["name"]: f for f in response.json()["fields"]}
        assert fields["LastName"]["required"] is True
        assert fields["Email"]["required"] is False
        assert fields["OwnerId"]["required"] is False  # defaulted on create
        assert fields["Id"]["required"] is False  # not createable
        assert fields["LastName"]["label"] == "Last Name" and fields["Email"]["type"] == "email"
        calls = sandbox.calls("salesforce")["total"]
        assert api.get("/api/crm/salesforce/available-fields?entityType=contact").json() == (
            response.json()
        )
        assert sandbox.calls("salesforce")["total"] == calls
        both = api.get("/api/crm/salesforce/available-fields").json()["fields"]
        assert {f["entityType"] for f in both} == {"account", "contact"}
        assert {"entityType": "contact", **fields["LastName"]} in both
        bad = api.get("/api/crm/salesforce/available-fields?entityType=lead")
        assert bad.status_code == 400 and "entityType" in bad.json()["error"]["details"]


# --- Configs ------------------------------------------------------------------------------------


class TestConfigs:
    def test_members_list_their_workspaces_configs_only(self, api, config, member, outsider):
        listed = as_user(api, member).get("/api/crm/configs")
        assert listed.status_code == 200
        assert [c["id"] for c in listed.json()["configs"]] == [config.pk]
        assert listed.json()["configs"][0]["syncDirection"] == "bidirectional"
        assert as_user(api, outsider).get("/api/crm/configs").json() == {"configs": []}
        assert api.get(f"/api/crm/configs/{config.pk}").status_code == 404

    def test_a_config_comes_with_its_field_mappings_and_stats(self, api, config, member):
        Contact.objects.create(
            workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
        )
        sync.run_once(config, "contact", client(config.connection))
        SyncLog.objects.create(
            workspace=config.workspace,
            config=config,
            entity="contact",
            direction="bidirectional",
            trigger="api",
            status="succeeded",
            processed=7,
        )
        response = as_user(api, member).get(f"/api/crm/configs/{config.pk}")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["config"]["id"] == config.pk
        mapped = {(m["entityType"], m["crmField"]): m for m in body["fieldMappings"]}
        assert mapped[("contact", "LastName")]["appField"] == "last_name"
        assert mapped[("account", "Name")]["syncDirection"] == "bidirectional"
        stats = body["stats"]
        assert stats["linkedContacts"] == CrmLink.objects.filter(entity="contact").count() > 0
        assert stats["linkedAccounts"] == 0 and stats["pendingConflicts"] == 0
        assert stats["lastRun"]["recordsProcessed"] == 7

    def test_an_admin_changes_the_settings(self, api, config, admin):
        rules = {
            "account": [
                {"field": "OwnerId", "operator": "equals", "value": "{current_user_crm_id}"}
            ]
        }
        response = as_user(api, admin).patch(
            f"/api/crm/configs/{config.pk}",
            {
                "syncDirection": "pull",
                "syncFrequency": "daily",
                "dailyAt": "02:30",
                "entities": ["contact"],
                "syncRules": rules,
                "conflictResolution": "manual_review",
                "createIfMissing": False,
                "propagateDeletes": True,
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["config"]["syncRules"] == rules
        assert response.json()["config"]["dailyAt"] == "02:30"
        config.refresh_from_db()
        assert (config.sync_direction, config.sync_frequency, str(config.daily_at)) == (
            "pull",
            "daily",
            "02:30:00",
        )
        assert config.entities == ["contact"] and config.filters == rules
        assert config.conflict_resolution == "manual_review"
        assert (config.create_if_missing, config.propagate_deletes) == (False, True)
        event = AuditEvent.objects.get(action="crm.config.update")
        assert event.actor == admin and event.changes["sync_direction"]["after"] == "pull"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"conflictResolution": "coin_flip"}, "conflictResolution"),
            ({"syncDirection": "sideways"}, "syncDirection"),
            ({"syncFrequency": "weekly"}, "syncFrequency"),
            ({"entities": ["lead"]}, "entities"),
            ({"entities": []}, "entities"),
            ({"syncFrequency": "daily"}, "dailyAt"),
            ({"syncFrequency": "daily", "dailyAt": "25:00"}, "dailyAt"),
            (
                {
                    "syncRules": {
                        "account": [{"field": "Shoe_Size__c", "operator": "equals", "value": 9}]
                    }
                },
                "syncRules",
            ),
            ({"createIfMissing": "yes"}, "createIfMissing"),
            ({"fieldPolicies": {"contact": {"Title": "always"}}}, "fieldPolicies"),
            ({"fieldPolicies": {"lead": {"Title": "crm_wins"}}}, "fieldPolicies"),
            ({"fieldPolicies": {"contact": {"Shoe_Size__c": "crm_wins"}}}, "fieldPolicies"),
            ({"fieldPolicies": {"contact": ["Title"]}}, "fieldPolicies"),
            ({"syncRules": {"lead": []}}, "syncRules"),
            (
                {"syncRules": {"account": [{"field": "Name", "operator": "like", "value": "A"}]}},
                "syncRules",
            ),
            (
                {"syncRules": {"account": [{"field": "Name", "operator": "in", "value": "A"}]}},
                "syncRules",
            ),
            (
                {
                    "syncRules": {
                        "account": [{"field": "Na me", "operator": "equals", "value": "A"}]
                    }
                },
                "syncRules",
            ),
        ],
    )
    def test_an_unknown_value_is_a_400_naming_its_field(self, api, config, admin, body, field):
        response = as_user(api, admin).patch(
            f"/api/crm/configs/{config.pk}", {"syncDirection": "push", **body}, format="json"
        )
        assert response.status_code == 400, response.content
        assert field in response.json()["error"]["details"]
        config.refresh_from_db()
        assert config.sync_direction == "bidirectional"  # nothing half-written

    def test_an_admin_sets_field_policies_and_the_config_shows_them(
        self, api, config, admin, member
    ):
        policies = {"contact": {"Title": "crm_wins", "Phone": "app_wins"}}
        response = as_user(api, admin).patch(
            f"/api/crm/configs/{config.pk}", {"fieldPolicies": policies}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["config"]["fieldPolicies"] == policies
        config.refresh_from_db()
        assert config.field_policies == policies
        shown = as_user(api, member).get(f"/api/crm/configs/{config.pk}").json()
        assert shown["config"]["fieldPolicies"] == policies
        event = AuditEvent.objects.get(action="crm.config.update")
        assert event.changes["field_policies"]["after"] == policies
        # The whole set is replaced; an entity left without rules is dropped.
        as_user(api, admin).patch(
            f"/api/crm/configs/{config.pk}",
            {"fieldPolicies": {"contact": {}, "account": {"Name": "app_wins"}}},
            format="json",
        )
        config.refresh_from_db()
        assert config.field_policies == {"account": {"Name": "app_wins"}}

    @pytest.mark.parametrize(
        ("policies", "named"),
        [
            ({"contact": {"Title": "always"}}, '"always" is not a field policy'),
            ({"lead": {"Title": "crm_wins"}}, "'lead' is not an entity"),
            ({"contact": {"Shoe_Size__c": "crm_wins"}}, "contact.Shoe_Size__c: not a synced"),
        ],
    )
    def test_a_bad_field_policy_is_a_400_naming_it(self, api, config, admin, policies, named):
        response = as_user(api, admin).patch(
            f"/api/crm/configs/{config.pk}", {"fieldPolicies": policies}, format="json"
        )
        assert response.status_code == 400, response.content
        assert named in str(response.json()["error"])
        config.refresh_from_db()
        assert config.field_policies == {}

    def test_a_member_cannot_change_a_config(self, api, config, member):
        response = as_user(api, member).patch(
            f"/api/crm/configs/{config.pk}", {"syncDirection": "push"}, format="json"
        )
        assert response.status_code == 403
        assert as_user(api, member).patch(f"/api/crm/configs/{config.pk}/pause").status_code == 403
        config.refresh_from_db()
        assert (config.sync_direction, config.status) == ("bidirectional", "connected")

    def test_another_workspaces_config_is_not_found(self, api, config, outsider):
        as_user(api, outsider)
        assert api.patch(f"/api/crm/configs/{config.pk}", {}, format="json").status_code == 404
        assert api.patch(f"/api/crm/configs/{config.pk}/pause").status_code == 404

    def test_pause_stops_runs_and_resume_ends_a_quota_pause(self, api, config, admin):
        as_user(api, admin)
        paused = api.patch(f"/api/crm/configs/{config.pk}/pause")
        assert paused.status_code == 200 and paused.json()["config"]["status"] == "paused"
        refused = api.post("/api/crm/sync/trigger", {"configId": config.pk}, format="json")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "crm_paused"
        CrmConfig.objects.filter(pk=config.pk).update(
            resume_at="2030-01-01T00:00:00Z", status_reason="Salesforce's daily API limit…"
        )
        resumed = api.patch(f"/api/crm/configs/{config.pk}/resume")
        assert resumed.status_code == 200
        config.refresh_from_db()
        assert (config.status, config.resume_at, config.status_reason) == ("connected", None, "")
        assert set(
            AuditEvent.objects.filter(action__startswith="crm.config.").values_list(
                "action", flat=True
            )
        ) == {"crm.config.pause", "crm.config.resume"}


# --- Field mappings -----------------------------------------------------------------------------


class TestFieldMappings:
    def url(self, config, mapping_id=None):
        base = f"/api/crm/configs/{config.pk}/field-mappings"
        return base if mapping_id is None else f"{base}/{mapping_id}"

    def test_a_new_mapping_is_a_row_of_the_mapping_set_and_the_sync_uses_it(
        self, api, config, admin
    ):
        ada = Contact.objects.create(
            workspace=config.workspace,
            first_name="Ada",
            last_name="Hub",
            email="ada@hub.example",
            phone="+41 44 000 00 00",
        )
        response = as_user(api, admin).post(
            self.url(config),
            {
                "entityType": "contact",
                "crmField": "MobilePhone",
                "appField": "phone",
                "syncDirection": "push",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        mapping = response.json()["mapping"]
        assert (mapping["crmField"], mapping["appField"], mapping["syncDirection"]) == (
            "MobilePhone",
            "phone",
            "push",
        )
        row = FieldMapping.objects.get(pk=mapping["id"])
        assert (row.source_field, row.target_field, row.direction) == (
            "phone",
            "MobilePhone",
            "push",
        )
        listed = api.get(self.url(config) + "?entityType=contact").json()["mappings"]
        assert mapping in listed and all(m["entityType"] == "contact" for m in listed)

        sync.run_once(config, "contact", client(config.connection))
        link = CrmLink.objects.get(config=config, entity="contact", local_id=ada.pk)
        assert crm_contact(config, link.remote_id)["MobilePhone"] == "+41 44 000 00 00"

    @pytest.mark.parametrize(
        ("body", "status", "field"),
        [
            ({"crmField": "Shoe_Size__c"}, 400, "crmField"),
            ({"appField": "shoe_size"}, 400, "appField"),
            ({"appField": "owner"}, 400, "appField"),
            ({"crmField": "CreatedDate"}, 400, "syncDirection"),
            (
                {"transformFunction": "truncate", "transformParams": {"width": "x"}},
                400,
                "transformParams",
            ),
            ({"transformFunction": "mystery"}, 400, "transformFunction"),
            ({"crmField": "Email", "appField": "email"}, 409, "crmField"),
        ],
    )
    def test_a_mapping_the_crm_or_the_hub_cannot_take_is_refused(
        self, api, config, admin, body, status, field
    ):
        before = FieldMapping.objects.count()
        response = as_user(api, admin).post(
            self.url(config),
            {"entityType": "contact", "crmField": "Department", "appField": "title", **body},
            format="json",
        )
        assert response.status_code == status, response.content
        assert field in response.json()["error"]["details"]
        assert FieldMapping.objects.count() == before

    def test_a_mapping_is_changed_and_removed_through_the_api(self, api, config, admin, member):
        mappings = as_user(api, admin).get(self.url(config)).json()["mappings"]
        title = next(m for m in mappings if m["crmField"] == "Title")
        changed = api.patch(
            self.url(config, title["id"]),
            {
                "syncDirection": "pull",
                "transformFunction": "truncate",
                "transformParams": {"max_length": 50},
            },
            format="json",
        )
        assert changed.status_code == 200, changed.content
        assert changed.json()["mapping"]["syncDirection"] == "pull"
        row = FieldMapping.objects.get(pk=title["id"])
        assert (row.direction, row.transform, row.params) == (
            "pull",
            "truncate",
            {"max_length": 50},
        )
        assert as_user(api, member).delete(self.url(config, title["id"])).status_code == 403
        removed = as_user(api, admin).delete(self.url(config, title["id"]))
        assert removed.status_code == 200 and removed.json() == {"success": True}
        assert not FieldMapping.objects.filter(pk=title["id"]).exists()
        assert api.delete(self.url(config, title["id"])).status_code == 404
        assert AuditEvent.objects.filter(action__startswith="crm.mapping.").count() == 2

    def test_a_field_the_crm_needs_on_create_stays_mapped(self, api, config, admin):
        mappings = as_user(api, admin).get(self.url(config)).json()["mappings"]
        last_name = next(m for m in mappings if m["crmField"] == "LastName")
        removed = api.delete(self.url(config, last_name["id"]))
        assert removed.status_code == 409 and "LastName" in removed.json()["error"]["message"]
        pulled = api.patch(
            self.url(config, last_name["id"]), {"syncDirection": "pull"}, format="json"
        )
        assert pulled.status_code == 409
        assert FieldMapping.objects.get(pk=last_name["id"]).direction == "both"


# --- Runs ---------------------------------------------------------------------------------------


class TestRuns:
    def test_a_trigger_queues_a_run_per_entity_with_an_estimate(self, api, sandbox, config, admin):
        Contact.objects.create(workspace=config.workspace, last_name="Hub", email="h@hub.example")
        as_user(api, admin)
        response = api.post("/api/crm/sync/trigger", {"configId": config.pk}, format="json")
        assert response.status_code == 202, response.content
        body = response.json()
        queued = list(SyncLog.objects.filter(config=config).order_by("pk"))
        assert [run.entity for run in queued] == ["account", "contact"]
        assert body["job_id"] == queued[0].pk and body["jobIds"] == [r.pk for r in queued]
        expected = (
            1
            + client(config.connection).call(
                lambda c: c.sdk.query("SELECT COUNT() FROM Account")["totalSize"]
            )
            + client(config.connection).call(
                lambda c: c.sdk.query("SELECT COUNT() FROM Contact")["totalSize"]
            )
        )
        assert body["estimatedRecords"] == expected
        busy = api.post("/api/crm/sync/trigger", {"configId": config.pk}, format="json")
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "run_in_progress"
        assert SyncLog.objects.filter(config=config).count() == 2  # all or none

    def test_a_dry_run_of_one_entity_plans_and_changes_nothing(self, api, config, admin):
        Contact.objects.create(workspace=config.workspace, last_name="Hub", email="h@hub.example")
        response = as_user(api, admin).post(
            "/api/crm/sync/trigger",
            {"configId": config.pk, "entityTypes": ["contact"], "dryRun": True},
            format="json",
        )
        assert response.status_code == 202, response.content
        run = run_queued(config, "contact")
        assert run.dry_run and run.status == "succeeded"
        assert not CrmLink.objects.exists()
        detail = api.get(f"/api/crm/sync/logs/{run.pk}").json()
        assert detail["log"]["dryRun"] is True
        assert any(op["operation"] == "create" for op in detail["details"]["plan"])

    def test_trigger_refusals(self, api, config, admin, member, outsider):
        as_user(api, admin)
        sideways = api.post(
            "/api/crm/sync/trigger", {"configId": config.pk, "syncDirection": "push"}, format="json"
        )
        assert (
            sideways.status_code == 400 and "syncDirection" in sideways.json()["error"]["details"]
        )
        config.entities = ["account"]
        config.save()
        outside = api.post(
            "/api/crm/sync/trigger",
            {"configId": config.pk, "entityTypes": ["contact"]},
            format="json",
        )
        assert outside.status_code == 400 and "entityTypes" in outside.json()["error"]["details"]
        assert (
            as_user(api, member)
            .post("/api/crm/sync/trigger", {"configId": config.pk}, format="json")
            .status_code
            == 403
        )
        assert (
            as_user(api, outsider)
            .post("/api/crm/sync/trigger", {"configId": config.pk}, format="json")
            .status_code
            == 404
        )
        assert not SyncLog.objects.exists()

    def test_logs_page_and_a_failed_run_is_retried(self, api, config, admin, member, outsider):
        for n in range(3):
            SyncLog.objects.create(
                workspace=config.workspace,
                config=config,
                entity="contact",
                direction="bidirectional",
                trigger="api",
                status="partial",
                processed=n,
                failed=1,
                errors=[{"item": "contact 9", "message": "REQUIRED_FIELD_MISSING"}],
            )
        as_user(api, member)
        page = api.get(f"/api/crm/sync/logs?configId={config.pk}&limit=2&offset=1").json()
        assert page["pagination"] == {"total": 3, "limit": 2, "offset": 1}
        assert [log["recordsProcessed"] for log in page["logs"]] == [1, 0]  # newest first
        last = SyncLog.objects.order_by("-pk").first()
        detail = api.get(f"/api/crm/sync/logs/{last.pk}").json()
        assert detail["log"]["recordsFailed"] == 1
        assert detail["details"]["errors"] == [
            {"item": "contact 9", "message": "REQUIRED_FIELD_MISSING"}
        ]
        assert api.post(f"/api/crm/sync/logs/{last.pk}/retry").status_code == 403
        assert as_user(api, outsider).get(f"/api/crm/sync/logs/{last.pk}").status_code == 404
        retried = as_user(api, admin).post(f"/api/crm/sync/logs/{last.pk}/retry")
        assert retried.status_code == 202, retried.content
        run = SyncLog.objects.get(pk=retried.json()["job_id"])
        assert (run.status, run.entity, run.config_id) == ("queued", "contact", config.pk)
        assert api.post(f"/api/crm/sync/logs/{last.pk}/retry").status_code == 409


# --- Conflicts ----------------------------------------------------------------------------------


@pytest.fixture
def conflict(config, sandbox):
    """Ada's title edited on both sides under manual review: held as a conflict."""
    config.conflict_resolution = CrmConfig.Resolution.MANUAL_REVIEW
    config.save()
    ada = Contact.objects.create(
        workspace=config.workspace, first_name="Ada", last_name="Hub", email="ada@hub.example"
    )
    sync.run_once(config, "contact", client(config.connection))
    link = CrmLink.objects.get(config=config, entity="contact", local_id=ada.pk)
    sandbox.salesforce_edit(link.remote_id, {"Title": "CTO"})
    Contact.objects.filter(pk=ada.pk).update(title="CEO")
    counts = sync.run_once(config, "contact", client(config.connection))
    assert counts["conflicts"] == 1
    return config.conflicts.get()


def resolve(api, conflict, body):
    return api.post(f"/api/crm/conflicts/{conflict.pk}/resolve", body, format="json")


def title_on_both_sides(conflict) -> tuple[str, str]:
    hub = Contact.objects.get(pk=conflict.local_id).title
    return hub, crm_contact(conflict.config, conflict.remote_id)["Title"]


class TestConflicts:
    def test_they_are_listed_with_both_sides_and_the_base(self, api, conflict, member, outsider):
        listed = as_user(api, member).get(
            f"/api/crm/conflicts?status=pending&entityType=contact&configId={conflict.config_id}"
        )
        assert listed.status_code == 200
        (shown,) = listed.json()["conflicts"]
        assert shown["id"] == conflict.pk and shown["conflictingFields"] == ["Title"]
        assert (shown["appData"], shown["crmData"], shown["baseData"]) == (
            {"Title": "CEO"},
            {"Title": "CTO"},
            {"Title": None},
        )
        assert api.get("/api/crm/conflicts?status=resolved").json() == {"conflicts": []}
        assert as_user(api, outsider).get("/api/crm/conflicts").json() == {"conflicts": []}

    def test_use_app_puts_the_hubs_value_in_salesforce(self, api, sandbox, conflict, admin):
        response = resolve(as_user(api, admin), conflict, {"strategy": "use_app"})
        assert response.status_code == 200, response.content
        shown = response.json()["conflict"]
        assert (shown["status"], shown["resolutionStrategy"]) == ("resolved", "use_app")
        assert shown["resolvedBy"] == admin.email and shown["resolvedAt"]
        sandbox.clear_calls("salesforce")
        run = run_queued(conflict.config, "contact")  # the resolve queued it
        assert run.status == "succeeded" and run.updated == 1 and run.conflicts == 0
        assert crm_writes(sandbox) == 1
        assert title_on_both_sides(conflict) == ("CEO", "CEO")
        again = sync.run_once(conflict.config, "contact", client(conflict.config.connection))
        assert (again["updated"], again["conflicts"]) == (0, 0)

    def test_use_crm_leaves_the_crms_value_on_both_sides(self, api, sandbox, conflict, admin):
        assert resolve(as_user(api, admin), conflict, {"strategy": "use_crm"}).status_code == 200
        assert Contact.objects.get(pk=conflict.local_id).title == "CTO"  # at once
        sandbox.clear_calls("salesforce")
        run = run_queued(conflict.config, "contact")
        assert run.status == "succeeded" and (run.updated, run.conflicts) == (0, 0)
        assert crm_writes(sandbox) == 0  # nothing to write
        assert title_on_both_sides(conflict) == ("CTO", "CTO")
        assert not SyncConflict.objects.filter(status="pending").exists()

    def test_merged_data_is_written_to_both_sides(self, api, conflict, admin):
        response = resolve(
            as_user(api, admin), conflict, {"strategy": "use_crm", "mergedData": {"Title": "CFO"}}
        )
        assert response.status_code == 200, response.content
        shown = response.json()["conflict"]
        assert shown["resolutionStrategy"] == "manual" and shown["mergedData"] == {"Title": "CFO"}
        run_queued(conflict.config, "contact")
        assert title_on_both_sides(conflict) == ("CFO", "CFO")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"strategy": "coin_flip"}, "strategy"),
            ({}, "strategy"),
            ({"strategy": "use_app", "mergedData": {"Email": "x@y.z"}}, "mergedData"),
            ({"strategy": "use_app", "mergedData": {"Title": "x" * 200}}, "mergedData"),
            ({"strategy": "use_app", "mergedData": "CFO"}, "mergedData"),
            ({"strategy": "use_app", "mergedData": {"Title": {"text": "CFO"}}}, "mergedData"),
        ],
    )
    def test_a_bad_resolution_is_a_400_and_writes_nothing(self, api, conflict, admin, body, field):
        response = resolve(as_user(api, admin), conflict, body)
        assert response.status_code == 400, response.content
        assert field in response.json()["error"]["details"]
        conflict.refresh_from_db()
        assert conflict.status == "pending"
        assert Contact.objects.get(pk=conflict.local_id).title == "CEO"
        assert not SyncLog.objects.filter(status="queued").exists()

    def test_a_member_cannot_resolve_or_ignore(self, api, conflict, member, outsider):
        assert resolve(as_user(api, member), conflict, {"strategy": "use_crm"}).status_code == 403
        assert api.post(f"/api/crm/conflicts/{conflict.pk}/ignore").status_code == 403
        assert resolve(as_user(api, outsider), conflict, {"strategy": "use_crm"}).status_code == 404
        conflict.refresh_from_db()
        assert conflict.status == "pending"
        assert Contact.objects.get(pk=conflict.local_id).title == "CEO"

    def test_ignore_writes_nothing_and_a_still_differing_field_comes_back(
        self, api, conflict, admin
    ):
        response = as_user(api, admin).post(f"/api/crm/conflicts/{conflict.pk}/ignore")
        assert response.status_code == 200, response.content
        assert response.json()["conflict"]["status"] == "ignored"
        assert title_on_both_sides(conflict) == ("CEO", "CTO")
        assert not SyncLog.objects.filter(status="queued").exists()
        settled = resolve(api, conflict, {"strategy": "use_app"})
        assert settled.status_code == 409 and settled.json()["error"]["code"] == "conflict_settled"
        sync.run_once(conflict.config, "contact", client(conflict.config.connection))
        assert conflict.config.conflicts.filter(status="pending").count() == 1

    def test_resolving_waits_while_a_run_of_the_entity_goes(self, api, conflict, admin):
        SyncLog.objects.create(
            workspace=conflict.workspace,
            config=conflict.config,
            entity="contact",
            direction="bidirectional",
            trigger="api",
            status="running",
        )
        response = resolve(as_user(api, admin), conflict, {"strategy": "use_app"})
        assert response.status_code == 409
        conflict.refresh_from_db()
        assert conflict.status == "pending"


def test_the_schema_documents_every_crm_endpoint(api, admin):
    schema = as_user(api, admin).get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path, methods in {
        "/api/crm/connect": ["post"],
        "/api/crm/oauth/callback": ["post"],
        "/api/crm/disconnect/{provider}": ["delete"],
        "/api/crm/{provider}/test-connection": ["post"],
        "/api/crm/{provider}/available-fields": ["get"],
        "/api/crm/configs": ["get"],
        "/api/crm/configs/{config_id}": ["get", "patch"],
        "/api/crm/configs/{config_id}/pause": ["patch"],
        "/api/crm/configs/{config_id}/resume": ["patch"],
        "/api/crm/configs/{config_id}/field-mappings": ["get", "post"],
        "/api/crm/configs/{config_id}/field-mappings/{mapping_id}": ["patch", "delete"],
        "/api/crm/sync/trigger": ["post"],
        "/api/crm/sync/logs": ["get"],
        "/api/crm/sync/logs/{log_id}": ["get"],
        "/api/crm/sync/logs/{log_id}/retry": ["post"],
        "/api/crm/conflicts": ["get"],
        "/api/crm/conflicts/{conflict_id}/resolve": ["post"],
        "/api/crm/conflicts/{conflict_id}/ignore": ["post"],
    }.items():
        assert sorted(paths[path]) == sorted(methods), path
    config = schema.json()["components"]["schemas"]["CrmConfig"]["properties"]
    assert {"syncDirection", "syncRules", "conflictResolution", "createIfMissing"} <= set(config)
    assert "job_id" in schema.json()["components"]["schemas"]["CrmTriggerOut"]["properties"]
