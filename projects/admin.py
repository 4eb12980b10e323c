"""Admin of ShopBoss projects: projects and their entries, sheet links, row mappings, runs
with their errors, unmapped rows (import / link / ignore), and interrupted writes."""

from django.contrib import admin

from integrations.accounts.admin import ReadOnlyAdmin, WorkspaceScopedAdmin
from integrations.connections.admin import act_on_each
from integrations.runs.admin import SyncRunAdmin
from projects import services
from projects.models import (
    Attachment,
    Comment,
    PendingWrite,
    Project,
    ProjectSheetLink,
    ProjectSyncRun,
    PurchaseOrder,
    RowMapping,
    SmartsheetSetup,
    TaskBlock,
    UnmappedRow,
    WorkOrder,
)


@admin.register(SmartsheetSetup)
class SmartsheetSetupAdmin(WorkspaceScopedAdmin):
    list_display = ["workspace", "template_sheet_id", "target_workspace_id", "mapping_set"]


@admin.register(Project)
class ProjectAdmin(WorkspaceScopedAdmin):
    list_display = [
        "number",
        "name",
        "status",
        "workspace",
        "start_date",
        "end_date",
        "contract_amount",
    ]
    list_filter = ["status", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["number", "name"]
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class EntryAdmin(WorkspaceScopedAdmin):
    list_filter = [("project", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = ["author", "ss_user_id", "ss_email", "created_at", "updated_at"]


@admin.register(TaskBlock)
class TaskBlockAdmin(EntryAdmin):
    list_display = ["title", "project", "status", "start_date", "end_date", "ss_email"]


@admin.register(Comment)
class CommentAdmin(EntryAdmin):
    list_display = ["__str__", "project", "task_block", "ss_email", "created_at"]


@admin.register(Attachment)
class AttachmentAdmin(EntryAdmin):
    list_display = ["name", "project", "task_block", "size", "ss_email", "created_at"]


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(EntryAdmin):
    list_display = ["number", "vendor", "project", "amount", "status", "ss_email"]


@admin.register(WorkOrder)
class WorkOrderAdmin(EntryAdmin):
    list_display = ["number", "description", "project", "is_custom", "amount", "status", "ss_email"]


@admin.register(ProjectSheetLink)
class ProjectSheetLinkAdmin(WorkspaceScopedAdmin):
    list_display = [
        "project",
        "sheet_name",
        "sheet_id",
        "created_from_template",
        "last_outbound_at",
        "last_inbound_at",
    ]
    readonly_fields = [f.name for f in ProjectSheetLink._meta.fields if f.name not in ("id",)]
    search_fields = ["sheet_name", "project__number", "project__name"]

    def has_add_permission(self, request):
        return False  # links are made by provisioning or attaching, which check the columns


@admin.register(RowMapping)
class RowMappingAdmin(ReadOnlyAdmin):
    list_display = [
        "entity_type",
        "entity_id",
        "row_id",
        "remote_version",
        "synced_at",
        "discussion_id",
        "attachment_status",
    ]
    list_filter = ["entity_type", "attachment_status", ("link", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["row_id", "entity_id"]


@admin.register(ProjectSyncRun)
class ProjectSyncRunAdmin(SyncRunAdmin):
    list_display = ["created_at", "project", "direction", *SyncRunAdmin.run_list_display]
    list_filter = ["status", "direction", "trigger", ("project", admin.RelatedOnlyFieldListFilter)]


@admin.register(UnmappedRow)
class UnmappedRowAdmin(WorkspaceScopedAdmin):
    list_display = ["row_id", "name", "type", "state", "link", "last_seen_at"]
    list_filter = ["state", ("link", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = [
        "link",
        "row_id",
        "parent_row_id",
        "cells",
        "state",
        "first_seen_at",
        "last_seen_at",
    ]
    fields = [
        "link",
        "row_id",
        "parent_row_id",
        "cells",
        "state",
        "link_entity_type",
        "link_entity_id",
        "first_seen_at",
        "last_seen_at",
    ]
    actions = ["import_rows", "link_rows", "ignore_rows"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="name")
    def name(self, obj):
        return obj.cells.get("name", "")

    @admin.display(description="type")
    def type(self, obj):
        return obj.cells.get("type", "")

    def _each(self, request, queryset, verb, call):
        act_on_each(
            self,
            request,
            queryset.filter(state=UnmappedRow.State.NEW),
            verb=verb,
            call=call,
            noun="row(s)",
            label=lambda row: f"Row {row.row_id}",
        )

    @admin.action(description="Import as new entries (by their Type)", permissions=["change"])
    def import_rows(self, request, queryset):
        self._each(
            request,
            queryset,
            "Imported",
            lambda row: services.unmapped_import(row=row, actor=request.user),
        )

    @admin.action(
        description="Link to the entity given on the row (type and id)", permissions=["change"]
    )
    def link_rows(self, request, queryset):
        self._each(
            request,
            queryset,
            "Linked",
            lambda row: services.unmapped_link(
                row=row,
                actor=request.user,
                entity_type=row.link_entity_type,
                entity_id=row.link_entity_id or 0,
            ),
        )

    @admin.action(description="Ignore", permissions=["change"])
    def ignore_rows(self, request, queryset):
        self._each(
            request,
            queryset,
            "Ignored",
            lambda row: services.unmapped_ignore(row=row, actor=request.user),
        )


@admin.register(PendingWrite)
class PendingWriteAdmin(ReadOnlyAdmin):
    """Writes an interrupted run had announced; the next run of the project resolves them."""

    list_display = [
        "created_at",
        "operation",
        "entity_type",
        "entity_id",
        "target",
        "batch",
        "position",
        "link",
    ]
    list_filter = ["operation"]

    def has_delete_permission(self, request, obj=None):
        return False
