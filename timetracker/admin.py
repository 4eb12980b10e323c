"""Admin of TimeTracker; model admins subclass integrations.admin.WorkspaceScopedAdmin."""
