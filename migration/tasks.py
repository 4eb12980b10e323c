"""Celery tasks of Project migration: take ids, re-read, call a service."""
