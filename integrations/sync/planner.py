"""The planner: a three-way merge, field by field, of what changed here (local) and there
(remote) since the last sync (the base each record link keeps).

Pure and fast: no database, no provider, no clock. Its answer is data — operations with
field-level before → after, conflicts with how each was settled, the links to make and the
base to keep once the operations are done — so a dry run *is* the plan, and the approval gate
takes its operations from it.

The rules:
- a field changed on one side only is applied to the other;
- the same field changed on both sides to different values is a conflict, settled by the
  policy (last write wins, remote wins, local wins) or held for a person (`manual`): a held
  field is written nowhere and keeps its old base, so it shows up again until it is decided;
- a field with a policy of its own (`field_policies`, "always use the CRM's Title") is settled
  by that policy instead of the run's. A record whose conflicting fields fall under different
  policies gets one `Conflict` per policy, each with its fields and its winner (the run's
  policy first, then the others in the order of `fields`), so every conflict still has one
  winner and a held one holds only its own fields. A delete against an edit is a decision on
  the whole record: the run's policy settles it;
- changes to different fields of one record merge without a conflict;
- records new on both sides with the same natural key are linked, never created twice (their
  differing fields are conflicts: there is no base to tell which side changed);
- a record missing from a side's read is deleted on the other side only if that read was
  complete (a full listing); missing from an incremental read means unchanged. A deletion
  against an edit on the other side is a conflict too (the edit survives unless the deleting
  side wins by policy);
- one-way syncs are the two-way merge with one side always right: `push` overwrites the
  remote with the local record (remote edits are undone), `pull` the reverse.

Reference: the per-field three-way merge of Heroku Connect / Unito's "field-level sync";
the seed's conflict strategies (../shared/seeds/crm-native-integrations-f030.md).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

LOCAL, REMOTE = "local", "remote"


class Policy(StrEnum):
    LAST_WRITE_WINS = "last_write_wins"
    REMOTE_WINS = "remote_wins"
    LOCAL_WINS = "local_wins"
    MANUAL = "manual"


class Direction(StrEnum):
    BOTH = "both"
    PUSH = "push"  # local -> remote only
    PULL = "pull"  # remote -> local only


@dataclass(slots=True)
class Snapshot:
    """One record as one side holds it now: its id there, its mapped values (the same field
    names on both sides: the mapping set has already converted them) and when it last changed
    (anything comparable: a datetime, a modstamp, a version number)."""

    id: Hashable
    values: dict
    modified_at: Any = None


@dataclass(slots=True)
class Link:
    """A record synced before: its ids on both sides and the values both sides agreed on."""

    local_id: Hashable
    remote_id: Hashable
    base: dict


@dataclass(slots=True)
class Operation:
    """A write: `kind` create / update / delete, on `side`; `changes` is field -> (before,
    after) (before is None for a create, after None for a delete). The ids are those known
    now: a create's id on its own side comes back from the write."""

    kind: str
    side: str
    local_id: Hashable | None
    remote_id: Hashable | None
    changes: dict = field(default_factory=dict)


@dataclass(slots=True)
class Conflict:
    """Fields changed on both sides: field -> (base, local, remote). `winner` is the side
    whose values were kept, or None when held for a person."""

    local_id: Hashable | None
    remote_id: Hashable | None
    fields: dict
    policy: str
    winner: str | None
    deleted: str | None = None  # the side that deleted the record, for a delete-vs-edit


@dataclass(slots=True)
class Plan:
    operations: list[Operation] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    # (local_id, remote_id) of records new on both sides, matched by natural key.
    links: list[tuple[Hashable, Hashable]] = field(default_factory=list)
    # The base to keep once the operations are done, by (local_id, remote_id) as known now
    # (a create's missing id is None until the write returns it); None forgets the link.
    bases: dict[tuple[Hashable | None, Hashable | None], dict | None] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.operations:
            key = f"{op.side}_{op.kind}"
            counts[key] = counts.get(key, 0) + 1
        counts["conflicts"] = len(self.conflicts)
        counts["held"] = sum(1 for c in self.conflicts if c.winner is None)
        return counts


_MISSING = object()


def _by_policy(
    policy: str, field_policies: Mapping[str, str], clashes: Mapping[str, Any]
) -> dict[str, list[str]]:
    """The conflicting fields grouped by the policy that settles each, the run's first."""
    groups: dict[str, list[str]] = {str(policy): []}
    for name in clashes:
        groups.setdefault(str(field_policies.get(name, policy)), []).append(name)
    return {each: names for each, names in groups.items() if names}


