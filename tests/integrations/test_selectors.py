import pytest
from django.contrib.auth.models import AnonymousUser

from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import AuditEvent, Membership, User, Workspace
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_members_see_their_workspaces_rows(two_workspaces):
    user = two_workspaces["a_member"]
    assert list(account_selectors.scope_to_user(Workspace.objects.all(), user)) == [
        two_workspaces["a"]
    ]
    assert {
        m.workspace for m in account_selectors.scope_to_user(Membership.objects.all(), user)
    } == {two_workspaces["a"]}


def test_the_role_narrows_the_scope(two_workspaces):
    assert not account_selectors.scope_to_user(
        Workspace.objects.all(), two_workspaces["a_member"], role="admin"
    ).exists()


def test_superusers_see_all_and_anonymous_or_inactive_users_nothing(two_workspaces, superuser):
    assert account_selectors.scope_to_user(Workspace.objects.all(), superuser).count() == 2
    assert not account_selectors.scope_to_user(Workspace.objects.all(), AnonymousUser()).exists()
    inactive = two_workspaces["a_admin"]
    inactive.is_active = False
    assert not account_selectors.scope_to_user(Workspace.objects.all(), inactive).exists()


def test_membership_is_read_as_the_scope_reads_it(two_workspaces, superuser):
    a, b = two_workspaces["a"].pk, two_workspaces["b"].pk
    member = two_workspaces["a_member"]
    assert account_selectors.is_workspace_member(user=member, workspace_id=a)
    assert not account_selectors.is_workspace_member(user=member, workspace_id=b)
    assert account_selectors.is_workspace_member(user=superuser, workspace_id=b)
    assert not account_selectors.is_workspace_member(user=AnonymousUser(), workspace_id=a)
    member.is_active = False
    assert not account_selectors.is_workspace_member(user=member, workspace_id=a)


def test_a_many_valued_path_does_not_repeat_rows(two_workspaces):
    # a_member shares both workspaces with a user who is in both.
    both = MembershipFactory(workspace=two_workspaces["a"]).user
    MembershipFactory(workspace=two_workspaces["b"], user=both)
    MembershipFactory(workspace=two_workspaces["b"], user=two_workspaces["a_member"])
    users = list(account_selectors.scope_to_user(User.objects.all(), two_workspaces["a_member"]))
    assert len(users) == len(set(users))
    assert both in users and two_workspaces["b_admin"] in users


def test_a_model_without_a_workspace_path_is_refused(two_workspaces):
    from django_celery_beat.models import PeriodicTask

    with pytest.raises(TypeError):
        account_selectors.scope_to_user(PeriodicTask.objects.all(), two_workspaces["a_member"])


def test_audit_events_of_a_deleted_workspace_stay_for_superusers(two_workspaces, superuser):
    from integrations.accounts import audit

    audit.audit_record(action="x", workspace=two_workspaces["b"])
    two_workspaces["b"].delete()
    assert account_selectors.audit_event_list(user=superuser).filter(action="x").exists()
    assert (
        not account_selectors.audit_event_list(user=two_workspaces["a_admin"])
        .filter(action="x")
        .exists()
    )
    assert AuditEvent.objects.filter(action="x").count() == 1
