"""Admin of CRM sync; model admins subclass integrations.accounts.admin.WorkspaceScopedAdmin."""
