"""The CRM API's JSON, in the seed's camelCase (spec-notes "Seed 004"): each serializer names
its fields in snake_case like the models and `CamelCase` shows them camelCased, reading and
writing the snake_case attributes, so validated data goes to the services as it is. (`job_id`
stays as the seed spells it.)"""

import re
from datetime import time

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.models import CrmConfig, Entity, SyncConflict, SyncLog
from integrations.connections.providers import salesforce
from integrations.filters import MAX_ID
from integrations.mapping import transforms
from integrations.runs.api import QuerySerializer

# Filter rules (the config's `filters`, the seed's syncRules): {entity: [{field, operator,
# value}]}; `{current_user_crm_id}` in a value stands for the connected user's CRM id.
OPERATORS = ["equals", "not_equals", "contains", "greater", "less", "in", "empty"]
SEED_DIRECTIONS = ["bidirectional", "push", "pull", "none"]
# An "always" rule of one field (CrmConfig.field_policies).
FIELD_POLICIES = [CrmConfig.Resolution.APP_WINS.value, CrmConfig.Resolution.CRM_WINS.value]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class CamelCase:
    """Show a serializer's snake_case fields camelCased (each still reads and writes its
    snake_case source); the names in `snake` stay as they are."""

    snake: tuple[str, ...] = ()

    def get_fields(self):
        fields = {}
        for name, field in super().get_fields().items():
            key = name if name in self.snake else camel(name)
            if key != name and field.source is None:
                field.source = name
            fields[key] = field
        return fields


class Text(serializers.CharField):
    """Text, and only text: DRF's CharField would take a number as its digits, where the
    schema promises a string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Id(serializers.IntegerField):
    """An id in a JSON body: a whole number (not text of digits, not true or 1.0)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class Flag(serializers.BooleanField):
    """true or false in a JSON body (DRF's BooleanField also takes "yes", 1, "on", …)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


@extend_schema_field(
    {"type": "string", "pattern": TIME_OF_DAY, "nullable": True, "example": "02:30"}
)
class TimeOfDay(serializers.Field):
    """A time of day as HH:MM (UTC; seconds may be given): OpenAPI's `time` format would
    demand an offset, which a schedule's wall-clock time does not have."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(TIME_OF_DAY, data):
            raise serializers.ValidationError("A time of day as HH:MM (UTC).")
        return time.fromisoformat(data)

    def to_representation(self, value):
        return value.strftime("%H:%M") if value is not None else None


# --- Configs ------------------------------------------------------------------------------------


class CrmConfigSerializer(CamelCase, serializers.ModelSerializer):
    entities = serializers.ListField(child=serializers.ChoiceField(choices=Entity.choices))
    sync_rules = serializers.DictField(
        source="filters",
        child=serializers.ListField(child=serializers.DictField()),
        help_text="Per entity, the filter rules {field, operator, value} a record must pass.",
    )
    field_policies = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text='Per entity, CRM field -> "app_wins" (always use the app\'s value) or '
        '"crm_wins" (always the CRM\'s): how a conflict on that field is settled, whatever '
        "conflictResolution says.",
    )
    connected_as = serializers.CharField(
        source="connection.external_email",
        allow_null=True,
        read_only=True,
        help_text="The CRM user the connection signs in as.",
    )
    instance_url = serializers.CharField(
        source="connection.instance_url", allow_null=True, read_only=True
    )

    last_sync_status = serializers.CharField(
        read_only=True, help_text="success, partial or failed; empty before the first run."
    )
    daily_at = TimeOfDay(read_only=True, help_text="A daily sync's time of day (UTC).")

    class Meta:
        model = CrmConfig
        fields = [
            "id",
            "workspace",
            "provider",
            "connection",
            "connected_as",
            "instance_url",
            "is_active",
            "sync_direction",
            "sync_frequency",
            "daily_at",
            "entities",
            "sync_rules",
            "conflict_resolution",
            "field_policies",
            "create_if_missing",
            "propagate_deletes",
            "status",
            "status_reason",
            "resume_at",
            "last_sync_at",
            "last_sync_status",
            "last_sync_error",
            "next_sync_at",
            "api_usage",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CrmRuleIn(serializers.Serializer):
    field = Text(
        max_length=80,
        validators=[RegexValidator(salesforce.NAME, "Not a CRM field name.")],
        help_text="The CRM field's API name (Owner: OwnerId).",
    )
    operator = serializers.ChoiceField(choices=OPERATORS)
    value = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="A text, number or true/false; a list for `in`; nothing for `empty`. "
        "{current_user_crm_id} stands for the connected user's CRM id.",
    )

    def validate(self, data):
        operator, value = data["operator"], data.get("value")
        scalar = (str, int, float, bool)
        if operator == "in":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(item, scalar) for item in value)
            ):
                raise serializers.ValidationError({"value": ["`in` takes a list of values."]})
        elif operator == "empty":
            if value is not None and not isinstance(value, bool):
                raise serializers.ValidationError(
                    {"value": ["`empty` takes true (is empty), false (is not), or nothing."]}
                )
        elif not isinstance(value, scalar):
            raise serializers.ValidationError(
                {"value": [f"`{operator}` compares with one text, number or true/false."]}
            )
        return data


