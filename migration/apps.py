from django.apps import AppConfig


class MigrationConfig(AppConfig):
    """Project Online and MS Project files migrated into Smartsheet workspaces (seed:
    project-online-to-smartsheet-mapping-spec)."""

    name = "migration"
    verbose_name = "Project migration"
