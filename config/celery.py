"""The Celery app. Broker, beat scheduler and every other option come from config/settings.py
(the CELERY_* names)."""

from celery import Celery, signals

from config.startup import load_settings_or_exit

load_settings_or_exit()

app = Celery("hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _use_django_logging(**kwargs) -> None:
    # Connecting this signal stops Celery from installing its own handlers; workers and beat
    # then log through settings.LOGGING, whose filters redact secrets.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