class CrmConfigIn(CamelCase, serializers.Serializer):
    """The settings PATCH changes; each is optional, an unknown value is a 400 naming it."""

    sync_direction = serializers.ChoiceField(choices=CrmConfig.Direction.choices, required=False)
    sync_frequency = serializers.ChoiceField(choices=CrmConfig.Frequency.choices, required=False)
    daily_at = TimeOfDay(
        required=False, allow_null=True, help_text="A daily sync's time of day (HH:MM, UTC)."
    )
    entities = serializers.ListField(
        child=serializers.ChoiceField(choices=Entity.choices),
        required=False,
        allow_empty=False,
        min_length=1,
        max_length=len(Entity.choices),
    )
    sync_rules = serializers.DictField(
        source="filters",
        child=CrmRuleIn(many=True),
        required=False,
        help_text="Per entity (account, contact), the rules a record must pass to sync.",
    )
    conflict_resolution = serializers.ChoiceField(
        choices=CrmConfig.Resolution.choices, required=False
    )
    field_policies = serializers.DictField(
        child=serializers.DictField(
            child=serializers.ChoiceField(
                choices=FIELD_POLICIES,
                error_messages={
                    "invalid_choice": '"{input}" is not a field policy: use app_wins (always '
                    "the app's value) or crm_wins (always the CRM's)."
                },
            )
        ),
        required=False,
        help_text="Per entity (account, contact), CRM field -> app_wins or crm_wins; replaces "
        "the rules there were ({} clears them all).",
    )
    create_if_missing = Flag(required=False)
    propagate_deletes = Flag(required=False)

    def validate(self, data):
        # (Not validate_sync_rules: DRF finds those by the field's camelCase name.)
        stray = [key for key in data.get("filters", {}) if key not in Entity.values]
        if stray:
            raise serializers.ValidationError(
                {"syncRules": [f"{stray[0]!r} is not an entity: rules are per account, contact."]}
            )
        stray = [key for key in data.get("field_policies", {}) if key not in Entity.values]
        if stray:
            raise serializers.ValidationError(
                {
                    "fieldPolicies": [
                        f"{stray[0]!r} is not an entity: policies are per account, contact."
                    ]
                }
            )
        return data


class CrmMappingSerializer(CamelCase, serializers.Serializer):
    """One mapped field (a row of the entity's mapping set)."""

    id = serializers.IntegerField()
    entity_type = serializers.ChoiceField(choices=Entity.choices)
    crm_field = serializers.CharField()
    app_field = serializers.CharField(
        help_text="The hub field; several, comma-separated, are joined (push only)."
    )
    sync_direction = serializers.ChoiceField(choices=SEED_DIRECTIONS)
    transform_function = serializers.CharField(help_text="A transform of the registry.")
    transform_params = serializers.DictField()
    position = serializers.IntegerField()


