import uuid

from django.db import migrations, models


def seed_each(apps, schema_editor):
    """AddField gives every existing row the same default: give each its own seed."""
    RecordRequest = apps.get_model("destinations", "RecordRequest")
    for request in RecordRequest.objects.only("pk").iterator():
        RecordRequest.objects.filter(pk=request.pk).update(id_seed=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("destinations", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="recordrequest",
            name="id_seed",
            field=models.UUIDField(default=uuid.uuid4, editable=False),
        ),
        migrations.AddField(
            model_name="recordrequest",
            name="lease_until",
            field=models.DateTimeField(
                blank=True,
                help_text="Until then no one else may take the request over.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="recordrequest",
            name="owner",
            field=models.CharField(
                blank=True, help_text="host:pid:token of the process writing it.", max_length=120
            ),
        ),
        migrations.RunPython(seed_each, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="recordwrite",
            name="answer",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="What the destination gave back where it differs from what was sent: "
                "the columns it filled or changed (the stored row is `stored_row`).",
            ),
        ),
    ]
