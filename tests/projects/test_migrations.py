"""The migration that makes a sheet one project's: where several projects were linked to one
sheet, the first linked keeps it and the later (mistaken) links are detached."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from projects.models import ProjectSheetLink

BEFORE = [("projects", "0001_initial")]
AFTER = [("projects", "0002_run_stages_retries_one_project_per_sheet")]


@pytest.mark.django_db(transaction=True)
def test_a_shared_sheet_stays_with_the_project_that_linked_it_first(two_workspaces):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    project_model = apps.get_model("projects", "Project")
    link_model = apps.get_model("projects", "ProjectSheetLink")
    workspace_id = two_workspaces["a"].pk
    first, second, third = (
        project_model.objects.create(workspace_id=workspace_id, number=n, name=n)
        for n in ("1001", "1002", "1003")
    )
    now = timezone.now()
    for project, sheet_id, age in ((second, 7, 1), (first, 7, 2), (third, 8, 0)):
        link_model.objects.create(
            workspace_id=workspace_id,
            project=project,
            sheet_id=sheet_id,
            sheet_name="s",
            created_at=now - timedelta(days=age),
        )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    kept = dict(ProjectSheetLink.objects.values_list("sheet_id", "project__number"))
    # The other tests expect the latest schema, whatever comes after this migration.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert kept == {7: "1001", 8: "1003"}