def mapping_json(entity: str, field, direction_word: dict) -> dict:
    return {
        "id": field.pk,
        "entity_type": entity,
        "crm_field": field.target_field,
        "app_field": field.source_field,
        "sync_direction": direction_word[field.direction],
        "transform_function": field.transform,
        "transform_params": field.params,
        "position": field.position,
    }


class CrmConfigsSerializer(serializers.Serializer):
    configs = CrmConfigSerializer(many=True)


class CrmConfigOut(serializers.Serializer):
    config = CrmConfigSerializer()


# --- Connecting -----------------------------------------------------------------------------


class CrmConnectIn(CamelCase, serializers.Serializer):
    provider = serializers.ChoiceField(choices=CrmConfig.Provider.choices)
    auth_code = Text(
        required=False,
        max_length=2000,
        help_text="Not taken here: a code is checked with its state at /api/crm/oauth/callback.",
    )
    workspace = Id(
        required=False, help_text="Needed when you are an admin of more than one workspace."
    )
    domain = serializers.ChoiceField(
        choices=list(salesforce.SPEC.domains),
        required=False,
        default="",
        help_text="Salesforce: login (production org) or test (sandbox org).",
    )


class CrmConnectOut(CamelCase, serializers.Serializer):
    config = CrmConfigSerializer()
    redirect_url = serializers.URLField(
        allow_null=True,
        help_text="The CRM's consent page to open, or null when the workspace's connection "
        "already works (the config is linked to it).",
    )


class CrmCallbackIn(CamelCase, serializers.Serializer):
    provider = serializers.ChoiceField(choices=CrmConfig.Provider.choices)
    code = Text(max_length=2000)
    state = Text(max_length=200)


class CrmCallbackOut(serializers.Serializer):
    config = CrmConfigSerializer()
    success = serializers.BooleanField()


class CrmSuccessOut(serializers.Serializer):
    success = serializers.BooleanField()


class CrmWorkspaceIn(serializers.Serializer):
    workspace = Id(
        required=False, help_text="Needed when you are a member of more than one workspace."
    )


class CrmWorkspaceQuery(QuerySerializer):
    workspace = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Needed when you are a member of more than one workspace.",
    )


class CrmUserSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.CharField()
    name = serializers.CharField()
    organization = serializers.CharField()


class CrmTestConnectionOut(serializers.Serializer):
    connected = serializers.BooleanField()
    user = CrmUserSerializer(allow_null=True)
    error = serializers.CharField(required=False)


class CrmFieldsQuery(CamelCase, CrmWorkspaceQuery):
    entity_type = serializers.ChoiceField(
        choices=Entity.choices, required=False, help_text="Every entity's fields unless given."
    )


class CrmFieldSerializer(CamelCase, serializers.Serializer):
    entity_type = serializers.ChoiceField(choices=Entity.choices)
    name = serializers.CharField()
    label = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField(help_text="A create must send it.")
    createable = serializers.BooleanField()
    updateable = serializers.BooleanField()
    read_only = serializers.BooleanField(help_text="Set by the CRM only: map it pull.")
    picklist = serializers.ListField(child=serializers.CharField())


class CrmFieldsOut(serializers.Serializer):
    fields = CrmFieldSerializer(many=True)


# --- Field mappings ------------------------------------------------------------------------------


class CrmMappingsQuery(CamelCase, QuerySerializer):
    entity_type = serializers.ChoiceField(choices=Entity.choices, required=False)


