"""What the load made in Smartsheet, recorded through the sync engine (integrations.sync):
a link per Smartsheet workspace and sheet it created (with the ids of the columns it made or
adopted), a link per row (the cells last written, so a re-run updates only what changed), and
the write intents committed before each create whose answer could be lost (a workspace, a
sheet, a batch of rows): a run killed between Smartsheet's reply and our commit leaves them,
and the next run reconciles them against what Smartsheet then lists."""

from django.db import models

from integrations.connections.models import Connection
from integrations.sync.models import RecordLink, WriteIntent


class ContainerLink(RecordLink):
    """A Smartsheet workspace or sheet the load made (or adopted), by its key in the plan:
    "pmo", "pmo/Task - Status", "project:<source id>", "project:<source id>/tasks"."""

    class Kind(models.TextChoices):
        WORKSPACE = "workspace", "Smartsheet workspace"
        SHEET = "sheet", "Sheet"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    remote_id = models.BigIntegerField(help_text="The Smartsheet workspace's or sheet's id.")
    name = models.CharField(max_length=300)
    permalink = models.URLField(max_length=500, blank=True)
    columns = models.JSONField(
        default=dict, blank=True, help_text="A sheet's column ids by the plan's column keys."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "key"], name="migration_container_key")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"


class RowLink(RecordLink):
    """A row the load added: its plan key (the source GUID), its Smartsheet id and parent;
    `synced_values` the cells last written (column key -> value or objectValue),
    `content_hash` their digest, `predecessors_hash` that of the predecessors last written."""

    sheet = models.ForeignKey(ContainerLink, on_delete=models.CASCADE, related_name="rows")
    key = models.CharField(max_length=200)
    row_id = models.BigIntegerField()
    parent_row_id = models.BigIntegerField(null=True, blank=True)
    predecessors_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sheet", "key"], name="migration_row_key"),
        ]

    def __str__(self) -> str:
        return f"Row {self.key}"


class LoadIntent(WriteIntent):
    """A create about to be sent: a workspace (target ""), a sheet (target: its workspace's
    id) or a row (target: its parent row's id, "" at the top; `sheet` set)."""

    class Operation(models.TextChoices):
        WORKSPACE = "workspace", "Workspace"
        SHEET = "sheet", "Sheet"
        ROW = "row", "Row"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    sheet = models.ForeignKey(
        ContainerLink, null=True, blank=True, on_delete=models.CASCADE, related_name="intents"
    )
    key = models.CharField(max_length=300, help_text="The plan's key of what is created.")

    class Meta(WriteIntent.Meta):
        pass
