"""The projects admin: every page opens, runs show their errors, unmapped rows can be imported,
linked or ignored from the list, and a workspace admin sees only their workspace."""

import pytest
from django.urls import reverse

from integrations.connections.providers import smartsheet
from projects.models import (
    Attachment,
    Comment,
    PendingWrite,
    ProjectSheetLink,
    ProjectSyncRun,
    RowMapping,
    UnmappedRow,
)
from tests.integrations.helpers import grant
from tests.projects.conftest import run_sync
from tests.projects.helpers import add, person, timeline

pytestmark = pytest.mark.django_db

MODELS = [
    "project",
    "taskblock",
    "comment",
    "attachment",
    "purchaseorder",
    "workorder",
    "projectsheetlink",
    "rowmapping",
    "projectsyncrun",
    "unmappedrow",
    "pendingwrite",
    "smartsheetsetup",
]


def hand_made_rows(project, author, *names: str) -> None:
    link = project.sheet_link
    column = int(link.columns["name"])
    smartsheet.add_rows(
        person(author),
        sheet_id=link.sheet_id,
        parent_id=None,
        cells=[[{"columnId": column, "value": name}] for name in names],
    )


def test_every_page_opens(client, superuser, linked, author, sandbox):
    timeline(linked, author, task_blocks=1, per_block={"comment": 1, "attachment": 1})
    run_sync(linked, author, "outbound")
    hand_made_rows(linked, author, "by hand")
    run_sync(linked, author, "inbound")
    client.force_login(superuser)
    for model in MODELS:
        listing = client.get(reverse(f"admin:projects_{model}_changelist"))
        assert listing.status_code == 200, model
        first = listing.context["cl"].result_list.first()
        if first is not None:
            page = client.get(reverse(f"admin:projects_{model}_change", args=[first.pk]))
            assert page.status_code == 200, model
    assert RowMapping.objects.exists() and UnmappedRow.objects.exists()


def test_a_runs_page_lists_its_failed_items(client, superuser, linked, author, sandbox):
    comment = add(linked, author, "comment", text="Fence repaired")
    sandbox.fault("smartsheet", kind="error", status=400, method="POST", path="*/discussions")
    run = run_sync(linked, author, "outbound")
    assert run.status == "partial"
    client.force_login(superuser)
    page = client.get(reverse("admin:projects_projectsyncrun_change", args=[run.pk]))
    html = page.content.decode()
    assert f"<li>Comment “{comment}”: the comment could not be posted" in html
    listing = client.get(reverse("admin:projects_projectsyncrun_changelist"))
    assert "1 created, 0 updated, 0 unchanged, 1 failed" in listing.content.decode()


def test_unmapped_rows_are_imported_linked_or_ignored_from_the_list(
    client, superuser, linked, author, sandbox
):
    comment = Comment.objects.create(
        workspace=linked.workspace, project=linked, author=author, text="typed twice"
    )
    hand_made_rows(linked, author, "typed twice", "noise", "Crane booking")
    run_sync(linked, author, "inbound")
    twin, noise, crane = UnmappedRow.objects.order_by("row_id")
    client.force_login(superuser)
    changelist = reverse("admin:projects_unmappedrow_changelist")

    # Linking needs the target named on the row first; a bad one is a message, not a 500.
    twin.link_entity_type, twin.link_entity_id = "comment", 999_999
    twin.save()
    answer = client.post(
        changelist, {"action": "link_rows", "_selected_action": [twin.pk]}, follow=True
    )
    assert answer.status_code == 200
    assert any(f"Row {twin.row_id}:" in str(m) for m in answer.context["messages"])
    assert not RowMapping.objects.exists()

    twin.link_entity_id = comment.pk
    twin.save()
    client.post(changelist, {"action": "link_rows", "_selected_action": [twin.pk]})
    client.post(changelist, {"action": "ignore_rows", "_selected_action": [noise.pk]})
    # A row without a Type cannot say what to make: the admin is told, the row stays listed.
    answer = client.post(
        changelist, {"action": "import_rows", "_selected_action": [crane.pk]}, follow=True
    )
    assert [str(m) for m in answer.context["messages"]][-1] == (
        f"Row {crane.row_id}: its Type is empty: set it to Task Block, Comment, Purchase Order"
        " or Work Order in Smartsheet, or link the row to an existing entry instead."
    )

    states = dict(UnmappedRow.objects.values_list("row_id", "state"))
    assert states == {twin.row_id: "linked", noise.row_id: "ignored", crane.row_id: "new"}
    assert RowMapping.objects.get(row_id=twin.row_id).entity_id == comment.pk


def test_a_workspace_admin_sees_only_their_workspace(client, linked, author, two_workspaces):
    other = two_workspaces["b_admin"]
    grant(other, "view_project", "view_projectsheetlink", "change_projectsheetlink")
    client.force_login(other)
    listing = client.get(reverse("admin:projects_project_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == []
    page = client.get(
        reverse("admin:projects_projectsheetlink_change", args=[linked.sheet_link.pk])
    )
    assert page.status_code in (302, 404)
    assert ProjectSheetLink.objects.count() == 1
    assert not Attachment.objects.exists() and not PendingWrite.objects.exists()
    assert not ProjectSyncRun.objects.exists()
