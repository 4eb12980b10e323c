"""Admin of the review queue of outgoing writes: approve or reject."""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from integrations import approvals
from integrations.accounts.admin import ReadOnlyAdmin
from integrations.approvals.models import OutboundChange
from integrations.errors import ApplicationError
from integrations.mapping.admin import shown


@admin.register(OutboundChange)
class OutboundChangeAdmin(ReadOnlyAdmin):
    """The review queue. Rows are what a sync planned and are never edited here: a person
    only approves or rejects them, through integrations.approvals (which checks the role)."""

    list_display = [
        "created_at",
        "workspace",
        "owner",
        "operation",
        "target_entity",
        "target_label",
        "status",
        "decided_by",
        "changes_display",
    ]
    list_filter = ["status", "owner", "operation", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["target_label", "target_id", "target_entity"]
    list_select_related = ["workspace", "decided_by"]
    date_hierarchy = "created_at"
    actions = ["approve_changes", "reject_changes"]
    fields = [
        "workspace",
        "owner",
        "connection",
        "mapping_set",
        "target_entity",
        "target_id",
        "target_label",
        "operation",
        "changes_display",
        "payload",
        "status",
        "decided_by",
        "decided_at",
        "note",
        "applied_at",
        "error",
        "created_at",
    ]
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return False  # a decided change is part of the record of what was written

    @admin.display(description="changes")
    def changes_display(self, obj):
        if not obj.changes:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{}: {} → {}</li>",
                (
                    (
                        name,
                        shown(change.get("before")) if isinstance(change, dict) else "—",
                        shown(change.get("after") if isinstance(change, dict) else change),
                    )
                    for name, change in obj.changes.items()
                ),
            ),
        )

    def _decide(self, request, queryset, decide, verb: str) -> None:
        try:
            decided, skipped = decide(changes=queryset, actor=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        text = f"{verb} {len(decided)}"
        if skipped:
            text += f"; {len(skipped)} skipped (already decided)"
        self.message_user(request, f"{text}.", messages.SUCCESS if decided else messages.WARNING)

    @admin.action(description="Approve selected", permissions=["act"])
    def approve_changes(self, request, queryset):
        self._decide(request, queryset, approvals.approve, "Approved")

    @admin.action(description="Reject selected", permissions=["act"])
    def reject_changes(self, request, queryset):
        self._decide(request, queryset, approvals.reject, "Rejected")
