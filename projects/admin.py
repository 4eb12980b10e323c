"""Admin of ShopBoss projects; model admins subclass integrations.admin.WorkspaceScopedAdmin."""
