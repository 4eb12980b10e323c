"""The write intent's reconcile: leftover intents against what the remote side holds now."""

from dataclasses import dataclass

from integrations.sync.models import Held, reconcile


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
