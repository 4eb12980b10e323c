"""Routes of CRM sync: pages and their /api/ endpoints."""

urlpatterns: list = []
