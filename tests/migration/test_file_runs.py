"""Migration runs of MS Project files (issue 18) end to end through the Smartsheet emulator:
`manage.py migrate_project_file`, a dry run with its plan and report, a real run, a file
migrated twice creating nothing new (also when re-uploaded, changed), a corrupt or truncated
file named with its reason and nothing created, and the upload limit."""

import io
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from integrations.errors import ApplicationError, TooLarge
from integrations.runs import SyncRun
from migration import pipeline, services
from migration.files import MigrationFile
from migration.links import RowLink
from migration.model import Plan
from migration.runs import MigrationRun
from tests.integrations.helpers import connect
from tests.migration.test_admin import staff

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "mpp"


@pytest.fixture
def ss(sandbox, two_workspaces):
    a, admin = two_workspaces["a"], two_workspaces["a_admin"]
    return {
        "workspace": a,
        "admin": admin,
        "target": connect(sandbox, user=admin, workspace=a, provider="smartsheet"),
    }


def command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("migrate_project_file", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def writes(sandbox) -> int:
    return sum(
        count
        for endpoint, count in sandbox.calls("smartsheet")["by_endpoint"].items()
        if not endpoint.upper().startswith("GET")
    )


def upload(ss, name: str, content: bytes | None = None) -> MigrationFile:
    return services.migration_file_add(
        hub_workspace=ss["workspace"],
        user=ss["admin"],
        name=name,
        content=(FIXTURES / name).read_bytes() if content is None else content,
    )


def migrate(ss, *files, dry_run=False) -> MigrationRun:
    started = services.migration_start_files(
        hub_workspace=ss["workspace"],
        user=ss["admin"],
        files=list(files),
        target_connection=ss["target"],
        dry_run=dry_run,
        queue=False,
    )
    return pipeline.execute(started.pk)


def test_a_dry_run_of_files_by_command_prints_progress_and_the_summary(ss, sandbox):
    sandbox.clear_calls("smartsheet")
    out, err = command(str(FIXTURES / "sample.mpp"), str(FIXTURES / "sf259.mpp"), "--dry-run")
    run = MigrationRun.objects.get()
    assert run.source_kind == "file" and run.dry_run and run.trigger == "command"
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert f"Dry run {run.pk}: 2 project(s)." in err
    assert "  sample.mpp: extract" in err and "  sf259.mpp: transform — done" in err
    assert "workspace 'sample': sample - Tasks (22 rows)" in out
    assert "sf259.mpp (file:" in out
    assert f"manage.py migrate_project_file --from-run {run.pk}" in out
    plan = Plan.from_json(run.plan)
    sample, sf259 = plan.workspaces
    assert sample.project_name == "sample" and sf259.project_name.startswith("P-52")
    assert [len(s.rows) for s in sample.sheets[:2]] == [22, 2]  # tasks, resources
    assert sample.sheets[0].project_settings["lengthOfDay"] == 8
    assert sf259.sheets[0].project_settings["lengthOfDay"] == 17.5  # the file's calendar
    assert run.sources[run.project_ids[0]]["project_id"] == sample.project_id
    assert writes(sandbox) == 0  # a dry run writes nothing


def test_a_file_migrated_twice_creates_nothing_new(ss, sandbox):
    first = migrate(ss, upload(ss, "sample1.xml"))
    assert first.status == SyncRun.Status.SUCCEEDED, first.message
    (pid,) = first.project_ids
    assert first.results[pid]["sheet_workspace_id"]
    assert first.created >= 22
    rows = RowLink.objects.count()
    sandbox.clear_calls("smartsheet")
    again = migrate(ss, upload(ss, "sample1.xml"))  # the same file, uploaded again
    assert again.status == SyncRun.Status.SUCCEEDED, again.message
    (pid2,) = again.project_ids
    assert again.created == 0 and again.results[pid2]["rows_created"] == 0
    assert again.results[pid2]["sheet_workspace_id"] == first.results[pid]["sheet_workspace_id"]
    assert RowLink.objects.count() == rows
    # A changed file under the same name updates the same rows.
    text = (FIXTURES / "sample1.xml").read_text(encoding="utf-8")
    changed = text.replace("<Name>Third task</Name>", "<Name>Third task (renamed)</Name>")
    third = migrate(ss, upload(ss, "sample1.xml", changed.encode()))
    assert third.status == SyncRun.Status.SUCCEEDED, third.message
    (pid3,) = third.project_ids
    assert third.created == 0 and third.updated >= 1
    assert third.results[pid3]["sheet_workspace_id"] == first.results[pid]["sheet_workspace_id"]
    assert RowLink.objects.count() == rows


@pytest.mark.parametrize(
    ("cut", "reason"),
    [
        (lambda data: data[: len(data) // 3], "the MS Project (MPP) file is truncated"),
        (lambda data: data[:2000] + bytes(len(data) - 2000), "the project file is corrupt"),
    ],
    ids=["truncated", "corrupt"],
)
def test_a_file_that_cannot_be_read_fails_with_its_reason_and_creates_nothing(
    ss, sandbox, tmp_path, cut, reason
):
    damaged = tmp_path / "sample.mpp"
    damaged.write_bytes(cut((FIXTURES / "sample.mpp").read_bytes()))
    sandbox.clear_calls("smartsheet")
    with pytest.raises(CommandError) as failed:
        command(str(damaged))
    assert "sample.mpp" in str(failed.value) and reason in str(failed.value)
    run = MigrationRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert writes(sandbox) == 0 and not RowLink.objects.exists()


def test_one_unreadable_file_is_named_and_the_others_go_on(ss):
    good, bad = upload(ss, "slack9.mpp"), upload(ss, "broken.xml", b"<Project><Tasks>")
    run = migrate(ss, good, bad, dry_run=True)
    assert run.status == SyncRun.Status.PARTIAL, run.message
    assert run.results[bad.project_key]["left_out"].startswith("Could not be read: broken.xml: ")
    assert run.results[good.project_key]["sheets"][0]["rows"] == 15


def test_two_files_of_one_project_in_a_run_write_it_once(ss):
    first, second = upload(ss, "sample1.xml"), upload(ss, "sample1.xml")
    run = migrate(ss, first, second, dry_run=True)
    assert run.status == SyncRun.Status.PARTIAL, run.message
    assert len(Plan.from_json(run.plan).workspaces) == 1
    assert run.results[second.project_key]["left_out"].startswith("Holds the same project as")


def test_a_file_over_the_upload_limit_or_empty_is_refused(ss):
    with (
        override_settings(MIGRATION_MAX_UPLOAD_MB=1),
        pytest.raises(TooLarge, match="more than the 1 MB"),
    ):
        upload(ss, "big.mpp", b"x" * (1024 * 1024 + 1))
    with pytest.raises(ApplicationError, match="the file is empty"):
        upload(ss, "empty.mpp", b"")
    assert not MigrationFile.objects.exists()


def test_a_file_dry_runs_plan_runs_for_real_and_resumes(ss):
    dry = migrate(ss, upload(ss, "mpp14resource.mpp"), dry_run=True)
    assert dry.status == SyncRun.Status.SUCCEEDED, dry.message
    real = pipeline.execute(
        services.migration_run_from_plan(run=dry, user=ss["admin"], queue=False).pk
    )
    assert real.status == SyncRun.Status.SUCCEEDED, real.message
    assert real.created > 0 and real.source_kind == "file"
    again = services.migration_resume(run=real, user=ss["admin"])
    assert again.source_kind == "file" and again.runs_plan_id == dry.pk


def test_command_messages_for_bad_input(ss):
    with pytest.raises(CommandError, match="Name the files to migrate"):
        command()
    with pytest.raises(CommandError, match="nowhere.mpp: no such file"):
        command("nowhere.mpp")
    with pytest.raises(CommandError, match="No migration run 999 of files"):
        command("--from-run", "999")


# --- uploads through the API and admin (queued runs; the worker reads the files) ---------------


def test_the_api_takes_one_or_many_files_multipart_and_queues_a_dry_run(api, world):
    api.force_authenticate(world["a_admin"])
    files = [
        SimpleUploadedFile("sample.mpp", (FIXTURES / "sample.mpp").read_bytes()),
        SimpleUploadedFile("sample1.xml", (FIXTURES / "sample1.xml").read_bytes()),
    ]
    response = api.post(
        "/api/migration/file-runs",
        {"workspace": world["a"].pk, "target_connection": world["target"].pk, "files": files},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["dry_run"] is True and body["source_kind"] == "file"
    stored = {f.project_key: f for f in MigrationFile.objects.filter(workspace=world["a"])}
    assert body["project_ids"] == sorted(stored, key=lambda k: int(k.split(":")[1]))
    assert sorted(f.name for f in stored.values()) == ["sample.mpp", "sample1.xml"]
    assert all(f.uploaded_by == world["a_admin"] for f in stored.values())
    assert bytes(stored[body["project_ids"][0]].content) == (FIXTURES / "sample.mpp").read_bytes()


def test_the_api_refuses_a_file_over_the_limit_and_members(api, world):
    api.force_authenticate(world["a_admin"])
    with override_settings(MIGRATION_MAX_UPLOAD_MB=1):
        response = api.post(
            "/api/migration/file-runs",
            {
                "workspace": world["a"].pk,
                "target_connection": world["target"].pk,
                "files": [SimpleUploadedFile("big.mpp", b"x" * (1024 * 1024 + 1))],
            },
            format="multipart",
        )
    assert response.status_code == 413, response.content
    assert "big.mpp" in response.json()["error"]["message"]
    api.force_authenticate(world["a_member"])
    response = api.post(
        "/api/migration/file-runs",
        {
            "workspace": world["a"].pk,
            "target_connection": world["target"].pk,
            "files": [SimpleUploadedFile("sample.mpp", (FIXTURES / "sample.mpp").read_bytes())],
        },
        format="multipart",
    )
    assert response.status_code == 403
    assert not MigrationFile.objects.exists() and not MigrationRun.objects.exists()


def test_admin_uploads_files_and_starts_a_dry_run(client, world):
    client.force_login(staff(world["a_admin"]))
    changelist = client.get(reverse("admin:migration_migrationrun_changelist")).content.decode()
    assert "Migrate MS Project files…" in changelist
    url = reverse("admin:migration_migrationrun_start_files")
    page = client.get(url).content.decode()
    assert f'value="{world["target"].pk}"' in page
    assert f'value="{world["b_target"].pk}"' not in page
    response = client.post(
        url,
        {
            "target_connection": world["target"].pk,
            "files": [
                SimpleUploadedFile("slack9.mpp", (FIXTURES / "slack9.mpp").read_bytes()),
                SimpleUploadedFile("sf248.mpp", (FIXTURES / "sf248.mpp").read_bytes()),
            ],
            "_dry_run": "1",
        },
    )
    run = MigrationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/migration/runs/{run.pk}/"
    assert run.dry_run and run.source_kind == "file" and len(run.project_ids) == 2
    assert run.trigger == "admin"
    page = client.get(f"/migration/runs/{run.pk}/").content.decode()
    assert "MS Project files → Smartsheet" in page and "slack9.mpp" in page


@pytest.mark.django_db(transaction=True)
def test_a_worker_reads_the_uploaded_files_through_the_broker(api, ss, celery_worker):
    """The API only keeps the files; the `migration.run` task, in a Celery worker (its own
    thread here), reads them in the JVM and plans them."""
    api.force_authenticate(ss["admin"])
    response = api.post(
        "/api/migration/file-runs",
        {
            "workspace": ss["workspace"].pk,
            "target_connection": ss["target"].pk,
            "files": [
                SimpleUploadedFile(
                    "mspdiresource.xml", (FIXTURES / "mspdiresource.xml").read_bytes()
                )
            ],
        },
        format="multipart",
    )
    assert response.status_code == 202, response.content
    run = MigrationRun.objects.get(pk=response.json()["id"])
    deadline = time.monotonic() + 120
    while run.is_active and time.monotonic() < deadline:
        time.sleep(0.2)
        run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    (workspace,) = Plan.from_json(run.plan).workspaces
    assert [len(s.rows) for s in workspace.sheets[:2]] == [3, 4]  # tasks, resources
    assert run.stages[run.project_ids[0]]["extract"]["state"] == "done"
