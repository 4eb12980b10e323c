from django.apps import AppConfig


class MigrationConfig(AppConfig):
    """Project Online and MS Project files migrated into Smartsheet workspaces (seed:
    project-online-to-smartsheet-mapping-spec)."""

    name = "migration"
    verbose_name = "Project migration"

    def ready(self):
        # The migration's named transforms (duration_days, work_hours, priority_label, …) join
        # the platform's registry in every process: admin and the API validate edited mapping
        # sets against them (the platform never imports apps).
        from migration.mapping import transforms  # noqa: F401
