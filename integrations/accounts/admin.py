"""Admin of accounts, and WorkspaceScopedAdmin: the base every room's and app's admin uses so
that a staff user sees only the rows of their workspaces (a superuser sees all)."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from integrations.accounts import selectors, services
from integrations.accounts.models import ApiToken, AuditEvent, Membership, User, Workspace


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


class ReadOnlyAdmin(WorkspaceScopedAdmin):
    """Rows a sync writes; admins read them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
