"""The projects API and the timeline page: authoring with attribution, the Connect prompt,
starting runs (202, 409), following them, and tenant isolation."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from integrations import runs
from projects import services, sync
from projects.models import Attachment, Comment, Project, ProjectSyncRun
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    # On commit a run is put on the broker; these tests run it themselves with sync.execute.
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)


class TestTimeline:
    def test_entries_are_signed_with_the_authors_smartsheet_identity(self, api, project, author):
        api.force_authenticate(author)
        response = api.post(
            f"/api/projects/{project.pk}/timeline/comments", {"text": "Slab poured"}, format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["ss_email"], body["ss_user_id"]) == (
            author.smartsheet.external_email,
            author.smartsheet.external_user_id,
        )
        comment = Comment.objects.get()
        assert comment.author == author and comment.ss_email == author.smartsheet.external_email

    def test_without_a_smartsheet_connection_authoring_is_refused(
        self, api, project, two_workspaces
    ):
        member = two_workspaces["a_member"]
        api.force_authenticate(member)
        response = api.post(
            f"/api/projects/{project.pk}/timeline/comments", {"text": "hello"}, format="json"
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "smartsheet_required"
        assert not Comment.objects.exists()

    def test_attachments_upload_as_multipart(self, api, project, author):
        api.force_authenticate(author)
        upload = SimpleUploadedFile("plan.pdf", b"%PDF-1.4 plan", content_type="application/pdf")
        response = api.post(
            f"/api/projects/{project.pk}/timeline/attachments", {"file": upload}, format="multipart"
        )
        assert response.status_code == 201, response.content
        attachment = Attachment.objects.get()
        assert (attachment.name, attachment.size, attachment.content_type) == (
            "plan.pdf",
            13,
            "application/pdf",
        )

    def test_bad_input_is_a_field_error_and_nothing_is_written(self, api, project, author):
        api.force_authenticate(author)
        bad = api.post(
            f"/api/projects/{project.pk}/timeline/purchase-orders",
            {"number": "PO-1", "amount": "lots"},
            format="json",
        )
        assert bad.status_code == 400 and {"vendor", "amount"} <= set(
            bad.json()["error"]["details"]
        )
        other = services.project_create(
            workspace=project.workspace, actor=author, number="9", name="Other"
        )
        foreign_block = services.timeline_add(
            project=other, actor=author, kind="taskblock", title="Elsewhere"
        )
        wrong = api.post(
            f"/api/projects/{project.pk}/timeline/comments",
            {"text": "x", "task_block": foreign_block.pk},
            format="json",
        )
        assert wrong.status_code == 400 and "task_block" in wrong.json()["error"]["details"]
        assert not Comment.objects.exists()

    def test_the_timeline_lists_entries_in_time_order(self, api, project, author):
        api.force_authenticate(author)
        for text in ("first", "second"):
            api.post(f"/api/projects/{project.pk}/timeline/comments", {"text": text}, format="json")
        api.post(
            f"/api/projects/{project.pk}/timeline/work-orders",
            {"number": "WO-1", "description": "third"},
            format="json",
        )
        titles = [
            entry["title"] for entry in api.get(f"/api/projects/{project.pk}/timeline").json()
        ]
        assert titles == ["first", "second", "WO WO-1 — third"]

    def test_another_workspaces_project_is_a_404(self, api, project, two_workspaces):
        api.force_authenticate(two_workspaces["b_admin"])
        assert api.get(f"/api/projects/{project.pk}").status_code == 404
        assert (
            api.post(
                f"/api/projects/{project.pk}/smartsheet/sync",
                {"direction": "outbound"},
                format="json",
            ).status_code
            == 404
        )


class TestRuns:
    def test_a_sync_starts_with_202_and_its_progress_can_be_followed(
        self, api, linked, author, sandbox
    ):
        services.timeline_add(project=linked, actor=author, kind="comment", text="note")
        api.force_authenticate(author)
        started = api.post(
            f"/api/projects/{linked.pk}/smartsheet/sync", {"direction": "outbound"}, format="json"
        )
        assert started.status_code == 202
        run = started.json()
        assert (run["status"], run["percent"], run["direction"]) == ("queued", 0, "outbound")

        sync.execute(run["id"])
        done = api.get(f"/api/projects/{linked.pk}/smartsheet/runs/{run['id']}").json()
        assert (done["status"], done["percent"], done["created"]) == ("succeeded", 100, 1)
        assert done["api_calls"] == 2 and done["summary"].startswith(
            "1 created"
        )  # one row, one discussion

    def test_a_second_start_while_one_runs_is_a_409_naming_the_run(self, api, linked, author):
        api.force_authenticate(author)
        first = api.post(
            f"/api/projects/{linked.pk}/smartsheet/sync", {"direction": "outbound"}, format="json"
        ).json()
        second = api.post(
            f"/api/projects/{linked.pk}/smartsheet/sync", {"direction": "inbound"}, format="json"
        )
        assert second.status_code == 409
        assert second.json()["error"] == {
            "code": "run_in_progress",
            "message": "A sync of this project is already running; wait for it to finish.",
            "details": {"run": first["id"]},
        }
        assert ProjectSyncRun.objects.count() == 1

    def test_a_bad_direction_no_sheet_or_no_connection_is_a_clear_refusal(
        self, api, project, linked, author, two_workspaces
    ):
        api.force_authenticate(author)
        assert (
            api.post(
                f"/api/projects/{linked.pk}/smartsheet/sync",
                {"direction": "sideways"},
                format="json",
            ).status_code
            == 400
        )
        bare = Project.objects.create(workspace=linked.workspace, number="77", name="No sheet")
        refused = api.post(
            f"/api/projects/{bare.pk}/smartsheet/sync", {"direction": "outbound"}, format="json"
        )
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_sheet"
        api.force_authenticate(two_workspaces["a_member"])
        refused = api.post(
            f"/api/projects/{linked.pk}/smartsheet/sync", {"direction": "outbound"}, format="json"
        )
        assert (
            refused.status_code == 409 and refused.json()["error"]["code"] == "smartsheet_required"
        )

    def test_provision_and_attach_through_the_api(self, api, author, two_workspaces, sandbox):
        first = services.project_create(
            workspace=two_workspaces["a"], actor=author, number="100", name="One"
        )
        second = services.project_create(
            workspace=two_workspaces["a"], actor=author, number="101", name="Two"
        )
        api.force_authenticate(author)
        made = api.post(f"/api/projects/{first.pk}/smartsheet/provision")
        assert made.status_code == 201 and made.json()["created_from_template"] is True
        again = api.post(f"/api/projects/{first.pk}/smartsheet/provision")
        assert again.status_code == 409
        bad = api.post(
            f"/api/projects/{second.pk}/smartsheet/attach", {"sheet_id": "x"}, format="json"
        )
        assert bad.status_code == 400


class TestTimelinePage:
    def test_the_page_shows_connect_and_blocks_authoring_without_smartsheet(
        self, client, project, two_workspaces
    ):
        client.force_login(two_workspaces["a_member"])
        page = client.get(f"/projects/{project.pk}/").content.decode()
        assert "Connect Smartsheet" in page and 'id="connect-prompt"' in page
        assert 'id="add-comment"' not in page
        response = client.post(
            f"/projects/{project.pk}/entries/comments", {"text": "sneaky"}, follow=True
        )
        assert "Connect Smartsheet first" in response.content.decode()
        assert not Comment.objects.exists()

    def test_a_connected_author_sees_their_email_and_the_forms(self, client, project, author):
        client.force_login(author)
        response = client.get(f"/projects/{project.pk}/")
        page = response.content.decode()
        assert author.smartsheet.external_email in page and 'id="add-comment"' in page
        assert response["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups"
        client.post(f"/projects/{project.pk}/entries/comments", {"text": "From the page"})
        assert Comment.objects.get().ss_email == author.smartsheet.external_email

    def test_the_page_reports_form_errors(self, client, project, author):
        client.force_login(author)
        response = client.post(
            f"/projects/{project.pk}/entries/purchase-orders", {"number": "PO-1"}, follow=True
        )
        assert "vendor: This field is required." in response.content.decode()

    def test_provisioning_from_the_page(self, client, project, author, sandbox):
        client.force_login(author)
        response = client.post(f"/projects/{project.pk}/sheet/provision", follow=True)
        assert (
            "Created the sheet “1042 Riverside Lofts” from the template."
            in response.content.decode()
        )
        assert "Sync to Smartsheet" in response.content.decode()

    def test_a_member_of_both_workspaces_sees_only_their_projects(
        self, client, project, two_workspaces
    ):
        outsider = two_workspaces["b_admin"]
        client.force_login(outsider)
        assert client.get(f"/projects/{project.pk}/").status_code == 404
        MembershipFactory(workspace=project.workspace, user=outsider)
        assert client.get(f"/projects/{project.pk}/").status_code == 200


def test_the_demo_has_a_project_to_sync(client, capsys):
    from django.core.management import call_command

    from projects.models import Project

    call_command("bootstrap_demo", email="admin@example.com")
    call_command("bootstrap_demo", email="admin@example.com")
    (project,) = Project.objects.all()
    assert (project.workspace.slug, project.number) == ("demo", "1001")
    assert "/projects/" in capsys.readouterr().out
    client.force_login(project.created_by)
    page = client.get("/projects/").content.decode()
    assert f'href="/projects/{project.pk}/"' in page and ">Projects</a>" in page
