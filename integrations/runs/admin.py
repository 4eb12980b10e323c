"""SyncRunAdmin: the base of every app's run admin."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from integrations.accounts.admin import ReadOnlyAdmin


class SyncRunAdmin(ReadOnlyAdmin):
    """Base of every app's run admin: the summary, the per-item errors and the
    last-write-wins decisions as lists instead of raw JSON."""

    run_list_display = ["status", "summary_text", "api_calls", "retries", "duration"]
    exclude = ["errors", "overwrites"]

    def get_readonly_fields(self, request, obj=None):
        return [
            f.name for f in self.model._meta.fields if f.name not in ("errors", "overwrites")
        ] + ["error_list", "overwrite_list"]

    @admin.display(description="summary")
    def summary_text(self, obj):
        return obj.message or obj.summary()

    @admin.display(description="errors")
    def error_list(self, obj):
        if not obj.errors:
            return "—"
        more = (
            f" (and {obj.error_count - len(obj.errors)} more)"
            if obj.error_count > len(obj.errors)
            else ""
        )
        return format_html(
            "<ul>{}</ul>{}",
            format_html_join(
                "", "<li>{}: {}</li>", ((e["item"], e["message"]) for e in obj.errors)
            ),
            more,
        )

    @admin.display(description="last-write-wins decisions")
    def overwrite_list(self, obj):
        if not obj.overwrites:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "", "<li>{}: {}</li>", ((e["item"], e["message"]) for e in obj.overwrites)
            ),
        )
