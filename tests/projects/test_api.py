"""The projects API and the timeline page: authoring with attribution, the Connect prompt,
starting runs (202, 409), following them, and tenant isolation."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from integrations import runs
from projects import services, sync
from projects.models import Attachment, Comment, Project, ProjectSyncRun, TaskBlock, UnmappedRow
from tests.factories import MembershipFactory
from tests.integrations.helpers import connect
from tests.projects.conftest import run_sync
from tests.projects.helpers import rows_by_hand

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
            # Which run, which way and whose: enough for a page to say what is in the way.
            "details": {
                "run": first["id"],
                "direction": "outbound",
                "started_by": author.email,
                "status": "queued",
                "percent": 0,
            },
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

    def test_the_page_reports_form_errors_in_its_own_words_and_keeps_what_was_typed(
        self, client, project, author
    ):
        client.force_login(author)
        response = client.post(
            f"/projects/{project.pk}/entries/purchase-orders",
            {"number": "PO-1", "vendor": "", "amount": "lots"},
        )
        assert response.status_code == 400
        page = response.content.decode()
        assert "Purchase order: enter the vendor." in page
        assert "Purchase order: Amount: A valid number is required." in page
        assert "vendor:" not in page and "amount:" not in page  # no internal field names
        assert 'name="number" required value="PO-1"' in page
        assert 'name="amount" inputmode="decimal" value="lots"' in page
        blank = client.post(f"/projects/{project.pk}/entries/comments", {"text": "   "})
        assert "Comment: enter the comment&#x27;s text." in blank.content.decode()
        assert not Comment.objects.exists()

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


class TestAttach:
    def test_another_projects_sheet_is_a_409_naming_it_and_force_is_for_admins_only(
        self, api, linked, author, two_workspaces, sandbox
    ):
        second = services.project_create(
            workspace=linked.workspace, actor=author, number="1043", name="Harbor Clinic"
        )
        url = f"/api/projects/{second.pk}/smartsheet/attach"
        sheet_id = linked.sheet_link.sheet_id
        api.force_authenticate(author)
        refused = api.post(url, {"sheet_id": sheet_id}, format="json")
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["code"] == "sheet_in_use"
        assert "already linked to project 1042 “Riverside Lofts”" in error["message"]
        assert error["details"]["project"]["number"] == "1042"

        member = two_workspaces["a_member"]
        connect(sandbox, user=member, workspace=linked.workspace, provider="smartsheet")
        api.force_authenticate(member)
        forbidden = api.post(url, {"sheet_id": sheet_id, "force": True}, format="json")
        assert forbidden.status_code == 403
        assert forbidden.json()["error"]["code"] == "permission_denied"

        api.force_authenticate(author)
        taken = api.post(url, {"sheet_id": sheet_id, "force": True}, format="json")
        assert taken.status_code == 201 and taken.json()["sheet_id"] == sheet_id
        gone = api.get(f"/api/projects/{linked.pk}/smartsheet")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "no_sheet"


class TestEntryChecks:
    def test_a_task_block_ending_before_it_starts_is_a_400_with_the_reason(
        self, api, project, author
    ):
        api.force_authenticate(author)
        response = api.post(
            f"/api/projects/{project.pk}/timeline/task-blocks",
            {"title": "Framing", "start_date": "2026-03-10", "end_date": "2026-03-01"},
            format="json",
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["message"] == (
            "End date: a task block cannot end (2026-03-01) before it starts (2026-03-10)."
        )
        assert "end_date" in error["details"]
        assert not TaskBlock.objects.exists()

    def test_an_upload_too_large_or_of_a_refused_type_is_a_400(
        self, api, project, author, settings, tmp_path
    ):
        settings.MEDIA_ROOT, settings.UPLOAD_MAX_MB = tmp_path, 1
        api.force_authenticate(author)
        url = f"/api/projects/{project.pk}/timeline/attachments"
        big = SimpleUploadedFile("scan.pdf", b"0" * (1024 * 1024 + 10), "application/pdf")
        too_big = api.post(url, {"file": big}, format="multipart")
        assert too_big.status_code == 400
        assert too_big.json()["error"]["code"] == "file_too_large"
        for name in ("tool.exe", "index.html", "logo.svg"):
            refused = api.post(url, {"file": SimpleUploadedFile(name, b"MZ")}, format="multipart")
            assert refused.status_code == 400, name
            assert refused.json()["error"]["code"] == "file_type_not_allowed"
            assert "file" in refused.json()["error"]["details"]
        assert not Attachment.objects.exists() and not any(tmp_path.rglob("*.*"))

    def test_the_timeline_gives_amounts(self, api, project, author):
        services.timeline_add(
            project=project,
            actor=author,
            kind="purchaseorder",
            number="PO-1",
            vendor="Acme",
            amount=Decimal("1250.50"),
        )
        services.timeline_add(project=project, actor=author, kind="comment", text="hi")
        api.force_authenticate(author)
        entries = api.get(f"/api/projects/{project.pk}/timeline").json()
        assert [entry["amount"] for entry in entries] == ["1250.50", None]


class TestRunDetails:
    def test_the_active_run_can_be_asked_for_without_starting_one(self, api, linked, author):
        api.force_authenticate(author)
        url = f"/api/projects/{linked.pk}/smartsheet/runs?active=true"
        assert api.get(url).json() == []
        started = services.sync_request(project=linked, actor=author, direction="outbound")
        (active,) = api.get(url).json()
        assert (active["id"], active["direction"], active["direction_label"]) == (
            started.pk,
            "outbound",
            "To Smartsheet",
        )
        assert active["started_by"] == author.email and active["retry_reason"] == ""
        sync.execute(started.pk)
        assert api.get(url).json() == []
        assert len(api.get(f"/api/projects/{linked.pk}/smartsheet/runs").json()) == 1


class TestUnmappedRows:
    @pytest.fixture
    def rows(self, linked, author, sandbox):
        rows_by_hand(
            linked,
            author,
            {"name": "PO-77", "type": "Purchase Order", "amount": 77},
            {"name": "typed twice"},
            {"name": "noise"},
        )
        run_sync(linked, author, "inbound")
        return list(UnmappedRow.objects.order_by("row_id"))

    def test_members_list_them_but_only_admins_import_link_or_ignore(
        self, api, rows, linked, author, two_workspaces
    ):
        po, twin, noise = rows
        base = f"/api/projects/{linked.pk}/smartsheet/unmapped-rows"
        comment = services.timeline_add(
            project=linked, actor=author, kind="comment", text="typed twice"
        )
        actions = [
            (f"{base}/{po.pk}/import", {}),
            (f"{base}/{twin.pk}/link", {"entity_type": "comment", "entity_id": comment.pk}),
            (f"{base}/{noise.pk}/ignore", {}),
        ]
        api.force_authenticate(two_workspaces["a_member"])
        listed = api.get(base).json()
        assert [row["cells"]["name"] for row in listed] == ["PO-77", "typed twice", "noise"]
        for url, body in actions:
            refused = api.post(url, body, format="json")
            assert refused.status_code == 403, url
        assert set(UnmappedRow.objects.values_list("state", flat=True)) == {"new"}

        api.force_authenticate(author)
        answers = [api.post(url, body, format="json") for url, body in actions]
        assert [answer.status_code for answer in answers] == [201, 200, 200]
        assert answers[0].json()["title"] == "PO PO-77 — " and answers[0].json()["amount"] == (
            "77.00"
        )
        assert [answers[1].json()["state"], answers[2].json()["state"]] == ["linked", "ignored"]
        assert api.get(base).json() == []

    def test_another_workspace_sees_none_of_them(self, api, rows, linked, two_workspaces):
        api.force_authenticate(two_workspaces["b_admin"])
        base = f"/api/projects/{linked.pk}/smartsheet/unmapped-rows"
        assert api.get(base).status_code == 404
        assert api.post(f"{base}/{rows[0].pk}/ignore").status_code == 404
