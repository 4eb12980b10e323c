"""DRF views of Project migration: validate, call a service or selector, serialize.

Members of a workspace read its runs, reports and plans; its admins start runs (the services
refuse anyone else, 403). Another workspace's run or connection is a 404. The report downloads
as JSON (`/report`) and CSV (`/report.csv`); the plan as JSON (`/plan`)."""

import csv
import io

from django.db import transaction
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, parsers, renderers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import Membership
from integrations.errors import ApplicationError, NotFound
from integrations.filters import MAX_ID
from integrations.runs.api import SYNC_RUN_FIELDS, QuerySerializer, SyncRunSerializer
from migration import selectors, services
from migration.runs import MigrationIssue, MigrationRun
from migration.sources.project_online import list_projects

ISSUE_FIELDS = [
    "project_id",
    "severity",
    "stage",
    "entity",
    "entity_id",
    "field",
    "rule",
    "value",
    "message",
]

PROVIDER_ERRORS = {
    code: OpenApiResponse(response={"$ref": "#/components/schemas/Error"}, description=text)
    for code, text in (
        (502, "Project Online failed or refused our call."),
        (503, "Project Online is rate-limiting us: retry after the Retry-After header's seconds."),
    )
}


class CsvRenderer(renderers.BaseRenderer):
    """A list of flat objects as CSV with a header row (an error answer: its code and
    message)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        if isinstance(data, dict) and "error" in data:
            rows, fields = [data["error"]], ["code", "message"]
        else:
            rows, fields = data or [], ISSUE_FIELDS
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")


def trigger_of(request) -> str:
    return "button" if request.headers.get("X-Hub-Trigger") == "button" else "api"


def workspace_of(request, workspace_id):
    """The workspace named in the request, or the caller's only one."""
    if workspace_id is not None:
        return account_selectors.workspace_for(user=request.user, workspace_id=workspace_id)
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    workspaces = [membership.workspace for membership in memberships[:2]]
    if len(workspaces) != 1:
        raise ApplicationError(
            "Say which workspace: you belong to more than one (or none).",
            details={"workspace": ["This field is required."]},
        )
    return workspaces[0]


# --- serializers ---------------------------------------------------------------------------------


class StageOut(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["waiting", "running", "done", "failed", "skipped"])


class MigrationRunSerializer(SyncRunSerializer):
    stages = serializers.DictField(
        child=serializers.DictField(child=StageOut()),
        read_only=True,
        help_text="Per project id, per stage (extract, transform, workspace, sheets, rows, "
        "predecessors, report): done/total and its state.",
    )
    results = serializers.DictField(
        child=serializers.DictField(),
        read_only=True,
        help_text="Per project id: name, sheet_workspace_name, sheet_workspace_id, permalink, "
        "sheets, rows_created, rows_updated, errors, warnings (left_out: why it was not "
        "migrated).",
    )
    page_url = serializers.SerializerMethodField()

    class Meta:
        model = MigrationRun
        fields = [
            "workspace",
            "dry_run",
            "accept_errors",
            "source_kind",
            "project_ids",
            "source_connection",
            "target_connection",
            "runs_plan",
            "plan_made_at",
            "issue_errors",
            "issue_warnings",
            "stages",
            "results",
            "page_url",
            *SYNC_RUN_FIELDS,
        ]

    def get_page_url(self, run) -> str:
        return reverse("migration-run", args=[run.pk])


class IssueOut(serializers.ModelSerializer):
    class Meta:
        model = MigrationIssue
        fields = ISSUE_FIELDS


class ReportOut(serializers.Serializer):
    run = serializers.IntegerField()
    errors = serializers.IntegerField()
    warnings = serializers.IntegerField()
    issues = IssueOut(many=True)


class ProjectOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    modified = serializers.CharField(allow_null=True)


class RunIn(serializers.Serializer):
    """What every start of a run names: where it belongs, where it writes, and whether it only
    plans (StartIn and FilesIn add their source)."""

    workspace = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="The hub workspace."
    )
    target_connection = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The Smartsheet connection."
    )
    dry_run = serializers.BooleanField(
        default=True, help_text="Plan and report only, writing nothing (the default)."
    )


