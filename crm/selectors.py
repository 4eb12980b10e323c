"""Reads of CRM sync, always narrowed with integrations.selectors.scope_to_user."""
