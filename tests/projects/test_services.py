"""The projects services as the boundary: what they refuse whoever calls them (the API, the
page, Django admin): task blocks that end before they start, files over the size limit or off
the type allow-list (nothing stored), and unmapped-row decisions by anyone but a workspace
admin."""

from datetime import date
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from integrations.errors import ApplicationError, PermissionDenied
from projects import services
from projects.models import Attachment, Comment, TaskBlock, UnmappedRow
from tests.projects.conftest import run_sync
from tests.projects.helpers import add, rows_by_hand

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()]


class TestTaskBlocks:
    def test_a_task_block_that_ends_before_it_starts_is_refused(self, project, author):
        with pytest.raises(ApplicationError) as refused:
            add(
                project,
                author,
                "taskblock",
                title="Framing",
                start_date=date(2026, 3, 10),
                end_date=date(2026, 3, 1),
            )
        assert refused.value.message == (
            "End date: a task block cannot end (2026-03-01) before it starts (2026-03-10)."
        )
        assert list(refused.value.details) == ["end_date"]
        assert not TaskBlock.objects.exists()
        # A one-day block, and one without an end, are fine.
        add(
            project,
            author,
            "taskblock",
            title="One day",
            start_date=date(2026, 3, 1),
            end_date=date(2026, 3, 1),
        )
        add(project, author, "taskblock", title="Open", start_date=date(2026, 3, 1))
        assert TaskBlock.objects.count() == 2


class TestUploads:
    def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(
        self, project, author, settings, media
    ):
        settings.UPLOAD_MAX_MB = 1
        big = SimpleUploadedFile("survey.pdf", b"%" * (1024 * 1024 + 1), "application/pdf")
        with pytest.raises(ApplicationError) as refused:
            add(project, author, "attachment", upload=big)
        assert refused.value.code == "file_too_large"
        assert refused.value.message == "“survey.pdf” is 1.0 MB: attachments can be at most 1 MB."
        assert not Attachment.objects.exists() and stored_files(media) == []

        exactly = SimpleUploadedFile("survey.pdf", b"%" * (1024 * 1024), "application/pdf")
        add(project, author, "attachment", upload=exactly)
        assert Attachment.objects.count() == 1 and len(stored_files(media)) == 1

    @pytest.mark.parametrize("name", ["setup.exe", "page.html", "logo.svg", "Makefile"])
    def test_a_type_off_the_allow_list_is_refused_and_nothing_is_stored(
        self, project, author, media, name
    ):
        upload = SimpleUploadedFile(name, b"<svg onload=alert(1)>", "image/svg+xml")
        with pytest.raises(ApplicationError) as refused:
            add(project, author, "attachment", upload=upload)
        assert refused.value.code == "file_type_not_allowed"
        assert refused.value.message.startswith(f"“{name}” cannot be attached: ")
        assert "Accepted: .pdf, .doc" in refused.value.message
        assert not Attachment.objects.exists() and stored_files(media) == []

    def test_the_allow_list_ignores_case_and_is_configurable(
        self, project, author, settings, media
    ):
        add(project, author, "attachment", upload=SimpleUploadedFile("PLAN.PDF", b"%PDF"))
        settings.UPLOAD_ALLOWED_EXTENSIONS = ("txt",)
        with pytest.raises(ApplicationError):
            add(project, author, "attachment", upload=SimpleUploadedFile("plan.pdf", b"%PDF"))
        add(project, author, "attachment", upload=SimpleUploadedFile("notes.txt", b"hi"))
        assert sorted(Attachment.objects.values_list("name", flat=True)) == [
            "PLAN.PDF",
            "notes.txt",
        ]


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

    def test_a_member_can_neither_import_nor_link_nor_ignore(self, rows, linked, two_workspaces):
        member = two_workspaces["a_member"]
        comment = Comment.objects.create(
            workspace=linked.workspace, project=linked, author=member, text="typed twice"
        )
        po, twin, noise = rows
        for call in (
            lambda: services.unmapped_import(row=po, actor=member),
            lambda: services.unmapped_link(
                row=twin, actor=member, entity_type="comment", entity_id=comment.pk
            ),
            lambda: services.unmapped_ignore(row=noise, actor=member),
        ):
            with pytest.raises(PermissionDenied, match="Only an admin of Alpha can"):
                call()
        assert set(UnmappedRow.objects.values_list("state", flat=True)) == {"new"}
        assert not linked.purchaseorder_set.exists()

    def test_a_workspace_admin_can_and_a_decided_row_stays_decided(self, rows, linked, author):
        po, twin, noise = rows
        comment = add(linked, author, "comment", text="typed twice")
        services.unmapped_import(row=po, actor=author)
        services.unmapped_link(row=twin, actor=author, entity_type="comment", entity_id=comment.pk)
        services.unmapped_ignore(row=noise, actor=author)
        assert [r.state for r in UnmappedRow.objects.order_by("row_id")] == [
            "imported",
            "linked",
            "ignored",
        ]
        with pytest.raises(ApplicationError, match="already imported"):
            services.unmapped_ignore(row=po, actor=author)