class StartIn(RunIn):
    source_connection = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The Project Online connection."
    )
    project_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, max_length=500
    )
    accept_errors = serializers.BooleanField(
        default=False, help_text="Migrate projects whose plan has errors too."
    )


class FromPlanIn(serializers.Serializer):
    accept_errors = serializers.BooleanField(
        default=False, help_text="Run the plan even though its report has errors."
    )


class RunsQuery(QuerySerializer):
    workspace = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this workspace's runs."
    )
    active = serializers.BooleanField(
        required=False, default=False, help_text="Only the run going now (queued or running)."
    )


class ReportQuery(QuerySerializer):
    severity = serializers.ChoiceField(
        choices=MigrationIssue.Severity.choices, required=False, default=""
    )
    stage = serializers.ChoiceField(
        choices=MigrationIssue.Stage.choices, required=False, default=""
    )
    project = serializers.CharField(
        required=False, default="", max_length=64, help_text="Only this project's findings."
    )


def _valid(serializer_class, data) -> dict:
    given = serializer_class(data=data)
    given.is_valid(raise_exception=True)
    return given.validated_data


# --- views ---------------------------------------------------------------------------------------


class SourceProjectsView(APIView):
    """The projects of a Project Online connection, to pick from."""

    @extend_schema(
        responses={
            200: ProjectOut(many=True),
            409: OpenApiResponse(
                response={"$ref": "#/components/schemas/Error"},
                description="The connection is paused or must be connected again.",
            ),
            **PROVIDER_ERRORS,
        }
    )
    def get(self, request, connection_id: int):
        connection = selectors.connection_for(
            user=request.user, connection_id=connection_id, provider=selectors.SOURCE_PROVIDER
        )
        projects = list_projects(connection)
        return Response(
            ProjectOut(
                [{"id": p.id, "name": p.name, "modified": _text(p.modified)} for p in projects],
                many=True,
            ).data
        )


class RunsView(generics.ListAPIView):
    """Migration runs of your workspaces, newest first (GET); start one (POST, workspace
    admins: 202 with the run, whose progress `runs/<id>` gives)."""

    serializer_class = MigrationRunSerializer

    @extend_schema(parameters=[RunsQuery])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = _valid(RunsQuery, self.request.query_params)
        return selectors.run_list(
            user=self.request.user,
            workspace_id=query.get("workspace"),
            active=query["active"],
        )

    @extend_schema(request=StartIn, responses={202: MigrationRunSerializer})
    def post(self, request):
        data = _valid(StartIn, request.data)
        workspace = workspace_of(request, data.get("workspace"))
        source = selectors.connection_for(
            user=request.user,
            connection_id=data["source_connection"],
            provider=selectors.SOURCE_PROVIDER,
        )
        target = selectors.connection_for(
            user=request.user,
            connection_id=data["target_connection"],
            provider=selectors.TARGET_PROVIDER,
        )
        run = services.migration_start(
            hub_workspace=workspace,
            user=request.user,
            source_connection=source,
            target_connection=target,
            project_ids=data["project_ids"],
            dry_run=data["dry_run"],
            accept_errors=data["accept_errors"],
            trigger=trigger_of(request),
        )
        return Response(MigrationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class FilesIn(RunIn):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        min_length=1,
        max_length=500,
        help_text="MS Project files (MPP, MPT, MSPDI XML, MPX, XER, ...): one project each, "
        "each at most MIGRATION_MAX_UPLOAD_MB.",
    )
    accept_errors = serializers.BooleanField(
        default=False, help_text="Migrate files whose plan has errors too."
    )


