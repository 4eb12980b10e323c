"""Routes of CRM sync: the seed's /api/crm/ endpoints (the CRM pages come with the next issue)."""

from django.urls import path

from crm import api

urlpatterns = [
    path("api/crm/connect", api.ConnectView.as_view(), name="api-crm-connect"),
    path("api/crm/oauth/callback", api.OAuthCallbackView.as_view(), name="api-crm-oauth-callback"),
    path(
        "api/crm/disconnect/<str:provider>",
        api.DisconnectView.as_view(),
        name="api-crm-disconnect",
    ),
    path(
        "api/crm/<str:provider>/test-connection",
        api.TestConnectionView.as_view(),
        name="api-crm-test-connection",
    ),
    path(
        "api/crm/<str:provider>/available-fields",
        api.AvailableFieldsView.as_view(),
        name="api-crm-available-fields",
    ),
    path("api/crm/configs", api.ConfigsView.as_view(), name="api-crm-configs"),
    path("api/crm/configs/<int:config_id>", api.ConfigView.as_view(), name="api-crm-config"),
    path("api/crm/configs/<int:config_id>/pause", api.PauseView.as_view(), name="api-crm-pause"),
    path("api/crm/configs/<int:config_id>/resume", api.ResumeView.as_view(), name="api-crm-resume"),
    path(
        "api/crm/configs/<int:config_id>/field-mappings",
        api.MappingsView.as_view(),
        name="api-crm-mappings",
    ),
    path(
        "api/crm/configs/<int:config_id>/field-mappings/<int:mapping_id>",
        api.MappingView.as_view(),
        name="api-crm-mapping",
    ),
    path("api/crm/sync/trigger", api.TriggerView.as_view(), name="api-crm-sync-trigger"),
    path("api/crm/sync/logs", api.LogsView.as_view(), name="api-crm-logs"),
    path("api/crm/sync/logs/<int:log_id>", api.LogView.as_view(), name="api-crm-log"),
    path("api/crm/sync/logs/<int:log_id>/retry", api.RetryView.as_view(), name="api-crm-log-retry"),
    path("api/crm/conflicts", api.ConflictsView.as_view(), name="api-crm-conflicts"),
    path(
        "api/crm/conflicts/<int:conflict_id>/resolve",
        api.ResolveView.as_view(),
        name="api-crm-conflict-resolve",
    ),
    path(
        "api/crm/conflicts/<int:conflict_id>/ignore",
        api.IgnoreView.as_view(),
        name="api-crm-conflict-ignore",
    ),
]
