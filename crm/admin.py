"""Admin of CRM sync: the app's accounts and contacts, the configs with their mapping sets, the
runs (logs), the links, HubSpot's webhook notifications and the conflicts."""

from django.contrib import admin, messages

from crm.models import (
    Account,
    Contact,
    CrmConfig,
    CrmEntityMapping,
    CrmLink,
    HubSpotWebhookEvent,
    SyncConflict,
    SyncLog,
)
from integrations.accounts.admin import WorkspaceScopedAdmin
from integrations.runs.admin import SyncRunAdmin


@admin.register(Account)
class AccountAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "domain", "industry", "phone", "workspace", "owner", "updated_at"]
    list_filter = ["industry"]
    search_fields = ["name", "domain", "website"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Contact)
class ContactAdmin(WorkspaceScopedAdmin):
    list_display = ["last_name", "first_name", "email", "title", "account", "workspace"]
    search_fields = ["first_name", "last_name", "email"]
    readonly_fields = ["created_at", "updated_at"]
    autocomplete_fields = ["account"]


class EntityMappingInline(admin.TabularInline):
    model = CrmEntityMapping
    extra = 0
    fields = ["entity", "mapping_set"]


@admin.register(CrmConfig)
class CrmConfigAdmin(WorkspaceScopedAdmin):
    list_display = [
        "provider",
        "workspace",
        "status",
        "sync_direction",
        "sync_frequency",
        "conflict_resolution",
        "last_sync_at",
        "next_sync_at",
    ]
    list_filter = ["provider", "status", "sync_frequency"]
    readonly_fields = [
        "status_reason",
        "resume_at",
        "last_sync_at",
        "last_sync_status",
        "last_sync_error",
        "next_sync_at",
        "api_usage",
        "cursors",
        "created_by",
        "created_at",
        "updated_at",
    ]
    inlines = [EntityMappingInline]
    actions = ["sync_now", "dry_run"]

    @admin.action(description="Sync now", permissions=["change"])
    def sync_now(self, request, queryset):
        self._queue(request, queryset, dry_run=False)

    @admin.action(description="Dry run (plan only, change nothing)", permissions=["change"])
    def dry_run(self, request, queryset):
        self._queue(request, queryset, dry_run=True)

    def _queue(self, request, queryset, *, dry_run: bool) -> None:
        from crm import services
        from integrations.errors import ApplicationError

        for config in queryset:
            for entity in services.ordered_entities(config):
                try:
                    run = services.sync_request(
                        config=config,
                        entity=entity,
                        actor=request.user,
                        trigger=SyncLog.Trigger.ADMIN,
                        dry_run=dry_run,
                    )
                except ApplicationError as exc:
                    self.message_user(
                        request, f"{config}, {entity}s: {exc.message}", messages.ERROR
                    )
                else:
                    self.message_user(
                        request,
                        f"{config}, {entity}s: {'dry run' if dry_run else 'run'} {run.pk} queued.",
                    )


@admin.register(SyncLog)
class SyncLogAdmin(SyncRunAdmin):
    list_display = ["__str__", "config", "entity", "direction", *SyncRunAdmin.run_list_display]
    list_filter = ["status", "entity", "direction", "dry_run"]
    # Rows stay read-only; the action queues a new run (the service checks the workspace role).
    actions = ["undo"]

    def has_undo_permission(self, request) -> bool:
        # The rows are read-only, yet undoing queues a run: staff who may change runs.
        return request.user.has_perm("crm.change_synclog")

    @admin.action(
        description="Undo the selected runs (put back what they changed)", permissions=["undo"]
    )
    def undo(self, request, queryset):
        from crm import services
        from integrations.errors import ApplicationError

        for log in queryset.select_related("workspace"):
            try:
                run = services.sync_undo(log=log, actor=request.user, trigger=SyncLog.Trigger.ADMIN)
            except ApplicationError as exc:  # a refusal, or not an admin of its workspace
                self.message_user(request, f"Run {log.pk}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"Run {log.pk}: undo queued as run {run.pk}.")


@admin.register(CrmLink)
class CrmLinkAdmin(WorkspaceScopedAdmin):
    list_display = ["__str__", "config", "entity", "remote_version", "synced_at"]
    list_filter = ["entity"]
    search_fields = ["remote_id"]

    def has_add_permission(self, request):
        return False  # links are the sync's to make


@admin.register(HubSpotWebhookEvent)
class HubSpotWebhookEventAdmin(WorkspaceScopedAdmin):
    """What HubSpot's webhooks announced, to see that they arrive and are read; HubSpot's to
    send and the sync's to read, so nobody adds or edits one here."""

    list_display = ["__str__", "config", "entity", "change_source", "received_at", "read_at"]
    list_filter = ["entity", "subscription_type"]
    search_fields = ["object_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SyncConflict)
class SyncConflictAdmin(WorkspaceScopedAdmin):
    list_display = ["__str__", "config", "entity", "status", "strategy", "detected_at"]
    list_filter = ["status", "entity"]
    readonly_fields = [
        "log",
        "app_data",
        "crm_data",
        "base_data",
        "conflicting_fields",
        "resolved_by",
        "resolved_at",
        "detected_at",
    ]
