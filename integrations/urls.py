from django.urls import include, path
from rest_framework.routers import DefaultRouter

from integrations import health, views
from integrations.accounts import api as accounts_api
from integrations.approvals import api as approvals_api
from integrations.approvals import views as approvals_views
from integrations.connections import api as connections_api
from integrations.connections import views as connections_views
from integrations.connections.oauth import views as oauth_views
from integrations.mapping import api as mapping_api

router = DefaultRouter(trailing_slash=False)
router.register("workspaces", accounts_api.WorkspaceViewSet, basename="workspace")
router.register("memberships", accounts_api.MembershipViewSet, basename="membership")
router.register("audit-events", accounts_api.AuditEventViewSet, basename="audit-event")
router.register(
    "integrations/connections", connections_api.ConnectionViewSet, basename="connection"
)
router.register("integrations/mapping-sets", mapping_api.MappingSetViewSet, basename="mapping-set")
router.register(
    "integrations/outbound-changes", approvals_api.OutboundChangeViewSet, basename="outbound-change"
)

urlpatterns = [
    path("favicon.ico", views.favicon, name="favicon"),
    path("", views.home, name="home"),
    path("health/", health.health, name="health"),
    path("integrations/connections/", connections_views.connections, name="connections"),
    path(
        "integrations/<str:provider>/auth/start",
        oauth_views.StartView.as_view(),
        name="oauth-start",
    ),
    path("integrations/<str:provider>/auth/callback", oauth_views.callback, name="oauth-callback"),
    path(
        "integrations/<str:provider>/auth/status",
        oauth_views.StatusView.as_view(),
        name="oauth-status",
    ),
    path(
        "integrations/<str:provider>/auth/disconnect",
        oauth_views.DisconnectView.as_view(),
        name="oauth-disconnect",
    ),
    path("api/me", accounts_api.MeView.as_view(), name="api-me"),
    path(
        "api/integrations/transforms",
        mapping_api.TransformsView.as_view(),
        name="api-transforms",
    ),
    path("integrations/review/", approvals_views.review_queue, name="review-queue"),
    path("api/", include(router.urls)),
]
