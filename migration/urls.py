"""Routes of Project migration: pages and their /api/ endpoints."""

from django.urls import path

from migration import api, views

urlpatterns = [
    path("migration/runs/<int:run_id>/", views.run_page, name="migration-run"),
    path(
        "migration/runs/<int:run_id>/run-for-real",
        views.run_for_real,
        name="migration-run-for-real",
    ),
    path("migration/runs/<int:run_id>/resume", views.resume, name="migration-resume"),
    path(
        "api/migration/connections/<int:connection_id>/projects",
        api.SourceProjectsView.as_view(),
        name="api-migration-projects",
    ),
    path("api/migration/runs", api.RunsView.as_view(), name="api-migration-runs"),
    path("api/migration/file-runs", api.FileRunsView.as_view(), name="api-migration-file-runs"),
    path("api/migration/runs/<int:run_id>", api.RunView.as_view(), name="api-migration-run"),
    path(
        "api/migration/runs/<int:run_id>/run-for-real",
        api.RunForRealView.as_view(),
        name="api-migration-run-for-real",
    ),
    path(
        "api/migration/runs/<int:run_id>/resume",
        api.ResumeView.as_view(),
        name="api-migration-resume",
    ),
    path(
        "api/migration/runs/<int:run_id>/report",
        api.ReportView.as_view(),
        name="api-migration-report",
    ),
    path(
        "api/migration/runs/<int:run_id>/report.csv",
        api.ReportCsvView.as_view(),
        name="api-migration-report-csv",
    ),
    path("api/migration/runs/<int:run_id>/plan", api.PlanView.as_view(), name="api-migration-plan"),
]
