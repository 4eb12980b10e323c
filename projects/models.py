"""ShopBoss projects and their timeline, and what links them to Smartsheet.

A project's timeline holds TaskBlocks and the comments, attachments, purchase orders and work
orders written on it. In its Smartsheet sheet, TaskBlocks are parent rows and the others their
child rows (top level when they belong to no TaskBlock); identity lives in RowMapping, never in
a hidden column. PendingWrite is the intent recorded before every write, so a worker killed
between Smartsheet's answer and our commit never makes the same rows twice.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from integrations.accounts.models import Workspace, WorkspaceOwned
from integrations.connections.models import Connection
from integrations.mapping.models import MappingSet
from integrations.runs import SyncRun
from integrations.sync.models import RecordLink, WriteIntent

DEFAULT_TEMPLATE_SHEET_ID = 2455059368464260
DEFAULT_TARGET_WORKSPACE_ID = 6590163225732996


class SmartsheetSetup(WorkspaceOwned):
    """Where a workspace's new project sheets come from and go to."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="smartsheet_setup"
    )
    template_sheet_id = models.BigIntegerField(default=DEFAULT_TEMPLATE_SHEET_ID)
    target_workspace_id = models.BigIntegerField(default=DEFAULT_TARGET_WORKSPACE_ID)
    mapping_set = models.ForeignKey(
        MappingSet,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="How entries become the cells of their rows and edits come back. Empty: "
        "the shipped set “Projects: Smartsheet rows”, made in this workspace on the next sync. "
        "A set that requires approval holds every row write for review.",
    )

    class Meta:
        verbose_name = "Smartsheet setup"

    def __str__(self) -> str:
        return f"template {self.template_sheet_id} → workspace {self.target_workspace_id}"

    def clean(self) -> None:
        if self.mapping_set_id and self.mapping_set.workspace_id != self.workspace_id:
            raise ValidationError(
                {"mapping_set": "Choose a mapping set of this setup's own workspace."}
            )


class Project(WorkspaceOwned):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ACTIVE = "active", "Active"
        ON_HOLD = "on_hold", "On hold"
        COMPLETE = "complete", "Complete"

    number = models.CharField("project #", max_length=40)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    contract_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "number"], name="project_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class Authored(WorkspaceOwned):
    """A timeline entity: who wrote it, and as which Smartsheet user (phase 1 attribution)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="%(class)s_set")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ss_user_id = models.CharField("Smartsheet user id", max_length=32, blank=True)
    ss_email = models.CharField("Smartsheet email", max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # What the sheet's Type column says for this entity (see projects/sheet.py).
    sheet_type = ""

    class Meta:
        abstract = True
        ordering = ["created_at", "pk"]


class Status(models.TextChoices):
    NOT_STARTED = "not_started", "Not Started"
    IN_PROGRESS = "in_progress", "In Progress"
    COMPLETE = "complete", "Complete"
    ON_HOLD = "on_hold", "On Hold"


class TaskBlock(Authored):
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    notes = models.TextField(blank=True)

    sheet_type = "Task Block"

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError(
                {
                    "end_date": (
                        f"a task block cannot end ({self.end_date:%Y-%m-%d}) before it starts "
                        f"({self.start_date:%Y-%m-%d})."
                    )
                }
            )


class OnTaskBlock(Authored):
    task_block = models.ForeignKey(
        TaskBlock, null=True, blank=True, on_delete=models.SET_NULL, related_name="%(class)s_set"
    )

    class Meta(Authored.Meta):
        abstract = True


class Comment(OnTaskBlock):
    text = models.TextField()

    sheet_type = "Comment"

    def __str__(self) -> str:
        return self.text[:60]


def attachment_path(instance, filename: str) -> str:
    return f"projects/{instance.project_id}/attachments/{filename}"


class Attachment(OnTaskBlock):
    file = models.FileField(upload_to=attachment_path)
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)

    sheet_type = "Attachment"

    def __str__(self) -> str:
        return self.name


class PurchaseOrder(OnTaskBlock):
    number = models.CharField("PO #", max_length=40)
    vendor = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    order_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    sheet_type = "Purchase Order"

    def __str__(self) -> str:
        return f"PO {self.number} — {self.vendor}"


class WorkOrder(OnTaskBlock):
    number = models.CharField("WO #", max_length=40)
    description = models.CharField(max_length=300)
    is_custom = models.BooleanField("custom", default=False)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    due_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    @property
    def sheet_type(self) -> str:
        return "Custom Work Order" if self.is_custom else "Work Order"

    def __str__(self) -> str:
        return f"WO {self.number} — {self.description}"


ENTITY_MODELS = {
    model._meta.model_name: model
    for model in (TaskBlock, Comment, Attachment, PurchaseOrder, WorkOrder)
}


class ProjectSheetLink(WorkspaceOwned):
    """The Smartsheet sheet of a project, its checked column ids, and the sync cursors. A sheet
    belongs to one project: two projects on one sheet would each see the other's rows as
    unmapped and import them as their own (README, Decisions)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="sheet_link")
    sheet_id = models.BigIntegerField(unique=True)
    sheet_name = models.CharField(max_length=100)
    permalink = models.URLField(blank=True)
    columns = models.JSONField(default=dict, help_text="Our column key → Smartsheet column id.")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_from_template = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    # The newest row modifiedAt read inbound: the next read asks for rows modified since it.
    inbound_cursor = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.sheet_name} ({self.sheet_id})"


