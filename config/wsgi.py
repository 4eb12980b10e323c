"""WSGI entry point (gunicorn config.wsgi in production)."""

from django.core.wsgi import get_wsgi_application

from config.startup import require_serving_settings

require_serving_settings()
application = get_wsgi_application()
