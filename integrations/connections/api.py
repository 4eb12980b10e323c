"""The connections API: list, add (client credentials), test, refresh, pause, resume and
disconnect. OAuth connections are made through the consent popup (connections/oauth)."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from integrations.accounts import selectors as account_selectors
from integrations.connections import selectors, services
from integrations.connections.models import Connection
from integrations.filters import IdFilter


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
    provider = serializers.ChoiceField(
        choices=[Connection.Provider.DATAVERSE, Connection.Provider.PROJECT_ONLINE]
    )
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
        """Add a client-credentials connection (Microsoft Dataverse, or Project Online with its
        PWA site URL as `instance_url`). OAuth providers are
        connected through their consent page instead (/integrations/<provider>/auth/start)."""
        data = ClientCredentialsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        workspace = account_selectors.workspace_for(
            user=request.user, workspace_id=values.pop("workspace")
        )
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
