"""Admin of Project migration: runs (start one by picking projects — a dry run or a real one —,
"Run for real" from a dry run, start a stopped one again, the plan and the report with its
CSV / JSON downloads) and the report's findings, filterable."""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from integrations.accounts import selectors as account_selectors
from integrations.accounts.admin import ReadOnlyAdmin
from integrations.accounts.models import Membership
from integrations.connections import http
from integrations.connections.admin import act_on_each
from integrations.connections.models import Connection
from integrations.errors import ApplicationError
from integrations.runs.admin import SyncRunAdmin
from migration import selectors, services
from migration.runs import STAGE_LABELS, MigrationIssue, MigrationRun
from migration.sources.project_online import list_projects

OWN_FIELDS = ("plan", "stages", "results", "sources")


class StartForm(forms.Form):
    source_connection = forms.ModelChoiceField(
        queryset=Connection.objects.none(), label="Project Online connection"
    )
    target_connection = forms.ModelChoiceField(
        queryset=Connection.objects.none(), label="Smartsheet connection", required=False
    )
    projects = forms.MultipleChoiceField(
        choices=[], required=False, widget=forms.CheckboxSelectMultiple
    )
    accept_errors = forms.BooleanField(
        required=False,
        label="Migrate projects whose plan has errors too",
        help_text="Rows in error are left out; without this such a project is not migrated.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        connections = account_selectors.scope_to_user(
            Connection.objects.select_related("workspace").filter(status__in=selectors.USABLE),
            user,
            role=Membership.Role.ADMIN,
        )
        self.fields["source_connection"].queryset = connections.filter(
            provider=selectors.SOURCE_PROVIDER
        )
        self.fields["target_connection"].queryset = connections.filter(
            provider=selectors.TARGET_PROVIDER
        )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One or many files from one input (Django's documented pattern)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": FILE_TYPES}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


# What the file picker offers first; mpxj reads the format from the content, whatever the name.
FILE_TYPES = ".mpp,.mpt,.xml,.mpx,.xer,.pmxml,.pp,.gan,.planner,.mpd"


class FilesForm(forms.Form):
    target_connection = forms.ModelChoiceField(
        queryset=Connection.objects.none(), label="Smartsheet connection"
    )
    files = MultipleFileField(
        label="MS Project files",
        help_text="MPP, MPT, MSPDI XML, MPX, XER, … — one project each; at most "
        "MIGRATION_MAX_UPLOAD_MB each.",
    )
    accept_errors = StartForm.base_fields["accept_errors"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_connection"].queryset = account_selectors.scope_to_user(
            Connection.objects.select_related("workspace").filter(
                status__in=selectors.USABLE, provider=selectors.TARGET_PROVIDER
            ),
            user,
            role=Membership.Role.ADMIN,
        )


class MigrationRunAdmin(SyncRunAdmin):
    list_display = [
        "pk",
        "created_at",
        "workspace",
        "kind",
        "project_count",
        "trigger",
        "issue_errors",
        "issue_warnings",
        *SyncRunAdmin.run_list_display,
    ]
    list_display_links = ["pk", "created_at"]
    list_filter = ["status", "dry_run", "trigger"]
    change_list_template = "admin/migration/migrationrun/change_list.html"
    change_form_template = "admin/migration/migrationrun/change_form.html"
    actions = ["run_for_real", "run_again"]

    def get_readonly_fields(self, request, obj=None):
        return [
            name for name in super().get_readonly_fields(request, obj) if name not in OWN_FIELDS
        ] + ["progress_view", "results_view", "plan_view", "report_view"]

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or []), *OWN_FIELDS]

    @admin.display(description="kind", ordering="dry_run")
    def kind(self, obj):
        return "dry run" if obj.dry_run else "real run"

    @admin.display(description="projects")
    def project_count(self, obj):
        return len(obj.project_ids)

    @admin.display(description="progress per project and stage")
    def progress_view(self, obj):
        names = selectors.project_names(obj)
        rows = []
        for pid, stages in obj.stages.items():
            cells = ", ".join(
                f"{STAGE_LABELS.get(stage, stage)} {cell['done']}/{cell['total']} ({cell['state']})"
                for stage, cell in stages.items()
            )
            rows.append((names.get(pid, pid), cells))
        if not rows:
            return "—"
        return format_html(
            "<p><a href='{}'>The run's page</a> (updates as it goes)</p><ul>{}</ul>",
            reverse("migration-run", args=[obj.pk]),
            format_html_join("", "<li><strong>{}</strong>: {}</li>", rows),
        )

    @admin.display(description="summary per project")
    def results_view(self, obj):
        if not obj.results:
            return "—"
        items = []
        for pid, result in obj.results.items():
            link = (
                format_html(
                    "<a href='{}' target='_blank' rel='noopener'>{}</a>",
                    result["permalink"],
                    result.get("sheet_workspace_name") or result["permalink"],
                )
                if result.get("permalink")
                else result.get("sheet_workspace_name") or "—"
            )
            items.append(
                format_html(
                    "<li><strong>{}</strong>: workspace {} · {} rows created, {} updated · "
                    "{} errors, {} warnings{}</li>",
                    result.get("name") or pid,
                    link,
                    result.get("rows_created", 0),
                    result.get("rows_updated", 0),
                    result.get("errors", 0),
                    result.get("warnings", 0),
                    f" · {result['left_out']}" if result.get("left_out") else "",
                )
            )
        return format_html("<ul>{}</ul>", format_html_join("", "{}", ((i,) for i in items)))

    @admin.display(description="plan")
    def plan_view(self, obj):
        if not obj.plan:
            return "—"
        sheets = [
            (w["name"], s["name"], len(s["columns"]), len(s["rows"]), len(s["predecessors"]))
            for w in obj.plan.get("workspaces", [])
            for s in w["sheets"]
        ]
        return format_html(
            "<ul>{}</ul><p><a href='{}#plan'>See the plan</a> · "
            "<a href='{}' download>Download it as JSON</a></p>",
            format_html_join(
                "",
                "<li>{} / {}: {} columns, {} rows, {} with predecessors</li>",
                sheets,
            ),
            reverse("migration-run", args=[obj.pk]),
            reverse("api-migration-plan", args=[obj.pk]),
        )

    @admin.display(description="report")
    def report_view(self, obj):
        issues = reverse("admin:migration_migrationissue_changelist")
        return format_html(
            "{} errors, {} warnings · <a href='{}?run__id__exact={}'>findings</a> "
            "(<a href='{}?run__id__exact={}&severity__exact=error'>errors only</a>) · "
            "<a href='{}' download>CSV</a> · <a href='{}' download>JSON</a>",
            obj.issue_errors,
            obj.issue_warnings,
            issues,
            obj.pk,
            issues,
            obj.pk,
            reverse("api-migration-report-csv", args=[obj.pk]),
            reverse("api-migration-report", args=[obj.pk]),
        )

    # --- actions -------------------------------------------------------------------------------

    @admin.action(description="Run for real (the dry runs' plans, unchanged)", permissions=["act"])
    def run_for_real(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset.select_related("workspace", "source_connection", "target_connection"),
            verb="Running for real",
            noun="plan(s)",
            label=lambda run: f"Run {run.pk}",
            call=lambda run: services.migration_run_from_plan(
                run=run, user=request.user, trigger=MigrationRun.Trigger.ADMIN
            ),
        )

    @admin.action(description="Start again (resume: nothing is written twice)", permissions=["act"])
    def run_again(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset.select_related("workspace", "source_connection", "target_connection"),
            verb="Started again",
            noun="run(s)",
            label=lambda run: f"Run {run.pk}",
            call=lambda run: services.migration_resume(
                run=run, user=request.user, trigger=MigrationRun.Trigger.ADMIN
            ),
        )

    # --- picking projects and starting a run --------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "start/",
                self.admin_site.admin_view(self.start_view),
                name="{}_{}_start".format(*info),
            ),
            path(
                "start-files/",
                self.admin_site.admin_view(self.start_files_view),
                name="{}_{}_start_files".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_start": self.has_act_permission(request)}
        return super().changelist_view(request, extra_context)

    def start_view(self, request):
        """Pick a Project Online connection, then its projects and the Smartsheet connection,
        and start a dry run or a real run."""
        if not self.has_act_permission(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else (request.GET or None)
        form = StartForm(data, user=request.user)
        projects, source = [], None
        if form.is_bound:
            # The source alone first: its projects are the choices the whole form is checked by.
            try:
                source = form.fields["source_connection"].clean(form.data.get("source_connection"))
            except ValidationError:
                source = None
        if source is not None:
            try:
                projects = list_projects(source)
            except (ApplicationError, http.ProviderError) as exc:
                self.message_user(
                    request, f"Could not list the projects: {exc.message}", messages.ERROR
                )
            form.fields["projects"].choices = [
                (str(p.id), f"{p.name} (modified {p.modified})") for p in projects
            ]
        if request.method == "POST" and source is not None and form.is_valid():
            started = self._start(
                request,
                lambda: services.migration_start(
                    hub_workspace=source.workspace,
                    user=request.user,
                    source_connection=source,
                    target_connection=form.cleaned_data["target_connection"],
                    project_ids=form.cleaned_data["projects"],
                    dry_run="_real" not in request.POST,
                    accept_errors=form.cleaned_data["accept_errors"],
                    trigger=MigrationRun.Trigger.ADMIN,
                ),
            )
            if started is not None:
                return started
        return self._start_page(
            request,
            "admin/migration/migrationrun/start.html",
            "Migrate Project Online projects",
            form=form,
            source=source,
            projects=projects,
        )

    def _start(self, request, start: Callable[[], MigrationRun]):
        """A run started by `start`, announced, and its page; a refusal is the form's
        message (None: the form is shown again)."""
        try:
            run = start()
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        kind = "Dry run" if run.dry_run else "Migration"
        self.message_user(request, f"{kind} {run.pk} started.", messages.SUCCESS)
        return redirect("migration-run", run_id=run.pk)

    def _start_page(self, request, template: str, title: str, **context):
        return TemplateResponse(
            request,
            template,
            {**self.admin_site.each_context(request), "opts": self.opts, "title": title, **context},
        )

    def start_files_view(self, request):
        """Upload one or many MS Project files and start a dry run or a real run of them (the
        worker reads them; this request only keeps them)."""
        if not self.has_act_permission(request):
            raise PermissionDenied
        form = FilesForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
            user=request.user,
        )
        if request.method == "POST" and form.is_valid():
            target = form.cleaned_data["target_connection"]

            @transaction.atomic
            def start() -> MigrationRun:
                files = [
                    services.migration_file_add(
                        hub_workspace=target.workspace,
                        user=request.user,
                        name=upload.name,
                        content=upload,
                    )
                    for upload in form.cleaned_data["files"]
                ]
                return services.migration_start_files(
                    hub_workspace=target.workspace,
                    user=request.user,
                    files=files,
                    target_connection=target,
                    dry_run="_real" not in request.POST,
                    accept_errors=form.cleaned_data["accept_errors"],
                    trigger=MigrationRun.Trigger.ADMIN,
                )

            started = self._start(request, start)
            if started is not None:
                return started
        return self._start_page(
            request,
            "admin/migration/migrationrun/start_files.html",
            "Migrate MS Project files",
            form=form,
        )


class MigrationIssueAdmin(ReadOnlyAdmin):
    list_display = [
        "run",
        "severity",
        "stage",
        "entity",
        "entity_id",
        "field",
        "rule",
        "short_value",
        "message",
    ]
    list_filter = ["severity", "stage", "entity", "rule"]
    search_fields = ["entity_id", "field", "rule", "value", "message", "project_id"]
    list_select_related = ["run"]

    @admin.display(description="value")
    def short_value(self, obj):
        return obj.value if len(obj.value) <= 80 else f"{obj.value[:79]}…"


admin.site.register(MigrationRun, MigrationRunAdmin)
admin.site.register(MigrationIssue, MigrationIssueAdmin)