class RowMapping(RecordLink):
    """One entity ↔ one row. The record link's `remote_version` is the row's version after our
    last write or read (an inbound row at that version is our own echo); `synced_values` the
    cells last synced, by column key (the merge base); `content_hash` their digest."""

    link = models.ForeignKey(
        ProjectSheetLink, on_delete=models.CASCADE, related_name="row_mappings"
    )
    sheet_id = models.BigIntegerField()
    row_id = models.BigIntegerField()
    entity_type = models.CharField(max_length=20)
    entity_id = models.BigIntegerField()
    parent_row_id = models.BigIntegerField(null=True, blank=True)
    discussion_id = models.BigIntegerField(null=True, blank=True)
    attachment_id = models.BigIntegerField(null=True, blank=True)
    attachment_status = models.CharField(max_length=10, blank=True)  # "", pending, uploaded, failed
    attachment_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sheet_id", "row_id"], name="row_mapping_row_unique"),
            models.UniqueConstraint(
                fields=["link", "entity_type", "entity_id"], name="row_mapping_entity_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type} {self.entity_id} ↔ row {self.row_id}"


class PendingWrite(WriteIntent):
    """An intent recorded (and committed) before a write to Smartsheet. Resolved into a
    RowMapping when the write is confirmed; reconciled against the sheet if the worker died.
    Its `target` is the row id a write lands under (rows: the parent, empty at the top of the
    sheet) or on (discussions and attachments: the entity's own row)."""

    class Operation(models.TextChoices):
        ROW = "row", "Add row"
        DISCUSSION = "discussion", "Add discussion"
        ATTACHMENT = "attachment", "Upload attachment"

    link = models.ForeignKey(
        ProjectSheetLink, on_delete=models.CASCADE, related_name="pending_writes"
    )
    operation = models.CharField(max_length=20, choices=Operation.choices)
    entity_type = models.CharField(max_length=20)
    entity_id = models.BigIntegerField()

    class Meta(WriteIntent.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.operation} for {self.entity_type} {self.entity_id}"


class UnmappedRow(WorkspaceOwned):
    """A row found in the sheet that no entity owns: made in Smartsheet by someone."""

    class State(models.TextChoices):
        NEW = "new", "New"
        IMPORTED = "imported", "Imported"
        LINKED = "linked", "Linked"
        IGNORED = "ignored", "Ignored"

    link = models.ForeignKey(
        ProjectSheetLink, on_delete=models.CASCADE, related_name="unmapped_rows"
    )
    row_id = models.BigIntegerField()
    parent_row_id = models.BigIntegerField(null=True, blank=True)
    row_version = models.PositiveIntegerField(default=0)
    cells = models.JSONField(default=dict, help_text="Column key → value, as read.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    link_entity_type = models.CharField(
        max_length=20,
        blank=True,
        help_text="To link: the entity type (taskblock, comment, purchaseorder, workorder, attachment)…",
    )
    link_entity_id = models.BigIntegerField(null=True, blank=True, help_text="…and its id.")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "row_id"], name="unmapped_row_unique")
        ]

    def __str__(self) -> str:
        return f"row {self.row_id}: {self.cells.get('name', '')}"


class ProjectSyncRun(SyncRun):
    class Direction(models.TextChoices):
        OUTBOUND = "outbound", "To Smartsheet"
        INBOUND = "inbound", "From Smartsheet"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sync_runs")
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The base's field, with this app's choices (the runs table and the API name the direction).
    direction = models.CharField(max_length=20, choices=Direction.choices)

    run_task = "projects.sync_run"

    class Meta(SyncRun.Meta):
        constraints = [
            # One run per project at a time, guaranteed by the database itself.
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_run_per_project",
            )
        ]
