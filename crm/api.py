"""DRF views of CRM sync: validate, call a service or selector, serialize.

The seed's endpoints (crm-native-integrations-f030, "API Endpoints") at its paths under
/api/crm/, in its camelCase (crm/serializers.py). Members of a workspace read; its admins
change (the services refuse anyone else, 403); another workspace's config, log or conflict is a
404. Where a request names no workspace and the caller is in several, it must say which."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import selectors, services
from crm import serializers as s
from crm.models import CrmConfig, SyncLog
from integrations.accounts import selectors as account_selectors
from integrations.accounts.models import Membership
from integrations.connections import services as connections
from integrations.connections.models import Connection
from integrations.connections.oauth import flow
from integrations.errors import ApplicationError, NotFound

# A GET that calls the CRM may meet these too (the shared hook adds them to changes only).
PROVIDER_ERRORS = {
    code: OpenApiResponse(response={"$ref": "#/components/schemas/Error"}, description=text)
    for code, text in (
        (409, "The CRM is not connected in this workspace."),
        (502, "The CRM failed or refused our call."),
        (503, "The CRM is rate-limiting us: retry after the Retry-After header's seconds."),
    )
}


def trigger_of(request) -> str:
    return SyncLog.Trigger.BUTTON if request.headers.get("X-Hub-Trigger") == "button" else "api"


def workspace_of(request, workspace_id, *, role: str | None = None):
    """The workspace named in the request, or the caller's only one (with that role, if they
    have it in one: otherwise their only one, where the service then says what they may not
    do)."""
    if workspace_id is not None:
        return account_selectors.workspace_for(user=request.user, workspace_id=workspace_id)
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    if role and memberships.filter(role=role).exists():
        memberships = memberships.filter(role=role)
    workspaces = [membership.workspace for membership in memberships[:2]]
    if len(workspaces) != 1:
        raise ApplicationError(
            "Say which workspace: you belong to more than one (or none).",
            details={"workspace": ["This field is required."]},
        )
    return workspaces[0]


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _body(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def mappings_json(config: CrmConfig, entity: str = "") -> list[dict]:
    return [
        s.mapping_json(name, field, services.SEED_DIRECTION)
        for name, field in selectors.mapping_list(config=config, entity=entity)
    ]


# --- Connecting ---------------------------------------------------------------------------------


class ConnectView(APIView):
    """Make (or keep) the workspace's CRM config and connect it: through the workspace's
    connection when it already works (`redirectUrl` null), else the platform's OAuth consent
    (`redirectUrl`; it ends at the platform's callback page, or post its code and state to
    /api/crm/oauth/callback). Workspace admins."""

    @extend_schema(request=s.CrmConnectIn, responses=s.CrmConnectOut)
    def post(self, request):
        data = _body(s.CrmConnectIn, request)
        if data.get("auth_code"):
            raise ApplicationError(
                "An authorization code is checked with its state: post {provider, code, "
                "state} to /api/crm/oauth/callback.",
                details={"authCode": ["Not taken here."]},
            )
        services.require_supported(data["provider"])
        workspace = workspace_of(request, data.get("workspace"), role=Membership.Role.ADMIN)
        config, redirect = services.config_connect(
            workspace=workspace,
            provider=data["provider"],
            actor=request.user,
            domain=data["domain"],
        )
        return Response(s.CrmConnectOut({"config": config, "redirect_url": redirect or None}).data)


class OAuthCallbackView(APIView):
    """Finish the consent through the platform's OAuth flow (single-use state, PKCE) and link
    the workspace's config to the connection it made."""

    @extend_schema(request=s.CrmCallbackIn, responses=s.CrmCallbackOut)
    def post(self, request):
        data = _body(s.CrmCallbackIn, request)
        services.require_supported(data["provider"])
        connection = flow.oauth_callback(
            user=request.user,
            provider=data["provider"],
            params={"code": data["code"], "state": data["state"]},
        )
        config = services.config_link(connection=connection, actor=request.user)
        return Response(s.CrmCallbackOut({"config": config, "success": True}).data)


def _config_in(request, provider: str, workspace_id, *, role: str | None = None) -> CrmConfig:
    workspace = workspace_of(request, workspace_id, role=role)
    config = selectors.config_of(workspace=workspace, provider=provider)
    if config is None:
        raise NotFound(f"{workspace.name} has no {provider} config: connect it first.")
    return config


