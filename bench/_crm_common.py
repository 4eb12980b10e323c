"""What the CRM bench does the same way for Salesforce and for HubSpot (bench/crm_sync.py and
bench/_crm_hubspot.py): the hub's records and links made from the CRM's rows, the edits on both
sides, timing the planner on an incremental run's reads, the timed runs and comparing both sides
with the expected values. What differs per CRM comes in a `Crm`: its name in messages, its
natural keys, how its rows and a hub record read in its field names, and how it is edited.

An entity (each bench's own class) gives: `name` ("account" / "contact"), `hub`, `crm` and
`both` (the CRM fields the hub edits, the CRM edits, and both edit), `renames` (hub field →
CRM field), `fields` (the CRM fields compared), `rows` (the CRM's rows in id order),
`remote_ids` (their ids), `hub_ids`, `expected`, `hub_changed` and `crm_changed`."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from _setup import Watch

CONFLICT_EVERY = 50  # 2 %


def plain(value):
    """A value as the sync compares it: text trimmed, empty text as null."""
    if isinstance(value, str):
        return value.strip() or None
    return value


@dataclass(frozen=True)
class Crm:
    label: str  # "Salesforce", "HubSpot"
    mark: str  # "SF", "HS": the text the CRM's edits start with
    natural: dict[str, tuple[str, ...]]  # entity -> the natural keys creates are matched on
    hub_values: Callable  # (entity, hub record) -> {CRM field: value}, as the sync compares
    rows: Callable  # (entity, *, changed_only) -> {CRM id: (values, modified_at)}, live ones
    edit: Callable  # (entity, edits): the CRM's own edits, through its emulator's control plane
    id_key: str  # a row's id field ("Id", "id"), and an edit's
    account_key: str  # a contact row's field holding its account's CRM id
    properties: Callable = lambda row: row  # a row's fields (HubSpot's are under "properties")
    # hub account id -> its CRM id: filled by link_hub_records, read by hub_values
    remote_of: dict = field(default_factory=dict)


def fail(message: str) -> None:
    print(f"FAILED: {message}")
    raise SystemExit(1)


def link_hub_records(entities, workspace, config, *, crm: Crm, a_day_ago) -> None:
    """The hub's records made from the CRM's rows with bulk_create (a contact's account is the
    hub account linked to its CRM account), and each pair's CrmLink with the base the sync
    keeps: every mapped field's value, text trimmed and empty as null."""
    from crm.models import CrmLink
    from integrations.sync.models import digest

    local_of: dict[str, int] = {}  # CRM account id → hub account id
    for entity in entities:
        model = model_of(entity)
        made = []
        for row in entity.rows:
            props = crm.properties(row)
            values = {
                hub: props.get(name) or ""  # text columns hold "" for nothing
                for hub, name in entity.renames.items()
                if hub != "account"
            }
            if entity.name == "contact":
                values["account_id"] = local_of.get(props.get(crm.account_key))
            made.append(
                model(workspace=workspace, created_at=a_day_ago, updated_at=a_day_ago, **values)
            )
        made = model.objects.bulk_create(made, batch_size=2_000)
        entity.hub_ids = [record.pk for record in made]
        if entity.name == "account":
            local_of = dict(zip(entity.remote_ids, entity.hub_ids, strict=True))
            crm.remote_of.update({pk: remote for remote, pk in local_of.items()})
        links = []
        for row, pk in zip(entity.rows, entity.hub_ids, strict=True):
            props = crm.properties(row)
            base = {name: plain(props.get(name)) for name in entity.fields}
            links.append(
                CrmLink(
                    workspace=workspace,
                    config=config,
                    entity=entity.name,
                    local_id=pk,
                    remote_id=row[crm.id_key],
                    synced_values=base,
                    content_hash=digest(base),
                    synced_at=a_day_ago,
                )
            )
        CrmLink.objects.bulk_create(links, batch_size=2_000)


def edit_both_sides(entities, *, crm: Crm) -> None:
    """Half of the records changed on each side, 2 % on the same field on both, in the time
    order that lets last write win settle each conflict one known way: the hub's edits of the
    CRM's winners, then every CRM edit, then the hub's other edits. Each record's expected
    values follow."""
    for entity in entities:
        entity.expected = [
            {name: plain(crm.properties(row).get(name)) for name in entity.fields}
            for row in entity.rows
        ]
    hub_edits(entities, last_wins="crm")  # before the CRM's: they lose
    time.sleep(0.01)
    for entity in entities:
        edits = []
        for i, remote_id in enumerate(entity.remote_ids):
            edit = {}
            if i % 2:
                edit[entity.crm] = f"{crm.mark} {entity.crm} {i}"
            if i % CONFLICT_EVERY == 0:
                edit[entity.both] = f"{crm.label}'s {i}"
            if edit:
                entity.crm_changed.add(i)
                edits.append({crm.id_key: remote_id, **edit})
                winner = {k: v for k, v in edit.items() if k != entity.both or i % 100 == 50}
                entity.expected[i].update(winner)
        for start in range(0, len(edits), 5_000):
            crm.edit(entity, edits[start : start + 5_000])
    time.sleep(0.01)
    hub_edits(entities, last_wins="hub")


