"""The planner's rules as a table, and a property: a plan applied to both sides leaves them
equal on every mapped field (unless a person must decide), and planning again does nothing."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.sync.planner import (
    LOCAL,
    REMOTE,
    Direction,
    Link,
    Policy,
    Snapshot,
    plan,
)

FIELDS = ("email", "name", "phone")
BASE = {"email": "pat@example.com", "name": "Pat", "phone": "1"}


def one(local=BASE, remote=BASE, *, base=BASE, local_at=1, remote_at=2, **options):
    """Plan one linked record (ids L1 / R1); None for a side means it is missing there."""
    return plan(
        links=[Link("L1", "R1", dict(base))],
        local={} if local is None else {"L1": Snapshot("L1", dict(local), local_at)},
        remote={} if remote is None else {"R1": Snapshot("R1", dict(remote), remote_at)},
        fields=FIELDS,
        **options,
    )


def ops(result):
    return [(op.kind, op.side, op.changes) for op in result.operations]


def test_nothing_changed_plans_nothing():
    result = one()
    assert (ops(result), result.conflicts, result.bases) == ([], [], {})


def test_a_change_on_one_side_goes_to_the_other():
    result = one(local={**BASE, "phone": "2"})
    assert ops(result) == [("update", REMOTE, {"phone": ("1", "2")})]
    assert result.bases[("L1", "R1")] == {**BASE, "phone": "2"}
    result = one(remote={**BASE, "name": "Pat B."})
    assert ops(result) == [("update", LOCAL, {"name": ("Pat", "Pat B.")})]


def test_different_fields_changed_on_both_sides_merge_without_a_conflict():
    result = one(local={**BASE, "phone": "2"}, remote={**BASE, "name": "Pat B."})
    assert sorted(ops(result)) == [
        ("update", LOCAL, {"name": ("Pat", "Pat B.")}),
        ("update", REMOTE, {"phone": ("1", "2")}),
    ]
    assert result.conflicts == []
    assert result.bases[("L1", "R1")] == {**BASE, "phone": "2", "name": "Pat B."}


def test_the_same_change_on_both_sides_is_no_conflict():
    result = one(local={**BASE, "phone": "2"}, remote={**BASE, "phone": "2"})
    assert (ops(result), result.conflicts) == ([], [])
    assert result.bases[("L1", "R1")]["phone"] == "2"


@pytest.mark.parametrize(
    ("policy", "local_at", "remote_at", "expected"),
    [
        (Policy.LAST_WRITE_WINS, 5, 2, [("update", REMOTE, {"phone": ("3", "2")})]),
        (Policy.LAST_WRITE_WINS, 1, 2, [("update", LOCAL, {"phone": ("2", "3")})]),
        (Policy.LAST_WRITE_WINS, 2, 2, [("update", LOCAL, {"phone": ("2", "3")})]),  # tie
        (Policy.LOCAL_WINS, 1, 9, [("update", REMOTE, {"phone": ("3", "2")})]),
        (Policy.REMOTE_WINS, 9, 1, [("update", LOCAL, {"phone": ("2", "3")})]),
        (Policy.MANUAL, 9, 1, []),
    ],
)
def test_the_same_field_changed_on_both_sides_is_settled_by_the_policy(
    policy, local_at, remote_at, expected
):
    result = one(
        local={**BASE, "phone": "2", "name": "Pat L."},
        remote={**BASE, "phone": "3"},
        local_at=local_at,
        remote_at=remote_at,
        policy=policy,
    )
    (conflict,) = result.conflicts
    assert conflict.fields == {"phone": ("1", "2", "3")}
    assert conflict.winner == {
        Policy.MANUAL: None,
        Policy.LOCAL_WINS: LOCAL,
        Policy.REMOTE_WINS: REMOTE,
    }.get(policy, LOCAL if local_at > remote_at else REMOTE)
    # The other field, changed on one side only, goes through whatever the policy.
    name = ("update", REMOTE, {"name": ("Pat", "Pat L.")})
    merged = {}
    for kind, side, changes in ops(result):
        merged.setdefault((kind, side), {}).update(changes)
    expected_merged = {}
    for kind, side, changes in [*expected, name]:
        expected_merged.setdefault((kind, side), {}).update(changes)
    assert merged == expected_merged
    if policy == Policy.MANUAL:  # held: the old base stays, so it is asked again next time
        assert result.bases[("L1", "R1")]["phone"] == "1"


@pytest.mark.parametrize(
    ("policy", "field_policies", "expected", "base"),
    [
        # The field's own policy beats the run's, whichever way.
        (Policy.LOCAL_WINS, {"phone": Policy.REMOTE_WINS}, {LOCAL: {"phone": ("2", "3")}}, "3"),
        (Policy.REMOTE_WINS, {"phone": Policy.LOCAL_WINS}, {REMOTE: {"phone": ("3", "2")}}, "2"),
        # A policy for another field changes nothing here.
        (Policy.LOCAL_WINS, {"name": Policy.REMOTE_WINS}, {REMOTE: {"phone": ("3", "2")}}, "2"),
        # Manual review for the run, but this field is always the remote's: settled, not held.
        (Policy.MANUAL, {"phone": Policy.REMOTE_WINS}, {LOCAL: {"phone": ("2", "3")}}, "3"),
        # And the other way: a field held for a person (the old base stays) under a run that
        # settles the rest.
        (Policy.REMOTE_WINS, {"phone": Policy.MANUAL}, {}, "1"),
    ],
)
def test_a_field_with_its_own_policy_is_settled_by_it(policy, field_policies, expected, base):
    result = one(
        local={**BASE, "phone": "2"},
        remote={**BASE, "phone": "3"},
        policy=policy,
        field_policies=field_policies,
    )
    (conflict,) = result.conflicts
    assert conflict.policy == field_policies.get("phone", policy)
    assert {side: changes for _, side, changes in ops(result)} == expected
    assert result.bases[("L1", "R1")]["phone"] == base


def test_fields_under_different_policies_are_one_conflict_per_policy():
    result = one(
        local={"email": "l@example.com", "name": "Local", "phone": "2"},
        remote={"email": "r@example.com", "name": "Remote", "phone": "3"},
        policy=Policy.LOCAL_WINS,
        field_policies={"name": Policy.REMOTE_WINS, "phone": Policy.MANUAL},
    )
    # The run's policy first, then the others in the order of the fields.
    assert [(c.fields, c.policy, c.winner) for c in result.conflicts] == [
        ({"email": ("pat@example.com", "l@example.com", "r@example.com")}, "local_wins", LOCAL),
        ({"name": ("Pat", "Local", "Remote")}, "remote_wins", REMOTE),
        ({"phone": ("1", "2", "3")}, "manual", None),
    ]
    assert sorted(ops(result)) == [
        ("update", LOCAL, {"name": ("Local", "Remote")}),
        ("update", REMOTE, {"email": ("r@example.com", "l@example.com")}),
    ]
    # Settled fields move on; the held one keeps its base and comes back next time.
    assert result.bases[("L1", "R1")] == {"email": "l@example.com", "name": "Remote", "phone": "1"}
    assert result.counts()["held"] == 1


def test_a_field_policy_does_not_beat_a_one_way_sync():
    result = one(
        local={**BASE, "phone": "2"},
        remote={**BASE, "phone": "3"},
        direction=Direction.PUSH,
        field_policies={"phone": Policy.REMOTE_WINS},
    )
    assert ops(result) == [("update", REMOTE, {"phone": ("3", "2")})]


def test_a_deletion_against_an_edit_is_settled_by_the_runs_policy_not_a_fields():
    result = one(
        local=None,
        remote={**BASE, "phone": "9"},
        policy=Policy.MANUAL,
        field_policies={"phone": Policy.REMOTE_WINS},
    )
    assert ops(result) == [] and result.conflicts[0].winner is None


def test_records_new_on_both_sides_follow_the_field_policies_too():
    result = plan(
        links=[],
        local={"L7": Snapshot("L7", {"email": "pat@example.com", "name": "Pat", "phone": "1"}, 9)},
        remote={"R7": Snapshot("R7", {"email": "pat@example.com", "name": "P.", "phone": "2"}, 1)},
        fields=FIELDS,
        natural_keys=["email"],
        policy=Policy.LOCAL_WINS,
        field_policies={"phone": Policy.REMOTE_WINS},
    )
    assert sorted(ops(result)) == [
        ("update", LOCAL, {"phone": ("1", "2")}),
        ("update", REMOTE, {"name": ("P.", "Pat")}),
    ]


def test_a_deletion_after_a_complete_read_is_planned():
    result = one(local=None, local_complete=True)
    assert ops(result) == [("delete", REMOTE, {n: (v, None) for n, v in BASE.items()})]
    assert result.bases[("L1", "R1")] is None


def test_a_record_missing_from_a_partial_read_is_unchanged_not_deleted():
    assert ops(one(local=None, local_complete=False)) == []
    assert ops(one(remote=None, remote_complete=False, local={**BASE, "phone": "2"})) == [
        ("update", REMOTE, {"phone": ("1", "2")})
    ]


def test_a_deletion_against_an_edit_keeps_the_edit_under_last_write_wins():
    result = one(local=None, remote={**BASE, "phone": "9"})
    assert ops(result) == [
        ("create", LOCAL, {n: (None, v) for n, v in {**BASE, "phone": "9"}.items()})
    ]
    (conflict,) = result.conflicts
    assert (conflict.deleted, conflict.winner) == (LOCAL, REMOTE)
    assert result.bases[(None, "R1")] == {**BASE, "phone": "9"}


def test_a_deletion_against_an_edit_is_held_under_manual_review():
    result = one(local=None, remote={**BASE, "phone": "9"}, policy=Policy.MANUAL)
    assert ops(result) == [] and result.conflicts[0].winner is None
    assert result.bases[("L1", "R1")] == BASE  # the link stays until someone decides


def test_with_deletes_off_a_deletion_only_unlinks():
    result = one(local=None, deletes=False)
    assert ops(result) == [] and result.bases[("L1", "R1")] is None


def test_records_new_on_both_sides_with_the_same_natural_key_are_linked_not_duplicated():
    result = plan(
        links=[],
        local={"L7": Snapshot("L7", {"email": "Pat@Example.com ", "name": "Pat", "phone": "1"})},
        remote={
            "R7": Snapshot("R7", {"email": "pat@example.com", "name": "Pat", "phone": "2"}, 5),
            "R8": Snapshot("R8", {"email": "sam@example.com", "name": "Sam", "phone": None}),
        },
        fields=FIELDS,
        natural_keys=["email"],
    )
    assert result.links == [("L7", "R7")]
    kinds = sorted((op.kind, op.side, op.local_id, op.remote_id) for op in result.operations)
    # L7/R7 differ in email spelling and phone with no base: conflicts, remote newer wins;
    # R8 is new only there: made here.
    assert kinds == [("create", LOCAL, None, "R8"), ("update", LOCAL, "L7", "R7")]
    assert set(result.conflicts[0].fields) == {"email", "phone"}


@pytest.mark.parametrize("direction", [Direction.PUSH, Direction.PULL])
def test_one_way_syncs_make_the_other_side_match(direction):
    result = one(
        local={**BASE, "phone": "2"}, remote={**BASE, "name": "Remote"}, direction=direction
    )
    if direction == Direction.PUSH:
        assert ops(result) == [("update", REMOTE, {"phone": ("1", "2"), "name": ("Remote", "Pat")})]
    else:
        assert ops(result) == [("update", LOCAL, {"name": ("Pat", "Remote"), "phone": ("2", "1")})]


# --- the property ------------------------------------------------------------------------------

VALUES = st.sampled_from([None, "a", "b", "c"])
RECORD = st.fixed_dictionaries({name: VALUES for name in FIELDS})


@st.composite
def worlds(draw):
    policy = draw(st.sampled_from(list(Policy)))
    field_policies = draw(st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(list(Policy))))
    direction = draw(st.sampled_from(list(Direction)))
    local_complete, remote_complete = draw(st.booleans()), draw(st.booleans())
    local, remote, links = {}, {}, []
    for n in range(draw(st.integers(0, 6))):
        base = draw(RECORD)
        links.append(Link(f"L{n}", f"R{n}", base))
        for store, complete, prefix in (
            (local, local_complete, "L"),
            (remote, remote_complete, "R"),
        ):
            # A partial read cannot see a deletion (nothing says it happened): none on that side.
            fate = draw(st.sampled_from(["same", "edit", "gone"] if complete else ["same", "edit"]))
            if fate != "gone":
                store[f"{prefix}{n}"] = base if fate == "same" else draw(RECORD)
    for n in range(draw(st.integers(0, 3))):
        local[f"L-new{n}"] = draw(RECORD)
    for n in range(draw(st.integers(0, 3))):
        remote[f"R-new{n}"] = draw(RECORD)
    times = itertools.count()
    return {
        "policy": policy,
        "field_policies": field_policies,
        "direction": direction,
        "local_complete": local_complete,
        "remote_complete": remote_complete,
        "links": links,
        "local": local,
        "remote": remote,
        "times": {key: next(times) for key in [*local, *remote]},
    }


def read(store, world, side, links, complete):
    """What a side's read returns: everything, or (partial) only what changed since its base."""
    bases = {(link.local_id if side == LOCAL else link.remote_id): link.base for link in links}
    return {
        key: Snapshot(key, dict(values), world["times"].get(key, 0))
        for key, values in store.items()
        if complete or bases.get(key) != values
    }


