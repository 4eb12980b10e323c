"""The mapping API: the transform vocabulary, mapping sets (read, preview, export, import)
and the review queue of outgoing changes (list, approve, reject)."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations import approvals, selectors
from integrations.errors import ApplicationError, NotFound, PermissionDenied
from integrations.filters import IdFilter
from integrations.mapping import engine, transforms
from integrations.mapping.transforms import MappingError
from integrations.models import FieldMapping, MappingSet, OutboundChange


def _refused(exc: MappingError) -> ApplicationError:
    return ApplicationError(
        exc.message, code="mapping_invalid", details={exc.field or "": [exc.message]}
    )


class TransformSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    params = serializers.DictField(help_text="JSON Schema of the parameters.")
    writes = serializers.BooleanField(help_text="True when the transform writes (number).")


class TransformsView(APIView):
    """Every transform a field mapping may name, with its parameters' JSON Schema."""

    @extend_schema(responses=TransformSerializer(many=True))
    def get(self, request):
        return Response(
            [
                {
                    "name": t.name,
                    "description": t.description,
                    "params": t.schema,
                    "writes": not t.pure,
                }
                for t in sorted(transforms.REGISTRY.values(), key=lambda t: t.name)
            ]
        )


class FieldMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = FieldMapping
        fields = ["position", "source_field", "target_field", "transform", "params", "direction"]


class MappingSetSerializer(serializers.ModelSerializer):
    fields = FieldMappingSerializer(many=True, read_only=True)

    class Meta:
        model = MappingSet
        fields = [
            "id",
            "workspace",
            "name",
            "connection",
            "source_entity",
            "target_entity",
            "required_fields",
            "requires_approval",
            "description",
            "fields",
            "updated_at",
        ]


class PreviewIn(serializers.Serializer):
    record = serializers.DictField(help_text="A sample source record.")


class PreviewOut(serializers.Serializer):
    output = serializers.DictField(help_text="Each target field's value.")
    errors = serializers.DictField(
        child=serializers.CharField(), help_text="Target fields whose transform failed: why."
    )
    missing_required = serializers.ListField(
        child=serializers.CharField(), help_text="Required target fields left empty."
    )
    deferred = serializers.ListField(
        child=serializers.CharField(),
        help_text="Fields whose transform writes (a new number): shown, not run.",
    )


class ExportField(serializers.Serializer):
    source = serializers.CharField()
    target = serializers.CharField()
    transform = serializers.CharField()
    params = serializers.DictField()
    direction = serializers.ChoiceField(choices=FieldMapping.Direction.choices)


class ExportOut(serializers.Serializer):
    """A mapping set as a file: what the import takes back."""

    format = serializers.ChoiceField(choices=[engine.EXPORT_FORMAT])
    name = serializers.CharField()
    source_entity = serializers.CharField()
    target_entity = serializers.CharField()
    required_fields = serializers.ListField(child=serializers.CharField())
    requires_approval = serializers.BooleanField()
    description = serializers.CharField(allow_blank=True)
    fields = ExportField(many=True)


class ImportIn(serializers.Serializer):
    workspace = serializers.IntegerField()
    data = serializers.DictField(
        help_text="A mapping set export (the answer of its export endpoint), checked whole "
        "by the mapping engine: 400 `mapping_invalid` naming the first bad field."
    )
    name = serializers.CharField(required=False, allow_blank=True, default="")
    replace = serializers.BooleanField(required=False, default=False)


class MappingSetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = MappingSetSerializer

    def get_queryset(self):
        return selectors.scope_to_user(
            MappingSet.objects.prefetch_related("fields"), self.request.user
        )

    @extend_schema(request=PreviewIn, responses=PreviewOut)
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        """The sample record mapped: values, errors per field, required fields left empty."""
        data = PreviewIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(engine.preview(self.get_object(), data.validated_data["record"]))

    @extend_schema(responses=ExportOut)
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        return Response(engine.export_set(self.get_object()))

    @extend_schema(request=ImportIn, responses={201: MappingSetSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request):
        """Create (or with `replace`, overwrite) a set from an export; workspace admins. A file
        with any bad field writes nothing."""
        data = ImportIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        workspace = selectors.workspace_for(user=request.user, workspace_id=values["workspace"])
        if not selectors.is_workspace_admin(user=request.user, workspace_id=workspace.pk):
            raise PermissionDenied("Only a workspace admin can import mapping sets.")
        try:
            mapping_set = engine.import_set(
                values["data"], workspace=workspace, name=values["name"], replace=values["replace"]
            )
        except MappingError as exc:
            raise _refused(exc) from None
        return Response(MappingSetSerializer(mapping_set).data, status=status.HTTP_201_CREATED)


class OutboundChangeSerializer(serializers.ModelSerializer):
    decided_by = serializers.EmailField(
        source="decided_by.email", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = OutboundChange
        fields = [
            "id",
            "workspace",
            "owner",
            "connection",
            "mapping_set",
            "target_entity",
            "target_id",
            "target_label",
            "operation",
            "changes",
            "status",
            "decided_by",
            "decided_at",
            "note",
            "applied_at",
            "error",
            "created_at",
        ]


class OutboundChangeFilter(filters.FilterSet):
    workspace = IdFilter(field_name="workspace_id")

    class Meta:
        model = OutboundChange
        fields = ["status", "owner", "workspace", "operation"]


class DecisionIn(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=1000)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class DecisionOut(serializers.Serializer):
    decided = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.IntegerField(), help_text="Already decided.")


class OutboundChangeViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Outgoing writes waiting for review (and decided ones). Approve or reject one or many;
    only workspace admins decide; a decision is final and audited."""

    serializer_class = OutboundChangeSerializer
    filterset_class = OutboundChangeFilter

    def get_queryset(self):
        return selectors.scope_to_user(
            OutboundChange.objects.select_related("decided_by"), self.request.user
        )

    def _decide(self, request, decide):
        data = DecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["ids"]
        found = list(self.get_queryset().filter(pk__in=ids).order_by("pk"))
        missing = sorted(set(ids) - {change.pk for change in found})
        if missing:
            raise NotFound(
                f"No such change: {', '.join(map(str, missing))}.", details={"ids": missing}
            )
        decided, skipped = decide(
            changes=found, actor=request.user, note=data.validated_data["note"]
        )
        return Response({"decided": [c.pk for c in decided], "skipped": skipped})

    @extend_schema(request=DecisionIn, responses=DecisionOut)
    @action(detail=False, methods=["post"])
    def approve(self, request):
        return self._decide(request, approvals.approve)

    @extend_schema(request=DecisionIn, responses=DecisionOut)
    @action(detail=False, methods=["post"])
    def reject(self, request):
        return self._decide(request, approvals.reject)
