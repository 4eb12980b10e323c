from django.urls import include, path
from rest_framework.routers import DefaultRouter

from integrations import api, health, views

router = DefaultRouter(trailing_slash=False)
router.register("workspaces", api.WorkspaceViewSet, basename="workspace")
router.register("memberships", api.MembershipViewSet, basename="membership")
router.register("audit-events", api.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", health.health, name="health"),
    path("api/me", api.MeView.as_view(), name="api-me"),
    path("api/", include(router.urls)),
]
