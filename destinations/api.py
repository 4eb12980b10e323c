"""DRF views of the destinations app: validate, call a service or selector, serialize.

`POST /api/destinations/<id>/records` takes one record ({"entity", "data"}) or a batch
({"records": [...]}) and answers per record. An `Idempotency-Key` header makes a retried
request safe: it is answered as the first was and writes nothing more."""

import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from destinations import selectors, services
from destinations.models import Entity
from integrations.errors import ApplicationError

MAX_RECORDS = 1000
ENTITIES = [e for e in Entity.values if e != Entity.OFFER_LINE_ITEMS]


RECORD_SCHEMA = {
    "type": "object",
    "required": ["entity", "data"],
    "additionalProperties": False,
    "properties": {
        "entity": {"type": "string", "enum": ENTITIES},
        "data": {
            "type": "object",
            "description": "The record in the workflow's own field names (offers: with "
            "line_items).",
        },
    },
}
# One record, or a batch of them: a choice a serializer cannot describe, so written out.
RECORDS_SCHEMA = {
    "oneOf": [
        RECORD_SCHEMA,
        {
            "type": "object",
            "required": ["records"],
            "additionalProperties": False,
            "properties": {
                "records": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_RECORDS,
                    "items": RECORD_SCHEMA,
                }
            },
        },
    ]
}


class RecordsIn(serializers.Serializer):
    """One record (entity and data) or a batch (records), as RECORDS_SCHEMA says. Each record
    of a batch is checked by hand: a nested serializer per record cost more than mapping it
    (bench/destination.py)."""

    records = serializers.ListField(required=False)  # each record checked in validate()
    entity = serializers.ChoiceField(choices=ENTITIES, required=False)
    data = serializers.DictField(required=False)

    def validate(self, attrs):
        extra = sorted(set(self.initial_data) - {"records", "entity", "data"})
        if extra:
            raise serializers.ValidationError({name: ["Not a field."] for name in extra})
        if "records" in attrs:
            if "entity" in attrs or "data" in attrs:
                raise serializers.ValidationError("Send either records or one entity and data.")
            records = attrs["records"]
            if not 1 <= len(records) <= MAX_RECORDS:
                raise serializers.ValidationError(
                    {"records": [f"Send between 1 and {MAX_RECORDS} records."]}
                )
            problems = {}
            for index, record in enumerate(records):
                if not isinstance(record, dict):
                    problems[f"records[{index}]"] = ["Must be an object."]
                elif record.get("entity") not in ENTITIES:
                    problems[f"records[{index}].entity"] = [
                        f"Must be one of {', '.join(ENTITIES)}."
                    ]
                elif not isinstance(record.get("data"), dict):
                    problems[f"records[{index}].data"] = ["Must be an object."]
                elif set(record) - {"entity", "data"}:
                    problems[f"records[{index}]"] = ["Only entity and data are taken."]
                if len(problems) >= 10:
                    break
            if problems:
                raise serializers.ValidationError(problems)
            return [{"entity": r["entity"], "data": r["data"]} for r in records]
        if "entity" not in attrs or "data" not in attrs:
            raise serializers.ValidationError("Send records, or one entity with its data.")
        return [{"entity": attrs["entity"], "data": attrs["data"]}]


class RecordOut(serializers.Serializer):
    position = serializers.IntegerField()
    entity = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["written", "waiting", "refused", "failed", "rejected"],
        help_text="rejected (in a later read only): a reviewer refused it; it is never written",
    )
    id = serializers.CharField(required=False, help_text="written: the destination's row id")
    change_id = serializers.IntegerField(
        required=False, help_text="waiting: the change in the review queue"
    )
    error = serializers.CharField(required=False, help_text="refused or failed: why")
    code = serializers.CharField(required=False, help_text="the field, or PostgREST's code")


class RecordsOut(serializers.Serializer):
    key = serializers.CharField()
    records = RecordOut(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    replayed = serializers.BooleanField(required=False)


class DestinationTestOut(serializers.Serializer):
    ok = serializers.BooleanField()
    role = serializers.CharField()
    tables = serializers.DictField(child=serializers.CharField())
    error = serializers.CharField(allow_blank=True)


class RecordsView(APIView):
    @extend_schema(
        request={"application/json": RECORDS_SCHEMA},
        responses={200: RecordsOut},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Any unique text up to 200 characters; a request repeated with it "
                "writes nothing more and gets the first answer.",
            )
        ],
    )
    def post(self, request, destination_id: int):
        """Map, check and write records into the destination (or hold them for approval)."""
        destination = selectors.destination_for(user=request.user, destination_id=destination_id)
        data = RecordsIn(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "").strip() or f"auto-{uuid.uuid4()}"
        if len(key) > 200:
            raise ApplicationError(
                "Idempotency-Key is longer than 200 characters.",
                details={"Idempotency-Key": ["At most 200 characters."]},
            )
        answer = services.records_receive(
            destination=destination,
            actor=request.user,
            records=data.validated_data,
            key=key,
        )
        return Response(answer, status=status.HTTP_200_OK)


class DestinationTestView(APIView):
    @extend_schema(request=None, responses=DestinationTestOut)
    def post(self, request, destination_id: int):
        """Check the destination's settings, its key's role and that each table answers."""
        destination = selectors.destination_for(user=request.user, destination_id=destination_id)
        return Response(services.destination_test(destination=destination, actor=request.user))


class RecordsStateView(APIView):
    @extend_schema(responses=RecordsOut)
    def get(self, request, destination_id: int, key: str):
        """A request's records as they stand now, by its Idempotency-Key: a record that
        waited for approval shows written (with its id), rejected or failed once decided."""
        destination = selectors.destination_for(user=request.user, destination_id=destination_id)
        found = selectors.request_for(user=request.user, destination=destination, key=key)
        return Response(selectors.request_answer(request=found))
