"""The projects API: projects, their timeline, their Smartsheet sheet and its sync runs."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.accounts import selectors as account_selectors
from integrations.errors import NotFound
from integrations.parsers import JSONParser
from integrations.runs.api import SYNC_RUN_FIELDS, QuerySerializer, SyncRunSerializer
from projects import selectors, services
from projects.models import (
    ENTITY_MODELS,
    Project,
    ProjectSheetLink,
    ProjectSyncRun,
    Status,
    TaskBlock,
    UnmappedRow,
)


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = [
            "id",
            "workspace",
            "number",
            "name",
            "status",
            "start_date",
            "end_date",
            "contract_amount",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class ProjectIn(serializers.ModelSerializer):
    # A plain id: a related field would answer 400 for a missing workspace and 404 for a
    # foreign one, telling them apart.
    workspace = serializers.IntegerField()

    class Meta:
        model = Project
        fields = [
            "workspace",
            "number",
            "name",
            "status",
            "start_date",
            "end_date",
            "contract_amount",
            "notes",
        ]


class LinkSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProjectSheetLink
        fields = [
            "sheet_id",
            "sheet_name",
            "permalink",
            "created_from_template",
            "created_at",
            "last_outbound_at",
            "last_inbound_at",
        ]


class RunSerializer(SyncRunSerializer):
    direction_label = serializers.CharField(source="get_direction_display", read_only=True)

    class Meta:
        model = ProjectSyncRun
        fields = ["direction", "direction_label", *SYNC_RUN_FIELDS]


class EntrySerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.IntegerField()
    title = serializers.CharField()
    task_block = serializers.IntegerField(allow_null=True)
    author = serializers.CharField()
    ss_user_id = serializers.CharField()
    ss_email = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    created_at = serializers.DateTimeField()


def entry_json(entry) -> dict:
    return {
        "kind": entry._meta.model_name,
        "id": entry.pk,
        "title": str(entry),
        "task_block": getattr(entry, "task_block_id", None),
        "author": entry.author.email if entry.author else "",
        "ss_user_id": entry.ss_user_id,
        "ss_email": entry.ss_email,
        "amount": getattr(entry, "amount", None),
        "created_at": entry.created_at,
    }


class _Entry(serializers.Serializer):
    task_block = serializers.IntegerField(required=False, allow_null=True)


class CommentIn(_Entry):
    text = serializers.CharField(max_length=10_000)


class TaskBlockIn(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    notes = serializers.CharField(required=False, allow_blank=True)


class PurchaseOrderIn(_Entry):
    number = serializers.CharField(max_length=40)
    vendor = serializers.CharField(max_length=200)
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    order_date = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)


class WorkOrderIn(_Entry):
    number = serializers.CharField(max_length=40)
    description = serializers.CharField(max_length=300)
    is_custom = serializers.BooleanField(required=False, default=False)
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    due_date = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)


class AttachmentIn(_Entry):
    file = serializers.FileField()


ENTRY_INPUTS = {
    "comments": ("comment", CommentIn),
    "task-blocks": ("taskblock", TaskBlockIn),
    "purchase-orders": ("purchaseorder", PurchaseOrderIn),
    "work-orders": ("workorder", WorkOrderIn),
    "attachments": ("attachment", AttachmentIn),
}


def task_block_of(project: Project, task_block_id) -> TaskBlock | None:
    if task_block_id is None:
        return None
    task_block = TaskBlock.objects.filter(project=project, pk=task_block_id).first()
    if task_block is None:
        raise serializers.ValidationError({"task_block": ["No such task block in this project."]})
    return task_block


def add_entry(*, user, project: Project, segment: str, data):
    """Validate one timeline entry of the kind the URL names and add it (shared by the API
    and the timeline page's forms)."""
    if segment not in ENTRY_INPUTS:
        raise NotFound("No such kind of timeline entry.")
    kind, serializer_class = ENTRY_INPUTS[segment]
    checked = serializer_class(data=data)
    checked.is_valid(raise_exception=True)
    fields = dict(checked.validated_data)
    upload = fields.pop("file", None)
    if kind != "taskblock":
        fields["task_block"] = task_block_of(project, fields.pop("task_block", None))
    return services.timeline_add(project=project, actor=user, kind=kind, upload=upload, **fields)


class ProjectsView(APIView):
    @extend_schema(responses=ProjectSerializer(many=True))
    def get(self, request):
        return Response(
            ProjectSerializer(selectors.project_list(user=request.user), many=True).data
        )

    @extend_schema(request=ProjectIn, responses={201: ProjectSerializer})
    def post(self, request):
        data = ProjectIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        workspace = account_selectors.workspace_for(
            user=request.user, workspace_id=fields.pop("workspace")
        )
        project = services.project_create(workspace=workspace, actor=request.user, **fields)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectView(APIView):
    @extend_schema(responses=ProjectSerializer)
    def get(self, request, project_id: int):
        return Response(
            ProjectSerializer(selectors.project_for(user=request.user, project_id=project_id)).data
        )


class TimelineView(APIView):
    @extend_schema(responses=EntrySerializer(many=True))
    def get(self, request, project_id: int):
        project = selectors.project_for(user=request.user, project_id=project_id)
        return Response(
            EntrySerializer(
                [entry_json(e) for e in selectors.timeline(project=project)], many=True
            ).data
        )


class TimelineEntryView(APIView):
    """POST /api/projects/<id>/timeline/<comments|task-blocks|purchase-orders|work-orders|attachments>.
    Needs the caller's own Smartsheet connection (409 smartsheet_required without it)."""

    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(request=CommentIn, responses={201: EntrySerializer})
    def post(self, request, project_id: int, segment: str):
        project = selectors.project_for(user=request.user, project_id=project_id)
        entry = add_entry(user=request.user, project=project, segment=segment, data=request.data)
        return Response(EntrySerializer(entry_json(entry)).data, status=status.HTTP_201_CREATED)


class SheetView(APIView):
    """The project's Smartsheet sheet; 404 `no_sheet` while it has none."""

    @extend_schema(responses=LinkSerializer)
    def get(self, request, project_id: int):
        project = selectors.project_for(user=request.user, project_id=project_id)
        link = getattr(project, "sheet_link", None)
        if link is None:
            raise NotFound("This project has no Smartsheet sheet.", code="no_sheet")
        return Response(LinkSerializer(link).data)


class ProvisionView(APIView):
    @extend_schema(request=None, responses={201: LinkSerializer})
    def post(self, request, project_id: int):
        project = selectors.project_for(user=request.user, project_id=project_id)
        link = services.sheet_provision(project=project, actor=request.user)
        return Response(LinkSerializer(link).data, status=status.HTTP_201_CREATED)


class AttachSheetIn(serializers.Serializer):
    sheet_id = serializers.IntegerField(min_value=1)
    force = serializers.BooleanField(
        default=False,
        help_text="Workspace admins: take the sheet over from the project it is linked to "
        "(that project's link is removed).",
    )


class AttachSheetView(APIView):
    """A sheet linked to another project is a 409 `sheet_in_use` naming it; `force` (workspace
    admins only, 403 for others) moves it to this project."""

    @extend_schema(request=AttachSheetIn, responses={201: LinkSerializer})
    def post(self, request, project_id: int):
        project = selectors.project_for(user=request.user, project_id=project_id)
        data = AttachSheetIn(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.sheet_attach(
            project=project,
            actor=request.user,
            sheet_id=data.validated_data["sheet_id"],
            force=data.validated_data["force"],
        )
        return Response(LinkSerializer(link).data, status=status.HTTP_201_CREATED)


class SyncIn(serializers.Serializer):
    direction = serializers.ChoiceField(choices=ProjectSyncRun.Direction.choices)


class SyncView(APIView):
    """Start a sync run; poll its runs/<id> for progress (the timeline page does, every 500 ms)."""

    @extend_schema(request=SyncIn, responses={202: RunSerializer})
    def post(self, request, project_id: int):
        project = selectors.project_for(user=request.user, project_id=project_id)
        data = SyncIn(data=request.data)
        data.is_valid(raise_exception=True)
        trigger = "button" if request.headers.get("X-Hub-Trigger") == "button" else "api"
        run = services.sync_request(
            project=project,
            actor=request.user,
            direction=data.validated_data["direction"],
            trigger=trigger,
        )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunsQuery(QuerySerializer):
    active = serializers.BooleanField(
        required=False, default=False, help_text="Only the queued or running run, if any."
    )


class RunsView(APIView):
    """The last 20 runs, newest first; `?active=true` gives only the run going now (0 or 1),
    which is how the page learns of a run before it presses a button."""

    @extend_schema(parameters=[RunsQuery], responses=RunSerializer(many=True))
    def get(self, request, project_id: int):
        project = selectors.project_for(user=request.user, project_id=project_id)
        query = RunsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        if query.validated_data["active"]:
            active = selectors.active_run(project=project)
            return Response(RunSerializer([active] if active else [], many=True).data)
        return Response(RunSerializer(selectors.run_list(project=project)[:20], many=True).data)


class RunView(APIView):
    @extend_schema(responses=RunSerializer)
    def get(self, request, project_id: int, run_id: int):
        project = selectors.project_for(user=request.user, project_id=project_id)
        return Response(RunSerializer(selectors.run_for(project=project, run_id=run_id)).data)


# --- unmapped rows: rows of the sheet nobody here owns (workspace admins decide) ----------------


class UnmappedRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = UnmappedRow
        fields = [
            "id",
            "row_id",
            "parent_row_id",
            "cells",
            "state",
            "first_seen_at",
            "last_seen_at",
        ]


class UnmappedLinkIn(serializers.Serializer):
    entity_type = serializers.ChoiceField(choices=sorted(ENTITY_MODELS))
    entity_id = serializers.IntegerField(min_value=1)


class UnmappedRowsView(APIView):
    @extend_schema(responses=UnmappedRowSerializer(many=True))
    def get(self, request, project_id: int):
        project = selectors.project_for(user=request.user, project_id=project_id)
        return Response(
            UnmappedRowSerializer(selectors.unmapped_list(project=project), many=True).data
        )


def _unmapped_row(request, project_id: int, row_id: int) -> UnmappedRow:
    project = selectors.project_for(user=request.user, project_id=project_id)
    return selectors.unmapped_for(project=project, row_id=row_id)


class UnmappedImportView(APIView):
    """Make the entry the row describes (by its Type column). Workspace admins (403 otherwise)."""

    @extend_schema(request=None, responses={201: EntrySerializer})
    def post(self, request, project_id: int, row_id: int):
        row = _unmapped_row(request, project_id, row_id)
        entry = services.unmapped_import(row=row, actor=request.user)
        return Response(EntrySerializer(entry_json(entry)).data, status=status.HTTP_201_CREATED)


class UnmappedLinkView(APIView):
    """Say which existing entry the row is. Workspace admins (403 otherwise)."""

    @extend_schema(request=UnmappedLinkIn, responses=UnmappedRowSerializer)
    def post(self, request, project_id: int, row_id: int):
        row = _unmapped_row(request, project_id, row_id)
        data = UnmappedLinkIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.unmapped_link(row=row, actor=request.user, **data.validated_data)
        return Response(UnmappedRowSerializer(row).data)


class UnmappedIgnoreView(APIView):
    """Leave the row out of the list. Workspace admins (403 otherwise)."""

    @extend_schema(request=None, responses=UnmappedRowSerializer)
    def post(self, request, project_id: int, row_id: int):
        row = _unmapped_row(request, project_id, row_id)
        services.unmapped_ignore(row=row, actor=request.user)
        return Response(UnmappedRowSerializer(row).data)
