"""Reads of Project migration, always narrowed with integrations.selectors.scope_to_user."""
