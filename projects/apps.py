from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    """ShopBoss projects and their timeline, kept in step with Smartsheet sheets (seed:
    smartsheet-projects-sync-prd)."""

    name = "projects"
    verbose_name = "ShopBoss projects"

    def ready(self):
        from integrations import approvals
        from integrations.signals import demo_ready
        from projects import services, sync

        demo_ready.connect(services.demo_project, dispatch_uid="projects.demo_project")
        # Changes this sync held for review come back here to be written once approved.
        approvals.register_applier(sync.OWNER, sync.apply_change)
