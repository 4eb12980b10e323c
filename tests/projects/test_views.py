"""The project pages: what sync changes is visible (amounts, downloads, the runs table, a run
going on), the attach refusal and its admin-only override, upload refusals in the page's words,
and the unmapped rows page with its admin-only actions."""

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from integrations import runs
from projects import services, sync
from projects.models import Attachment, UnmappedRow
from tests.integrations.helpers import connect
from tests.projects.conftest import run_sync
from tests.projects.helpers import add, rows_by_hand

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    monkeypatch.setattr(runs, "_enqueue", lambda run, task: None)


def test_amounts_show_on_the_timeline(client, project, author):
    po = add(
        project, author, "purchaseorder", number="PO-1", vendor="Acme", amount=Decimal("1250.5")
    )
    add(project, author, "comment", text="no amount here")
    client.force_login(author)
    page = client.get(f"/projects/{project.pk}/").content.decode()
    entry = re.search(rf'<div class="entry" id="entry-purchaseorder-{po.pk}">.*?</div>', page, re.S)
    assert '<span class="amount">amount 1,250.50</span>' in entry.group(0)
    assert page.count('class="amount"') == 1


def test_the_recent_runs_table_has_headers_and_says_which_way_each_run_went(
    client, linked, author, sandbox
):
    run_sync(linked, author, "outbound")
    run_sync(linked, author, "inbound")
    client.force_login(author)
    page = client.get(f"/projects/{linked.pk}/").content.decode()
    table = page[page.index('<div id="recent-runs">') :]
    assert '<th scope="col">Direction</th>' in table and '<th scope="col">Status</th>' in table
    directions = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", table)
    assert directions == ["From Smartsheet", "To Smartsheet"]


def test_a_page_rendered_during_a_run_shows_it_with_both_buttons_disabled(client, linked, author):
    run = services.sync_request(project=linked, actor=author, direction="outbound")
    client.force_login(author)
    page = client.get(f"/projects/{linked.pk}/").content.decode()
    assert len(re.findall(r'<button type="button" class="sync"[^>]* disabled>', page)) == 2
    assert '<div id="run">' in page and "Waiting for a worker…" in page
    assert f"In progress: Sync to Smartsheet, started by {author.email}." in page
    assert (
        f'"activeRun": {{"direction": "outbound", "direction_label": "To Smartsheet", "id": {run.pk}'
        in (page)
    )
    sync.execute(run.pk)
    page = client.get(f"/projects/{linked.pk}/").content.decode()
    assert '<div id="run" hidden>' in page and "disabled>" not in page


class TestDownloads:
    def test_members_of_the_workspace_download_attachments_and_nobody_else(
        self, client, project, author, two_workspaces, settings, tmp_path
    ):
        settings.MEDIA_ROOT = tmp_path
        attachment = add(
            project,
            author,
            "attachment",
            upload=SimpleUploadedFile("plan.pdf", b"%PDF-1.4 plan", "application/pdf"),
        )
        url = f"/projects/{project.pk}/attachments/{attachment.pk}/download"
        client.force_login(author)
        assert f'href="{url}"' in client.get(f"/projects/{project.pk}/").content.decode()

        client.force_login(two_workspaces["a_member"])
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"%PDF-1.4 plan"
        assert response["Content-Disposition"] == 'attachment; filename="plan.pdf"'
        assert response["Content-Type"] == "application/octet-stream"

        client.force_login(two_workspaces["b_admin"])
        assert client.get(url).status_code == 404
        other = services.project_create(
            workspace=project.workspace, actor=author, number="9", name="Other"
        )
        client.force_login(author)
        assert (
            client.get(f"/projects/{other.pk}/attachments/{attachment.pk}/download").status_code
            == 404
        )
        # The file has no public URL of its own.
        assert client.get(f"/media/{attachment.file.name}").status_code == 404
        client.logout()
        assert client.get(url).status_code == 302  # to the sign-in page


