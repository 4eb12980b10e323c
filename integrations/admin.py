"""The admin site of the hub, and every room's admin: Django discovers this module, which
imports each room's `admin` so that its models are registered."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin

from integrations.accounts import admin as accounts_admin  # noqa: F401 - registers its models
from integrations.approvals import admin as approvals_admin  # noqa: F401
from integrations.connections import admin as connections_admin  # noqa: F401
from integrations.mapping import admin as mapping_admin  # noqa: F401

admin.site.site_header = "Integration Hub"
admin.site.site_title = "Integration Hub admin"
admin.site.index_title = "Administration"
# One sign-in page for everyone: allauth's, with its rate limits and failed-login audit.
admin.site.login = secure_admin_login(admin.site.login)
