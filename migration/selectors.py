"""Reads of Project migration, always narrowed with integrations.accounts.selectors.scope_to_user."""