class TestForms:
    def test_a_task_block_ending_before_it_starts_is_refused_and_the_form_kept(
        self, client, project, author
    ):
        client.force_login(author)
        response = client.post(
            f"/projects/{project.pk}/entries/task-blocks",
            {"title": "Framing", "start_date": "2026-03-10", "end_date": "2026-03-01"},
        )
        page = response.content.decode()
        assert response.status_code == 400
        assert (
            "Task block: End date: a task block cannot end (2026-03-01) before it starts "
            "(2026-03-10)." in page
        )
        assert 'value="Framing"' in page and 'value="2026-03-01"' in page

    def test_an_upload_refused_says_why_in_the_page(
        self, client, project, author, tmp_path, settings
    ):
        settings.MEDIA_ROOT = tmp_path
        client.force_login(author)
        response = client.post(
            f"/projects/{project.pk}/entries/attachments",
            {"file": SimpleUploadedFile("setup.exe", b"MZ")},
        )
        assert response.status_code == 400
        assert "Attachment: “setup.exe” cannot be attached: .exe files are not accepted." in (
            response.content.decode()
        )
        assert not Attachment.objects.exists()

    def test_every_timeline_field_has_a_label(self, client, project, author):
        client.force_login(author)
        page = client.get(f"/projects/{project.pk}/").content.decode()
        forms = page[page.index('<div class="forms">') : page.index('<div id="entries">')]
        forms = re.sub(r'<input type="hidden"[^>]*>', "", forms)  # the CSRF tokens
        ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', forms)
        fields = re.findall(r"<(?:input|select|textarea)\b", forms)
        labelled = set(re.findall(r'<label for="([^"]+)"', forms))
        # Every field has an id a <label for> names, but the checkbox, which its label wraps.
        assert len(fields) == 15 and len(ids) == 14 and set(ids) <= labelled
        assert '<label class="check"><input type="checkbox" name="is_custom"' in forms


class TestAttach:
    @pytest.fixture
    def second(self, linked, author):
        return services.project_create(
            workspace=linked.workspace, actor=author, number="1043", name="Harbor Clinic"
        )

    def test_the_page_names_the_project_using_the_sheet_and_only_admins_may_take_it(
        self, client, linked, second, author, two_workspaces, sandbox
    ):
        sheet_id = linked.sheet_link.sheet_id
        member = two_workspaces["a_member"]
        connect(sandbox, user=member, workspace=linked.workspace, provider="smartsheet")
        client.force_login(member)
        url = f"/projects/{second.pk}/sheet/attach"
        page = client.post(url, {"sheet_id": sheet_id}).content.decode()
        assert f"Sheet {sheet_id} is already linked to project 1042 “Riverside Lofts”." in page
        assert 'id="attach-anyway"' not in page and f'value="{sheet_id}"' in page
        assert client.post(url, {"sheet_id": sheet_id, "force": "1"}).status_code == 403

        client.force_login(author)
        page = client.post(url, {"sheet_id": sheet_id}).content.decode()
        assert "Attach anyway (remove it from 1042)" in page
        done = client.post(url, {"sheet_id": sheet_id, "force": "1"}, follow=True)
        assert "Attached the sheet" in done.content.decode()
        second.refresh_from_db()
        assert second.sheet_link.sheet_id == sheet_id


class TestUnmappedPage:
    @pytest.fixture
    def rows(self, linked, author, sandbox):
        rows_by_hand(
            linked,
            author,
            {"name": "PO-77", "type": "Purchase Order", "amount": 77},
            {"name": "noise"},
        )
        run_sync(linked, author, "inbound")
        return list(UnmappedRow.objects.order_by("row_id"))

    def test_the_timeline_links_to_them(self, client, rows, linked, author, two_workspaces):
        client.force_login(two_workspaces["a_member"])
        page = client.get(f"/projects/{linked.pk}/").content.decode()
        assert (
            f'<a href="/projects/{linked.pk}/unmapped/">2 unmapped rows from Smartsheet</a>' in page
        )

    def test_admins_import_link_or_ignore_them_members_only_see_them(
        self, client, rows, linked, author, two_workspaces
    ):
        po, noise = rows
        url = f"/projects/{linked.pk}/unmapped/"
        client.force_login(two_workspaces["a_member"])
        page = client.get(url).content.decode()
        assert "PO-77" in page and "Only an admin of Alpha can" in page
        assert 'class="import"' not in page
        assert client.post(f"{url}{po.pk}/import").status_code == 403
        assert client.post(f"{url}{noise.pk}/ignore").status_code == 403

        client.force_login(author)
        page = client.get(url).content.decode()
        assert page.count('class="import"') == 2 and 'name="entry"' in page
        done = client.post(f"{url}{po.pk}/import", follow=True).content.decode()
        assert "Imported “PO-77” as purchase order" in done
        client.post(f"{url}{noise.pk}/ignore")
        assert [r.state for r in UnmappedRow.objects.order_by("row_id")] == ["imported", "ignored"]
        assert 'id="no-unmapped"' in client.get(url).content.decode()
