"""Reads of CRM sync, always narrowed with integrations.accounts.selectors.scope_to_user."""