class CrmMappingIn(CamelCase, serializers.Serializer):
    entity_type = serializers.ChoiceField(choices=Entity.choices)
    crm_field = Text(max_length=255)
    app_field = Text(max_length=255)
    sync_direction = serializers.ChoiceField(choices=SEED_DIRECTIONS, default="bidirectional")
    transform_function = serializers.ChoiceField(
        choices=sorted(transforms.REGISTRY), default="rename"
    )
    transform_params = serializers.DictField(required=False, default=dict)


class CrmMappingPatchIn(CamelCase, serializers.Serializer):
    app_field = Text(max_length=255, required=False)
    sync_direction = serializers.ChoiceField(choices=SEED_DIRECTIONS, required=False)
    transform_function = serializers.ChoiceField(
        choices=sorted(transforms.REGISTRY), required=False
    )
    transform_params = serializers.DictField(required=False)


class CrmMappingsOut(serializers.Serializer):
    mappings = CrmMappingSerializer(many=True)


class CrmMappingOut(serializers.Serializer):
    mapping = CrmMappingSerializer()


# --- Runs (the seed's sync logs) -------------------------------------------------------------


class CrmLogSerializer(CamelCase, serializers.ModelSerializer):
    config_id = serializers.IntegerField()
    entity_type = serializers.CharField(source="entity")
    sync_direction = serializers.CharField(source="direction")
    records_processed = serializers.IntegerField(source="processed")
    records_synced = serializers.IntegerField(source="synced")
    records_failed = serializers.IntegerField(source="failed")
    records_skipped = serializers.IntegerField(source="unchanged")
    conflicts_detected = serializers.IntegerField(source="conflicts")
    sync_duration_ms = serializers.SerializerMethodField(method_name="get_sync_duration_ms")
    error_message = serializers.CharField(source="message")
    summary = serializers.CharField()
    percent = serializers.IntegerField()
    started_by = serializers.EmailField(
        source="requested_by.email", read_only=True, allow_null=True
    )
    completed_at = serializers.DateTimeField(source="finished_at", allow_null=True)

    class Meta:
        model = SyncLog
        fields = [
            "id",
            "config_id",
            "entity_type",
            "sync_direction",
            "dry_run",
            "trigger",
            "status",
            "stage",
            "percent",
            "records_processed",
            "records_synced",
            "records_failed",
            "records_skipped",
            "conflicts_detected",
            "conflicts_resolved",
            "held",
            "api_calls",
            "error_count",
            "error_message",
            "summary",
            "sync_duration_ms",
            "started_by",
            "created_at",
            "started_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_sync_duration_ms(self, run) -> int | None:
        return None if run.duration is None else round(run.duration * 1000)


class CrmStatsSerializer(CamelCase, serializers.Serializer):
    linked_accounts = serializers.IntegerField()
    linked_contacts = serializers.IntegerField()
    pending_conflicts = serializers.IntegerField()
    last_run = CrmLogSerializer(allow_null=True)


class CrmConfigDetailSerializer(CamelCase, serializers.Serializer):
    config = CrmConfigSerializer()
    field_mappings = CrmMappingSerializer(many=True)
    stats = CrmStatsSerializer()


class CrmTriggerIn(CamelCase, serializers.Serializer):
    config_id = Id()
    sync_direction = serializers.ChoiceField(
        choices=CrmConfig.Direction.choices,
        required=False,
        help_text="The config's direction (a run follows its config; PATCH the config to "
        "change it).",
    )
    entity_types = serializers.ListField(
        child=serializers.ChoiceField(choices=Entity.choices),
        required=False,
        allow_empty=False,
        min_length=1,
        max_length=len(Entity.choices),
        help_text="The config's entities unless given.",
    )
    dry_run = Flag(required=False, default=False)


class CrmTriggerOut(CamelCase, serializers.Serializer):
    snake = ("job_id",)  # as the seed spells it

    job_id = serializers.IntegerField(help_text="The first run's id (accounts before contacts).")
    job_ids = serializers.ListField(child=serializers.IntegerField(), help_text="Every run's id.")
    estimated_records = serializers.IntegerField(
        help_text="Records the runs will look at: the hub's and the CRM's count."
    )


class CrmLogsQuery(CamelCase, QuerySerializer):
    config_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    entity_type = serializers.ChoiceField(choices=Entity.choices, required=False)
    status = serializers.ChoiceField(choices=SyncLog.Status.choices, required=False)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_ID)


class CrmPaginationSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class CrmLogsOut(serializers.Serializer):
    logs = CrmLogSerializer(many=True)
    pagination = CrmPaginationSerializer()


class CrmRunErrorSerializer(serializers.Serializer):
    item = serializers.CharField()
    message = serializers.CharField()


class CrmRetryOut(serializers.Serializer):
    job_id = serializers.IntegerField()


class CrmUndoOut(CamelCase, serializers.Serializer):
    job_id = serializers.IntegerField(help_text="The undo run's id.")


# --- Conflicts ----------------------------------------------------------------------------------


class CrmConflictSerializer(CamelCase, serializers.ModelSerializer):
    config_id = serializers.IntegerField()
    log_id = serializers.IntegerField(allow_null=True)
    entity_type = serializers.CharField(source="entity")
    entity_id = serializers.IntegerField(source="local_id", allow_null=True)
    crm_record_id = serializers.CharField(source="remote_id")
    app_data = serializers.DictField(help_text="The hub's values, by CRM field.")
    crm_data = serializers.DictField(help_text="The CRM's values.")
    base_data = serializers.DictField(help_text="Both sides' values at the last sync.")
    conflicting_fields = serializers.ListField(child=serializers.CharField())
    resolution_strategy = serializers.CharField(source="strategy")
    merged_data = serializers.DictField()
    resolved_by = serializers.EmailField(
        source="resolved_by.email", read_only=True, allow_null=True
    )

    class Meta:
        model = SyncConflict
        fields = [
            "id",
            "config_id",
            "log_id",
            "entity_type",
            "entity_id",
            "crm_record_id",
            "app_data",
            "crm_data",
            "base_data",
            "conflicting_fields",
            "status",
            "resolution_strategy",
            "merged_data",
            "resolved_by",
            "resolved_at",
            "detected_at",
        ]
        read_only_fields = fields


class CrmConflictsQuery(CamelCase, QuerySerializer):
    config_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    status = serializers.ChoiceField(choices=SyncConflict.Status.choices, required=False)
    entity_type = serializers.ChoiceField(choices=Entity.choices, required=False)


class CrmConflictsOut(serializers.Serializer):
    conflicts = CrmConflictSerializer(many=True)


class CrmConflictOut(serializers.Serializer):
    conflict = CrmConflictSerializer()


class CrmResolveIn(CamelCase, serializers.Serializer):
    strategy = serializers.ChoiceField(
        choices=[SyncConflict.Strategy.USE_APP, SyncConflict.Strategy.USE_CRM]
    )
    merged_data = serializers.DictField(
        required=False,
        default=dict,
        help_text="Per conflicting CRM field, the value to keep instead (the others follow "
        "the strategy).",
    )


class CrmLogDetailsSerializer(serializers.Serializer):
    errors = CrmRunErrorSerializer(many=True)
    conflicts = CrmConflictSerializer(many=True)
    plan = serializers.ListField(
        child=serializers.DictField(), help_text="A dry run's plan, field by field."
    )
    undoes = serializers.IntegerField(
        allow_null=True, help_text="An undo: the run whose changes it put back."
    )
    changes = serializers.ListField(
        child=serializers.DictField(),
        help_text="The records the run changed: side, operation, ids, values before and after.",
    )
    refused = serializers.ListField(
        child=serializers.DictField(),
        help_text="An undo's fields not undone: changed since the run (value now, value the "
        "run wrote), or records it could not bring back.",
    )


class CrmLogDetailOut(serializers.Serializer):
    log = CrmLogSerializer()
    details = CrmLogDetailsSerializer()
