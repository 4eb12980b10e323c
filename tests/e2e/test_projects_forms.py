"""The timeline's forms in a real browser: every field labelled, refusals in the form's own
words with what was typed kept, a task block that ends before it starts, an upload too large
or of a refused type, and the attach form's refusal with its admin-only "Attach anyway"."""

from pathlib import Path

import pytest

from projects import services
from projects.models import Attachment, ProjectSheetLink, TaskBlock
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db(transaction=True)

# Visible fields that no <label> (with words in it) and no aria-label names.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter((el) => el.type !== 'hidden' && el.getClientRects().length > 0)
  .filter((el) => !(el.getAttribute('aria-label') || '').trim()
    && ![...el.labels].some((label) => label.textContent.trim() !== ''))
  .map((el) => el.outerHTML.slice(0, 120))"""
VISIBLE_FIELDS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter((el) => el.type !== 'hidden' && el.getClientRects().length > 0).length"""


@pytest.fixture
def author(two_workspaces, sandbox, hub):
    user = two_workspaces["a_admin"]
    connect(sandbox, user=user, workspace=two_workspaces["a"], provider="smartsheet")
    return user


@pytest.fixture
def project(author, two_workspaces):
    return services.project_create(
        workspace=two_workspaces["a"], actor=author, number="3201", name="Quay Stores"
    )


def test_every_field_of_the_timeline_page_has_a_label(signed_in, hub, author, project):
    page = signed_in(author)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    # Without a sheet: the attach form, and the five entry forms.
    assert page.evaluate(VISIBLE_FIELDS) == 16
    assert page.evaluate(UNLABELLED) == []
    services.sheet_provision(project=project, actor=author)
    services.timeline_add(project=project, actor=author, kind="taskblock", title="Framing")
    page.reload()
    assert page.evaluate(VISIBLE_FIELDS) == 15
    assert page.evaluate(UNLABELLED) == []


def test_a_refused_form_says_why_in_its_own_words_and_keeps_what_was_typed(
    signed_in, hub, author, project
):
    page = signed_in(author)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    form = page.locator("#add-purchase-order")
    form.locator("input[name=number]").fill("PO-5")
    form.locator("input[name=vendor]").fill("   ")  # passes the browser's check, not ours
    form.locator("input[name=amount]").fill("twelve")
    form.locator("button[type=submit]").click()
    errors = page.locator("#add-purchase-order .form-errors li").all_inner_texts()
    assert errors == [
        "Purchase order: enter the vendor.",
        "Purchase order: Amount: A valid number is required.",
    ]
    form = page.locator("#add-purchase-order")
    assert form.locator("input[name=number]").input_value() == "PO-5"
    assert form.locator("input[name=amount]").input_value() == "twelve"

    page.fill("#comment-text", "  ")
    page.click("#add-comment button[type=submit]")
    assert page.inner_text("#add-comment .form-errors") == "Comment: enter the comment's text."


def test_a_task_block_that_ends_before_it_starts_is_refused(signed_in, hub, author, project):
    page = signed_in(author)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    page.fill("#tb-title", "Framing")
    page.fill("#tb-start", "2026-03-10")
    page.fill("#tb-end", "2026-03-01")
    page.click("#add-task-block button[type=submit]")
    assert page.inner_text("#add-task-block .form-errors") == (
        "Task block: End date: a task block cannot end (2026-03-01) before it starts (2026-03-10)."
    )
    assert page.input_value("#tb-title") == "Framing"
    assert page.input_value("#tb-end") == "2026-03-01"
    assert not TaskBlock.objects.exists()


def test_an_upload_too_large_or_of_a_refused_type_is_refused_and_nothing_stored(
    signed_in, hub, author, project, settings, tmp_path
):
    settings.UPLOAD_MAX_MB, settings.MEDIA_ROOT = 1, tmp_path
    page = signed_in(author)
    page.goto(f"{hub.url}/projects/{project.pk}/")
    assert "(up to 1 MB)" in page.inner_text("label[for=attachment-file]")
    page.set_input_files(
        "#attachment-file",
        {"name": "survey.pdf", "mimeType": "application/pdf", "buffer": b"%" * (1536 * 1024)},
    )
    page.click("#add-attachment button[type=submit]")
    assert page.inner_text("#add-attachment .form-errors") == (
        "Attachment: “survey.pdf” is 1.5 MB: attachments can be at most 1 MB."
    )
    for name in ("setup.exe", "logo.svg"):
        page.set_input_files(
            "#attachment-file",
            {"name": name, "mimeType": "application/octet-stream", "buffer": b"MZ"},
        )
        page.click("#add-attachment button[type=submit]")
        assert page.inner_text("#add-attachment .form-errors").startswith(
            f"Attachment: “{name}” cannot be attached: .{name.split('.')[1]} files are not accepted."
        )
    assert not Attachment.objects.exists() and not any(
        path.is_file() for path in tmp_path.rglob("*")
    )

    page.set_input_files(
        "#attachment-file",
        {"name": "plan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4"},
    )
    page.click("#add-attachment button[type=submit]")
    page.wait_for_selector("text=Added attachment “plan.pdf”.")
    with page.expect_download() as download:
        page.click(f"#entry-attachment-{Attachment.objects.get().pk} a.download")
    assert download.value.suggested_filename == "plan.pdf"
    assert Path(download.value.path()).read_bytes() == b"%PDF-1.4"


def test_attaching_another_projects_sheet_is_refused_and_only_an_admin_may_take_it(
    signed_in, hub, author, project
):
    services.sheet_provision(project=project, actor=author)
    sheet_id = ProjectSheetLink.objects.get().sheet_id
    other = services.project_create(
        workspace=project.workspace, actor=author, number="3202", name="Quay Offices"
    )
    page = signed_in(author)
    page.goto(f"{hub.url}/projects/{other.pk}/")
    page.fill("#attach-sheet-id", str(sheet_id))
    page.click("#attach button[type=submit]:not([name=force])")
    assert page.inner_text("#attach-error") == (
        f"Sheet {sheet_id} is already linked to project 3201 “Quay Stores”. Attach another "
        "sheet, or a workspace admin can attach it anyway (that removes it from 3201)."
    )
    assert page.input_value("#attach-sheet-id") == str(sheet_id)
    page.click("#attach-anyway")
    page.wait_for_selector('button.sync[data-direction="outbound"]')
    assert ProjectSheetLink.objects.get().project == other
