"""Routes of ShopBoss projects: pages and their /api/ endpoints."""

urlpatterns: list = []