def apply(result, local, remote, links):
    """Do the plan's writes on two in-memory sides; return the links as they are after."""
    ids = itertools.count()
    made = {}
    for op in result.operations:
        store = local if op.side == LOCAL else remote
        if op.kind == "create":
            new_id = f"{'L' if op.side == LOCAL else 'R'}+{next(ids)}"
            store[new_id] = {name: after for name, (_, after) in op.changes.items()}
            made[(op.local_id, op.remote_id)] = (
                (new_id, op.remote_id) if op.side == LOCAL else (op.local_id, new_id)
            )
        elif op.kind == "update":
            key = op.local_id if op.side == LOCAL else op.remote_id
            store[key] = {**store[key], **{n: after for n, (_, after) in op.changes.items()}}
        else:
            del store[op.local_id if op.side == LOCAL else op.remote_id]
    after = {(link.local_id, link.remote_id): link.base for link in links}
    for key, base in result.bases.items():
        after.pop(key, None)
        if base is not None:
            after[made.get(key, key)] = base
    return [Link(lid, rid, base) for (lid, rid), base in after.items()]


@settings(max_examples=400, deadline=None)
@given(worlds())
def test_a_plan_applied_leaves_both_sides_equal_and_planning_again_does_nothing(world):
    local, remote, links = dict(world["local"]), dict(world["remote"]), world["links"]
    options = {
        "fields": FIELDS,
        "policy": world["policy"],
        "field_policies": world["field_policies"],
        "direction": world["direction"],
        "natural_keys": ["email"],
    }
    first = plan(
        links=links,
        local=read(local, world, LOCAL, links, world["local_complete"]),
        remote=read(remote, world, REMOTE, links, world["remote_complete"]),
        local_complete=world["local_complete"],
        remote_complete=world["remote_complete"],
        **options,
    )
    links = apply(first, local, remote, links)

    held = {(c.local_id, c.remote_id) for c in first.conflicts if c.winner is None}
    # A record's held fields differ still; every other field is equal on both sides.
    held_fields = {}
    for c in first.conflicts:
        if c.winner is None:
            held_fields.setdefault((c.local_id, c.remote_id), set()).update(c.fields)
    for link in links:
        key = (link.local_id, link.remote_id)
        if key in held and any(
            c.deleted for c in first.conflicts if (c.local_id, c.remote_id) == key
        ):
            continue  # a held delete: the record's existence waits for a person
        here, there = local[link.local_id], remote[link.remote_id]
        same = [n for n in FIELDS if n not in held_fields.get(key, ())]
        assert {n: here[n] for n in same} == {n: there[n] for n in same}
        assert {n: here[n] for n in same} == {n: link.base[n] for n in same}

    again = plan(
        links=links,
        local={k: Snapshot(k, dict(v)) for k, v in local.items()},
        remote={k: Snapshot(k, dict(v)) for k, v in remote.items()},
        **options,
    )
    assert again.operations == []
    assert {(c.local_id, c.remote_id) for c in again.conflicts} <= held
