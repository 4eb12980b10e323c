"""System checks (shown by runserver, migrate and `manage.py check`): configuration that is
valid but will not work, reported at start-up rather than at the first Connect click."""

from django.conf import settings
from django.core.checks import Warning, register

from integrations.connections import providers


@register()
def integration_settings(app_configs, **kwargs):
    problems = []
    if settings.INTEGRATIONS_MODE == "live":
        for module in providers.oauth_providers():
            prefix = module.SPEC.name.upper()
            if not (
                getattr(settings, f"{prefix}_CLIENT_ID")
                and getattr(settings, f"{prefix}_CLIENT_SECRET")
            ):
                problems.append(
                    Warning(
                        f"{module.SPEC.label} cannot be connected: {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET are not set.",
                        hint=f"Register an OAuth app at {module.SPEC.label} with the redirect URI "
                        f"{settings.HUB_BASE_URL}/integrations/{module.SPEC.name}/auth/callback.",
                        id="integrations.W001",
                    )
                )
        if (
            settings.HUB_BASE_URL.startswith("http://")
            and "://127.0.0.1" not in settings.HUB_BASE_URL
            and "://localhost" not in settings.HUB_BASE_URL
        ):
            problems.append(
                Warning(
                    "HUB_BASE_URL is plain http: providers refuse OAuth redirect URIs that are not https.",
                    id="integrations.W002",
                )
            )
    elif not settings.DEBUG:
        problems.append(
            Warning(
                "INTEGRATIONS_MODE is sandbox with DEBUG off: every provider call goes to the local emulators.",
                hint="Set INTEGRATIONS_MODE=live (and the providers' client credentials) in production.",
                id="integrations.W003",
            )
        )
    return problems
