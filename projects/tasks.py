"""Celery tasks of ShopBoss projects: take ids, re-read, call a service."""
