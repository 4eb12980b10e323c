"""ASGI entry point."""

from django.core.asgi import get_asgi_application

from config.startup import require_serving_settings

require_serving_settings()
application = get_asgi_application()
