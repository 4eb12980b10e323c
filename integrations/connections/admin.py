"""Admin of connections (Microsoft client credentials are entered here; OAuth connections are
made by their consent page), and `act_on_each`, the body of every admin action."""

from django import forms
from django.contrib import admin, messages

from integrations.accounts.admin import WorkspaceScopedAdmin
from integrations.connections import http, selectors, services
from integrations.connections.models import Connection
from integrations.connections.providers import dataverse as dataverse_provider
from integrations.errors import ApplicationError


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
