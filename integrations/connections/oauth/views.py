"""Browser-facing OAuth endpoints: start (JSON), callback (the popup page), status (JSON,
polled by the page script), disconnect (JSON). Session authentication with CSRF."""

import functools
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.accounts import selectors as account_selectors
from integrations.connections import http, providers
from integrations.connections import selectors as connection_selectors
from integrations.connections import services as connections
from integrations.connections.oauth import flow
from integrations.errors import ApplicationError

logger = logging.getLogger(__name__)


def opens_oauth_popups(view):
    """For pages with a Connect button. Django's default Cross-Origin-Opener-Policy
    (same-origin) cuts a popup off from its opener as soon as it visits the provider: the
    page then sees `popup.closed` at once and never receives the popup's message."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Cross-Origin-Opener-Policy"] = "same-origin-allow-popups"
        return response

    return wrapper


def hub_origin() -> str:
    """The one origin the popup reports to, and the only one the page script listens to."""
    return settings.HUB_BASE_URL


class StartSerializer(serializers.Serializer):
    workspace = serializers.IntegerField()
    domain = serializers.CharField(required=False, allow_blank=True, default="")


class StatusSerializer(serializers.Serializer):
    provider = serializers.CharField()
    connected = serializers.BooleanField()
    status = serializers.CharField()
    email = serializers.CharField()
    account = serializers.CharField()
    connection = serializers.IntegerField(allow_null=True)
    connected_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    domain = serializers.CharField(help_text="Salesforce: login (production) or test (sandbox).")
    instance_url = serializers.CharField()
    org = serializers.CharField(help_text='Which org, in words: "Sandbox org, https://…".')


class _SessionView(APIView):
    # Browser endpoints: the session cookie (with CSRF on POST), not API tokens.
    authentication_classes = [SessionAuthentication]


class StartView(_SessionView):
    @extend_schema(request=StartSerializer, responses={200: dict})
    def post(self, request, provider: str):
        data = StartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = account_selectors.workspace_for(
            user=request.user, workspace_id=data.validated_data["workspace"]
        )
        result = flow.oauth_start(
            user=request.user,
            workspace=workspace,
            provider=provider,
            domain=data.validated_data["domain"],
        )
        return Response(result)


DOMAIN_LABELS = {"login": "Production org", "test": "Sandbox org"}


def org_of(connection) -> str:
    """Which org a connection is to, in words ("Sandbox org, https://…"), for providers with a
    choice of login domain (Salesforce); empty for the others and for a revoked link."""
    if not connection.auth_domain or connection.status == connection.Status.REVOKED:
        return ""
    label = DOMAIN_LABELS.get(connection.auth_domain, connection.auth_domain)
    return ", ".join(part for part in (label, connection.instance_url) if part)


def status_of(*, user, workspace, provider: str) -> dict:
    connection = connection_selectors.connection_for(
        user=user, workspace=workspace, provider=provider
    )
    connected = connection is not None and connection.status == connection.Status.CONNECTED
    return {
        "provider": provider,
        "connected": connected,
        "status": connection.status if connection else "not_connected",
        "email": connection.external_email if connection else "",
        "account": connection.label if connection else "",
        "connection": connection.pk if connection else None,
        "connected_at": connection.connected_at if connection else None,
        "last_error": connection.last_error if connection else "",
        "domain": connection.auth_domain if connection else "",
        "instance_url": connection.instance_url if connection else "",
        "org": org_of(connection) if connection else "",
    }


class StatusView(_SessionView):
    @extend_schema(responses=StatusSerializer)
    def get(self, request, provider: str):
        providers.get(provider)
        workspace = account_selectors.workspace_for(
            user=request.user, workspace_id=request.query_params.get("workspace", "")
        )
        response = Response(
            StatusSerializer(
                status_of(user=request.user, workspace=workspace, provider=provider)
            ).data
        )
        add_never_cache_headers(response)
        return response


class DisconnectView(_SessionView):
    @extend_schema(request=StartSerializer, responses=StatusSerializer)
    def post(self, request, provider: str):
        data = StartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = account_selectors.workspace_for(
            user=request.user, workspace_id=data.validated_data["workspace"]
        )
        connection = connection_selectors.connection_for(
            user=request.user, workspace=workspace, provider=provider
        )
        if connection is not None:  # the service refuses anyone but its owner or an admin
            connections.connection_disconnect(connection=connection, actor=request.user)
        return Response(
            StatusSerializer(
                status_of(user=request.user, workspace=workspace, provider=provider)
            ).data
        )


@login_required
def callback(request, provider: str):
    """Where the provider sends the browser back. Renders the popup page, which posts the
    outcome to its opener (at the hub's own origin only) and closes itself."""
    module = providers.get(provider)
    result = {"provider": provider, "status": "connected", "email": "", "org": "", "message": ""}
    status = 200
    try:
        connection = flow.oauth_callback(
            user=request.user, provider=provider, params=request.GET.dict()
        )
        result["email"] = connection.external_email or connection.label
        result["org"] = org_of(connection)
    except flow.OAuthDenied as exc:
        result.update(status="denied", message=exc.message)
    except ApplicationError as exc:
        result.update(status="error", message=exc.message)
        status = 400
    except http.ProviderError as exc:
        result.update(status="error", message=exc.message)
        # The provider refusing our request is a failed authorization; the provider being
        # down or slow is a bad gateway.
        status = 502 if isinstance(exc, http.Unavailable | http.Timeout) else 400
    response = render(
        request,
        "integrations/oauth_popup.html",
        {"result": result, "label": module.SPEC.label, "target_origin": hub_origin()},
        status=status,
    )
    add_never_cache_headers(response)
    # The popup arrives here from the provider's origin; any stricter opener policy would put
    # it in a new browsing-context group, with no `window.opener` to report to.
    response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    return response