def _winner(policy: str, direction: str, local_at: Any, remote_at: Any) -> str | None:
    if direction == Direction.PUSH:
        return LOCAL
    if direction == Direction.PULL:
        return REMOTE
    if policy == Policy.LOCAL_WINS:
        return LOCAL
    if policy == Policy.REMOTE_WINS:
        return REMOTE
    if policy == Policy.MANUAL:
        return None
    # Last write wins; a tie, or a side that cannot say when, goes to the remote side: the
    # provider is where other people and tools edit too.
    if local_at is not None and (remote_at is None or local_at > remote_at):
        return LOCAL
    return REMOTE


def natural_key(values: Mapping, names: Sequence[str]) -> tuple | None:
    """The values that say two new records are the same one (an email, a number), compared
    without case or surrounding space; None if any is empty (no key, no match)."""
    key = []
    for name in names:
        value = values.get(name)
        if value is None or value == "":
            return None
        key.append(value.strip().casefold() if isinstance(value, str) else value)
    return tuple(key)


def plan(
    *,
    links: Iterable[Link],
    local: Mapping[Hashable, Snapshot],
    remote: Mapping[Hashable, Snapshot],
    fields: Sequence[str],
    policy: str = Policy.LAST_WRITE_WINS,
    direction: str = Direction.BOTH,
    natural_keys: Sequence[str] = (),
    local_complete: bool = True,
    remote_complete: bool = True,
    deletes: bool = True,
    creates: bool = True,
    field_policies: Mapping[str, str] | None = None,
) -> Plan:
    """Plan one sync of a set of records. `local` and `remote` hold what each side read (all
    records if its read was complete, else the changed ones); `links` every record synced
    before. With `deletes` off, a record deleted on one side is only unlinked; with `creates`
    off, new records stay where they are. `field_policies` (field -> Policy) settle a conflict
    on a field listed by its own policy instead of `policy`."""
    result = Plan()
    fields = tuple(fields)
    field_policies = dict(field_policies or {})
    linked_local, linked_remote = set(), set()
    for link in links:
        linked_local.add(link.local_id)
        linked_remote.add(link.remote_id)
        _plan_linked(
            result,
            link,
            local.get(link.local_id),
            remote.get(link.remote_id),
            fields,
            policy,
            direction,
            local_complete,
            remote_complete,
            deletes,
            field_policies,
        )
    new_local = [s for key, s in local.items() if key not in linked_local]
    new_remote = [s for key, s in remote.items() if key not in linked_remote]
    if new_local or new_remote:
        _plan_new(
            result,
            new_local,
            new_remote,
            fields,
            policy,
            direction,
            natural_keys,
            creates,
            field_policies,
        )
    return result


def _plan_linked(
    result: Plan,
    link: Link,
    here: Snapshot | None,
    there: Snapshot | None,
    fields: tuple,
    policy: str,
    direction: str,
    local_complete: bool,
    remote_complete: bool,
    deletes: bool,
    field_policies: Mapping[str, str],
) -> None:
    base = link.base
    ids = (link.local_id, link.remote_id)
    # Fast path, most records of a sync: neither side changed since the base.
    if (here is None and not local_complete or here is not None and here.values == base) and (
        there is None and not remote_complete or there is not None and there.values == base
    ):
        return
    local_gone = here is None and local_complete
    remote_gone = there is None and remote_complete
    if local_gone or remote_gone:
        _plan_deleted(
            result, link, here, there, fields, policy, direction, local_gone, remote_gone, deletes
        )
        return
    local_values = base if here is None else here.values
    remote_values = base if there is None else there.values
    to_local, to_remote, clashes, agreed = {}, {}, {}, {}
    for name in fields:
        b = base.get(name)
        lv = local_values.get(name, b)
        rv = remote_values.get(name, b)
        if lv == rv:
            agreed[name] = lv
        elif rv == b:  # changed here only
            to_remote[name] = (rv, lv)
            agreed[name] = lv
        elif lv == b:  # changed there only
            to_local[name] = (lv, rv)
            agreed[name] = rv
        else:
            clashes[name] = (b, lv, rv)
    if direction == Direction.PUSH:  # remote edits are undone
        for name, (lv, rv) in to_local.items():
            to_remote[name] = (rv, lv)
            agreed[name] = lv
        to_local = {}
    elif direction == Direction.PULL:
        for name, (rv, lv) in to_remote.items():
            to_local[name] = (lv, rv)
            agreed[name] = rv
        to_remote = {}
    if clashes:
        winners = {}
        for each, names in _by_policy(policy, field_policies, clashes).items():
            winner = _winner(each, direction, *_times(here, there))
            result.conflicts.append(
                Conflict(
                    link.local_id, link.remote_id, {n: clashes[n] for n in names}, str(each), winner
                )
            )
            winners.update(dict.fromkeys(names, winner))
        for name, (b, lv, rv) in clashes.items():
            winner = winners[name]
            if winner == LOCAL:
                to_remote[name] = (rv, lv)
                agreed[name] = lv
            elif winner == REMOTE:
                to_local[name] = (lv, rv)
                agreed[name] = rv
            else:
                agreed[name] = b  # held: the old base, so it is seen again next time
    if to_local:
        result.operations.append(Operation("update", LOCAL, *ids, to_local))
    if to_remote:
        result.operations.append(Operation("update", REMOTE, *ids, to_remote))
    result.bases[ids] = agreed