class DisconnectView(APIView):
    """Revoke the CRM connection (the platform's disconnect) and mark the config
    disconnected. Workspace admins."""

    @extend_schema(parameters=[s.CrmWorkspaceQuery], responses={200: s.CrmSuccessOut})
    def delete(self, request, provider: str):
        services.require_supported(provider)
        query = _query(s.CrmWorkspaceQuery, request)
        config = _config_in(request, provider, query.get("workspace"), role=Membership.Role.ADMIN)
        services.config_disconnect(config=config, actor=request.user)
        return Response(s.CrmSuccessOut({"success": True}).data)


class TestConnectionView(APIView):
    """Ask the CRM who the workspace's connection signs in as. Members may."""

    @extend_schema(request=s.CrmWorkspaceIn, responses=s.CrmTestConnectionOut)
    def post(self, request, provider: str):
        services.require_supported(provider)
        data = _body(s.CrmWorkspaceIn, request)
        workspace = workspace_of(request, data.get("workspace"))
        connection = selectors.connection_of(
            user=request.user, workspace=workspace, provider=provider
        )
        if connection is None or connection.status == Connection.Status.REVOKED:
            answer = {
                "connected": False,
                "user": None,
                "error": f"{workspace.name} is not connected to {provider}: connect it first.",
            }
            return Response(s.CrmTestConnectionOut(answer).data)
        result = connections.connection_test(connection=connection, actor=request.user)
        if not result["ok"]:
            answer = {"connected": False, "user": None, "error": result["error"]}
            return Response(s.CrmTestConnectionOut(answer).data)
        connection.refresh_from_db()
        user = {
            "id": connection.external_user_id,
            "email": connection.external_email,
            "name": connection.label,
            "organization": result.get("account") or "",
        }
        return Response(s.CrmTestConnectionOut({"connected": True, "user": user}).data)


class AvailableFieldsView(APIView):
    """The CRM object's fields for mapping (Salesforce describe, HubSpot properties, cached a
    few minutes): the entity's, or every entity's (accounts first)."""

    @extend_schema(
        parameters=[s.CrmFieldsQuery], responses={200: s.CrmFieldsOut, **PROVIDER_ERRORS}
    )
    def get(self, request, provider: str):
        services.require_supported(provider)
        query = _query(s.CrmFieldsQuery, request)
        workspace = workspace_of(request, query.get("workspace"))
        connection = selectors.connection_of(
            user=request.user, workspace=workspace, provider=provider
        )
        if connection is None or connection.status == Connection.Status.REVOKED:
            raise services.NotConnected(
                f"{workspace.name} is not connected to {provider}: connect it first."
            )
        entities = [query["entity_type"]] if query.get("entity_type") else services.ENTITY_ORDER
        fields = [
            {"entity_type": entity, **field}
            for entity in entities
            for field in selectors.crm_fields(connection=connection, entity=entity)
        ]
        return Response(s.CrmFieldsOut({"fields": fields}).data)


# --- Configs ------------------------------------------------------------------------------------


class ConfigsView(APIView):
    @extend_schema(
        operation_id="api_crm_configs_list",
        parameters=[s.CrmWorkspaceQuery],
        responses=s.CrmConfigsSerializer,
    )
    def get(self, request):
        query = _query(s.CrmWorkspaceQuery, request)
        configs = selectors.config_list(user=request.user, workspace_id=query.get("workspace"))
        return Response(s.CrmConfigsSerializer({"configs": configs}).data)


class ConfigView(APIView):
    @extend_schema(responses=s.CrmConfigDetailSerializer)
    def get(self, request, config_id: int):
        config = selectors.config_for(user=request.user, config_id=config_id)
        detail = {
            "config": config,
            "field_mappings": mappings_json(config),
            "stats": selectors.config_stats(config=config),
        }
        return Response(s.CrmConfigDetailSerializer(detail).data)

    @extend_schema(request=s.CrmConfigIn, responses=s.CrmConfigOut)
    def patch(self, request, config_id: int):
        """Change the sync's settings; an unknown value is a 400 naming its field. Workspace
        admins."""
        config = selectors.config_for(user=request.user, config_id=config_id)
        changes = _body(s.CrmConfigIn, request)
        config = services.config_update(config=config, actor=request.user, **changes)
        return Response(s.CrmConfigOut({"config": config}).data)


class PauseView(APIView):
    """No run starts while paused, and a running one stops at its next batch. Workspace
    admins."""

    @extend_schema(request=None, responses=s.CrmConfigOut)
    def patch(self, request, config_id: int):
        config = selectors.config_for(user=request.user, config_id=config_id)
        config = services.config_set_paused(config=config, actor=request.user, paused=True)
        return Response(s.CrmConfigOut({"config": config}).data)


