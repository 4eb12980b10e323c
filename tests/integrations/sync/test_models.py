"""The write intent's reconcile: leftover intents against what the remote side holds now."""

import json
import math
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.utils import timezone

from integrations.accounts.models import AuditEvent
from integrations.sync.models import Held, insert_many, json_text, reconcile, update_where


@dataclass
class Intent:
    name: str
    target: str
    payload_hash: str


def names(pairs):
    return [(intent.name, record.remote_id) for intent, record in pairs]


def test_an_intent_whose_write_landed_is_adopted_and_one_whose_did_not_is_dropped():
    landed, lost = Intent("a", "", "h1"), Intent("b", "", "h2")
    result = reconcile([landed, lost], [Held(10, "", "h1")])
    assert names(result.adopt) == [("a", 10)]
    assert result.drop == [lost]


def test_the_same_payload_at_another_target_is_not_the_intents_write():
    intent = Intent("a", "7", "h1")
    result = reconcile([intent], [Held(10, "", "h1"), Held(11, "8", "h1")])
    assert result.adopt == [] and result.drop == [intent]


def test_twin_intents_take_twin_records_one_each_in_the_order_written():
    first, second, third = Intent("a", "7", "h"), Intent("b", "7", "h"), Intent("c", "7", "h")
    result = reconcile([first, second, third], [Held(10, "7", "h"), Held(11, "7", "h")])
    assert names(result.adopt) == [("a", 10), ("b", 11)]
    assert result.drop == [third]  # only two landed: the third is written again


def test_nothing_left_over_reconciles_to_nothing():
    result = reconcile([], [Held(10, "", "h")])
    assert result.adopt == [] and result.drop == []


@pytest.mark.django_db
def test_insert_many_writes_each_row_with_its_values_prepared_by_their_fields(two_workspaces):
    workspace = two_workspaces["a"]
    text = ["actor_label", "target_type", "target_id", "target_repr", "request_id", "task_id"]
    fields = ["workspace", "actor_kind", "action", *text, "changes", "details", "created_at"]
    moment = timezone.now()
    blank = [""] * len(text)
    insert_many(
        AuditEvent,
        fields,
        [
            (workspace.pk, "system", "test.one", *blank, {}, {"n": 1, "text": "Zürich"}, moment),
            (workspace.pk, "system", "test.two", *blank, {"a": [1]}, {}, moment),
        ],
    )
    insert_many(AuditEvent, fields, [])  # nothing to write: no statement
    rows = AuditEvent.objects.filter(action__startswith="test.").order_by("action")
    assert [(r.workspace_id, r.action, r.changes, r.details, r.created_at) for r in rows] == [
        (workspace.pk, "test.one", {}, {"n": 1, "text": "Zürich"}, moment),
        (workspace.pk, "test.two", {"a": [1]}, {}, moment),
    ]


@pytest.mark.django_db
def test_insert_many_prepares_each_rows_time_even_when_one_repeats(two_workspaces):
    workspace = two_workspaces["a"]
    first = timezone.now()
    moments = [first, first, first + timedelta(seconds=1), first, first + timedelta(seconds=2)]
    text = ["actor_label", "target_type", "target_id", "target_repr", "request_id", "task_id"]
    insert_many(
        AuditEvent,
        ["workspace", "actor_kind", "action", *text, "changes", "details", "created_at"],
        [
            (workspace.pk, "system", f"test.{n}", *[""] * len(text), {}, {"n": n}, m)
            for n, m in enumerate(moments)
        ],
    )
    rows = AuditEvent.objects.filter(action__startswith="test.").order_by("action")
    assert [(r.action, r.details, r.created_at) for r in rows] == [
        (f"test.{n}", {"n": n}, m) for n, m in enumerate(moments)
    ]


JSON_VALUES = [
    {},
    [],
    {"text": 'Zürich, 東京 \u2028 "quoted" \\ /', "empty": "", "none": None},
    {"n": 0, "big": 2**63 - 1, "negative": -17, "float": 0.1, "tiny": 1e-300, "whole": 2.0},
    {"yes": True, "no": False, "nested": [{"a": [1, [2, {"b": None}]]}], "list": [1, "1", 1.5]},
    [{"id": "6be3c085-2fa3-460d-9446-bfdb71ee137d"}, None, "x"],
]


@pytest.mark.django_db
def test_insert_many_json_columns_read_back_as_they_were_given(two_workspaces):
    workspace = two_workspaces["a"]
    text = ["actor_label", "target_type", "target_id", "target_repr", "request_id", "task_id"]
    insert_many(
        AuditEvent,
        ["workspace", "actor_kind", "action", *text, "changes", "details", "created_at"],
        [
            (
                workspace.pk,
                "system",
                f"test.{n:02d}",
                *[""] * len(text),
                value,
                {"v": value},
                timezone.now(),
            )
            for n, value in enumerate(JSON_VALUES)
        ],
    )
    rows = AuditEvent.objects.filter(action__startswith="test.").order_by("action")
    assert [(r.changes, r.details) for r in rows] == [(v, {"v": v}) for v in JSON_VALUES]
    assert AuditEvent.objects.filter(details__v__text__startswith="Zürich").count() == 1


def test_json_text_is_orjsons_where_it_reads_back_equal_and_json_dumps_otherwise():
    for value in JSON_VALUES:
        assert json.loads(json_text(value)) == value
    assert json_text({"a": "ü", "b": [1, None]}) == '{"a":"ü","b":[1,null]}'  # orjson's
    # What orjson writes differently or takes where json.dumps refuses: json.dumps's way.
    assert json_text({"x": math.nan}) == '{"x": NaN}'
    assert json_text({"x": 2**64}) == json.dumps({"x": 2**64})
    assert json_text({1: "a"}) == '{"1": "a"}'
    assert json_text({"t": (1, 2)}) == '{"t": [1, 2]}'
    for refused in ({"id": uuid.uuid4()}, {"day": date(2026, 1, 1)}, {"s": {1}}):
        with pytest.raises(TypeError):
            json_text(refused)


@pytest.mark.django_db
def test_update_where_changes_only_the_rows_matching_every_value(two_workspaces):
    workspace = two_workspaces["a"]
    event = AuditEvent.objects.create(workspace=workspace, action="test.one", details={"n": 1})
    other = AuditEvent.objects.create(workspace=workspace, action="test.two", details={"n": 2})
    answer = {"records": [{"position": 0, "id": "x", "text": "Zürich"}], "none": None}
    assert (
        update_where(AuditEvent, {"details": answer}, {"id": event.pk, "action": "test.two"}) == 0
    )
    assert update_where(AuditEvent, {"details": answer, "target_id": "7"}, {"id": event.pk}) == 1
    event.refresh_from_db()
    other.refresh_from_db()
    assert (event.details, event.target_id) == (answer, "7")
    assert AuditEvent.objects.filter(details__records__0__text="Zürich").get() == event
    assert other.details == {"n": 2}
    with pytest.raises(ValueError):
        update_where(AuditEvent, {"details": {}}, {"id": event.pk, "actor": None})