def model_of(entity):
    """The hub's model of an entity (imported here: Django is set up by then)."""
    from crm.models import Account, Contact

    return Account if entity.name == "account" else Contact


def hub_edits(entities, *, last_wins: str) -> None:
    """The hub's edits, stamped now: of the records whose conflict the CRM wins (`last_wins`
    "crm": made before the CRM's edits) or of the others ("hub"). Written with one statement
    run many times (bulk_update's CASE per row takes seconds on SQLite)."""
    from django.db import connection, transaction
    from django.utils import timezone

    for entity in entities:
        renames = {crm: hub for hub, crm in entity.renames.items()}
        meta = model_of(entity)._meta
        now = meta.get_field("updated_at").get_db_prep_value(timezone.now(), connection)
        by_columns: dict[tuple, list] = {}
        for i in range(0, len(entity.hub_ids), 2):
            if (i % 100 == 50) != (last_wins == "crm"):
                continue
            edit = {entity.hub: f"+1 555 01{i:06d}"}
            if i % CONFLICT_EVERY == 0:
                edit[entity.both] = f"The hub's {i}"
                if last_wins == "crm":  # the CRM's value wins: only the hub's phone arrives
                    entity.expected[i][entity.hub] = edit[entity.hub]
                else:
                    entity.expected[i].update(edit)
            else:
                entity.expected[i].update(edit)
            entity.hub_changed.add(i)
            columns = tuple(meta.get_field(renames[name]).column for name in edit)
            by_columns.setdefault(columns, []).append([*edit.values(), now, entity.hub_ids[i]])
        with transaction.atomic(), connection.cursor() as cursor:
            for columns, params in by_columns.items():
                sets = ", ".join(f"{connection.ops.quote_name(col)} = %s" for col in columns)
                cursor.executemany(
                    f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {sets}, "  # noqa: S608 - names from the model
                    f"{connection.ops.quote_name('updated_at')} = %s WHERE id = %s",
                    params,
                )


def time_plan(entity, config, *, crm: Crm) -> tuple[float, int, int]:
    """The planner on what an incremental run reads: every link (with its base), the hub records
    changed and the CRM records changed. Best of three; (seconds, records, conflicts)."""
    from crm.models import CrmLink
    from integrations.sync import planner

    model = model_of(entity)
    links = [
        planner.Link(link.local_id, link.remote_id, link.synced_values)
        for link in CrmLink.objects.filter(config=config, entity=entity.name)
    ]
    records = model.objects.in_bulk([entity.hub_ids[i] for i in entity.hub_changed])
    local = {
        pk: planner.Snapshot(pk, crm.hub_values(entity, record), record.updated_at)
        for pk, record in records.items()
    }
    rows, remote_ids = crm.rows(entity, changed_only=True), entity.remote_ids
    remote = {}
    for i in entity.crm_changed:
        remote_id = remote_ids[i]
        values, modified = rows[remote_id]
        remote[remote_id] = planner.Snapshot(remote_id, values, modified)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        result = planner.plan(
            links=links,
            local=local,
            remote=remote,
            fields=entity.fields,
            policy=planner.Policy.LAST_WRITE_WINS,
            direction=planner.Direction.BOTH,
            natural_keys=crm.natural[entity.name],
            local_complete=False,
            remote_complete=False,
        )
        timings.append(time.perf_counter() - started)
    winners = {c.local_id: c.winner for c in result.conflicts}
    for i in range(0, len(entity.hub_ids), CONFLICT_EVERY):
        want = planner.LOCAL if i % 100 == 0 else planner.REMOTE
        if winners.get(entity.hub_ids[i]) != want:
            raise SystemExit(
                f"FAILED: {entity.name} {i}: the planner's winner is {winners.get(entity.hub_ids[i])}"
            )
    records_planned = len({link.local_id for link in links} | set(local))
    return min(timings), records_planned, len(result.conflicts)


def compare(entity, *, crm: Crm) -> list[str]:
    """What differs from the expected values, on either side."""
    model = model_of(entity)
    rows = crm.rows(entity, changed_only=False)
    hub = model.objects.in_bulk(entity.hub_ids)
    wrong = []
    extra_crm = len(rows) - len(entity.remote_ids)
    extra_hub = model.objects.count() - len(entity.hub_ids)  # the bench's database: only these
    if extra_crm or extra_hub:
        wrong.append(
            f"{entity.name}: {extra_hub} records more in the hub, {extra_crm} in {crm.label}"
        )
    for i, (remote_id, pk) in enumerate(zip(entity.remote_ids, entity.hub_ids, strict=True)):
        want = entity.expected[i]
        there = rows.get(remote_id, ({}, None))[0]
        here = crm.hub_values(entity, hub[pk]) if pk in hub else {}
        for side, got in ((crm.label, there), ("hub", here)):
            for name in entity.fields:
                if got.get(name) != want[name]:
                    wrong.append(
                        f"{entity.name} {i} ({remote_id}) in {side}: {name} = "
                        f"{got.get(name)!r}, expected {want[name]!r}"
                    )
    return wrong


