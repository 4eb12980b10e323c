from django.urls import include, path
from rest_framework.routers import DefaultRouter

from integrations import api, health, views
from integrations.mapping import api as mapping_api
from integrations.oauth import views as oauth_views

router = DefaultRouter(trailing_slash=False)
router.register("workspaces", api.WorkspaceViewSet, basename="workspace")
router.register("memberships", api.MembershipViewSet, basename="membership")
router.register("audit-events", api.AuditEventViewSet, basename="audit-event")
router.register("integrations/connections", api.ConnectionViewSet, basename="connection")
router.register("integrations/mapping-sets", mapping_api.MappingSetViewSet, basename="mapping-set")
router.register(
    "integrations/outbound-changes", mapping_api.OutboundChangeViewSet, basename="outbound-change"
)

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", health.health, name="health"),
    path("integrations/connections/", views.connections, name="connections"),
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
    path("api/me", api.MeView.as_view(), name="api-me"),
    path(
        "api/integrations/transforms",
        mapping_api.TransformsView.as_view(),
        name="api-transforms",
    ),
    path("integrations/review/", views.review_queue, name="review-queue"),
    path("api/", include(router.urls)),
]
