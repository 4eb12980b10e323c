"""Models of CRM sync (seed: crm-native-integrations-f030, read with spec-notes "Seed 004").

The app side is `Account` and `Contact`. A `CrmConfig` is one workspace's sync with one CRM
(the seed's `crm_sync_configs`); its field mappings are mapping sets of the mapping engine,
one per entity (`CrmEntityMapping`), so there is one mapping editor for every sync. Each run of
one entity in one direction is a `SyncLog` (the platform's `SyncRun`, with the seed's counters);
a field changed on both sides under "manual review" waits as a `SyncConflict` with the merge
base beside both sides; `CrmLink` is the engine's record link (local record ↔ CRM id, with the
last-synced value of every mapped field) and `CrmWrite` its write intent.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations.accounts.models import WorkspaceOwned
from integrations.connections.models import Connection
from integrations.mapping.models import MappingSet
from integrations.runs import SyncRun
from integrations.sync.models import RecordLink, WriteIntent


class Entity(models.TextChoices):
    ACCOUNT = "account", "Accounts"
    CONTACT = "contact", "Contacts"


class Edited(WorkspaceOwned):
    """A hub record whose `updated_at` moves on every save: the CRM sync reads the hub's edits
    by it (its own writes use bulk queries, which leave it alone)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.updated_at = timezone.now()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "updated_at"}
        super().save(*args, **kwargs)


class Account(Edited):
    """A company the workspace deals with (Salesforce Account, HubSpot company)."""

    name = models.CharField(max_length=255)
    domain = models.CharField(max_length=255, blank=True, help_text="example.com, no scheme.")
    industry = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    website = models.URLField(max_length=255, blank=True)
    billing_street = models.CharField(max_length=255, blank=True)
    billing_city = models.CharField(max_length=100, blank=True)
    billing_state = models.CharField(max_length=100, blank=True)
    billing_postal_code = models.CharField(max_length=20, blank=True)
    billing_country = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Not auto_now: the planner compares it with the CRM's modstamp (last write wins), so a
    # write that only records a sync must not move it.
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Contact(Edited):
    """A person (Salesforce Contact, HubSpot contact). The email is the natural key that
    matches a contact created on both sides, so it is unique per workspace when given."""

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(max_length=255, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=128, blank=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "email"],
                condition=~models.Q(email=""),
                name="crm_contact_email_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class CrmConfig(WorkspaceOwned):
    """One workspace's sync with one CRM: what moves, which way, how often, and who wins."""

    class Provider(models.TextChoices):
        SALESFORCE = "salesforce", "Salesforce"
        HUBSPOT = "hubspot", "HubSpot"

    class Direction(models.TextChoices):
        PUSH = "push", "Hub → CRM"
        PULL = "pull", "CRM → hub"
        BIDIRECTIONAL = "bidirectional", "Both ways"

    class Frequency(models.TextChoices):
        REALTIME = "realtime", "Real time"
        HOURLY = "hourly", "Hourly"
        DAILY = "daily", "Daily"
        MANUAL = "manual", "Manual"

    class Resolution(models.TextChoices):
        LAST_WRITE_WINS = "last_write_wins", "Last write wins"
        CRM_WINS = "crm_wins", "CRM wins"
        APP_WINS = "app_wins", "Hub wins"
        MANUAL_REVIEW = "manual_review", "Manual review"

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        DISCONNECTED = "disconnected", "Disconnected"
        ERROR = "error", "Error"
        PAUSED = "paused", "Paused"

    class LastStatus(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        PARTIAL = "partial", "Partial"

    provider = models.CharField(max_length=20, choices=Provider.choices)
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="crm_configs"
    )
    is_active = models.BooleanField(default=True)
    sync_direction = models.CharField(
        max_length=20, choices=Direction.choices, default=Direction.BIDIRECTIONAL
    )
    sync_frequency = models.CharField(
        max_length=20, choices=Frequency.choices, default=Frequency.HOURLY
    )
    daily_at = models.TimeField(
        null=True, blank=True, help_text="Time of day of a daily sync (the workspace's zone: UTC)."
    )
    entities = models.JSONField(
        default=list, help_text='What is synced: a list of "account", "contact".'
    )
    filters = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per entity, a list of rules {field, operator, value}; "
        "{current_user_crm_id} stands for the connected user's CRM id.",
    )
    conflict_resolution = models.CharField(
        max_length=20, choices=Resolution.choices, default=Resolution.LAST_WRITE_WINS
    )
    field_policies = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per entity, CRM field -> "app_wins" or "crm_wins": a field changed on both '
        "sides is settled that way whatever conflict_resolution says (Always use app / CRM).",
    )
    create_if_missing = models.BooleanField(
        default=True, help_text="Create a record on the other side when it has no match there."
    )
    propagate_deletes = models.BooleanField(
        default=False,
        help_text="Delete on the other side what was deleted on one (only after a complete read).",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONNECTED)
    status_reason = models.CharField(max_length=500, blank=True)
    resume_at = models.DateTimeField(
        null=True, blank=True, help_text="When a pause for a spent API quota may end."
    )
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_status = models.CharField(max_length=10, choices=LastStatus.choices, blank=True)
    last_sync_error = models.TextField(blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    api_usage = models.JSONField(
        default=dict, blank=True, help_text="The provider's last quota report (used, limit)."
    )
    cursors = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per entity and side, the modstamp read up to (the next run reads from it).",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CRM config"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "provider"], name="crm_config_provider_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} ({self.workspace})"


