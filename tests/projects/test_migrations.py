"""The migration that makes a sheet one project's: where several projects were linked to one
sheet, the first linked keeps it and the later (mistaken) links are detached."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from projects.models import PendingWrite, ProjectSheetLink, RowMapping

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


@pytest.mark.django_db(transaction=True)
def test_row_mappings_and_pending_writes_keep_their_rows_on_the_sync_engine(two_workspaces):
    before = [("projects", "0002_run_stages_retries_one_project_per_sheet")]
    after = [("projects", "0003_row_mapping_and_pending_write_on_the_sync_engine")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    workspace_id = two_workspaces["a"].pk
    project = apps.get_model("projects", "Project").objects.create(
        workspace_id=workspace_id, number="1001", name="n"
    )
    link = apps.get_model("projects", "ProjectSheetLink").objects.create(
        workspace_id=workspace_id, project=project, sheet_id=7, sheet_name="s"
    )
    apps.get_model("projects", "RowMapping").objects.create(
        workspace_id=workspace_id,
        link=link,
        sheet_id=7,
        row_id=11,
        entity_type="taskblock",
        entity_id=1,
        row_version=3,
        content_hash="c",
    )
    pending_write = apps.get_model("projects", "PendingWrite")
    for kind, entity_id, parent_row_id, row_id in (
        ("row", 2, 11, None),
        ("row", 3, None, None),
        ("discussion", 4, None, 12),
    ):
        pending_write.objects.create(
            workspace_id=workspace_id,
            link=link,
            kind=kind,
            entity_type="comment",
            entity_id=entity_id,
            batch="b",
            parent_row_id=parent_row_id,
            row_id=row_id,
            content_hash=f"h{entity_id}",
        )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    mapping = RowMapping.objects.get()
    intents = list(
        PendingWrite.objects.order_by("entity_id").values_list(
            "operation", "target", "payload_hash"
        )
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert (mapping.row_id, mapping.remote_version, mapping.synced_values) == (11, 3, {})
    assert intents == [("row", "11", "h2"), ("row", "", "h3"), ("discussion", "12", "h4")]
