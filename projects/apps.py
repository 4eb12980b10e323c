from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    """ShopBoss projects and their timeline, kept in step with Smartsheet sheets (seed:
    smartsheet-projects-sync-prd)."""

    name = "projects"
    verbose_name = "ShopBoss projects"
