"""The TimeTracker API: jobs, punching in and out, and the job import (the seed's
`/api/process-approved-jobs`, here under /api/timetracker/)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import Membership
from integrations.errors import ApplicationError
from integrations.filters import MAX_ID
from integrations.runs.api import SYNC_RUN_FIELDS, QuerySerializer, SyncRunSerializer
from timetracker import selectors, services
from timetracker.models import Job, JobSyncRun, Shift


class JobSerializer(serializers.ModelSerializer):
    assigned_to = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "workspace",
            "im_number",
            "general_contractor",
            "job_scope",
            "estimated_hours",
            "assigned_to",
            "context",
            "status",
            "dataverse_id",
            "submittal_status",
            "submittal_status_label",
            "production_phase",
            "production_phase_label",
            "source",
            "created_at",
            "updated_at",
        ]


class JobDetailSerializer(JobSerializer):
    total_hours = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "total_hours"]

    def get_total_hours(self, job) -> float:
        return selectors.total_hours(job=job)


class ShiftSerializer(serializers.ModelSerializer):
    employee = serializers.StringRelatedField()
    job = serializers.CharField(source="job.im_number")
    hours = serializers.FloatField(read_only=True)

    class Meta:
        model = Shift
        fields = ["id", "job", "employee", "punched_in_at", "punched_out_at", "hours", "note"]


class JobRunSerializer(SyncRunSerializer):
    class Meta:
        model = JobSyncRun
        fields = ["workspace", "source", *SYNC_RUN_FIELDS]


class JobsView(generics.ListAPIView):
    serializer_class = JobSerializer

    @extend_schema(
        parameters=[OpenApiParameter("search", str, description="IM number, GC or scope")]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.job_list(
            user=self.request.user, search=self.request.query_params.get("search", "")
        )


class JobView(APIView):
    @extend_schema(responses=JobDetailSerializer)
    def get(self, request, job_id: int):
        return Response(
            JobDetailSerializer(selectors.job_for(user=request.user, job_id=job_id)).data
        )


class PunchInIn(serializers.Serializer):
    job = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PunchInView(APIView):
    """Start a shift on a job (409 already_punched_in while one is open)."""

    @extend_schema(request=PunchInIn, responses={201: ShiftSerializer})
    def post(self, request):
        data = PunchInIn(data=request.data)
        data.is_valid(raise_exception=True)
        job = selectors.job_for(user=request.user, job_id=data.validated_data["job"])
        shift = services.punch_in(user=request.user, job=job, note=data.validated_data["note"])
        return Response(ShiftSerializer(shift).data, status=status.HTTP_201_CREATED)


class PunchOutIn(serializers.Serializer):
    workspace = serializers.IntegerField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PunchOutView(APIView):
    @extend_schema(request=PunchOutIn, responses=ShiftSerializer)
    def post(self, request):
        data = PunchOutIn(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = workspace_of(request, data.validated_data.get("workspace"))
        shift = services.punch_out(
            user=request.user, workspace=workspace, note=data.validated_data["note"]
        )
        return Response(ShiftSerializer(shift).data)


def workspace_of(request, workspace_id, *, role: str | None = None):
    """The workspace named in the request, or the caller's only one (with that role)."""
    if workspace_id is not None:
        return account_selectors.workspace_for(user=request.user, workspace_id=workspace_id)
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    if role:
        memberships = memberships.filter(role=role)
    workspaces = [membership.workspace for membership in memberships[:2]]
    if len(workspaces) != 1:
        raise ApplicationError(
            "Say which workspace: you belong to more than one (or none).",
            details={"workspace": ["This field is required."]},
        )
    return workspaces[0]


class ProcessIn(serializers.Serializer):
    workspace = serializers.IntegerField(required=False)


class ProcessApprovedJobsView(APIView):
    """Queue an import of approved jobs (workspace admins). Answers 202 with the run; poll
    runs/<id> for its progress and counts (added = created, skipped = unchanged, ...)."""

    @extend_schema(request=ProcessIn, responses={202: JobRunSerializer})
    def post(self, request):
        data = ProcessIn(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = workspace_of(
            request, data.validated_data.get("workspace"), role=Membership.Role.ADMIN
        )
        trigger = "button" if request.headers.get("X-Hub-Trigger") == "button" else "api"
        run = services.job_sync_request(workspace=workspace, actor=request.user, trigger=trigger)
        return Response(JobRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunsQuery(QuerySerializer):
    workspace = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this workspace's runs."
    )
    active = serializers.BooleanField(
        required=False, default=False, help_text="Only the run going now (queued or running)."
    )


class RunsView(generics.ListAPIView):
    """Job import runs of your workspaces, newest first. `?workspace=<id>&active=true` is the
    run going now in a workspace (0 or 1): how the jobs page learns of one before it starts
    another, instead of provoking the 409."""

    serializer_class = JobRunSerializer

    @extend_schema(parameters=[RunsQuery])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = RunsQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.run_list(
            user=self.request.user,
            workspace_id=query.validated_data.get("workspace"),
            active=query.validated_data["active"],
        )


class RunView(APIView):
    @extend_schema(responses=JobRunSerializer)
    def get(self, request, run_id: int):
        return Response(JobRunSerializer(selectors.run_for(user=request.user, run_id=run_id)).data)
