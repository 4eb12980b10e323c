"""Mapping sets and their field mappings, lookup tables, and (from mapping/numbers.py) the
number sequences."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from integrations.accounts.models import WorkspaceOwned
from integrations.connections.models import Connection
from integrations.mapping.numbers import NumberSequence
from integrations.mapping.transforms import MappingError, validate_params

__all__ = ["FieldMapping", "LookupEntry", "LookupTable", "MappingSet", "NumberSequence"]


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
        try:
            validate_params(self.transform, self.params)
        except MappingError as exc:
            field = "transform" if exc.field == "transform" else "params"
            raise ValidationError({field: exc.message}) from None


def field_mapping_changed(sender, instance: FieldMapping, raw: bool = False, **kwargs) -> None:
    """A field saved or deleted moves its set's `updated_at` (connected for FieldMapping in
    integrations.signals): what keeps a set's compiled fields (the destinations' records path)
    knows the set by its id and `updated_at`, and a field edited alone (an admin inline, a CRM
    mapping row) would otherwise leave the set's time as it was."""
    if raw:
        return
    MappingSet.objects.filter(pk=instance.mapping_set_id).update(updated_at=timezone.now())
