"""Models of the destinations app (seed: integration-status-tracker, spec-notes "Seed 002").

A `Destination` is one Supabase project the hub writes records into, in the format its
frontend already reads: the project URL, the service-role key (encrypted), and the team and
system user every write is stamped with. Each entity it takes (clients, events, offers with
their line items, tasks, emails) has a mapping set of the mapping engine (`DestinationEntity`),
which also says whether its writes wait for a person (the seed's "HIL for every message").

Records arrive through the API in requests (`RecordRequest`, unique per client-supplied
idempotency key, holding the answer given); each record becomes a `RecordWrite`: what was
mapped, what was sent, what came back, and its outcome.
"""

import uuid

from django.db import models
from django.utils import timezone

from integrations.accounts.models import User, Workspace, WorkspaceOwned
from integrations.approvals.models import OutboundChange
from integrations.connections.encryption import EncryptedTextField
from integrations.mapping.models import MappingSet


class Entity(models.TextChoices):
    CLIENTS = "clients", "Clients"
    EVENTS = "events", "Events"
    OFFERS = "offers", "Offers"
    OFFER_LINE_ITEMS = "offer_line_items", "Offer line items"
    TASKS = "tasks", "Tasks"
    EMAILS = "emails", "Emails"


class Destination(WorkspaceOwned):
    """One Supabase project (its Data API, PostgREST) that records are written into."""

    class Status(models.TextChoices):
        UNTESTED = "untested", "Not tested yet"
        OK = "ok", "Working"
        ERROR = "error", "Error"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="destinations")
    name = models.CharField(max_length=120)
    url = models.URLField(
        "project URL", help_text="https://<project-ref>.supabase.co (the seed's OE_SUPABASE_URL)."
    )
    service_key = EncryptedTextField(
        "service-role key",
        blank=True,
        default="",
        help_text="The project's service_role (or sb_secret_) key: server side only, stored "
        "encrypted, never shown again (the seed's OE_SUPABASE_KEY).",
    )
    team_id = models.UUIDField(
        null=True, blank=True, help_text="Every write is stamped with it (OE_TEAM_ID)."
    )
    user_id = models.UUIDField(
        "system user id",
        null=True,
        blank=True,
        help_text="Every write is stamped with it (OE_SYSTEM_USER_ID).",
    )
    email_account_id = models.UUIDField(
        null=True,
        blank=True,
        help_text="Optional: set on emails written (OE_EMAIL_ACCOUNT_ID).",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNTESTED)
    last_error = models.TextField(blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="destination_name_unique")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def missing_settings(self) -> list[str]:
        """The settings it cannot write without, by their labels."""
        return [
            label
            for label, value in (
                ("project URL", self.url),
                ("service-role key", self.service_key),
                ("team id", self.team_id),
                ("system user id", self.user_id),
            )
            if not value
        ]


class DestinationEntity(models.Model):
    """How records of one entity reach the destination: their mapping set (renames, lookups,
    formats, required fields, approval) and the unique column an upsert meets them on."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="entities")
    workspace_path = "destination__workspace"
    entity = models.CharField(max_length=20, choices=Entity.choices)
    mapping_set = models.ForeignKey(MappingSet, on_delete=models.PROTECT, related_name="+")
    conflict_key = models.CharField(
        max_length=60,
        blank=True,
        help_text="A unique column of the table (id, offer_number): a record that has it "
        "updates the row holding it instead of adding one.",
    )

    class Meta:
        ordering = ["destination", "entity"]
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "entity"], name="destination_entity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.destination}: {self.get_entity_display()}"


class RecordRequest(WorkspaceOwned):
    """One request of records, kept under its idempotency key: a retried request finds it and
    is given the same answer, and nothing is written twice."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="requests")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    answer = models.JSONField(null=True, blank=True)
    # The write intent: the request row is committed before anything is written, and the ids
    # of the rows it inserts are derived from `id_seed` and each record's position, so whoever
    # finishes a request whose owner died reads back what landed by id and writes the rest.
    id_seed = models.UUIDField(default=uuid.uuid4, editable=False)
    owner = models.CharField(
        max_length=120, blank=True, help_text="host:pid:token of the process writing it."
    )
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="Until then no one else may take the request over."
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["destination", "key"], name="record_request_key_unique")
        ]

    @property
    def in_progress(self) -> bool:
        return self.answer is None

    def __str__(self) -> str:
        return f"{self.destination}: {self.key}"


class RecordWrite(WorkspaceOwned):
    """One record's way into the destination."""

    class Status(models.TextChoices):
        WRITTEN = "written", "Written"
        WAITING = "waiting", "Waiting for approval"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    request = models.ForeignKey(
        RecordRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="writes"
    )
    # Led by the composite index below.
    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="writes", db_index=False
    )
    position = models.PositiveIntegerField(default=0)
    entity = models.CharField(max_length=20, choices=Entity.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    record = models.JSONField(default=dict, help_text="The record as it arrived.")
    row = models.JSONField(
        default=dict, blank=True, help_text="What was (or will be) sent: the mapped row."
    )
    children = models.JSONField(
        default=list, blank=True, help_text="Offers: the mapped line items sent after it."
    )
    answer = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the destination gave back where it differs from what was sent: the "
        "columns it filled or changed (the stored row is `stored_row`).",
    )
    remote_id = models.CharField(max_length=64, blank=True)
    change = models.ForeignKey(
        OutboundChange, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=20, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    written_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # Few indexes: a request writes a row per record, and each index costs every insert
        # (on SQLite, most of storing it). Admin lists a destination's writes, newest first,
        # and filters the failed ones to retry.
        indexes = [
            models.Index(
                fields=["destination", "status", "-created_at"], name="write_destination_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_entity_display()} → {self.destination}: {self.get_status_display()}"

    @property
    def stored_row(self) -> dict:
        """The row as the destination stored it: what was sent, with what it gave back over
        it (`answer` keeps only the difference: the sent values are already in `row`)."""
        return {**self.row, **self.answer} if self.answer else {}
