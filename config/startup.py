"""Start-up guard shared by every entry point (manage.py, wsgi, asgi, celery)."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured


def load_settings_or_exit() -> None:
    """Import the settings now, so a malformed variable stops the process with one clear line
    naming it instead of a traceback on the first request."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - the attribute access imports config.settings
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"Integration Hub cannot start: {exc}\n")
        raise SystemExit(2) from None
