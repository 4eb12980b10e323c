"""Start-up guards shared by every entry point (manage.py, wsgi, asgi, celery)."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured


def _exit(problem: str) -> None:
    sys.stderr.write(f"Integration Hub cannot start: {problem}\n")
    raise SystemExit(2)


def load_settings_or_exit() -> None:
    """Import the settings now, so a malformed variable stops the process with one clear line
    naming it instead of a traceback on the first request."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - the attribute access imports config.settings
    except ImproperlyConfigured as exc:
        _exit(str(exc))


def require_serving_settings() -> None:
    """What only serving HTTP needs (ALLOWED_HOSTS without DEBUG): checked by the processes
    that serve (wsgi, asgi, runserver), so every other command works on a bare checkout."""
    load_settings_or_exit()
    from django.conf import settings

    if settings.ALLOWED_HOSTS_PROBLEM:
        _exit(f"invalid configuration — {settings.ALLOWED_HOSTS_PROBLEM} (see .env.example)")
