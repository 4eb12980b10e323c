"""Admin: workspace scoping for staff, the audit of every admin change, API tokens."""

import re

import pytest
from django_celery_beat.models import PeriodicTask

from integrations import schedules
from integrations.accounts import audit as audit_log
from integrations.accounts import services as accounts
from integrations.accounts.models import ApiToken, AuditEvent, Membership
from integrations.redaction import REDACTED
from tests.integrations.helpers import grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_of_a(two_workspaces):
    user = two_workspaces["a_admin"]
    grant(
        user,
        "view_workspace",
        "change_workspace",
        "view_membership",
        "change_membership",
        "view_auditevent",
    )
    return user


class TestScoping:
    def test_a_staff_user_sees_only_their_workspaces_rows(self, client, staff_of_a, two_workspaces):
        audit_log.audit_record(action="test.a", workspace=two_workspaces["a"])
        audit_log.audit_record(action="test.b", workspace=two_workspaces["b"])
        client.force_login(staff_of_a)

        workspaces = client.get("/admin/integrations/workspace/").content.decode()
        memberships = client.get("/admin/integrations/membership/").content.decode()
        events = client.get("/admin/integrations/auditevent/").content.decode()

        assert "Alpha" in workspaces and "Bravo" not in workspaces
        assert two_workspaces["a_member"].email in memberships
        assert two_workspaces["b_admin"].email not in memberships
        assert "Bravo" not in memberships  # not even in the list filter
        assert "test.a" in events and "test.b" not in events

    def test_another_workspaces_change_page_does_not_exist_for_them(
        self, client, staff_of_a, two_workspaces
    ):
        client.force_login(staff_of_a)
        b = two_workspaces["b"]
        response = client.get(f"/admin/integrations/workspace/{b.pk}/change/")
        assert response.status_code == 302 and response["Location"] == "/admin/"
        response = client.post(
            f"/admin/integrations/workspace/{b.pk}/change/", {"name": "Taken", "slug": "taken"}
        )
        b.refresh_from_db()
        assert b.name == "Bravo"

    def test_a_superuser_sees_every_workspace(self, client, superuser, two_workspaces):
        client.force_login(superuser)
        page = client.get("/admin/integrations/workspace/").content.decode()
        assert "Alpha" in page and "Bravo" in page

    def test_a_plain_member_can_look_but_not_change(self, client, two_workspaces):
        member = two_workspaces["a_member"]
        grant(member, "view_workspace", "change_workspace")
        client.force_login(member)
        page = client.get(
            f"/admin/integrations/workspace/{two_workspaces['a'].pk}/change/"
        ).content.decode()
        assert "Alpha" in page
        assert 'name="_save"' not in page

    def test_staff_cannot_make_themselves_superuser(self, client, staff_of_a):
        grant(staff_of_a, "view_user", "change_user")
        client.force_login(staff_of_a)
        page = client.get(f"/admin/integrations/user/{staff_of_a.pk}/change/").content.decode()
        assert 'name="is_superuser"' not in page