class FileRunsView(APIView):
    """Upload one or many MS Project files (multipart) and start their migration (workspace
    admins: 202 with the run, whose progress `runs/<id>` gives). The worker reads the files;
    one that cannot be read is named in the run with the reason. 413 for a file over
    MIGRATION_MAX_UPLOAD_MB."""

    parser_classes = [parsers.MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": FilesIn},
        responses={
            202: MigrationRunSerializer,
            413: OpenApiResponse(
                response={"$ref": "#/components/schemas/Error"},
                description="A file is larger than MIGRATION_MAX_UPLOAD_MB.",
            ),
        },
    )
    def post(self, request):
        data = _valid(FilesIn, request.data)
        workspace = workspace_of(request, data.get("workspace"))
        target = selectors.connection_for(
            user=request.user,
            connection_id=data["target_connection"],
            provider=selectors.TARGET_PROVIDER,
        )
        with transaction.atomic():
            files = [
                services.migration_file_add(
                    hub_workspace=workspace, user=request.user, name=upload.name, content=upload
                )
                for upload in data["files"]
            ]
            run = services.migration_start_files(
                hub_workspace=workspace,
                user=request.user,
                files=files,
                target_connection=target,
                dry_run=data["dry_run"],
                accept_errors=data["accept_errors"],
                trigger=trigger_of(request),
            )
        return Response(MigrationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunView(APIView):
    """A run with its progress per project and stage and, once done, its summary."""

    @extend_schema(responses=MigrationRunSerializer)
    def get(self, request, run_id: int):
        run = selectors.run_for(user=request.user, run_id=run_id)
        return Response(MigrationRunSerializer(run).data)


class RunForRealView(APIView):
    """Run a dry run's plan for real, unchanged (202 with the new run; 409 plan_not_usable
    when the plan is missing, failed, too old, or has errors not accepted)."""

    @extend_schema(request=FromPlanIn, responses={202: MigrationRunSerializer})
    def post(self, request, run_id: int):
        run = selectors.run_for(user=request.user, run_id=run_id)
        data = _valid(FromPlanIn, request.data)
        new = services.migration_run_from_plan(
            run=run,
            user=request.user,
            accept_errors=data["accept_errors"],
            trigger=trigger_of(request),
        )
        return Response(MigrationRunSerializer(new).data, status=status.HTTP_202_ACCEPTED)


class ResumeView(APIView):
    """Start a stopped run again (202 with the new run): what the old one wrote is updated,
    not written twice."""

    @extend_schema(request=None, responses={202: MigrationRunSerializer})
    def post(self, request, run_id: int):
        run = selectors.run_for(user=request.user, run_id=run_id)
        new = services.migration_resume(run=run, user=request.user, trigger=trigger_of(request))
        return Response(MigrationRunSerializer(new).data, status=status.HTTP_202_ACCEPTED)


class ReportView(APIView):
    """A run's report: every finding of its extract, transform and load, per entity and field."""

    @extend_schema(parameters=[ReportQuery], responses=ReportOut)
    def get(self, request, run_id: int):
        run = selectors.run_for(user=request.user, run_id=run_id)
        query = _valid(ReportQuery, request.query_params)
        issues = selectors.issue_list(
            run=run, severity=query["severity"], stage=query["stage"], project_id=query["project"]
        )
        return Response(
            ReportOut(
                {
                    "run": run.pk,
                    "errors": run.issue_errors,
                    "warnings": run.issue_warnings,
                    "issues": issues,
                }
            ).data,
            headers={"Content-Disposition": f'inline; filename="migration-{run.pk}-report.json"'},
        )


class ReportCsvView(APIView):
    """The report as CSV, one finding per line."""

    renderer_classes = [CsvRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors (and OPTIONS' description) keep the API's JSON, whatever the download's type.
        if response.status_code >= 400 or request.method != "GET":
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        parameters=[ReportQuery],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")},
    )
    def get(self, request, run_id: int):
        run = selectors.run_for(user=request.user, run_id=run_id)
        query = _valid(ReportQuery, request.query_params)
        issues = selectors.issue_list(
            run=run, severity=query["severity"], stage=query["stage"], project_id=query["project"]
        )
        return Response(
            IssueOut(issues, many=True).data,
            headers={
                "Content-Disposition": f'attachment; filename="migration-{run.pk}-report.csv"'
            },
        )


class PlanView(APIView):
    """The plan a run made (or loaded): workspaces, sheets, columns with types and options,
    rows with values and parents, predecessors, PMO Standards and the findings. 404 while
    the run has none."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, run_id: int):
        run = selectors.run_for(user=request.user, run_id=run_id)
        if not run.plan:
            raise NotFound(f"Run {run.pk} has no plan (yet).", code="no_plan")
        return Response(
            run.plan,
            headers={"Content-Disposition": f'inline; filename="migration-{run.pk}-plan.json"'},
        )


def _text(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
