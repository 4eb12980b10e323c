"""Outgoing writes that wait for a person."""

from django.db import models
from django.utils import timezone

from integrations.accounts.models import User, WorkspaceOwned
from integrations.connections.models import Connection
from integrations.mapping.models import MappingSet


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
