"""Admin of the platform, and WorkspaceScopedAdmin: the base every app's admin uses so that a
staff user sees only the rows of their workspaces (a superuser sees all)."""

from allauth.account.decorators import secure_admin_login
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join

from integrations import http, selectors, services
from integrations.errors import ApplicationError
from integrations.models import (
    ApiToken,
    AuditEvent,
    Connection,
    Membership,
    User,
    Workspace,
)
from integrations.providers import dataverse as dataverse_provider

admin.site.site_header = "Integration Hub"
admin.site.site_title = "Integration Hub admin"
admin.site.index_title = "Administration"
# One sign-in page for everyone: allauth's, with its rate limits and failed-login audit.
admin.site.login = secure_admin_login(admin.site.login)


def _workspace_id_of(obj) -> int | None:
    if obj is None:
        return None
    if isinstance(obj, Workspace):
        return obj.pk
    return getattr(obj, "workspace_id", None)


class WorkspaceScopedAdmin(admin.ModelAdmin):
    """Lists only rows of the user's workspaces (with `workspace_role`, only those where the
    user has that role); changes and deletes need the admin role in the row's workspace;
    foreign-key choices are narrowed the same way, so no other workspace's names show up."""

    workspace_role: str | None = None

    def get_queryset(self, request):
        return selectors.scope_to_user(
            super().get_queryset(request), request.user, role=self.workspace_role
        )

    def _is_workspace_admin(self, request, obj) -> bool:
        workspace_id = _workspace_id_of(obj)
        return workspace_id is None or selectors.is_workspace_admin(
            user=request.user, workspace_id=workspace_id
        )

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._is_workspace_admin(
            request, obj
        )

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._is_workspace_admin(
            request, obj
        )

    def has_act_permission(self, request):
        """For actions (`permissions=["act"]`) that change state on rows this admin shows
        read-only (approve a change, run an import again): the model's Django change
        permission, without making its rows editable. The workspace role is the service's
        check."""
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related, "workspace_path") and not request.user.is_superuser:
            # New rows go only where the user is an admin.
            kwargs["queryset"] = selectors.scope_to_user(
                related._default_manager.all(), request.user, role=Membership.Role.ADMIN
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def act_on_each(model_admin, request, items, *, verb: str, call, noun: str = "", label=str) -> None:
    """The body of every admin action: call one service per selected item and report what
    was done and, item by item, why not. The services decide who may (the workspace role) and
    say why not; the action only declares the Django permission it needs (`permissions=`)."""
    done, failed = 0, []
    for item in items:
        try:
            outcome = call(item)
        except (ApplicationError, http.ProviderError) as exc:
            failed.append(f"{label(item)}: {getattr(exc, 'message', exc)}")
            continue
        if isinstance(outcome, dict) and not outcome.get("ok", True):
            failed.append(f"{label(item)}: {outcome['error']}")
        else:
            done += 1
    if done:
        model_admin.message_user(request, f"{verb}: {done} {noun}".rstrip() + ".", messages.SUCCESS)
    for line in failed:
        model_admin.message_user(request, line, messages.ERROR)


class ReadOnlyAdmin(WorkspaceScopedAdmin):
    """Rows a sync writes; admins read them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SyncRunAdmin(ReadOnlyAdmin):
    """Base of every app's run admin: the summary, the per-item errors and the
    last-write-wins decisions as lists instead of raw JSON."""

    run_list_display = ["status", "summary_text", "api_calls", "retries", "duration"]
    exclude = ["errors", "overwrites"]

    def get_readonly_fields(self, request, obj=None):
        return [
            f.name for f in self.model._meta.fields if f.name not in ("errors", "overwrites")
        ] + ["error_list", "overwrite_list"]

    @admin.display(description="summary")
    def summary_text(self, obj):
        return obj.message or obj.summary()

    @admin.display(description="errors")
    def error_list(self, obj):
        if not obj.errors:
            return "—"
        more = (
            f" (and {obj.error_count - len(obj.errors)} more)"
            if obj.error_count > len(obj.errors)
            else ""
        )
        return format_html(
            "<ul>{}</ul>{}",
            format_html_join(
                "", "<li>{}: {}</li>", ((e["item"], e["message"]) for e in obj.errors)
            ),
            more,
        )

    @admin.display(description="last-write-wins decisions")
    def overwrite_list(self, obj):
        if not obj.overwrites:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "", "<li>{}: {}</li>", ((e["item"], e["message"]) for e in obj.overwrites)
            ),
        )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and not request.user.is_superuser:
            # Whoever creates a workspace administers it (and can see it afterwards).
            services.membership_add(
                workspace=obj, user=request.user, role=Membership.Role.ADMIN, actor=None
            )


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["workspace", "user", "role"]

    def clean(self):
        cleaned = super().clean()
        was_admin = self.instance.pk and self.initial.get("role") == Membership.Role.ADMIN
        if (
            was_admin
            and cleaned.get("role") != Membership.Role.ADMIN
            and not selectors.other_admins(membership=self.instance).exists()
        ):
            self.add_error("role", "A workspace needs at least one admin.")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin):
    form = MembershipForm
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = [("workspace", admin.RelatedOnlyFieldListFilter), "role"]
    search_fields = ["user__email", "workspace__name"]
    autocomplete_fields = ["user"]

    def has_delete_permission(self, request, obj=None):
        if (
            obj is not None
            and obj.role == Membership.Role.ADMIN
            and not selectors.other_admins(membership=obj).exists()
        ):
            return False  # the last admin stays
        return super().has_delete_permission(request, obj)


class HubUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class HubUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(WorkspaceScopedAdmin, DjangoUserAdmin):
    form = HubUserChangeForm
    add_form = HubUserCreationForm
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {"classes": ["wide"], "fields": ["email", "usable_password", "password1", "password2"]},
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Else a staff user with "change user" could make anyone, themselves too, superuser.
            readonly += ["is_staff", "is_superuser", "groups", "user_permissions"]
        return readonly

    def _is_workspace_admin(self, request, obj) -> bool:
        # A user belongs to no single workspace: only superusers change other people's accounts.
        return request.user.is_superuser or obj is None or obj == request.user


@admin.register(AuditEvent)
class AuditEventAdmin(WorkspaceScopedAdmin):
    workspace_role = Membership.Role.ADMIN
    list_display = [
        "created_at",
        "actor_display",
        "action",
        "target_type",
        "target_id",
        "workspace",
        "ip",
    ]
    list_filter = [
        "action",
        "actor_kind",
        "target_type",
        ("workspace", admin.RelatedOnlyFieldListFilter),
        "created_at",
    ]
    search_fields = ["actor_label", "action", "target_id", "target_repr", "request_id", "task_id"]
    date_hierarchy = "created_at"
    list_select_related = ["workspace"]

    @admin.display(description="actor")
    def actor_display(self, obj):
        return obj.actor_label or obj.get_actor_kind_display()

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name", "expires_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Any staff user manages their own tokens here (superusers everyone's). The key is shown
    once, on the page that follows creation, and is not kept anywhere."""

    form = ApiTokenForm
    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at"]
    search_fields = ["name", "user__email", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user")
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def get_fields(self, request, obj=None):
        fields = ["name", "expires_at"]
        if request.user.is_superuser and obj is None:
            fields.insert(0, "user")
        return fields if obj is None else ["user", *fields, "prefix", "created_at", "last_used_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "prefix", "created_at", "last_used_at"] if obj else []

    def _own(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return self._own(request)

    def has_view_permission(self, request, obj=None):
        return self._own(request)

    def has_add_permission(self, request):
        return self._own(request)

    def has_change_permission(self, request, obj=None):
        return self._own(request)

    def has_delete_permission(self, request, obj=None):
        return self._own(request)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        owner = form.cleaned_data.get("user") if request.user.is_superuser else request.user
        token, key = services.api_token_create(
            user=owner or request.user,
            name=obj.name,
            expires_at=obj.expires_at,
            actor=request.user,
        )
        obj.pk, obj.prefix, obj.digest, obj.user = token.pk, token.prefix, token.digest, token.user
        obj._state.adding = False
        request._api_token_key = key

    def response_add(self, request, obj, post_url_continue=None):
        # Rendered, not redirected: the key must not travel through a message cookie or session.
        response = TemplateResponse(
            request,
            "admin/integrations/apitoken/created.html",
            {
                **self.admin_site.each_context(request),
                "title": "API token created",
                "token": obj,
                "key": request._api_token_key,
                "opts": self.model._meta,
            },
        )
        add_never_cache_headers(response)
        return response


def _secret_state(value: str) -> str:
    return "●●●●●●●● (set, stored encrypted)" if value else "—"


class ConnectionForm(forms.ModelForm):
    """Admin adds client-credentials connections (Dataverse) here; OAuth providers are
    connected through their consent page. The secret is write-only: left empty, it stays."""

    client_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored secret.",
    )
    instance_url = forms.URLField(
        assume_scheme="https",
        label="Environment URL",
        help_text="e.g. https://yourorg.crm.dynamics.com",
    )

    # instance_url is declared above rather than listed here, so the model's URLField never
    # builds its own (http-assuming) form field.
    EDITABLE = ["workspace", "label", "tenant_id", "client_id", "client_secret", "instance_url"]

    class Meta:
        model = Connection
        fields = ["workspace", "label", "tenant_id", "client_id", "client_secret"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.provider != Connection.Provider.DATAVERSE:
            # OAuth connections are made and renewed by their consent page, not edited here.
            for name in ("client_secret", "instance_url"):
                self.fields.pop(name, None)
        for name in ("tenant_id", "client_id", "instance_url"):
            if name in self.fields:
                self.fields[name].required = True
        if "instance_url" in self.fields:
            self.fields["instance_url"].initial = (
                self.instance.instance_url or dataverse_provider.default_environment_url()
            )
        if not self.instance.pk and "client_secret" in self.fields:
            self.fields["client_secret"].required = True
            self.fields["client_secret"].help_text = "The client secret's value (not its id)."

    def clean_client_secret(self):
        return self.cleaned_data["client_secret"] or (
            self.instance.client_secret if self.instance.pk else ""
        )


@admin.register(Connection)
class ConnectionAdmin(WorkspaceScopedAdmin):
    form = ConnectionForm
    list_display = [
        "__str__",
        "provider",
        "workspace",
        "user",
        "status",
        "expires_at",
        "short_error",
        "last_tested_at",
    ]
    list_filter = ["provider", "status", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["label", "external_email", "external_user_id", "client_id"]
    actions = [
        "test_connections",
        "refresh_connections",
        "pause_connections",
        "resume_connections",
        "disconnect_connections",
    ]
    list_select_related = ["workspace", "user"]
    readonly_oauth = [
        "workspace",
        "provider",
        "user",
        "label",
        "external_email",
        "external_user_id",
        "external_account_id",
        "instance_url",
        "auth_domain",
        "scopes",
        "access_token_state",
        "refresh_token_state",
        "expires_at",
        "refreshed_at",
        "status",
        "last_error",
        "last_error_at",
        "last_tested_at",
        "connected_by",
        "connected_at",
    ]

    def get_queryset(self, request):
        return selectors.connection_list(user=request.user)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ConnectionForm.EDITABLE
        if obj.provider == Connection.Provider.DATAVERSE:
            return [
                *ConnectionForm.EDITABLE,
                "client_secret_state",
                "access_token_state",
                "expires_at",
                "status",
                "last_error",
                "last_tested_at",
                "requires_approval",
            ]
        return [*self.readonly_oauth, "requires_approval"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.provider == Connection.Provider.DATAVERSE:
            return [
                "workspace",
                "client_secret_state",
                "access_token_state",
                "expires_at",
                "status",
                "last_error",
                "last_tested_at",
            ]
        return self.readonly_oauth

    @admin.display(description="error")
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.display(description="access token")
    def access_token_state(self, obj):
        return _secret_state(obj.access_token)

    @admin.display(description="refresh token")
    def refresh_token_state(self, obj):
        return _secret_state(obj.refresh_token)

    @admin.display(description="client secret")
    def client_secret_state(self, obj):
        return _secret_state(obj.client_secret)

    def save_model(self, request, obj, form, change):
        gate = form.cleaned_data.get("requires_approval")
        if change and obj.provider != Connection.Provider.DATAVERSE:
            # Of an OAuth connection only the approval gate is edited here; the rest comes
            # from its consent page.
            if gate is not None:
                services.connection_set_requires_approval(
                    connection=obj, actor=request.user, required=gate
                )
            return
        data = form.cleaned_data
        saved = services.connection_create_client_credentials(
            workspace=data.get("workspace") or obj.workspace,
            actor=request.user,
            tenant_id=data["tenant_id"],
            client_id=data["client_id"],
            client_secret=data["client_secret"],
            instance_url=data["instance_url"],
            label=data.get("label", ""),
        )
        if gate is not None:
            services.connection_set_requires_approval(
                connection=saved, actor=request.user, required=gate
            )
        obj.pk = saved.pk
        obj._state.adding = False

    @admin.action(description="Test the selected connections", permissions=["view"])
    def test_connections(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            noun="connection(s)",
            verb="Tested OK",
            call=lambda c: services.connection_test(connection=c, actor=request.user),
        )

    @admin.action(description="Refresh tokens now", permissions=["change"])
    def refresh_connections(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            noun="connection(s)",
            verb="Refreshed",
            call=lambda c: services.connection_refresh(connection=c, actor=request.user),
        )

    @admin.action(description="Pause", permissions=["change"])
    def pause_connections(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            noun="connection(s)",
            verb="Paused",
            call=lambda c: services.connection_set_paused(
                connection=c, paused=True, actor=request.user
            ),
        )

    @admin.action(description="Resume", permissions=["change"])
    def resume_connections(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            noun="connection(s)",
            verb="Resumed",
            call=lambda c: services.connection_set_paused(
                connection=c, paused=False, actor=request.user
            ),
        )

    @admin.action(description="Disconnect (revoke at the provider)", permissions=["change"])
    def disconnect_connections(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            noun="connection(s)",
            verb="Disconnected",
            call=lambda c: services.connection_disconnect(connection=c, actor=request.user),
        )


# Field mapping registers its own admin classes (integrations/mapping/admin.py).
from integrations.mapping import admin as _mapping_admin  # noqa: E402, F401
