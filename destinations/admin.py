"""Admin of the destinations app: destinations (the service-role key write-only), their
entities' mapping sets, and the record writes (what was sent, what came back, the failures
with PostgREST's message) with a retry of failed ones."""

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from destinations import services
from destinations.models import Destination, DestinationEntity, RecordWrite
from integrations.accounts.admin import ReadOnlyAdmin, WorkspaceScopedAdmin
from integrations.errors import ApplicationError


class DestinationForm(forms.ModelForm):
    # Never rendered back: the field is empty on every page, and empty keeps the stored key.
    service_key = forms.CharField(
        label="Service-role key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="The project's service_role (or sb_secret_) key. Leave empty to keep the "
        "stored one; it is never shown again.",
    )

    # Declared here so that the model's URLField never builds its own (http-assuming) form field:
    # a project URL typed without a scheme is https.
    url = forms.URLField(
        assume_scheme="https",
        label="Project URL",
        max_length=Destination._meta.get_field("url").max_length,
        help_text=Destination._meta.get_field("url").help_text,
    )

    class Meta:
        model = Destination
        fields = ["workspace", "name", "url", "team_id", "user_id", "email_account_id"]

    def clean_service_key(self):
        # Admin builds the form with every field it shows, this one too: an empty entry must
        # keep the stored key rather than blank it.
        return self.cleaned_data["service_key"] or (
            self.instance.service_key if self.instance.pk else ""
        )


class DestinationEntityInline(admin.TabularInline):
    model = DestinationEntity
    extra = 0
    fields = ["entity", "mapping_set", "conflict_key"]
    # The set is made with the destination (one per entity) and edited in Mapping sets; a
    # choice here would list other workspaces' sets.
    readonly_fields = ["entity", "mapping_set"]

    def has_add_permission(self, request, obj=None):
        return False  # made with the destination, one per entity


@admin.register(Destination)
class DestinationAdmin(WorkspaceScopedAdmin):
    form = DestinationForm
    list_display = ["name", "workspace", "url", "status", "last_tested_at", "key_state"]
    list_filter = ["status"]
    search_fields = ["name", "url"]
    readonly_fields = ["status", "last_error", "last_tested_at", "key_state", "created_at"]
    inlines = [DestinationEntityInline]
    actions = ["test"]

    @admin.display(description="service-role key")
    def key_state(self, obj):
        return "set" if obj.service_key else "not set"

    def save_model(self, request, obj, form, change):
        services.destination_save(
            destination=obj,
            actor=request.user,
            service_key=form.cleaned_data.get("service_key", ""),
        )

    @admin.action(description="Test (key role, each table)", permissions=["act"])
    def test(self, request, queryset):
        for destination in queryset:
            try:
                outcome = services.destination_test(destination=destination, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{destination}: {exc.message}", messages.ERROR)
                continue
            if outcome["ok"]:
                self.message_user(request, f"{destination}: working, every table answers.")
            else:
                self.message_user(request, f"{destination}: {outcome['error']}", messages.ERROR)


@admin.register(RecordWrite)
class RecordWriteAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "entity",
        "status",
        "review",
        "remote_id",
        "error",
        "attempts",
        "created_at",
    ]
    list_filter = ["status", "entity", "destination"]
    search_fields = ["remote_id", "error"]
    readonly_fields = [
        "destination",
        "request",
        "position",
        "entity",
        "status",
        "record",
        "row",
        "children",
        "stored_row",
        "remote_id",
        "change",
        "error",
        "error_code",
        "attempts",
        "created_at",
        "written_at",
    ]
    actions = ["retry"]

    @admin.display(description="review")
    @admin.display(description="stored row (what came back)")
    def stored_row(self, obj):
        stored = obj.stored_row
        if not stored:
            return "-"
        return format_html("<pre>{}</pre>", json.dumps(stored, indent=2, ensure_ascii=False))

    def review(self, obj):
        """A held record's decision (rejected: it is never written)."""
        return obj.change.get_status_display() if obj.change_id else ""

    @admin.action(description="Retry the failed writes", permissions=["act"])
    def retry(self, request, queryset):
        done = failed = 0
        for write in queryset.filter(status=RecordWrite.Status.FAILED):
            try:
                write = services.write_retry(write=write, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{write}: {exc.message}", messages.ERROR)
                continue
            if write.status == RecordWrite.Status.WRITTEN:
                done += 1
            else:
                failed += 1
        self.message_user(request, f"{done} written, {failed} failed again.")
