"""Links to provider accounts, and the open OAuth consents that make them."""

from django.db import models
from django.utils import timezone

from integrations.accounts.models import User, Workspace, WorkspaceOwned
from integrations.connections.encryption import EncryptedTextField


class Connection(WorkspaceOwned):
    """One link to a provider account: OAuth tokens, or client credentials for Microsoft.

    Smartsheet links belong to a person (writes are attributed to the Smartsheet user who
    made them), so they carry `user`; the others belong to the workspace (`user` empty).
    Tokens and the client secret are stored encrypted (AES-256-GCM)."""

    class Provider(models.TextChoices):
        SMARTSHEET = "smartsheet", "Smartsheet"
        SALESFORCE = "salesforce", "Salesforce"
        HUBSPOT = "hubspot", "HubSpot"
        DATAVERSE = "dataverse", "Microsoft Dataverse"
        PROJECT_ONLINE = "project_online", "Microsoft Project Online"

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        EXPIRED = "expired", "Expired"
        ERROR = "error", "Error"
        REVOKED = "revoked", "Revoked"
        PAUSED = "paused", "Paused"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="connections")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="connections",
        help_text="Set for personal connections (Smartsheet); empty for workspace connections.",
    )
    label = models.CharField("account", max_length=200, blank=True)
    external_user_id = models.CharField(max_length=255, blank=True)
    external_email = models.CharField("connected as", max_length=254, blank=True)
    external_account_id = models.CharField(
        max_length=255, blank=True, help_text="Org, hub, account or tenant id at the provider."
    )
    instance_url = models.URLField(
        blank=True,
        help_text="Salesforce instance, Dataverse environment or Project Online (PWA) site URL.",
    )
    auth_domain = models.CharField(
        max_length=20, blank=True, help_text="Salesforce: login (production) or test (sandbox)."
    )
    scopes = models.JSONField(default=list, blank=True)
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    # Client-credentials (Azure AD) connections.
    tenant_id = models.CharField(max_length=100, blank=True)
    client_id = models.CharField(max_length=200, blank=True)
    client_secret = EncryptedTextField(blank=True, default="")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONNECTED)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    requires_approval = models.BooleanField(
        default=False,
        help_text="Writes planned through this connection wait in the review queue until a "
        "person approves them.",
    )
    connected_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace__name", "provider", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "provider", "user"],
                condition=models.Q(user__isnull=False),
                name="connection_unique_personal",
            ),
            models.UniqueConstraint(
                fields=["workspace", "provider"],
                condition=models.Q(user__isnull=True),
                name="connection_unique_workspace",
            ),
        ]

    def __str__(self) -> str:
        who = self.external_email or self.label or self.client_id
        return f"{self.get_provider_display()}: {who}" if who else self.get_provider_display()

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.CONNECTED and bool(
            self.access_token or self.client_secret
        )


class OAuthState(models.Model):
    """One authorization attempt: the `state` sent to the provider (kept only as a digest),
    who started it, for which workspace and provider, and the PKCE verifier. Single use,
    expires after ten minutes."""

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=20, choices=Connection.Provider.choices)
    auth_domain = models.CharField(max_length=20, blank=True)
    code_verifier = EncryptedTextField(blank=True, default="")
    redirect_uri = models.URLField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.provider} for {self.user_id} ({'used' if self.used_at else 'open'})"