class TestAuditOfAdminChanges:
    def test_a_change_leaves_an_event_with_the_field_diff(self, client, superuser, two_workspaces):
        membership = Membership.objects.get(user=two_workspaces["a_member"])
        client.force_login(superuser)
        response = client.post(
            f"/admin/integrations/membership/{membership.pk}/change/",
            {"workspace": membership.workspace_id, "user": membership.user_id, "role": "admin"},
            HTTP_X_REQUEST_ID="req-admin-000001",
        )
        assert response.status_code == 302, response.content

        event = AuditEvent.objects.get(action="admin.update")
        assert event.changes == {"role": {"before": "member", "after": "admin"}}
        assert (event.actor, event.actor_kind, event.target_type, event.target_id) == (
            superuser,
            "user",
            "integrations.membership",
            str(membership.pk),
        )
        assert (event.workspace, event.request_id) == (two_workspaces["a"], "req-admin-000001")

    def test_a_password_change_is_recorded_without_the_hash(
        self, client, superuser, two_workspaces
    ):
        user = two_workspaces["a_member"]
        client.force_login(superuser)
        response = client.post(
            f"/admin/integrations/user/{user.pk}/password/",
            {
                "password1": "A-new-long-passphrase-42",
                "password2": "A-new-long-passphrase-42",
                "usable_password": "true",
            },
        )
        assert response.status_code == 302, response.content
        event = AuditEvent.objects.get(action="admin.update", target_type="integrations.user")
        assert event.changes["password"] == {"before": REDACTED, "after": REDACTED}
        user.refresh_from_db()
        assert user.password.split("$")[-1] not in str(event.changes)

    def test_adding_and_deleting_are_recorded(self, client, superuser):
        client.force_login(superuser)
        client.post(
            "/admin/integrations/workspace/add/",
            {
                "name": "Charlie",
                "slug": "charlie",
                "memberships-TOTAL_FORMS": "0",
                "memberships-INITIAL_FORMS": "0",
            },
        )
        created = AuditEvent.objects.get(
            action="admin.create", target_type="integrations.workspace"
        )
        assert created.changes["name"] == {"before": None, "after": "Charlie"}

        client.post(f"/admin/integrations/workspace/{created.target_id}/delete/", {"post": "yes"})
        deleted = AuditEvent.objects.get(
            action="admin.delete", target_type="integrations.workspace"
        )
        assert deleted.target_id == created.target_id
        assert deleted.target_repr == "Charlie"

    def test_a_bulk_action_that_writes_with_update_is_recorded(self, client, superuser):
        schedules.periodic_tasks_sync()
        task = PeriodicTask.objects.get(name="hub.heartbeat")
        client.force_login(superuser)
        response = client.post(
            "/admin/django_celery_beat/periodictask/",
            {"action": "disable_tasks", "_selected_action": [task.pk]},
        )
        assert response.status_code == 302
        task.refresh_from_db()
        assert task.enabled is False
        event = AuditEvent.objects.get(action="admin.action")
        assert event.target_type == "django_celery_beat.periodictask"
        assert event.details == {"name": "disable_tasks", "ids": [str(task.pk)], "all": False}

    def test_demoting_the_last_admin_is_a_form_error(self, client, superuser, two_workspaces):
        only_admin = Membership.objects.get(user=two_workspaces["b_admin"])
        client.force_login(superuser)
        response = client.post(
            f"/admin/integrations/membership/{only_admin.pk}/change/",
            {"workspace": only_admin.workspace_id, "user": only_admin.user_id, "role": "member"},
        )
        assert response.status_code == 200
        assert "A workspace needs at least one admin." in response.content.decode()
        only_admin.refresh_from_db()
        assert only_admin.role == "admin"
        assert not AuditEvent.objects.filter(action="admin.update").exists()


class TestApiTokens:
    def test_a_staff_user_creates_a_token_and_sees_its_key_once(self, client, api, staff_of_a):
        client.force_login(staff_of_a)
        response = client.post("/admin/integrations/apitoken/add/", {"name": "ERP export"})
        assert response.status_code == 200
        assert (
            response["Cache-Control"].startswith("max-age=0")
            or "no-store" in response["Cache-Control"]
        )
        key = re.search(r'id="api-token-key"[^>]*>(hub_[^<]+)<', response.content.decode()).group(1)

        token = ApiToken.objects.get()
        assert token.user == staff_of_a
        assert key not in (token.digest, token.prefix) and key.startswith(token.prefix)
        listing = client.get("/admin/integrations/apitoken/").content.decode()
        detail = client.get(f"/admin/integrations/apitoken/{token.pk}/change/").content.decode()
        assert key not in listing and key not in detail

        assert (
            api.get("/api/me", HTTP_AUTHORIZATION=f"Token {key}").json()["email"]
            == staff_of_a.email
        )
        event = AuditEvent.objects.get(action="api_token.create")
        assert key not in str(event.details) and event.actor == staff_of_a

    def test_staff_see_only_their_own_tokens(self, client, staff_of_a, two_workspaces):
        accounts.api_token_create(user=two_workspaces["b_admin"], name="someone else's")
        client.force_login(staff_of_a)
        assert "someone else" not in client.get("/admin/integrations/apitoken/").content.decode()
