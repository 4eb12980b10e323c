"""The platform API: tenant isolation, the error shape, throttling, CORS, the schema."""

import pytest
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from integrations.accounts.models import AuditEvent, Membership
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


class TestTenantIsolation:
    def test_a_member_lists_only_their_workspaces(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_member"])
        names = [w["name"] for w in api.get("/api/workspaces").json()["results"]]
        assert names == ["Alpha"]

    def test_another_workspace_is_a_404_not_a_403(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        b = two_workspaces["b"]
        assert_error(api.get(f"/api/workspaces/{b.pk}"), 404, "not_found")
        assert_error(
            api.patch(f"/api/workspaces/{b.pk}", {"name": "Mine"}, format="json"), 404, "not_found"
        )
        b_membership = Membership.objects.get(workspace=b)
        assert_error(api.get(f"/api/memberships/{b_membership.pk}"), 404, "not_found")
        assert_error(api.delete(f"/api/memberships/{b_membership.pk}"), 404, "not_found")
        b.refresh_from_db()
        assert b.name == "Bravo"

    def test_a_missing_object_and_a_foreign_one_answer_the_same(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        foreign = api.get(f"/api/workspaces/{two_workspaces['b'].pk}")
        missing = api.get("/api/workspaces/999999")
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json() == missing.json()

    def test_filtering_by_a_foreign_workspace_reveals_nothing(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        foreign = api.get(f"/api/memberships?workspace={two_workspaces['b'].pk}")
        missing = api.get("/api/memberships?workspace=999999")
        assert foreign.status_code == missing.status_code == 200
        assert foreign.json()["results"] == missing.json()["results"] == []

    @pytest.mark.parametrize(
        "url",
        [
            "/api/memberships",
            "/api/audit-events",
            "/api/integrations/connections",
            "/api/integrations/outbound-changes",
            "/api/timetracker/runs",
        ],
    )
    def test_no_workspace_filter_tells_a_foreign_workspace_from_a_missing_one(
        self, api, two_workspaces, url
    ):
        api.force_authenticate(two_workspaces["a_admin"])
        foreign = api.get(f"{url}?workspace={two_workspaces['b'].pk}")
        missing = api.get(f"{url}?workspace=999999")
        assert foreign.status_code == missing.status_code == 200, missing.content
        assert foreign.json()["results"] == missing.json()["results"] == []

    def test_adding_a_member_to_a_foreign_workspace_is_a_404(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.post(
            "/api/memberships",
            {"workspace": two_workspaces["b"].pk, "email": two_workspaces["a_member"].email},
            format="json",
        )
        assert_error(response, 404, "not_found")
        assert not Membership.objects.filter(
            workspace=two_workspaces["b"], user=two_workspaces["a_member"]
        ).exists()

    def test_audit_events_are_for_workspace_admins_only(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        api.patch(f"/api/workspaces/{two_workspaces['a'].pk}", {"name": "Alpha 2"}, format="json")
        admin_view = api.get("/api/audit-events").json()["results"]
        assert [e["action"] for e in admin_view] == ["workspace.update"]

        api.force_authenticate(two_workspaces["a_member"])
        assert api.get("/api/audit-events").json()["results"] == []
        api.force_authenticate(two_workspaces["b_admin"])
        assert api.get("/api/audit-events").json()["results"] == []


class TestWorkspaces:
    def test_creating_a_workspace_makes_the_creator_its_admin(self, api):
        user = UserFactory()
        api.force_authenticate(user)
        response = api.post("/api/workspaces", {"name": "Shop floor"}, format="json")
        assert response.status_code == 201
        membership = Membership.objects.get(user=user)
        assert (membership.workspace.name, membership.role) == ("Shop floor", "admin")
        assert response.json()["slug"] == "shop-floor"

    def test_a_member_cannot_rename_their_workspace(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_member"])
        response = api.patch(
            f"/api/workspaces/{two_workspaces['a'].pk}", {"name": "X"}, format="json"
        )
        assert_error(response, 403, "permission_denied")

    def test_an_admin_renames_it_and_the_change_is_audited(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.patch(
            f"/api/workspaces/{two_workspaces['a'].pk}",
            {"name": "Alpha Works"},
            format="json",
            HTTP_X_REQUEST_ID="req-rename-0001",
        )
        assert response.status_code == 200
        event = AuditEvent.objects.get(action="workspace.update")
        assert event.changes == {"name": {"before": "Alpha", "after": "Alpha Works"}}
        assert (event.actor, event.request_id, event.workspace) == (
            two_workspaces["a_admin"],
            "req-rename-0001",
            two_workspaces["a"],
        )
        assert event.ip == "127.0.0.1"

    def test_an_empty_name_is_a_field_error(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.patch(
            f"/api/workspaces/{two_workspaces['a'].pk}", {"name": ""}, format="json"
        )
        assert_error(response, 400, "invalid")
        assert "name" in response.json()["error"]["details"]


class TestMemberships:
    def test_an_admin_adds_an_existing_user_by_email(self, api, two_workspaces):
        newcomer = UserFactory(email="new.person@example.com")
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.post(
            "/api/memberships",
            {
                "workspace": two_workspaces["a"].pk,
                "email": "New.Person@example.com",
                "role": "member",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["email"] == "new.person@example.com"
        assert Membership.objects.filter(workspace=two_workspaces["a"], user=newcomer).exists()

    def test_an_unknown_email_is_a_clear_404(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.post(
            "/api/memberships",
            {"workspace": two_workspaces["a"].pk, "email": "nobody@example.com"},
            format="json",
        )
        assert_error(response, 404, "user_not_found")
        assert "nobody@example.com" in response.json()["error"]["message"]

    def test_adding_someone_twice_is_a_conflict(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.post(
            "/api/memberships",
            {"workspace": two_workspaces["a"].pk, "email": two_workspaces["a_member"].email},
            format="json",
        )
        assert_error(response, 409, "conflict")

    def test_the_last_admin_cannot_step_down_or_leave(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        own = Membership.objects.get(user=two_workspaces["a_admin"])
        assert_error(
            api.patch(f"/api/memberships/{own.pk}", {"role": "member"}, format="json"),
            409,
            "last_admin",
        )
        assert_error(api.delete(f"/api/memberships/{own.pk}"), 409, "last_admin")
        own.refresh_from_db()
        assert own.role == "admin"

    def test_a_member_cannot_promote_themselves(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_member"])
        own = Membership.objects.get(user=two_workspaces["a_member"])
        assert_error(
            api.patch(f"/api/memberships/{own.pk}", {"role": "admin"}, format="json"),
            403,
            "permission_denied",
        )

    def test_a_bad_role_is_a_field_error(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        member = Membership.objects.get(user=two_workspaces["a_member"])
        response = api.patch(f"/api/memberships/{member.pk}", {"role": "owner"}, format="json")
        assert_error(response, 400, "invalid")
        assert "role" in response.json()["error"]["details"]


class TestErrors:
    def test_anonymous_calls_get_401_with_a_challenge(self, api):
        response = api.get("/api/workspaces")
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Token"

    def test_malformed_json_is_a_400(self, api, two_workspaces):
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.post("/api/workspaces", "{not json", content_type="application/json")
        assert_error(response, 400, "parse_error")

    def test_an_unknown_endpoint_is_a_json_404(self, api):
        assert_error(api.get("/api/no-such-thing"), 404, "not_found")

    def test_an_unexpected_error_is_a_500_without_internals(self, api, two_workspaces, monkeypatch):
        def explode(**kwargs):
            raise RuntimeError("database password=hunter2 at /srv/hub/integrations/services.py")

        monkeypatch.setattr("integrations.accounts.selectors.workspace_list", explode)
        api.force_authenticate(two_workspaces["a_admin"])
        response = api.get("/api/workspaces", HTTP_X_REQUEST_ID="req-boom-00001")
        assert_error(response, 500, "internal_error")
        assert response.json()["error"]["details"] == {"request_id": "req-boom-00001"}
        for leak in (b"hunter2", b"RuntimeError", b"services.py", b"Traceback"):
            assert leak not in response.content


class TestThrottling:
    def test_too_many_calls_get_a_429_with_retry_after(self, api, two_workspaces, monkeypatch):
        monkeypatch.setattr(
            UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "60/minute"}
        )
        api.force_authenticate(two_workspaces["a_member"])
        statuses = [api.get("/api/workspaces").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = api.get("/api/workspaces")
        assert_error(response, 429, "throttled")
        assert int(response["Retry-After"]) > 0
        assert response.json()["error"]["details"]["retry_after"] > 0

    def test_anonymous_calls_are_throttled_too(self, api, monkeypatch):
        monkeypatch.setattr(
            AnonRateThrottle, "THROTTLE_RATES", {"user": "60/minute", "anon": "2/minute"}
        )
        statuses = [api.get("/api/schema/").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


class TestCors:
    def test_only_listed_origins_are_allowed(self, client, settings):
        settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
        allowed = client.options(
            "/api/workspaces",
            HTTP_ORIGIN="https://app.example.com",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        )
        other = client.options(
            "/api/workspaces",
            HTTP_ORIGIN="https://evil.example.net",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        )
        assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert "Access-Control-Allow-Origin" not in other


class TestSchema:
    def test_the_schema_and_the_docs_are_served(self, client):
        schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert schema.status_code == 200
        paths = schema.json()["paths"]
        assert {"/api/workspaces", "/api/memberships/{id}", "/api/audit-events", "/api/me"} <= set(
            paths
        )
        assert "tokenAuth" in schema.json()["components"]["securitySchemes"]
        docs = client.get("/api/docs/")
        assert docs.status_code == 200
        assert b"swagger-ui" in docs.content


def test_me_lists_my_memberships(api, two_workspaces):
    MembershipFactory(workspace=two_workspaces["b"], user=two_workspaces["a_member"])
    api.force_authenticate(two_workspaces["a_member"])
    body = api.get("/api/me").json()
    assert body["email"] == two_workspaces["a_member"].email
    assert sorted(m["workspace"] for m in body["memberships"]) == sorted(
        [two_workspaces["a"].pk, two_workspaces["b"].pk]
    )
