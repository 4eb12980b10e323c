"""The review queue's API: list outgoing changes; approve or reject many at once."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from integrations import approvals
from integrations.accounts import selectors
from integrations.approvals.models import OutboundChange
from integrations.errors import NotFound
from integrations.filters import IdFilter


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
