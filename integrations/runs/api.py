"""What every app's run endpoints share: the fields of a SyncRun, its serializer, and the
validation of query parameters."""

from rest_framework import serializers

# What every app's run endpoints show of a SyncRun (apps add their own fields in front).
SYNC_RUN_FIELDS = [
    "id",
    "trigger",
    "status",
    "stage",
    "percent",
    "progress_done",
    "progress_total",
    "stage_done",
    "stage_total",
    "retry_reason",
    "retry_in",
    "started_by",
    "created",
    "updated",
    "unchanged",
    "unmapped",
    "conflicts",
    "held",
    "failed",
    "api_calls",
    "retries",
    "summary",
    "message",
    "errors",
    "error_count",
    "overwrites",
    "created_at",
    "started_at",
    "finished_at",
    "duration",
]


class QuerySerializer(serializers.Serializer):
    """Validates query parameters. One given empty (`?active=`, as an HTML form sends an
    unset field) counts as not given, as django-filter's filters and the schema have it."""

    def __init__(self, *args, data=serializers.empty, **kwargs):
        if data is not serializers.empty:
            data = {key: value for key, value in data.items() if value != ""}
        super().__init__(*args, data=data, **kwargs)


class SyncRunSerializer(serializers.ModelSerializer):
    """Base of each app's run serializer (its Meta names the model)."""

    percent = serializers.IntegerField(read_only=True)
    duration = serializers.FloatField(read_only=True, allow_null=True)
    summary = serializers.CharField(read_only=True)
    retry_in = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Seconds to the next attempt of a retried call."
    )
    started_by = serializers.EmailField(
        source="requested_by.email", read_only=True, allow_null=True
    )
