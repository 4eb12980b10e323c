"""Routes of Project migration: pages and their /api/ endpoints."""

urlpatterns: list = []
