"""`manage.py migrate_project_online`: listing, picking by id or name, a dry run with progress
on stderr and the summary at the end, running a dry run's plan, and clear words on bad input."""

import io

import pytest
from django.core.management import CommandError, call_command

from migration.runs import MigrationRun
from tests.integrations.helpers import connect, connect_project_online

pytestmark = pytest.mark.django_db

DEFECTS = "Data Centre Move (Defects)"
WEBSITE = "Website Redesign 2024"


@pytest.fixture
def po(sandbox, two_workspaces):
    a, admin = two_workspaces["a"], two_workspaces["a_admin"]
    return {
        "workspace": a,
        "source": connect_project_online(user=admin, workspace=a),
        "target": connect(sandbox, user=admin, workspace=a, provider="smartsheet"),
    }


def command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("migrate_project_online", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_lists_the_projects(po):
    out, _ = command("--list")
    assert WEBSITE in out and DEFECTS in out
    assert out.strip().endswith("project(s).")
    assert not MigrationRun.objects.exists()


def test_a_dry_run_by_name_prints_progress_and_the_summary(po):
    out, err = command(WEBSITE, "--dry-run")
    run = MigrationRun.objects.get()
    assert run.dry_run and run.status == "succeeded" and run.trigger == "command"
    assert f"Dry run {run.pk}: 1 project(s)." in err
    assert f"  {WEBSITE}: extract" in err
    assert f"  {WEBSITE}: transform — done" in err
    assert f"workspace '{WEBSITE}': {WEBSITE} - Tasks (21 rows)" in out
    assert f"Dry run {run.pk} succeeded:" in out
    assert f"--from-run {run.pk}" in out


def test_a_project_is_picked_by_id_too(po):
    out, _ = command("--list")
    project_id = next(line.split()[0] for line in out.splitlines() if WEBSITE in line)
    command(project_id.upper(), "--dry-run")
    assert MigrationRun.objects.get().project_ids == [project_id]


def test_a_real_run_of_a_project_with_errors_fails_with_its_reason(po):
    with pytest.raises(CommandError, match="its plan has .* errors"):
        command(DEFECTS)
    run = MigrationRun.objects.get()
    assert run.status == "failed" and not run.dry_run


def test_from_run_refuses_a_plan_with_errors_unless_accepted(po):
    command(DEFECTS, "--dry-run")
    dry = MigrationRun.objects.get()
    with pytest.raises(CommandError, match=f"The plan of dry run {dry.pk} has"):
        command("--from-run", str(dry.pk))
    assert MigrationRun.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["No Such Project", "--dry-run"], "No project 'No Such Project' in Project Online"),
        ([], "Name the projects to migrate"),
        (["--from-run", "999"], "No migration run 999."),
        (["--from-run", "1", WEBSITE], "--from-run takes no projects"),
        (["--workspace", "nowhere", "--list"], "No hub workspace 'nowhere'."),
        (["--source", "999", "--list"], "Connection 999 is not a usable Project Online"),
    ],
)
def test_bad_input_is_said_clearly(po, args, words):
    with pytest.raises(CommandError) as raised:
        command(*args)
    assert words in str(raised.value)
    assert not MigrationRun.objects.exists()


def test_several_workspaces_with_project_online_need_one_named(po, two_workspaces):
    connect_project_online(user=two_workspaces["b_admin"], workspace=two_workspaces["b"])
    with pytest.raises(CommandError, match="Say which hub workspace"):
        command("--list")
    out, _ = command("--workspace", two_workspaces["a"].slug, "--list")
    assert WEBSITE in out
