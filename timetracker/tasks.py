"""Celery tasks of TimeTracker: take ids, re-read, call a service."""
