"""The platform's API: who am I, workspaces, memberships, audit events.

Views are thin: validate, call a service or selector, serialize. Every queryset comes from a
selector scoped to the caller's workspaces, so another workspace's object is a 404."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations import selectors, services
from integrations.errors import NotFound
from integrations.filters import DateTimeFilter, IdFilter
from integrations.models import AuditEvent, Connection, Membership, Workspace

# What every app's run endpoints show of a SyncRun (apps add their own fields in front).
SYNC_RUN_FIELDS = [
    "id",
    "trigger",
    "status",
    "stage",
    "percent",
    "progress_done",
    "progress_total",
    "stage_done",
    "stage_total",
    "retry_reason",
    "retry_in",
    "started_by",
    "created",
    "updated",
    "unchanged",
    "unmapped",
    "conflicts",
    "held",
    "failed",
    "api_calls",
    "retries",
    "summary",
    "message",
    "errors",
    "error_count",
    "overwrites",
    "created_at",
    "started_at",
    "finished_at",
    "duration",
]


class QuerySerializer(serializers.Serializer):
    """Validates query parameters. One given empty (`?active=`, as an HTML form sends an
    unset field) counts as not given, as django-filter's filters and the schema have it."""

    def __init__(self, *args, data=serializers.empty, **kwargs):
        if data is not serializers.empty:
            data = {key: value for key, value in data.items() if value != ""}
        super().__init__(*args, data=data, **kwargs)


class SyncRunSerializer(serializers.ModelSerializer):
    """Base of each app's run serializer (its Meta names the model)."""

    percent = serializers.IntegerField(read_only=True)
    duration = serializers.FloatField(read_only=True, allow_null=True)
    summary = serializers.CharField(read_only=True)
    retry_in = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Seconds to the next attempt of a retried call."
    )
    started_by = serializers.EmailField(
        source="requested_by.email", read_only=True, allow_null=True
    )


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


class _URLOrNull(serializers.URLField):
    """A URL column left blank (providers without an instance) shows as null, not as an empty
    string that would not be the URL the schema promises."""

    def to_representation(self, value):
        return value or None


class ConnectionSerializer(serializers.ModelSerializer):
    """A connection as the API shows it: never a token or a secret, only whether one is set."""

    has_refresh_token = serializers.SerializerMethodField()
    instance_url = _URLOrNull(
        read_only=True,
        allow_null=True,
        help_text="Salesforce instance or Dataverse environment URL; null for the others.",
    )

    class Meta:
        model = Connection
        fields = [
            "id",
            "workspace",
            "provider",
            "user",
            "label",
            "external_user_id",
            "external_email",
            "external_account_id",
            "instance_url",
            "auth_domain",
            "scopes",
            "status",
            "expires_at",
            "refreshed_at",
            "last_error",
            "last_error_at",
            "last_tested_at",
            "connected_at",
            "tenant_id",
            "client_id",
            "has_refresh_token",
        ]
        read_only_fields = fields

    def get_has_refresh_token(self, connection) -> bool:
        return bool(connection.refresh_token)


class ClientCredentialsSerializer(serializers.Serializer):
    workspace = serializers.IntegerField()
    provider = serializers.ChoiceField(choices=[Connection.Provider.DATAVERSE])
    tenant_id = serializers.CharField(max_length=100)
    client_id = serializers.CharField(max_length=200)
    client_secret = serializers.CharField(max_length=1000, write_only=True, trim_whitespace=False)
    instance_url = serializers.URLField()
    label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    user = serializers.CharField(required=False)
    account = serializers.CharField(required=False)
    error = serializers.CharField(required=False)


class ConnectionFilter(filters.FilterSet):
    workspace = IdFilter(field_name="workspace_id")

    class Meta:
        model = Connection
        fields = ["workspace", "provider", "status"]


class ConnectionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Connections of your workspaces. DELETE disconnects (revokes at the provider first)."""

    serializer_class = ConnectionSerializer
    filterset_class = ConnectionFilter
    queryset = Connection.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return selectors.connection_list(user=self.request.user)

    @extend_schema(request=ClientCredentialsSerializer, responses={201: ConnectionSerializer})
    def create(self, request):
        """Add a client-credentials connection (Microsoft Dataverse). OAuth providers are
        connected through their consent page instead (/integrations/<provider>/auth/start)."""
        data = ClientCredentialsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        workspace = selectors.workspace_for(user=request.user, workspace_id=values.pop("workspace"))
        values.pop("provider")
        connection = services.connection_create_client_credentials(
            workspace=workspace, actor=request.user, **values
        )
        return Response(ConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.connection_disconnect(connection=instance, actor=self.request.user)

    @extend_schema(request=None, responses=ConnectionTestSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Call the provider's who-am-i with this connection."""
        return Response(services.connection_test(connection=self.get_object(), actor=request.user))

    @extend_schema(request=None, responses=ConnectionSerializer)
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        connection = self.get_object()
        return Response(
            ConnectionSerializer(
                services.connection_refresh(connection=connection, actor=request.user)
            ).data
        )

    @extend_schema(request=None, responses=ConnectionSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        connection = self.get_object()
        return Response(
            ConnectionSerializer(
                services.connection_set_paused(
                    connection=connection, paused=True, actor=request.user
                )
            ).data
        )

    @extend_schema(request=None, responses=ConnectionSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        connection = self.get_object()
        return Response(
            ConnectionSerializer(
                services.connection_set_paused(
                    connection=connection, paused=False, actor=request.user
                )
            ).data
        )
