"""Reads of ShopBoss projects, always narrowed with integrations.selectors.scope_to_user."""
