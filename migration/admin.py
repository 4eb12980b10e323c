"""Admin of Project migration; model admins subclass integrations.accounts.admin.WorkspaceScopedAdmin."""
