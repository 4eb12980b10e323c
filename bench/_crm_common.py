"""What the CRM bench does the same way for Salesforce and for HubSpot (bench/crm_sync.py and
bench/_crm_hubspot.py): the hub's edits, timing the planner on an incremental run's reads, and
comparing both sides with the expected values. What differs per CRM comes in a `Crm`: its name
in messages, its natural keys, how a hub record reads in its field names, and its rows.

An entity (each bench's own class) gives: `name` ("account" / "contact"), `hub` and `both`
(the CRM fields the hub edits, and the one both sides edit), `renames` (hub field → CRM
field), `fields` (the CRM fields compared), `remote_ids` (the CRM ids in order), `hub_ids`,
`expected`, `hub_changed` and `crm_changed`."""

import time
from collections.abc import Callable
from dataclasses import dataclass

CONFLICT_EVERY = 50  # 2 %


def plain(value):
    """A value as the sync compares it: text trimmed, empty text as null."""
    if isinstance(value, str):
        return value.strip() or None
    return value


@dataclass(frozen=True)
class Crm:
    label: str  # "Salesforce", "HubSpot"
    natural: dict[str, tuple[str, ...]]  # entity -> the natural keys creates are matched on
    hub_values: Callable  # (entity, hub record) -> {CRM field: value}, as the sync compares
    rows: Callable  # (entity, *, changed_only) -> {CRM id: (values, modified_at)}, live ones


def model_of(entity, Account, Contact):
    return Account if entity.name == "account" else Contact


def hub_edits(entities, Account, Contact, *, last_wins: str) -> None:
    """The hub's edits, stamped now: of the records whose conflict the CRM wins (`last_wins`
    "crm": made before the CRM's edits) or of the others ("hub"). Written with one statement
    run many times (bulk_update's CASE per row takes seconds on SQLite)."""
    from django.db import connection, transaction
    from django.utils import timezone

    for entity in entities:
        renames = {crm: hub for hub, crm in entity.renames.items()}
        meta = model_of(entity, Account, Contact)._meta
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


def time_plan(entity, config, Account, Contact, CrmLink, *, crm: Crm) -> tuple[float, int, int]:
    """The planner on what an incremental run reads: every link (with its base), the hub records
    changed and the CRM records changed. Best of three; (seconds, records, conflicts)."""
    from integrations.sync import planner

    model = model_of(entity, Account, Contact)
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


def compare(entity, Account, Contact, *, crm: Crm) -> list[str]:
    """What differs from the expected values, on either side."""
    model = model_of(entity, Account, Contact)
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


def timed_run(config, entity, Watch):
    """One sync of `entity` as the command starts it, with its calls watched: (its log, s).
    Eager: the task runs to its end as sync_request commits."""
    from crm import services
    from crm.models import SyncLog

    watch = Watch(config.pk)
    watch.start()
    began = time.monotonic()
    log = services.sync_request(
        config=config, entity=entity.name, actor=None, trigger=SyncLog.Trigger.COMMAND
    )
    seconds = time.monotonic() - began
    watch.stopped.set()
    return SyncLog.objects.get(pk=log.pk), seconds


def first_runs_find_nothing(entities, config, Watch, fail) -> None:
    """A first run per object (not counted) over the seeded links: it must find nothing to do,
    or the links are not what a sync keeps."""
    for entity in entities:
        log, seconds = timed_run(config, entity, Watch)
        print(f"    {entity.name}: {log.status} in {seconds:.1f} s: {log.message or 'no message'}")
        done = (log.status, log.created, log.updated, log.conflicts, log.failed)
        if done != ("succeeded", 0, 0, 0, 0):
            fail(
                f"the first {entity.name} run did something ({log.status}: {log.message}; "
                f"{log.errors[:3]}): the seeded links are not what a sync keeps"
            )
