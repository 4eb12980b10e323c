from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integration platform"

    def ready(self) -> None:
        from integrations import signals
        from integrations.connections import checks  # noqa: F401 - checks register themselves

        signals.connect()
