"""The accounts API: who am I, workspaces, memberships, audit events.

Views are thin: validate, call a service or selector, serialize. Every queryset comes from a
selector scoped to the caller's workspaces, so another workspace's object is a 404."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.accounts import selectors, services
from integrations.accounts.models import AuditEvent, Membership, Workspace
from integrations.errors import NotFound
from integrations.filters import DateTimeFilter, IdFilter


class WorkspaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workspace
        fields = ["id", "name", "slug", "created_at"]
        read_only_fields = ["id", "slug", "created_at"]


class MembershipSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "workspace", "user", "email", "role", "created_at"]
        read_only_fields = ["id", "workspace", "user", "email", "created_at"]


class MembershipCreateSerializer(serializers.Serializer):
    workspace = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class MembershipRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "workspace",
            "actor",
            "actor_kind",
            "actor_label",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "request_id",
            "task_id",
            "changes",
            "details",
            "ip",
        ]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    memberships = MembershipSerializer(many=True)


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        return Response(
            MeSerializer(
                {
                    "id": user.pk,
                    "email": user.email,
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                    "memberships": selectors.membership_list(user=user).filter(user=user),
                }
            ).data
        )


class WorkspaceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = WorkspaceSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.workspace_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.workspace_create(
            name=serializer.validated_data["name"], creator=self.request.user
        )

    def perform_update(self, serializer):
        serializer.instance = services.workspace_update(
            workspace=serializer.instance,
            actor=self.request.user,
            name=serializer.validated_data.get("name", serializer.instance.name),
        )


class MembershipFilter(filters.FilterSet):
    workspace = IdFilter(field_name="workspace_id")

    class Meta:
        model = Membership
        fields = ["workspace", "role"]


class MembershipViewSet(viewsets.ModelViewSet):
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.membership_list(user=self.request.user)

    @extend_schema(request=MembershipCreateSerializer, responses={201: MembershipSerializer})
    def create(self, request, *args, **kwargs):
        data = MembershipCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # Looked up through the caller's scope: a workspace they cannot see is a 404 here too.
        workspace = (
            selectors.workspace_list(user=request.user)
            .filter(pk=data.validated_data["workspace"])
            .first()
        )
        if workspace is None:
            raise NotFound("No such workspace.")
        membership = services.membership_invite(
            workspace=workspace,
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            actor=request.user,
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MembershipRoleSerializer, responses=MembershipSerializer)
    def partial_update(self, request, *args, **kwargs):
        data = MembershipRoleSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        membership = self.get_object()
        # A PATCH without a role keeps it (still a workspace admin's change to make).
        membership = services.membership_change_role(
            membership=membership,
            role=data.validated_data.get("role", membership.role),
            actor=request.user,
        )
        return Response(MembershipSerializer(membership).data)

    def perform_destroy(self, instance):
        services.membership_remove(membership=instance, actor=self.request.user)


class AuditEventFilter(filters.FilterSet):
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")
    workspace = IdFilter(field_name="workspace_id")

    class Meta:
        model = AuditEvent
        fields = [
            "workspace",
            "action",
            "actor_kind",
            "target_type",
            "target_id",
            "request_id",
            "task_id",
        ]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail of the workspaces where the caller is an admin."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter

    def get_queryset(self):
        return selectors.audit_event_list(user=self.request.user)
