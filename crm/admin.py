"""Admin of CRM sync; model admins subclass integrations.admin.WorkspaceScopedAdmin."""
