"""Admin of the TimeTracker: employees (soft delete), jobs, shifts and job sync runs."""

from django.contrib import admin

from integrations.accounts.admin import WorkspaceScopedAdmin
from integrations.connections.admin import act_on_each
from integrations.runs.admin import SyncRunAdmin
from timetracker import services
from timetracker.models import Employee, Job, JobSyncRun, Shift


class DeletedFilter(admin.SimpleListFilter):
    title = "removed"
    parameter_name = "removed"

    def lookups(self, request, model_admin):
        return [("no", "Current"), ("yes", "Removed")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_date__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_date__isnull=False)
        return queryset


@admin.register(Employee)
class EmployeeAdmin(WorkspaceScopedAdmin):
    list_display = ["full_name", "email", "department", "workspace", "user", "deleted_date"]
    list_filter = [DeletedFilter, "department"]
    search_fields = ["first_name", "last_name", "email"]
    readonly_fields = ["deleted_date", "created_at", "updated_at"]
    actions = ["remove", "restore"]

    @admin.action(description="Remove (soft delete; shifts are kept)", permissions=["change"])
    def remove(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset.filter(deleted_date__isnull=True),
            verb="Removed (their shifts stay in the reports)",
            noun="employee(s)",
            call=lambda e: services.employee_soft_delete(employee=e, actor=request.user),
        )

    @admin.action(description="Restore", permissions=["change"])
    def restore(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset.filter(deleted_date__isnull=False),
            verb="Restored",
            noun="employee(s)",
            call=lambda e: services.employee_restore(employee=e, actor=request.user),
        )


@admin.register(Job)
class JobAdmin(WorkspaceScopedAdmin):
    list_display = [
        "im_number",
        "general_contractor",
        "submittal_status_label",
        "production_phase_label",
        "status",
        "source",
        "created_at",
    ]
    list_filter = ["status", "source", "submittal_status_label"]
    search_fields = ["im_number", "general_contractor", "job_scope", "dataverse_id"]
    readonly_fields = ["source", "created_at", "updated_at"]


@admin.register(Shift)
class ShiftAdmin(WorkspaceScopedAdmin):
    list_display = ["employee", "job", "punched_in_at", "punched_out_at", "hours"]
    list_filter = [("employee", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["job__im_number", "employee__email", "note"]
    date_hierarchy = "punched_in_at"


@admin.register(JobSyncRun)
class JobSyncRunAdmin(SyncRunAdmin):
    list_display = ["created_at", "workspace", "source", "trigger", *SyncRunAdmin.run_list_display]
    list_filter = ["status", "source", "trigger"]
    actions = ["sync_again"]

    @admin.action(description="Run the job import again for these workspaces", permissions=["act"])
    def sync_again(self, request, queryset):
        act_on_each(
            self,
            request,
            {run.workspace for run in queryset.select_related("workspace")},
            verb="Queued a job import for",
            noun="workspace(s)",
            call=lambda w: services.job_sync_request(
                workspace=w, actor=request.user, trigger=JobSyncRun.Trigger.ADMIN
            ),
        )
