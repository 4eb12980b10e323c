"""Provisioning: one click copies the template into the target workspace, named after the
project, and links it only once its columns check out; attaching is checked the same way."""

import pytest
import smartsheet as smartsheet_sdk
from django.db import IntegrityError, transaction

from integrations import runs
from integrations.accounts.models import AuditEvent, Membership
from integrations.connections import services as connections
from integrations.connections.providers import smartsheet
from integrations.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from projects import services, sheet
from projects.models import (
    DEFAULT_TARGET_WORKSPACE_ID,
    DEFAULT_TEMPLATE_SHEET_ID,
    ProjectSheetLink,
    SmartsheetSetup,
)
from tests.factories import MembershipFactory
from tests.integrations.helpers import connect
from tests.projects.conftest import run_sync
from tests.projects.helpers import add

pytestmark = pytest.mark.django_db


def sdk(author):
    return smartsheet.client(connections.access_token(author.smartsheet), key="check")


def sheets_in(author, workspace_id: int) -> list[int]:
    children = sdk(author).Workspaces.get_workspace_children(
        workspace_id, children_resource_types=["sheets"]
    )
    return [int(child.id) for child in children.data]


def test_the_template_is_copied_into_the_target_workspace_with_the_right_columns(
    project, author, sandbox
):
    link = services.sheet_provision(project=project, actor=author)

    assert link.sheet_name == "1042 Riverside Lofts" and link.created_from_template
    assert link.sheet_id in sheets_in(author, DEFAULT_TARGET_WORKSPACE_ID)
    copy = smartsheet.get_sheet(sdk(author), sheet_id=link.sheet_id)
    template = smartsheet.get_sheet(sdk(author), sheet_id=DEFAULT_TEMPLATE_SHEET_ID)
    assert [(c.title, c.type) for c in copy.columns] == [
        (c.title, c.type) for c in template.columns
    ]
    assert set(link.columns) == {column.key for column in sheet.SCHEMA}
    assert link.columns == {
        sheet.BY_TITLE[c.title].key: c.id for c in copy.columns
    }  # ids, never titles
    assert copy.rows == ()  # the template's example row stays in the template
    assert sandbox.count("smartsheet", "POST /2.0/sheets/{sheet_id:int}/copy") == 1


def test_long_project_names_are_cut_to_smartsheets_50_characters(author, two_workspaces, sandbox):
    project = services.project_create(
        workspace=two_workspaces["a"],
        actor=author,
        number="2001",
        name="Northgate Medical Office Building, Phase Two Fit-Out",
    )
    link = services.sheet_provision(project=project, actor=author)
    assert len(link.sheet_name) == 50 and link.sheet_name.endswith("...")


def test_the_template_and_target_are_configurable_per_workspace(project, author, sandbox):
    other = (
        sdk(author)
        .Workspaces.create_workspace(smartsheet_sdk.models.Workspace({"name": "Alpha projects"}))
        .result
    )
    SmartsheetSetup.objects.create(workspace=project.workspace, target_workspace_id=int(other.id))
    link = services.sheet_provision(project=project, actor=author)
    assert link.sheet_id in sheets_in(author, int(other.id))


def test_a_template_with_the_wrong_schema_is_reported_not_written_into(project, author, sandbox):
    made = (
        sdk(author)
        .Workspaces.create_sheet_in_workspace(
            DEFAULT_TARGET_WORKSPACE_ID,
            smartsheet_sdk.models.Sheet(
                {
                    "name": "Wrong template",
                    "columns": [
                        {"title": "Name", "type": "TEXT_NUMBER", "primary": True},
                        {"title": "Start Date", "type": "TEXT_NUMBER"},
                    ],
                }
            ),
        )
        .result
    )
    SmartsheetSetup.objects.create(workspace=project.workspace, template_sheet_id=int(made.id))
    sandbox.clear_calls("smartsheet")

    with pytest.raises(ApplicationError) as refused:
        services.sheet_provision(project=project, actor=author)

    message = refused.value.message
    assert (
        "missing column “Project #”" in message
        and "column “Start Date” is TEXT_NUMBER, expected DATE" in message
    )
    assert not ProjectSheetLink.objects.exists()
    writes = [
        c
        for c in sandbox.calls("smartsheet")["log"]
        if c["endpoint"].startswith(("PUT", "DELETE")) or "/rows" in c["endpoint"]
    ]
    assert writes == []  # nothing was written into it


def test_attaching_an_existing_sheet_checks_it_the_same_way(
    project, author, sandbox, two_workspaces
):
    good = services.sheet_provision(project=project, actor=author)
    ProjectSheetLink.objects.all().delete()
    other = services.project_create(
        workspace=two_workspaces["a"], actor=author, number="1043", name="Other"
    )
    link = services.sheet_attach(project=other, actor=author, sheet_id=good.sheet_id)
    assert link.sheet_id == good.sheet_id and not link.created_from_template
    with pytest.raises(Conflict):
        services.sheet_attach(project=other, actor=author, sheet_id=good.sheet_id)
    third = services.project_create(
        workspace=two_workspaces["a"], actor=author, number="1044", name="Third"
    )
    with pytest.raises(NotFound):
        services.sheet_attach(project=third, actor=author, sheet_id=1234567890123456)
    with pytest.raises(ApplicationError, match="is not a project sheet"):
        services.sheet_attach(project=third, actor=author, sheet_id=_plain_sheet(author))


