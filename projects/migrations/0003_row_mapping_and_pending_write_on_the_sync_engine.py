"""RowMapping and PendingWrite become the sync engine's record link and write intent
(integrations.sync.models): same tables, same rows. The record link's version and modstamp get
the engine's names and it gains `synced_values` (the merge base; empty on existing rows, which
the sync reads as "no base": differing fields are settled by last write wins, as before). The
intent's kind becomes its `operation`, its hash its `payload_hash`, and the two row ids it
carried (the parent a row goes under, the row a discussion or attachment goes on) its one
`target`."""

from django.db import migrations, models


def targets_from_row_ids(apps, schema_editor):
    pending_write = apps.get_model("projects", "PendingWrite")
    for intent in pending_write.objects.all():
        row = intent.parent_row_id if intent.operation == "row" else intent.row_id
        intent.target = "" if row is None else str(row)
        intent.save(update_fields=["target"])


def row_ids_from_targets(apps, schema_editor):
    pending_write = apps.get_model("projects", "PendingWrite")
    for intent in pending_write.objects.all():
        row = int(intent.target) if intent.target else None
        if intent.operation == "row":
            intent.parent_row_id = row
        else:
            intent.row_id = row
        intent.save(update_fields=["parent_row_id", "row_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0002_run_stages_retries_one_project_per_sheet"),
    ]

    operations = [
        migrations.RenameField("rowmapping", "row_version", "remote_version"),
        migrations.AlterField(
            model_name="rowmapping",
            name="remote_version",
            field=models.PositiveBigIntegerField(
                default=0, help_text="The remote record's version after our last write or read."
            ),
        ),
        migrations.RenameField("rowmapping", "row_modified_at", "remote_modified_at"),
        migrations.AlterField(
            model_name="rowmapping",
            name="content_hash",
            field=models.CharField(help_text="Digest of the values last synced.", max_length=64),
        ),
        migrations.AddField(
            model_name="rowmapping",
            name="synced_values",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Field → value as last synced: the merge base (empty: linked before it was kept).",
            ),
        ),
        migrations.RenameField("pendingwrite", "kind", "operation"),
        migrations.AlterField(
            model_name="pendingwrite",
            name="operation",
            field=models.CharField(
                choices=[
                    ("row", "Add row"),
                    ("discussion", "Add discussion"),
                    ("attachment", "Upload attachment"),
                ],
                max_length=20,
            ),
        ),
        migrations.RenameField("pendingwrite", "content_hash", "payload_hash"),
        migrations.AddField(
            model_name="pendingwrite",
            name="target",
            field=models.CharField(
                blank=True,
                help_text="Where the write lands, as the remote side lists it again (empty: the top).",
                max_length=100,
            ),
        ),
        migrations.RunPython(targets_from_row_ids, row_ids_from_targets),
        migrations.RemoveField("pendingwrite", "parent_row_id"),
        migrations.RemoveField("pendingwrite", "row_id"),
        migrations.AlterField(
            model_name="pendingwrite",
            name="position",
            field=models.PositiveIntegerField(default=0, help_text="Its place in its batch."),
        ),
    ]
