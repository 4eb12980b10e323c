from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    """ShopBoss projects and their timeline, kept in step with Smartsheet sheets (seed:
    smartsheet-projects-sync-prd)."""

    name = "projects"
    verbose_name = "ShopBoss projects"

    def ready(self):
        from integrations.signals import demo_ready
        from projects import services

        demo_ready.connect(services.demo_project, dispatch_uid="projects.demo_project")