class CrmEntityMapping(WorkspaceOwned):
    """The mapping set of one entity of one config: the seed's `crm_field_mappings` rows are
    its fields (each with its direction and transform)."""

    config = models.ForeignKey(CrmConfig, on_delete=models.CASCADE, related_name="mappings")
    entity = models.CharField(max_length=20, choices=Entity.choices)
    mapping_set = models.ForeignKey(MappingSet, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["config", "entity"], name="crm_mapping_entity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.config}: {self.get_entity_display()}"


class SyncLog(SyncRun):
    """One run of one entity in one direction (the seed's `crm_sync_logs`). The platform's
    counters hold the seed's: synced = created + updated, skipped = unchanged, failed."""

    class Direction(models.TextChoices):
        PUSH = "push", "Push"
        PULL = "pull", "Pull"
        BOTH = "bidirectional", "Both ways"

    config = models.ForeignKey(CrmConfig, on_delete=models.CASCADE, related_name="logs")
    entity = models.CharField(max_length=20, choices=Entity.choices)
    direction = models.CharField(max_length=20, choices=Direction.choices)
    dry_run = models.BooleanField(default=False)
    webhook = models.BooleanField(
        default=False,
        help_text="Asked for by HubSpot's webhooks: reads the records they announced, by id.",
    )
    processed = models.PositiveIntegerField(default=0)
    conflicts_resolved = models.PositiveIntegerField(default=0)
    plan = models.JSONField(
        default=list, blank=True, help_text="A dry run's plan: operations, field by field."
    )
    undoes = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="undone_by",
        help_text="An undo: the run whose changes it restores (crm/undo.py).",
    )
    refused = models.JSONField(
        default=list,
        blank=True,
        help_text="An undo's fields left as they are, changed since the run: "
        "{entity, side, local_id, remote_id, field, now, wrote, reason}.",
    )

    run_task = "crm.sync_run"

    class Meta(SyncRun.Meta):
        constraints = [
            # Never two runs of one config and entity at once, guaranteed by the database.
            models.UniqueConstraint(
                fields=["config", "entity"],
                condition=models.Q(status__in=["queued", "running"]),
                name="crm_one_active_run_per_entity",
            )
        ]

    @property
    def synced(self) -> int:
        return self.created + self.updated