class ResumeView(APIView):
    """Connected again (a pause for a spent API quota ends too). Workspace admins."""

    @extend_schema(request=None, responses=s.CrmConfigOut)
    def patch(self, request, config_id: int):
        config = selectors.config_for(user=request.user, config_id=config_id)
        config = services.config_set_paused(config=config, actor=request.user, paused=False)
        return Response(s.CrmConfigOut({"config": config}).data)


# --- Field mappings -----------------------------------------------------------------------------


class MappingsView(APIView):
    """The config's mapped fields (rows of its mapping sets, one per entity)."""

    @extend_schema(parameters=[s.CrmMappingsQuery], responses=s.CrmMappingsOut)
    def get(self, request, config_id: int):
        config = selectors.config_for(user=request.user, config_id=config_id)
        query = _query(s.CrmMappingsQuery, request)
        return Response(
            s.CrmMappingsOut({"mappings": mappings_json(config, query.get("entity_type", ""))}).data
        )

    @extend_schema(request=s.CrmMappingIn, responses={201: s.CrmMappingOut})
    def post(self, request, config_id: int):
        """Map a CRM field (from available-fields) to a hub field. Workspace admins."""
        config = selectors.config_for(user=request.user, config_id=config_id)
        data = _body(s.CrmMappingIn, request)
        field = services.mapping_add(
            config=config,
            entity=data["entity_type"],
            actor=request.user,
            crm_field=data["crm_field"],
            app_field=data["app_field"],
            direction=services.DIRECTIONS[data["sync_direction"]],
            transform=data["transform_function"],
            params=data["transform_params"],
        )
        mapping = s.mapping_json(data["entity_type"], field, services.SEED_DIRECTION)
        return Response(s.CrmMappingOut({"mapping": mapping}).data, status=status.HTTP_201_CREATED)


class MappingView(APIView):
    @extend_schema(request=s.CrmMappingPatchIn, responses=s.CrmMappingOut)
    def patch(self, request, config_id: int, mapping_id: int):
        """Change a mapped field's hub field, direction or transform. Workspace admins."""
        config = selectors.config_for(user=request.user, config_id=config_id)
        entity, field = selectors.mapping_for(config=config, mapping_id=mapping_id)
        data = _body(s.CrmMappingPatchIn, request)
        direction = data.get("sync_direction")
        field = services.mapping_update(
            config=config,
            entity=entity,
            field=field,
            actor=request.user,
            app_field=data.get("app_field"),
            direction=services.DIRECTIONS[direction] if direction else None,
            transform=data.get("transform_function"),
            params=data.get("transform_params"),
        )
        mapping = s.mapping_json(entity, field, services.SEED_DIRECTION)
        return Response(s.CrmMappingOut({"mapping": mapping}).data)

    @extend_schema(responses={200: s.CrmSuccessOut})
    def delete(self, request, config_id: int, mapping_id: int):
        """Stop syncing a field. Workspace admins."""
        config = selectors.config_for(user=request.user, config_id=config_id)
        entity, field = selectors.mapping_for(config=config, mapping_id=mapping_id)
        services.mapping_remove(config=config, entity=entity, field=field, actor=request.user)
        return Response(s.CrmSuccessOut({"success": True}).data)


# --- Sync runs ----------------------------------------------------------------------------------


class TriggerView(APIView):
    """Queue a run per entity (202); poll /api/crm/sync/logs/<job_id>. A run of one of them
    going already is a 409 and queues none. Workspace admins."""

    @extend_schema(request=s.CrmTriggerIn, responses={202: s.CrmTriggerOut})
    def post(self, request):
        data = _body(s.CrmTriggerIn, request)
        config = selectors.config_for(user=request.user, config_id=data["config_id"])
        direction = data.get("sync_direction")
        if direction and direction != config.sync_direction:
            raise ApplicationError(
                f"A run follows its config's direction ({config.sync_direction}): PATCH the "
                "config's syncDirection to change it.",
                details={"syncDirection": [f"Must be {config.sync_direction} (the config's)."]},
            )
        runs = services.sync_trigger(
            config=config,
            actor=request.user,
            entities=data.get("entity_types"),
            trigger=trigger_of(request),
            dry_run=data["dry_run"],
        )
        answer = {
            "job_id": runs[0].pk,
            "job_ids": [run.pk for run in runs],
            "estimated_records": selectors.sync_estimate(
                config=config, entities=[run.entity for run in runs]
            ),
        }
        return Response(s.CrmTriggerOut(answer).data, status=status.HTTP_202_ACCEPTED)


