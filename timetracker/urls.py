"""Routes of TimeTracker: pages and their /api/ endpoints."""

urlpatterns: list = []
