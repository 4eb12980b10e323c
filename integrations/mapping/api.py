"""The mapping API: the transform vocabulary, mapping sets (read, preview, export, import)
(the review queue of outgoing changes is approvals/api.py)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.accounts import selectors
from integrations.errors import ApplicationError, PermissionDenied
from integrations.mapping import engine, transforms
from integrations.mapping.models import FieldMapping, MappingSet
from integrations.mapping.transforms import MappingError


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
