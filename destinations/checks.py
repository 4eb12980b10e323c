"""System checks: a destination that cannot write is reported at start-up (runserver,
migrate, `manage.py check --database default`), not at its first record."""

from django.core.checks import Tags, Warning, register
from django.db import DatabaseError


@register(Tags.database)
def destinations_configured(app_configs, **kwargs):
    from destinations.models import Destination

    problems = []
    try:
        for destination in Destination.objects.all():
            missing = destination.missing_settings
            if missing:
                problems.append(
                    Warning(
                        f"The destination {destination.name!r} cannot write: its "
                        f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set.",
                        hint="Set them in admin (Destinations), then press Test.",
                        obj=destination,
                        id="destinations.W001",
                    )
                )
    except DatabaseError:
        return []  # not migrated yet: nothing configured to report
    return problems
