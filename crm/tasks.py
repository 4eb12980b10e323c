"""Celery tasks of CRM sync: take ids, re-read, call a service."""
