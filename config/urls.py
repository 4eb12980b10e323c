"""Top-level routes. Each app owns its full paths in its urls.py (pages and /api/…)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("integrations.urls")),
    path("", include("projects.urls")),
    path("", include("timetracker.urls")),
    path("", include("migration.urls")),
    path("", include("crm.urls")),
    path("", include("destinations.urls")),
]

handler404 = "integrations.views.page_not_found"
handler500 = "integrations.views.server_error"
