"""Routes of CRM sync: its pages under /crm/ and the seed's /api/crm/ endpoints."""

from django.urls import path

from crm import api, hooks, views, views_mappings, views_wizard

urlpatterns = [
    path("hooks/hubspot/", hooks.hubspot, name="hooks-hubspot"),
    path("crm/", views.settings_page, name="crm-settings"),
    path("crm/connect/", views_wizard.connect_wizard, name="crm-wizard"),
    path("crm/connect/<str:provider>", views.config_connect, name="crm-connect"),
    path("crm/configs/<int:config_id>/setup", views_wizard.connect_setup, name="crm-wizard-setup"),
    path("crm/configs/<int:config_id>/done", views_wizard.connect_done, name="crm-wizard-done"),
    path("crm/configs/<int:config_id>/mappings/", views_mappings.mappings, name="crm-mappings"),
    path(
        "crm/configs/<int:config_id>/mappings/add",
        views_mappings.mapping_add,
        name="crm-mapping-add",
    ),
    path(
        "crm/configs/<int:config_id>/mappings/automap",
        views_mappings.mapping_automap,
        name="crm-mapping-automap",
    ),
    path(
        "crm/configs/<int:config_id>/mappings/<int:mapping_id>/edit",
        views_mappings.mapping_edit,
        name="crm-mapping-edit",
    ),
    path(
        "crm/configs/<int:config_id>/mappings/<int:mapping_id>/remove",
        views_mappings.mapping_remove,
        name="crm-mapping-remove",
    ),
    path("crm/configs/<int:config_id>/sync", views.config_sync, name="crm-sync"),
    path("crm/configs/<int:config_id>/pause", views.config_pause, name="crm-pause"),
    path("crm/configs/<int:config_id>/resume", views.config_resume, name="crm-resume"),
    path("crm/configs/<int:config_id>/disconnect", views.config_disconnect, name="crm-disconnect"),
    path("crm/configs/<int:config_id>/settings", views.config_settings, name="crm-config"),
    path("crm/history/", views.history, name="crm-history"),
    path("crm/history/<int:log_id>/", views.log_detail, name="crm-log"),
    path("crm/history/<int:log_id>/retry", views.log_retry, name="crm-log-retry"),
    path("crm/history/<int:log_id>/undo", views.log_undo, name="crm-log-undo"),
    path("crm/conflicts/", views.conflict_list, name="crm-conflicts"),
    path("crm/conflicts/<int:conflict_id>/", views.conflict_detail, name="crm-conflict"),
    path(
        "crm/conflicts/<int:conflict_id>/ignore", views.conflict_ignore, name="crm-conflict-ignore"
    ),
    path(
        "crm/conflicts/<int:conflict_id>/rule/clear",
        views.conflict_rule_clear,
        name="crm-conflict-rule-clear",
    ),
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
    path("api/crm/sync/logs/<int:log_id>/undo", api.UndoView.as_view(), name="api-crm-log-undo"),
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
