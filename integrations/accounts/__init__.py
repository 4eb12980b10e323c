"""Accounts and audit: who signs in (User), the tenants (Workspace) and who belongs to them
(Membership, admin or member), API tokens, the audit trail and its one writer, and the role
checks every service calls. The lowest room: it imports no other room."""
