"""Reads of TimeTracker, always narrowed with integrations.selectors.scope_to_user."""