def _plan_deleted(
    result: Plan,
    link: Link,
    here: Snapshot | None,
    there: Snapshot | None,
    fields: tuple,
    policy: str,
    direction: str,
    local_gone: bool,
    remote_gone: bool,
    deletes: bool,
) -> None:
    ids = (link.local_id, link.remote_id)
    result.bases[ids] = None  # the link goes, whatever follows
    if (local_gone and remote_gone) or not deletes:
        return  # gone from both; or deletes are not propagated: each side keeps what it has
    gone, survivor = (LOCAL, there) if local_gone else (REMOTE, here)
    if survivor is None:  # missing from a partial read: unchanged since the base
        survivor = Snapshot(link.remote_id if local_gone else link.local_id, link.base)
    kept = REMOTE if local_gone else LOCAL
    values = {n: survivor.values.get(n, link.base.get(n)) for n in fields}
    edits = {n: v for n, v in values.items() if v != link.base.get(n)}
    if direction != Direction.BOTH:
        # One-way: the side that is always right decides whether the record exists.
        truth = LOCAL if direction == Direction.PUSH else REMOTE
        outcome = "delete" if gone == truth else "recreate"
    elif not edits:
        outcome = "delete"
    else:
        winner = _winner(policy, direction, *_times(here, there))
        if policy == Policy.LAST_WRITE_WINS:
            winner = kept  # a deletion has no time to compare: the edit is not lost
        result.conflicts.append(
            Conflict(
                link.local_id,
                link.remote_id,
                {
                    n: (link.base.get(n), *((None, v) if local_gone else (v, None)))
                    for n, v in edits.items()
                },
                str(policy),
                winner,
                deleted=gone,
            )
        )
        if winner is None:
            result.bases[ids] = link.base  # held: the link stays until a person decides
            return
        outcome = "delete" if winner == gone else "recreate"
    if outcome == "delete":
        result.operations.append(
            Operation("delete", kept, *ids, {n: (v, None) for n, v in values.items()})
        )
        return
    _create(result, gone, (None, link.remote_id) if local_gone else (link.local_id, None), values)


def _create(result: Plan, side: str, ids: tuple, values: dict) -> None:
    """A record made on `side`; its base, keyed by the ids known now, waits for the new id."""
    result.operations.append(
        Operation("create", side, *ids, {n: (None, v) for n, v in values.items()})
    )
    result.bases[ids] = values


def _times(here: Snapshot | None, there: Snapshot | None) -> tuple[Any, Any]:
    return (here.modified_at if here else None, there.modified_at if there else None)


def _plan_new(
    result: Plan,
    new_local: list[Snapshot],
    new_remote: list[Snapshot],
    fields: tuple,
    policy: str,
    direction: str,
    natural_keys: Sequence[str],
    creates: bool,
    field_policies: Mapping[str, str],
) -> None:
    unmatched_remote: dict[tuple, Snapshot] = {}
    loose_remote: list[Snapshot] = []
    for snap in new_remote:
        key = natural_key(snap.values, natural_keys) if natural_keys else None
        if key is None or key in unmatched_remote:
            loose_remote.append(snap)
        else:
            unmatched_remote[key] = snap
    for here in new_local:
        key = natural_key(here.values, natural_keys) if natural_keys else None
        there = unmatched_remote.pop(key, None) if key is not None else None
        if there is None:
            if creates and direction != Direction.PULL:
                _create(result, REMOTE, (here.id, None), {n: here.values.get(n) for n in fields})
            continue
        _plan_linked(
            result,
            Link(here.id, there.id, {}),
            here,
            there,
            fields,
            policy,
            direction,
            True,
            True,
            False,
            field_policies,
        )
        result.links.append((here.id, there.id))
    for there in [*unmatched_remote.values(), *loose_remote]:
        if creates and direction != Direction.PUSH:
            _create(result, LOCAL, (None, there.id), {n: there.values.get(n) for n in fields})