class LogsView(APIView):
    """Runs of your workspaces' configs, newest first."""

    @extend_schema(
        operation_id="api_crm_sync_logs_list", parameters=[s.CrmLogsQuery], responses=s.CrmLogsOut
    )
    def get(self, request):
        query = _query(s.CrmLogsQuery, request)
        logs = selectors.log_list(user=request.user)
        if query.get("config_id") is not None:
            logs = logs.filter(config_id=query["config_id"])
        if query.get("entity_type"):
            logs = logs.filter(entity=query["entity_type"])
        if query.get("status"):
            logs = logs.filter(status=query["status"])
        limit, offset = query["limit"], query["offset"]
        page = {"total": logs.count(), "limit": limit, "offset": offset}
        return Response(
            s.CrmLogsOut({"logs": logs[offset : offset + limit], "pagination": page}).data
        )


class LogView(APIView):
    @extend_schema(responses=s.CrmLogDetailOut)
    def get(self, request, log_id: int):
        log = selectors.log_for(user=request.user, log_id=log_id)
        details = {
            "errors": log.errors,
            "conflicts": selectors.log_conflicts(log=log),
            "plan": log.plan,
            "undoes": log.undoes_id,
            "changes": selectors.log_changes(log=log),
            "refused": log.refused,
        }
        return Response(s.CrmLogDetailOut({"log": log, "details": details}).data)


class RetryView(APIView):
    """Queue a run of the log's config and entity (202): a run retries every record that
    failed before. Workspace admins."""

    @extend_schema(request=None, responses={202: s.CrmRetryOut})
    def post(self, request, log_id: int):
        log = selectors.log_for(user=request.user, log_id=log_id)
        runs = services.sync_trigger(
            config=log.config,
            actor=request.user,
            entities=[log.entity],
            trigger=trigger_of(request),
            action="crm.sync.retry",
        )
        return Response(s.CrmRetryOut({"job_id": runs[0].pk}).data, status=status.HTTP_202_ACCEPTED)


class UndoView(APIView):
    """Queue the undo of a run (202): a run that puts back the values the run's changes
    replaced, on both sides, and lists the fields changed since instead of overwriting them.
    A dry run, a run still going or already undone is a 409. Workspace admins."""

    @extend_schema(request=None, responses={202: s.CrmUndoOut})
    def post(self, request, log_id: int):
        log = selectors.log_for(user=request.user, log_id=log_id)
        run = services.sync_undo(log=log, actor=request.user, trigger=trigger_of(request))
        return Response(s.CrmUndoOut({"job_id": run.pk}).data, status=status.HTTP_202_ACCEPTED)


# --- Conflicts ----------------------------------------------------------------------------------


class ConflictsView(APIView):
    """Conflicts of your workspaces' configs, newest first."""

    @extend_schema(parameters=[s.CrmConflictsQuery], responses=s.CrmConflictsOut)
    def get(self, request):
        query = _query(s.CrmConflictsQuery, request)
        conflicts = selectors.conflict_list(
            user=request.user,
            config_id=query.get("config_id"),
            status=query.get("status", ""),
            entity=query.get("entity_type", ""),
        )
        return Response(s.CrmConflictsOut({"conflicts": conflicts}).data)


class ResolveView(APIView):
    """Settle a conflict with the hub's values, the CRM's, or per field `mergedData`; the hub
    record takes them at once and a queued run writes them to the CRM. Workspace admins."""

    @extend_schema(request=s.CrmResolveIn, responses=s.CrmConflictOut)
    def post(self, request, conflict_id: int):
        conflict = selectors.conflict_for(user=request.user, conflict_id=conflict_id)
        data = _body(s.CrmResolveIn, request)
        conflict = services.conflict_resolve(
            conflict=conflict,
            actor=request.user,
            strategy=data["strategy"],
            merged_data=data["merged_data"],
            trigger=trigger_of(request),
        )
        return Response(s.CrmConflictOut({"conflict": conflict}).data)


class IgnoreView(APIView):
    """Dismiss a conflict, writing nothing (a field still differing comes back at the next
    run). Workspace admins."""

    @extend_schema(request=None, responses=s.CrmConflictOut)
    def post(self, request, conflict_id: int):
        conflict = selectors.conflict_for(user=request.user, conflict_id=conflict_id)
        conflict = services.conflict_ignore(conflict=conflict, actor=request.user)
        return Response(s.CrmConflictOut({"conflict": conflict}).data)
