"""The platform's own records: users, workspaces and who belongs to them, the audit trail,
API tokens and process heartbeats. Provider connections join them in the platform issue."""

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from integrations.encryption import EncryptedTextField


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """Someone who signs in to the hub. Email is the login; there is no username."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    # How scope_to_user() reaches a workspace from here (users are seen through shared ones).
    workspace_path = "memberships__workspace"

    objects = UserManager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip().lower()
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.email


class Workspace(models.Model):
    """A tenant: every business record of every app belongs to exactly one workspace."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    workspace_path = ""  # the workspace is itself

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkspaceOwned(models.Model):
    """Base of every model that holds business data. Querysets of these are narrowed to the
    caller's workspaces by integrations.selectors.scope_to_user, in the API and in admin."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")

    workspace_path = "workspace"

    class Meta:
        abstract = True


class Membership(WorkspaceOwned):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class AuditEvent(models.Model):
    """Who did what to which record, from which request or job. Append-only; written by
    integrations.services.audit_record and nothing else."""

    class ActorKind(models.TextChoices):
        USER = "user", "User"
        JOB = "job", "Job"
        SYSTEM = "system", "System"

    # No database constraint and no cascade: the trail outlives what it describes. Deleting a
    # workspace writes events about its rows in the same transaction, and they keep its id.
    workspace = models.ForeignKey(
        Workspace,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    # Email of the user or name of the task at the time, kept when the user is deleted.
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True, db_index=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    target_repr = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    task_id = models.CharField(max_length=64, blank=True, db_index=True)
    # {"field": {"before": …, "after": …}} for changed fields, secrets already redacted.
    changes = models.JSONField(default=dict, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    workspace_path = "workspace"

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        who = self.actor_label or self.actor_kind
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 digest is stored: the key is shown once, when it
    is created, and can never be read back from the database or admin."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'ERP export'.")
    prefix = models.CharField(max_length=12, editable=False, db_index=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class Heartbeat(models.Model):
    """Last sign of life of a background process ("beat", "worker"), read by /health/."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()
    # How many times it was touched: a probe can tell a task that ran twice from one that ran
    # once (the embedded stack's soak test counts exactly-once delivery with it).
    beats = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


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
        blank=True, help_text="Salesforce instance or Dataverse environment URL."
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


# --- field mapping -------------------------------------------------------------------------------


class LookupTable(WorkspaceOwned):
    """Natural keys (an email, a slug) and the UUIDs they stand for (seed A2): the source the
    `lookup_uuid` transform reads. `version` moves on every change, so caches never serve a
    stale answer."""

    name = models.SlugField(max_length=60)
    description = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="lookup_table_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class LookupEntry(models.Model):
    table = models.ForeignKey(LookupTable, on_delete=models.CASCADE, related_name="entries")
    workspace_path = "table__workspace"
    key = models.CharField(max_length=255, help_text="Stored lower-case and trimmed.")
    value = models.UUIDField()

    class Meta:
        verbose_name_plural = "lookup entries"
        constraints = [
            models.UniqueConstraint(fields=["table", "key"], name="lookup_entry_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.value}"

    def save(self, *args, **kwargs):
        self.key = self.key.strip().lower()
        super().save(*args, **kwargs)
        LookupTable.objects.filter(pk=self.table_id).update(version=models.F("version") + 1)


class NumberSequence(models.Model):
    """The last number issued per prefix and month (OE-2025-12 → 17): numbers are taken by
    an atomic increment of this row, so no two callers ever get the same one."""

    key = models.CharField(max_length=40, unique=True)
    last = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.last}"


class MappingSet(WorkspaceOwned):
    """How one entity's fields map between the hub (or a source) and a target: field mappings,
    the target's required fields, and whether writes wait for approval."""

    name = models.CharField(max_length=120)
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="mapping_sets"
    )
    source_entity = models.CharField(max_length=100, blank=True)
    target_entity = models.CharField(max_length=100)
    required_fields = models.JSONField(
        default=list,
        blank=True,
        help_text="Target fields a record must have to be written (a list of names).",
    )
    requires_approval = models.BooleanField(
        default=False, help_text="Planned writes wait in the review queue for a person."
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="mapping_set_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class FieldMapping(models.Model):
    class Direction(models.TextChoices):
        PUSH = "push", "Push (hub → target)"
        PULL = "pull", "Pull (target → hub)"
        BOTH = "both", "Both"
        NONE = "none", "Off"

    mapping_set = models.ForeignKey(MappingSet, on_delete=models.CASCADE, related_name="fields")
    workspace_path = "mapping_set__workspace"
    position = models.PositiveIntegerField(default=0)
    source_field = models.CharField(
        max_length=255,
        help_text="A field name; several, comma-separated, give the transform a list.",
    )
    target_field = models.CharField(max_length=255)
    transform = models.CharField(max_length=40, default="rename")
    params = models.JSONField(default=dict, blank=True)
    direction = models.CharField(max_length=4, choices=Direction.choices, default=Direction.BOTH)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.source_field} → {self.target_field} ({self.transform})"

    @property
    def source_fields(self) -> list[str]:
        return [part.strip() for part in self.source_field.split(",") if part.strip()]

    def clean(self):
        from django.core.exceptions import ValidationError

        from integrations.mapping.transforms import MappingError, validate_params

        try:
            validate_params(self.transform, self.params)
        except MappingError as exc:
            field = "transform" if exc.field == "transform" else "params"
            raise ValidationError({field: exc.message}) from None


class OutboundChange(WorkspaceOwned):
    """A write planned by a sync that must wait for a person (the seed's "human in the loop
    for every message"): what would be written where, field by field, and the decision."""

    class Operation(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed to apply"

    owner = models.CharField(
        max_length=60, help_text="The sync that planned it and applies it once approved."
    )
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mapping_set = models.ForeignKey(
        MappingSet, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_entity = models.CharField(max_length=100)
    target_id = models.CharField(max_length=255, blank=True, help_text="Empty for a create.")
    target_label = models.CharField(max_length=255, blank=True)
    operation = models.CharField(max_length=6, choices=Operation.choices)
    changes = models.JSONField(
        default=dict, help_text='Field by field: {"field": {"before": …, "after": …}}.'
    )
    payload = models.JSONField(default=dict, help_text="The record the owner will write.")
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        what = self.target_label or self.target_id or "new record"
        return f"{self.get_operation_display()} {self.target_entity} {what}"