def _plain_sheet(author) -> int:
    made = (
        sdk(author)
        .Workspaces.create_sheet_in_workspace(
            DEFAULT_TARGET_WORKSPACE_ID,
            smartsheet_sdk.models.Sheet(
                {
                    "name": "Budget",
                    "columns": [{"title": "Item", "type": "TEXT_NUMBER", "primary": True}],
                }
            ),
        )
        .result
    )
    return int(made.id)


def test_provisioning_needs_the_users_smartsheet(project, two_workspaces, sandbox):
    with pytest.raises(services.SmartsheetRequired):
        services.sheet_provision(project=project, actor=two_workspaces["a_member"])


class TestOneProjectPerSheet:
    """A sheet belongs to one project: attaching another project's sheet is refused, naming
    it, unless a workspace admin forces the takeover (README, Decisions)."""

    @pytest.fixture
    def first(self, project, author, sandbox):
        services.sheet_provision(project=project, actor=author)
        project.refresh_from_db()
        return project

    @pytest.fixture
    def second(self, author, two_workspaces):
        return services.project_create(
            workspace=two_workspaces["a"], actor=author, number="1043", name="Harbor Clinic"
        )

    def test_a_sheet_linked_to_another_project_is_refused_naming_that_project(
        self, first, second, author
    ):
        with pytest.raises(Conflict) as refused:
            services.sheet_attach(project=second, actor=author, sheet_id=first.sheet_link.sheet_id)
        assert refused.value.code == "sheet_in_use"
        assert "already linked to project 1042 “Riverside Lofts”" in refused.value.message
        assert refused.value.details == {
            "project": {"id": first.pk, "number": "1042", "name": "Riverside Lofts"}
        }
        assert ProjectSheetLink.objects.get().project == first

    def test_a_workspace_admin_can_force_the_takeover_and_it_is_audited(
        self, first, second, author
    ):

        add(first, author, "comment", text="on the first project")
        run_sync(first, author, "outbound")
        sheet_id = first.sheet_link.sheet_id

        link = services.sheet_attach(project=second, actor=author, sheet_id=sheet_id, force=True)

        assert link.project == second and ProjectSheetLink.objects.get().pk == link.pk
        first.refresh_from_db()
        assert not hasattr(first, "sheet_link")
        assert first.comment_set.count() == 1  # the entries stay; only the link went
        events = AuditEvent.objects.filter(action="project.sheet_takeover")
        assert {event.target_id for event in events} == {str(first.pk), str(second.pk)}
        assert events.first().details["from_project"] == "1042 Riverside Lofts"
        assert events.first().details["row_mappings_removed"] == 1

    def test_a_member_cannot_force_it(self, first, second, two_workspaces, sandbox):

        member = two_workspaces["a_member"]
        connect(sandbox, user=member, workspace=two_workspaces["a"], provider="smartsheet")
        with pytest.raises(PermissionDenied):
            services.sheet_attach(
                project=second, actor=member, sheet_id=first.sheet_link.sheet_id, force=True
            )
        assert ProjectSheetLink.objects.get().project == first

    def test_a_sheet_of_another_workspace_is_neither_named_nor_taken_over(
        self, first, author, two_workspaces, sandbox
    ):

        MembershipFactory(workspace=two_workspaces["b"], user=author, role=Membership.Role.ADMIN)

        connect(sandbox, user=author, workspace=two_workspaces["b"], provider="smartsheet")
        elsewhere = services.project_create(
            workspace=two_workspaces["b"], actor=author, number="7", name="Elsewhere"
        )
        for force in (False, True):
            with pytest.raises(Conflict) as refused:
                services.sheet_attach(
                    project=elsewhere,
                    actor=author,
                    sheet_id=first.sheet_link.sheet_id,
                    force=force,
                )
            assert "another workspace" in refused.value.message
            assert "1042" not in refused.value.message and "Riverside" not in refused.value.message
        assert ProjectSheetLink.objects.get().project == first

    def test_a_project_syncing_with_the_sheet_keeps_it(self, first, second, author, monkeypatch):

        monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)
        services.sync_request(project=first, actor=author, direction="outbound")
        with pytest.raises(Conflict, match="is syncing with sheet"):
            services.sheet_attach(
                project=second, actor=author, sheet_id=first.sheet_link.sheet_id, force=True
            )
        assert ProjectSheetLink.objects.get().project == first

    def test_the_database_allows_one_link_per_sheet(self, first, second):

        with pytest.raises(IntegrityError), transaction.atomic():
            ProjectSheetLink.objects.create(
                workspace=second.workspace,
                project=second,
                sheet_id=first.sheet_link.sheet_id,
                sheet_name="twin",
            )
