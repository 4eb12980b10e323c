"""Routes of ShopBoss projects: the pages and their /api/ endpoints."""

from django.urls import path

from projects import api, views

urlpatterns = [
    path("projects/", views.project_list, name="project-list"),
    path("projects/<int:project_id>/", views.timeline, name="project-timeline"),
    path(
        "projects/<int:project_id>/entries/<str:segment>", views.add_entry, name="project-add-entry"
    ),
    path("projects/<int:project_id>/sheet/provision", views.provision, name="project-provision"),
    path("projects/<int:project_id>/sheet/attach", views.attach, name="project-attach"),
    path(
        "projects/<int:project_id>/attachments/<int:attachment_id>/download",
        views.attachment_download,
        name="project-attachment-download",
    ),
    path("projects/<int:project_id>/unmapped/", views.unmapped, name="project-unmapped"),
    path(
        "projects/<int:project_id>/unmapped/<int:row_id>/<str:action>",
        views.unmapped_action,
        name="project-unmapped-action",
    ),
    path("api/projects", api.ProjectsView.as_view(), name="api-projects"),
    path("api/projects/<int:project_id>", api.ProjectView.as_view(), name="api-project"),
    path(
        "api/projects/<int:project_id>/timeline",
        api.TimelineView.as_view(),
        name="api-project-timeline",
    ),
    path(
        "api/projects/<int:project_id>/timeline/<str:segment>",
        api.TimelineEntryView.as_view(),
        name="api-project-entry",
    ),
    path(
        "api/projects/<int:project_id>/smartsheet",
        api.SheetView.as_view(),
        name="api-project-sheet",
    ),
    path(
        "api/projects/<int:project_id>/smartsheet/provision",
        api.ProvisionView.as_view(),
        name="api-project-provision",
    ),
    path(
        "api/projects/<int:project_id>/smartsheet/attach",
        api.AttachSheetView.as_view(),
        name="api-project-attach",
    ),
    path(
        "api/projects/<int:project_id>/smartsheet/sync",
        api.SyncView.as_view(),
        name="api-project-sync",
    ),
    path(
        "api/projects/<int:project_id>/smartsheet/runs",
        api.RunsView.as_view(),
        name="api-project-runs",
    ),
    path(
        "api/projects/<int:project_id>/smartsheet/runs/<int:run_id>",
        api.RunView.as_view(),
        name="api-project-run",
    ),
    path(
        "api/projects/<int:project_id>/smartsheet/unmapped-rows",
        api.UnmappedRowsView.as_view(),
        name="api-project-unmapped",
    ),
    path(
        "api/projects/<int:project_id>/smartsheet/unmapped-rows/<int:row_id>/import",
        api.UnmappedImportView.as_view(),
        name="api-project-unmapped-import",
    ),
    path(
        "api/projects/<int:project_id>/smartsheet/unmapped-rows/<int:row_id>/link",
        api.UnmappedLinkView.as_view(),
        name="api-project-unmapped-link",
    ),
    path(
        "api/projects/<int:project_id>/smartsheet/unmapped-rows/<int:row_id>/ignore",
        api.UnmappedIgnoreView.as_view(),
        name="api-project-unmapped-ignore",
    ),
]