class CrmLink(RecordLink):
    """One hub record ↔ one CRM record, with the merge base of every mapped field."""

    config = models.ForeignKey(CrmConfig, on_delete=models.CASCADE, related_name="links")
    entity = models.CharField(max_length=20, choices=Entity.choices)
    local_id = models.BigIntegerField()
    remote_id = models.CharField(
        max_length=64, help_text="Salesforce's 18-character id, HubSpot's."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["config", "entity", "local_id"], name="crm_link_local_unique"
            ),
            models.UniqueConstraint(
                fields=["config", "entity", "remote_id"], name="crm_link_remote_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.local_id} ↔ {self.remote_id}"


class CrmChange(WorkspaceOwned):
    """One record a run changed on one side, with its values before and after, so the run can
    be undone (crm/undo.py). Written with the change, in its batch's transaction. The CRM side's
    values are in the CRM's field names as the run compared them (text trimmed, empty as null;
    the before-values are what it read); the hub side's in the hub model's own fields (a
    contact's account as `account_id`), so an undo puts back exactly what was there."""

    class Side(models.TextChoices):
        HUB = "hub", "Hub"
        CRM = "crm", "CRM"

    class Operation(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"

    run = models.ForeignKey(SyncLog, on_delete=models.CASCADE, related_name="changes")
    entity = models.CharField(max_length=20, choices=Entity.choices)
    side = models.CharField(max_length=3, choices=Side.choices)
    operation = models.CharField(max_length=6, choices=Operation.choices)
    local_id = models.BigIntegerField(null=True, blank=True)
    remote_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    base = models.JSONField(
        null=True,
        blank=True,
        help_text="The link's merge base when the change ended the link (an undo deleting a "
        "record a run made): undoing it links the record made again the same way.",
    )

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.side} {self.operation} {self.entity} {self.local_id or self.remote_id}"


class CrmWrite(WriteIntent):
    """A create committed before it is sent: a worker killed between the CRM's answer and our
    record of it leaves this, and the next run adopts the record the CRM made (found by its
    natural key) instead of creating it twice."""

    config = models.ForeignKey(CrmConfig, on_delete=models.CASCADE, related_name="intents")
    entity = models.CharField(max_length=20, choices=Entity.choices)
    local_id = models.BigIntegerField()

    class Meta(WriteIntent.Meta):
        pass


class SyncConflict(WorkspaceOwned):
    """A field changed on both sides, waiting for a person (strategy "manual review"), or
    settled by a strategy and kept for the record."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RESOLVED = "resolved", "Resolved"
        IGNORED = "ignored", "Ignored"

    class Strategy(models.TextChoices):
        USE_APP = "use_app", "Keep the hub's"
        USE_CRM = "use_crm", "Keep the CRM's"
        MANUAL = "manual", "Merged by hand"

    config = models.ForeignKey(CrmConfig, on_delete=models.CASCADE, related_name="conflicts")
    log = models.ForeignKey(
        SyncLog, null=True, blank=True, on_delete=models.SET_NULL, related_name="conflict_set"
    )
    entity = models.CharField(max_length=20, choices=Entity.choices)
    local_id = models.BigIntegerField(null=True, blank=True)
    remote_id = models.CharField(max_length=64, blank=True)
    app_data = models.JSONField(default=dict)
    crm_data = models.JSONField(default=dict)
    base_data = models.JSONField(default=dict, help_text="Both sides' values at the last sync.")
    conflicting_fields = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    strategy = models.CharField(max_length=10, choices=Strategy.choices, blank=True)
    merged_data = models.JSONField(default=dict, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-detected_at", "-pk"]
        constraints = [
            # One open conflict per record: a later run refreshes it instead of adding one.
            models.UniqueConstraint(
                fields=["config", "entity", "local_id"],
                condition=models.Q(status="pending"),
                name="crm_one_pending_conflict_per_record",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.entity} {self.local_id or self.remote_id}: {', '.join(self.conflicting_fields)}"
        )


class HubSpotWebhookEvent(WorkspaceOwned):
    """One HubSpot webhook notification the hub took: the record it names waits here to be
    read by id by the next run of its config and entity (`read_at` set when a run has read it
    and saved its cursors). HubSpot may send a notification more than once: the key
    (portal, subscription, eventId) lets the copies in no more than once. Pruned after a few
    days (crm.webhook_prune), well past HubSpot's 24 hours of retries."""

    config = models.ForeignKey(CrmConfig, on_delete=models.CASCADE, related_name="webhook_events")
    entity = models.CharField(max_length=20, choices=Entity.choices)
    portal_id = models.BigIntegerField()
    subscription_id = models.BigIntegerField()
    event_id = models.BigIntegerField()
    subscription_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64, help_text="The HubSpot record to read again.")
    change_source = models.CharField(max_length=40, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            # HubSpot's eventId alone is "not guaranteed to be unique": with its subscription
            # and account it names one notification, whatever the attempt (kept once for each
            # config of the account).
            models.UniqueConstraint(
                fields=["config", "portal_id", "subscription_id", "event_id"],
                name="crm_webhook_event_once",
            )
        ]
        indexes = [models.Index(fields=["config", "entity", "read_at"], name="crm_webhook_waiting")]

    def __str__(self) -> str:
        return f"{self.subscription_type} {self.object_id} (event {self.event_id})"