def timed_run(config, entity):
    """One sync of `entity` as the command starts it, with its progress watched: (its log, s).
    Eager: the task runs to its end as sync_request commits."""
    from crm import services
    from crm.models import SyncLog

    watch = Watch(
        lambda: SyncLog.objects.filter(config_id=config.pk).order_by("-pk").first(), indent="    "
    )
    watch.start()
    began = time.monotonic()
    log = services.sync_request(
        config=config, entity=entity.name, actor=None, trigger=SyncLog.Trigger.COMMAND
    )
    seconds = time.monotonic() - began
    watch.stopped.set()
    return SyncLog.objects.get(pk=log.pk), seconds


def first_runs_find_nothing(entities, config) -> None:
    """A first run per object (not counted) over the seeded links: it must find nothing to do,
    or the links are not what a sync keeps."""
    for entity in entities:
        log, seconds = timed_run(config, entity)
        print(f"    {entity.name}: {log.status} in {seconds:.1f} s: {log.message or 'no message'}")
        done = (log.status, log.created, log.updated, log.conflicts, log.failed)
        if done != ("succeeded", 0, 0, 0, 0):
            fail(
                f"the first {entity.name} run did something ({log.status}: {log.message}; "
                f"{log.errors[:3]}): the seeded links are not what a sync keeps"
            )


def planner_figure(entities, config, *, crm: Crm) -> float:
    """The planner timed on each entity's incremental-run inputs (time_plan), which must find
    the 2 % conflicts: µs per record planned, over both."""
    planned, best_total = 0, 0.0
    for entity in entities:
        seconds, count, conflicts = time_plan(entity, config, crm=crm)
        want = sum(1 for i in range(len(entity.rows)) if i % CONFLICT_EVERY == 0)
        if conflicts != want:
            fail(f"the planner found {conflicts} {entity.name} conflicts, not {want}")
        planned += count
        best_total += seconds
        print(
            f"    {entity.name}: {count} records planned in {seconds * 1000:.1f} ms "
            f"({seconds / count * 1e6:.2f} µs per record), {conflicts} conflicts"
        )
    return best_total / planned * 1e6


def timed_runs(entities, config, sandbox, step, *, crm: Crm, provider: str, floor, seen=None):
    """One counted run per entity, its calls read from the emulator's control plane and held
    to the floor: `floor(reads, writes)` gives (the floor, how it is made). `seen(calls,
    began_at)` looks at each run's calls. (calls, floor, wall seconds) over the runs."""
    calls_total = floor_total = 0
    wall = 0.0
    for entity in entities:
        reads, writes = len(entity.crm_changed), len(entity.hub_changed)
        least, how = floor(reads, writes)
        step(
            f"Syncing {entity.name}s: {len(entity.rows)} linked, {writes} changed in the hub, "
            f"{reads} in {crm.label}..."
        )
        sandbox.clear_calls(provider)
        began_at = time.time()
        log, seconds = timed_run(config, entity)
        calls = sandbox.calls(provider)
        print(
            f"    run: {log.status} in {seconds:.1f} s: created {log.created}, updated "
            f"{log.updated}, conflicts {log.conflicts}, failed {log.failed}"
            + (f" — {log.message}" if log.message else "")
        )
        print(
            f"    API calls (emulator): {calls['total']}, floor {least} ({how}): "
            f"{calls['total'] / least:.3f} x floor"
        )
        for endpoint, count in sorted(calls["by_endpoint"].items(), key=lambda kv: -kv[1]):
            print(f"      {count:>5}  {endpoint}")
        timeline(calls["log"], began_at, seconds)
        if seen is not None:
            seen(calls, began_at)
        if log.status != "succeeded":
            fail(f"the {entity.name} run did not succeed: {log.message} {log.errors[:5]}")
        calls_total += calls["total"]
        floor_total += least
        wall += seconds
    return calls_total, floor_total, wall


def timeline(log: list[dict], began_at: float, seconds: float) -> None:
    """Where the run's time went: before the first call, in calls (server side), after."""
    if not log:
        print(f"    timeline: no calls; run closed at +{seconds:.1f} s")
        return
    first, last = log[0]["t"] - began_at, log[-1]["t"] + log[-1]["ms"] / 1000 - began_at
    served = sum(c["ms"] for c in log) / 1000
    print(
        f"    timeline: first call at +{first:.2f} s, last answer at +{last:.2f} s, run closed "
        f"at +{seconds:.2f} s; the emulator served for {served:.2f} s of it"
    )


def both_sides_checked(entities, server, *, crm: Crm) -> int:
    """Both sides hold the expected values, or FAILED and exit 1: the records compared."""
    wrong = []
    for entity in entities:
        wrong += compare(entity, crm=crm)
    if wrong:
        print(f"FAILED: {len(wrong)} values differ from what the sync should have left, e.g.:")
        for line in wrong[:10]:
            print(f"    {line}")
        server.stop()
        raise SystemExit(1)
    records = sum(len(entity.rows) for entity in entities)
    print(f"    both sides hold the {records} records as expected")
    return records
