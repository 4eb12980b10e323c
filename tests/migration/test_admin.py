"""The migration runs in Django admin: the runs list with its "Migrate projects…" page, a run's
page with its progress, summary, plan and report (CSV / JSON downloads), the findings list
filterable by run and severity, and the actions."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from migration.runs import MigrationRun
from tests.migration.helpers import finished_dry_run

pytestmark = pytest.mark.django_db


def staff(user, *, view_only=False):
    user.is_staff = True
    user.save()
    verbs = ["view"] if view_only else ["view", "add", "change", "delete"]
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="migration",
            codename__in=[f"{v}_{m}" for v in verbs for m in ("migrationrun", "migrationissue")],
        )
    )
    return user


def test_a_runs_admin_page_shows_its_plan_summary_and_report(client, world):
    run = finished_dry_run(world["a"], world["source"], world["target"], errors=2)
    client.force_login(staff(world["a_admin"]))
    page = client.get(
        reverse("admin:migration_migrationrun_change", args=[run.pk])
    ).content.decode()
    assert (
        "Website Redesign / Website Redesign - Tasks: 2 columns, 2 rows, 1 with predecessors"
        in page
    )
    assert f"/api/migration/runs/{run.pk}/report.csv" in page
    assert f"/api/migration/runs/{run.pk}/report" in page
    assert f"/api/migration/runs/{run.pk}/plan" in page
    assert f"?run__id__exact={run.pk}&severity__exact=error" in page
    assert "2 errors, 1 warnings" in page
    assert "Reading from Project Online 1/1 (done)" in page
    # The raw JSON of the plan is not dumped on the page.
    assert '"workspaces"' not in page


def test_the_findings_are_filterable_by_run_and_severity(client, world):
    run = finished_dry_run(world["a"], world["source"], world["target"], errors=2)
    other = finished_dry_run(world["a"], world["source"], world["target"], errors=1)
    client.force_login(staff(world["a_admin"]))
    url = reverse("admin:migration_migrationissue_changelist")
    response = client.get(f"{url}?run__id__exact={run.pk}&severity__exact=error")
    listed = list(response.context["cl"].result_list)
    assert [(i.run_id, i.rule, i.entity_id) for i in listed] == [
        (run.pk, "task.name.missing", "t-missing-0"),
        (run.pk, "task.name.missing", "t-missing-1"),
    ]
    assert "t-missing-1" in response.content.decode()
    assert client.get(f"{url}?run__id__exact={other.pk}").context["cl"].result_count == 2


def test_another_workspaces_runs_are_not_listed(client, world):
    finished_dry_run(world["a"], world["source"], world["target"])
    client.force_login(staff(world["b_admin"]))
    response = client.get(reverse("admin:migration_migrationrun_changelist"))
    assert response.context["cl"].result_count == 0


def test_the_start_page_is_linked_for_those_who_may_start(client, world):
    url = reverse("admin:migration_migrationrun_changelist")
    client.force_login(staff(world["a_admin"]))
    assert "Migrate projects…" in client.get(url).content.decode()
    page = client.get(reverse("admin:migration_migrationrun_start")).content.decode()
    # Only A's Project Online connection to pick from.
    assert f'value="{world["source"].pk}"' in page
    assert f'value="{world["b_source"].pk}"' not in page

    client.force_login(staff(world["a_member"], view_only=True))
    assert "Migrate projects…" not in client.get(url).content.decode()
    assert client.get(reverse("admin:migration_migrationrun_start")).status_code == 403


def test_run_for_real_from_admin_says_why_not(client, world):
    dry = finished_dry_run(world["a"], world["source"], world["target"], errors=1)
    client.force_login(staff(world["a_admin"]))
    response = client.post(
        reverse("admin:migration_migrationrun_changelist"),
        {"action": "run_for_real", "_selected_action": [dry.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert f"Run {dry.pk}: The plan of dry run {dry.pk} has 1 error" in text
    assert MigrationRun.objects.count() == 1


def test_an_admin_picks_projects_and_starts_a_dry_run(client, sandbox, two_workspaces):
    from tests.integrations.helpers import connect, connect_project_online

    a, admin = two_workspaces["a"], two_workspaces["a_admin"]
    source = connect_project_online(user=admin, workspace=a)
    target = connect(sandbox, user=admin, workspace=a, provider="smartsheet")
    client.force_login(staff(admin))
    url = reverse("admin:migration_migrationrun_start")
    page = client.get(f"{url}?source_connection={source.pk}")
    choices = dict(page.context["form"].fields["projects"].choices)
    picked = next(
        pid for pid, label in choices.items() if label.startswith("Website Redesign 2024")
    )
    assert "Data Centre Move (Defects)" in page.content.decode()

    response = client.post(
        url,
        {
            "source_connection": source.pk,
            "target_connection": target.pk,
            "projects": [picked],
            "_dry_run": "Dry run",
        },
    )
    run = MigrationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/migration/runs/{run.pk}/"
    assert (run.dry_run, run.project_ids, run.trigger) == (True, [picked], "admin")
    assert (run.source_connection, run.target_connection, run.requested_by) == (
        source,
        target,
        admin,
    )

    # "Migrate for real" with no project picked: said, nothing started.
    MigrationRun.objects.all().delete()
    response = client.post(
        url, {"source_connection": source.pk, "target_connection": target.pk, "_real": "1"}
    )
    assert "Pick at least one project to migrate." in response.content.decode()
    assert not MigrationRun.objects.exists()
