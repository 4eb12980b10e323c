"""Admin of Project migration; model admins subclass integrations.admin.WorkspaceScopedAdmin."""
