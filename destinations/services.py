"""Writes of the destinations app: saving and testing a destination, its entities' mapping
sets, and records in — mapped, checked, held for approval where required, written.

A record's way (issue 19, item 3): the entity's mapping set (renames, lookups read from the
destination, formats) → the team and system user stamped on → the A4 required fields (a
record lacking one is refused whole, naming it) → the review queue when the entity's mapping
set requires approval → the write through PostgREST. Consecutive records of one entity that
need no approval go out as one request (PostgREST takes an array); one a batch refuses is
found by writing that batch's records one by one.
"""

import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from destinations import entities
from destinations.models import Destination, DestinationEntity, RecordRequest, RecordWrite
from integrations import approvals
from integrations.accounts.audit import audit_record, audited, snapshot
from integrations.accounts.models import User
from integrations.accounts.services import require_workspace_admin, require_workspace_member
from integrations.approvals.models import OutboundChange
from integrations.connections import http
from integrations.connections.providers import supabase
from integrations.errors import ApplicationError
from integrations.mapping.engine import (
    EXPORT_FORMAT,
    Mapper,
    MissingRequired,
    compile_fields,
    import_set,
)
from integrations.mapping.models import FieldMapping, MappingSet
from integrations.mapping.numbers import reserve_numbers
from integrations.mapping.transforms import MappingError, is_empty
from integrations.redaction import redact_text
from integrations.sync.models import insert_many, update_where

logger = logging.getLogger(__name__)

OWNER = "destinations"  # the applier's name in the review queue
LOOKUP_SECONDS = 300  # a looked-up id is kept this long (an id never changes its key)
BATCH_SIZE = 500  # rows per insert request
# A request's owner holds it this long past its last batch: longer than one batch's write
# (the HTTP layer's timeouts and retries); a request left longer is taken over by a retry.
LEASE_SECONDS = 300
READ_BACK = 100  # ids per read-back request (the URL stays short for the gateway)


class NotConfigured(ApplicationError):
    status_code = 409
    code = "destination_not_configured"


class KeyReused(ApplicationError):
    status_code = 422
    code = "idempotency_key_reused"


class InProgress(ApplicationError):
    status_code = 409
    code = "request_in_progress"


class LeaseLost(ApplicationError):
    """Another process took the request over (this one was taken for dead): it stops without
    recording anything, and the taker finishes the request."""

    status_code = 409
    code = "request_in_progress"


def _public(destination: Destination) -> dict:
    """What an audit diff may show: everything but the key's value."""
    data = snapshot(destination)
    data["service_key"] = "set" if data.get("service_key") else ""
    return data


# --- the destination ---------------------------------------------------------------------------


@audited
@transaction.atomic
def destination_save(
    *, destination: Destination, actor: User | None, service_key: str = ""
) -> Destination:
    """Create or change a destination (a new key only when one is given: the stored key is
    never shown back, so an empty field keeps it); its entities get their default mapping
    sets the first time."""
    require_workspace_admin(
        actor=actor, workspace=destination.workspace, doing="configure destinations"
    )
    before = (
        _public(Destination.objects.get(pk=destination.pk))
        if destination.pk and Destination.objects.filter(pk=destination.pk).exists()
        else None
    )
    if service_key.strip():
        destination.service_key = service_key.strip()
    destination.url = destination.url.strip().rstrip("/")
    destination.save()
    entities_ensure(destination=destination)
    audit_record(
        action="destination.save",
        actor=actor,
        target=destination,
        before=before,
        after=_public(destination),
    )
    return destination


def entities_ensure(*, destination: Destination) -> list[DestinationEntity]:
    """Each entity's mapping set, made from the seed's defaults where the destination has
    none yet (an admin edits them in the mapping editor afterwards)."""
    existing = {link.entity: link for link in destination.entities.select_related("mapping_set")}
    for entity, (rows, approval, conflict_key) in entities.DEFAULTS.items():
        if entity in existing:
            continue
        name = f"{destination.name} · {entity}"
        mapping_set = MappingSet.objects.filter(workspace=destination.workspace, name=name).first()
        if mapping_set is None:
            # Made as an import of the seed's defaults: the engine checks every transform's
            # parameters and writes the set and its fields, as for a shipped set.
            mapping_set = import_set(
                {
                    "format": EXPORT_FORMAT,
                    "source_entity": entity,
                    "target_entity": entity,
                    "required_fields": entities.required(entity),
                    "requires_approval": approval,
                    "description": (
                        f"Records of {entity} into the Supabase destination {destination.name}."
                    ),
                    "fields": rows,
                },
                workspace=destination.workspace,
                name=name,
            )
        existing[entity] = DestinationEntity.objects.create(
            destination=destination,
            entity=entity,
            mapping_set=mapping_set,
            conflict_key=conflict_key,
        )
    return list(existing.values())


def project(destination: Destination) -> supabase.Project:
    return supabase.Project(
        url=destination.url, key=destination.service_key, rate_key=f"destination-{destination.pk}"
    )


@audited
def destination_test(*, destination: Destination, actor: User | None = None) -> dict:
    """Check what writing needs: every setting present, the key acting as the service role,
    and each table answering to it. Returns {"ok", "role", "tables": {table: "ok" | why},
    "error"} with messages safe to show (never the key), and records the outcome."""
    require_workspace_member(actor=actor, workspace=destination.workspace, doing="test it")
    destination.refresh_from_db()
    outcome: dict = {"ok": False, "role": "", "tables": {}, "error": ""}
    missing = destination.missing_settings
    if missing:
        outcome["error"] = f"Not configured: set the {', '.join(missing)}."
    else:
        outcome["role"] = role = supabase.key_role(destination.service_key)
        if role != supabase.SERVICE_ROLE:
            outcome["error"] = (
                f"The key acts as {role or 'an unknown role'}, not as service_role: writes "
                "would meet row-level security. Enter the project's service-role (secret) key."
            )
        else:
            pg = supabase.client(project(destination))
            for table in supabase.TABLES:
                try:
                    supabase.probe(pg, table)
                    outcome["tables"][table] = "ok"
                except http.ProviderError as exc:
                    outcome["tables"][table] = exc.message
            failed = [t for t, state in outcome["tables"].items() if state != "ok"]
            if failed:
                first = outcome["tables"][failed[0]]
                outcome["error"] = (
                    f"{len(failed)} table(s) did not answer: {', '.join(failed)}. {first}"
                )
    outcome["ok"] = not outcome["error"]
    Destination.objects.filter(pk=destination.pk).update(
        status=Destination.Status.OK if outcome["ok"] else Destination.Status.ERROR,
        last_error=outcome["error"][:2000],
        last_tested_at=timezone.now(),
    )
    audit_record(
        action="destination.test",
        actor=actor,
        target=destination,
        details={"ok": outcome["ok"], "error": outcome["error"]},
    )
    return outcome


# --- lookups read from the destination -----------------------------------------------------------


def destination_lookup(
    destination: Destination, pg, known: dict[tuple[str, str], str] | None = None
) -> Callable[[str, str], str | None]:
    """`lookup(table, key)` for the lookup_uuid transform: clients by email, rooms and products
    by slug, read from the destination within its team and kept in the cache (ids found only:
    a client written a moment later must be found then). Ids found are also kept for the
    request in `known` (a batch names the same client and room again and again), where the
    request's own writes put theirs too (_remember)."""
    known = {} if known is None else known

    def lookup(table: str, key: str) -> str | None:
        found = known.get((table, key))
        if found is not None:
            return found
        column = entities.LOOKUP_KEYS.get(table)
        if column is None:
            raise MappingError(
                f"Lookups read {', '.join(entities.LOOKUP_KEYS)} from the destination, not {table!r}."
            )
        cache_key = _lookup_cache_key(destination, table, key)
        found = cache.get(cache_key)
        if found is None:
            rows = supabase.read(
                pg,
                table,
                columns="id",
                eq={column: key, "team_id": str(destination.team_id)},
                limit=1,
            )
            if not rows:
                return None
            found = rows[0]["id"]
            cache.set(cache_key, found, LOOKUP_SECONDS)
        known[(table, key)] = found
        return found

    return lookup


def _lookup_cache_key(destination: Destination, table: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]  # keys are emails: not in the clear
    return f"destination:{destination.pk}:{table}:{digest}"


def _remember(intake: "Intake", entity: str, row: dict) -> None:
    """A row just written, found by its key from now on: by this request's later records (the
    events of a batch name the clients written before them) without a round to the cache,
    and by later requests through the cache."""
    column = entities.LOOKUP_KEYS.get(entity)
    if column and row.get(column) and row.get("id"):
        key = str(row[column]).strip().lower()
        intake.known[(entity, key)] = row["id"]
        cache.set(_lookup_cache_key(intake.destination, entity, key), row["id"], LOOKUP_SECONDS)


# --- records in ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """One record's write while a request runs: the columns of its RecordWrite row (stored at
    the end, all at once; a model instance per record cost more than mapping it). A record
    held for approval is stored at once, and `pk` is then its row's."""

    position: int
    entity: str
    record: dict
    status: str = ""
    row: dict = field(default_factory=dict)
    children: list = field(default_factory=list)
    answer: dict = field(default_factory=dict)
    remote_id: str = ""
    change_id: int | None = None
    error: str = ""
    error_code: str = ""
    attempts: int = 0
    written_at: datetime | None = None
    pk: int | None = None


@dataclass
class Plan:
    """One record on its way: its mapped row (and an offer's mapped line items)."""

    position: int
    entity: str
    record: dict
    row: dict = field(default_factory=dict)
    children: list[dict] = field(default_factory=list)
    on_conflict: str = ""  # the unique column to upsert on, when the record named its value
    write: Outcome | None = None


def _field_rows_of(links: dict[str, DestinationEntity]) -> dict[str, list[dict]]:
    """Each entity's field rows (as engine.field_rows gives them), in one query."""
    entity_of = {link.mapping_set_id: entity for entity, link in links.items()}
    rows: dict[str, list[dict]] = {entity: [] for entity in links}
    for mapping_set_id, *values in (
        FieldMapping.objects.filter(mapping_set_id__in=entity_of)
        .order_by("mapping_set_id", "position", "pk")
        .values_list(
            "mapping_set_id", "source_field", "target_field", "transform", "params", "direction"
        )
    ):
        rows[entity_of[mapping_set_id]].append(dict(zip(ROW_KEYS, values, strict=True)))
    return rows


ROW_KEYS = ("source", "target", "transform", "params", "direction")


class Compiled:
    """Each entity's compiled mapper, for one request at a time and kept for the next (in its
    Setup: compiling a request's mappers anew was ~2% of the hub's time per record in
    bench/destination.py). The mappers call the request's lookup and number pool through it,
    and what their lookups remember (a client not found, too) is forgotten when the next
    request takes them: that client may have been written since."""

    def __init__(self):
        self.mappers: dict[str, Mapper] = {}
        self.memories: list[dict] = []  # the compiled lookups' own, emptied per request
        self.lookup: Callable | None = None
        self.issue: Callable | None = None
        self.context = {
            "lookup": lambda table, key: self.lookup(table, key),
            "issue_number": lambda **how: self.issue(**how),
            "memories": self.memories,
        }

    def bind(self, lookup: Callable | None, issue: Callable | None) -> "Compiled":
        self.lookup, self.issue = lookup, issue
        for memory in self.memories:
            memory.clear()
        return self


@dataclass
class Setup:
    """A destination's entity links (with their mapping sets), each entity's field rows, and
    the compiled mappers that requests gave back: the same for every request while the
    mapping stays as it is."""

    links: dict[str, DestinationEntity]
    rows: dict[str, list[dict]]
    conflict_sources: dict[str, list[str]] = field(default_factory=dict)
    spare: list[Compiled] = field(default_factory=list)  # one per request at a time

    def take(self) -> Compiled:
        try:
            return self.spare.pop()  # atomic: two threads never take the same one
        except IndexError:
            return Compiled()

    def give_back(self, compiled: Compiled) -> None:
        self.spare.append(compiled.bind(None, None))


# Each destination's setup as the last request read it, under the version it was read at:
# reading the links and rows again was a tenth of a request's time in the hub
# (bench/destination.py).
_setups: dict[int, tuple[list[tuple], Setup]] = {}


def _entity_setup(destination: Destination) -> Setup:
    """The destination's setup: kept from an earlier request while every link and its mapping
    set read as they did then (one query). A set's fields move its `updated_at` when saved or
    deleted (integrations.signals), and the columns a request reads from the set itself (its
    name, required fields, approval) are in the version as they stand, so an edit in admin or
    a queryset update is seen by the next request. The version is read before what it stands
    for: what is kept is never older than its version."""
    version = _read_version(destination.pk)
    kept = _setups.get(destination.pk)
    if kept is not None and kept[0] == version:
        return kept[1]
    links = {link.entity: link for link in entities_ensure(destination=destination)}
    setup = Setup(links=links, rows=_field_rows_of(links))
    _setups[destination.pk] = (version, setup)
    return setup


# The version query's SQL, compiled once per database: building and compiling the queryset was
# nine tenths of reading the version, ~3% of the hub's time per record (bench/destination.py);
# the query itself is a few µs. The destination's id is its one parameter.
_version_sql: dict[str, str] = {}


def _read_version(destination_pk: int) -> list[tuple]:
    """What a destination's setup stands for: each link and the columns of its mapping set
    that a request reads (as the database holds them: the version is only compared)."""
    using = router.db_for_read(DestinationEntity)
    sql = _version_sql.get(using)
    if sql is None:
        query = (
            DestinationEntity.objects.using(using)
            .filter(destination_id=destination_pk)
            .order_by("entity")
            .values_list(
                "pk",
                "entity",
                "conflict_key",
                "mapping_set_id",
                "mapping_set__updated_at",
                "mapping_set__name",
                "mapping_set__required_fields",
                "mapping_set__requires_approval",
            )
        )
        sql, params = query.query.get_compiler(using=using).as_sql()
        if list(params) != [destination_pk]:  # a programming error: the SQL would not be shared
            raise RuntimeError(f"the version query's parameters are {params!r}")
        _version_sql[using] = sql
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [destination_pk])
        return cursor.fetchall()


class NumberPool:
    """Offer numbers for one request, taken from the sequence a block at a time (one
    transaction for the block instead of one per offer): `expect(n)` says how many the request
    will need; numbers not used (a record refused after its number was taken) are gaps, never
    issued again."""

    def __init__(self):
        self.expected = 0
        self.ready: dict[tuple, list[str]] = {}

    def expect(self, count: int) -> None:
        self.expected = max(0, count)

    def issue(self, *, prefix: str, digits: int, zone) -> str:
        key = (prefix, digits, str(zone))
        ready = self.ready.setdefault(key, [])
        if not ready:
            ready.extend(
                reserve_numbers(
                    prefix=prefix, digits=digits, zone=zone, count=max(1, self.expected)
                )
            )
            self.expected = 0
        return ready.pop(0)


class Intake:
    """What one request needs for every record: the destination's client, its setup (each
    entity's links and field rows, kept while unchanged), the mappers compiled once per
    request, the stamps."""

    def __init__(self, destination: Destination, request: RecordRequest | None = None):
        self.destination = destination
        # A request's rows get ids derived from its seed and their positions (the write
        # intent: what landed is found again by id); a retry or an approval reads back first.
        self.seed = request.id_seed if request is not None else None
        self.seed_bytes = self.seed.bytes if self.seed is not None else b""
        self.recovering = False
        self.pg = supabase.client(project(destination))
        self.known: dict[tuple[str, str], str] = {}
        self.lookup = destination_lookup(destination, self.pg, self.known)
        self.setup = _entity_setup(destination)
        self.links, self.rows = self.setup.links, self.setup.rows
        self._compiled: Compiled | None = None
        self.numbers = NumberPool()
        self._now: tuple[float, datetime] | None = None
        # The stamps as text once (a UUID's text is made anew each time it is asked for).
        self.stamps = (str(destination.team_id), str(destination.user_id))
        account = destination.email_account_id
        self.email_account = str(account) if account else ""

    def now(self) -> datetime:
        """The time, the same for the writes of one batch (read again after a millisecond): a
        batch's rows share their written_at, prepared for the database once."""
        tick = time.monotonic()
        if self._now is None or tick - self._now[0] > 0.001:
            self._now = (tick, timezone.now())
        return self._now[1]

    def mapper(self, entity: str) -> Mapper:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self.setup.take().bind(self.lookup, self.numbers.issue)
        found = compiled.mappers.get(entity)
        if found is None:
            found = compiled.mappers[entity] = compile_fields(
                self.rows[entity],
                entity=entity,
                context=compiled.context,
                name=self.links[entity].mapping_set.name,
            )
        return found

    def close(self) -> None:
        """The request is done with its mappers: the next one may take them."""
        if self._compiled is not None:
            self.setup.give_back(self._compiled)
            self._compiled = None

    def stamp(self, entity: str, row: dict) -> dict:
        if entity in entities.STAMPED:
            row["team_id"], row["user_id"] = self.stamps
        if entity == "emails" and self.email_account and not row.get("email_account_id"):
            row["email_account_id"] = self.email_account
        return row

    def map(self, entity: str, record: dict, *, skip: tuple[str, ...] = ()) -> dict:
        """The row for `record`, stamped and checked; MappingError names the field at fault."""
        row = self.stamp(entity, self.mapper(entity).map(record))
        required = self.links[entity].mapping_set.required_fields
        missing = [name for name in required if name not in skip and is_empty(row.get(name))]
        if missing:
            raise MissingRequired(entity, missing)
        return {key: value for key, value in row.items() if value is not None or key in required}

    def plan(self, position: int, entity: str, record: dict) -> Plan:
        plan = Plan(position, entity, record)
        data = {key: value for key, value in record.items() if key != "line_items"}
        plan.row = self.map(entity, data)
        if entity == "offers":
            items = record.get("line_items") or []
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise MappingError("line_items must be a list of objects.", field="line_items")
            for index, item in enumerate(items):
                try:
                    plan.children.append(self.map("offer_line_items", item, skip=("offer_id",)))
                except MappingError as exc:
                    raise MappingError(
                        f"line_items[{index}]: {exc.message}", field=exc.field
                    ) from None
        plan.on_conflict = self.conflict_key(entity, record)
        if self.seed is not None:
            seed = self.seed_bytes
            # an upsert meets its row by the record's own key
            if not plan.on_conflict and "id" not in plan.row:
                plan.row["id"] = _derived_id(seed, str(position))
            for index, child in enumerate(plan.children):  # line items are always inserted
                if "id" not in child:
                    child["id"] = _derived_id(seed, f"{position}.{index}")
        return plan

    def requires_approval(self, entity: str) -> bool:
        return approvals.requires_approval(mapping_set=self.links[entity].mapping_set)

    def conflict_key(self, entity: str, record: dict) -> str:
        """The column to upsert on when the record itself gave its value (an offer that has
        its number, a client sent with its id); "" for a new record (a number the `number`
        transform just issued is new: nothing to meet)."""
        key = self.links[entity].conflict_key
        if not key:
            return ""
        if entity not in self.setup.conflict_sources:
            self.setup.conflict_sources[entity] = [
                source
                for row in self.rows[entity]
                if row["target"] == key
                for source in str(row["source"]).split(",")
            ]
        sources = self.setup.conflict_sources[entity]
        return key if any(not is_empty(record.get(s.strip())) for s in sources) else ""


def _derived_id(seed: bytes, name: str) -> str:
    """str(uuid.uuid5(UUID(bytes=seed), name)), the same text without making two UUID objects
    on the way (three times as fast; two ids a record)."""
    digest = bytearray(hashlib.sha1(seed + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _fingerprint(records: list[dict]) -> str:
    return hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_gone(owner: str) -> bool:
    """Whether the process named by `owner` is known dead: on this host, its pid no longer
    runs. Another host's process is taken for dead only when its lease runs out."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _claim(
    destination: Destination, key: str, fingerprint: str, actor
) -> tuple[RecordRequest, dict | None, bool]:
    """(request, earlier answer, taken over): the request row for `key` — new, committed
    before anything is written (the intent), and leased to this process; or the answer given
    to it before (the same body only); or, when its owner died or let its lease run out
    before answering, the same row taken over, to be finished here."""
    now = timezone.now()
    me = _owner()
    try:
        with transaction.atomic():
            return (
                RecordRequest.objects.create(
                    workspace=destination.workspace,
                    destination=destination,
                    key=key,
                    fingerprint=fingerprint,
                    created_by=actor,
                    owner=me,
                    lease_until=now + timedelta(seconds=LEASE_SECONDS),
                ),
                None,
                False,
            )
    except IntegrityError:
        earlier = RecordRequest.objects.get(destination=destination, key=key)
    if earlier.fingerprint != fingerprint:
        raise KeyReused(
            "This idempotency key was used for a different request; use a new key for new records."
        )
    if earlier.answer is not None:
        return earlier, earlier.answer, False
    stale = earlier.lease_until is not None and (
        earlier.lease_until < now or _owner_gone(earlier.owner)
    )
    taken = stale and RecordRequest.objects.filter(
        pk=earlier.pk,
        answer__isnull=True,
        owner=earlier.owner,
        lease_until=earlier.lease_until,
    ).update(owner=me, lease_until=now + timedelta(seconds=LEASE_SECONDS))
    if not taken:
        raise InProgress(
            "A request with this idempotency key is still being written; retry shortly."
        )
    earlier.owner, earlier.lease_until = me, now + timedelta(seconds=LEASE_SECONDS)
    return earlier, None, True


def _renew(request: RecordRequest) -> None:
    """Hold the request's lease for another LEASE_SECONDS before a write (only once half of
    it is gone: an UPDATE per batch would cost more than the lease is worth)."""
    now = timezone.now()
    if request.lease_until - now > timedelta(seconds=LEASE_SECONDS / 2):
        return
    until = now + timedelta(seconds=LEASE_SECONDS)
    if not RecordRequest.objects.filter(pk=request.pk, owner=request.owner).update(
        lease_until=until
    ):
        raise LeaseLost("This request was taken over by a retry; it finishes it.")
    request.lease_until = until


@audited
def records_receive(
    *, destination: Destination, actor: User | None, records: list[dict], key: str
) -> dict:
    """Take a request of records (each {"entity", "data"}) and answer per record: written
    (with the destination's id), waiting for approval (with the change id), refused (why,
    naming the field) or failed (the destination's message). A request repeated with the same
    idempotency `key` is answered as the first was and writes nothing."""
    require_workspace_member(actor=actor, workspace=destination.workspace, doing="send records")
    missing = destination.missing_settings
    if missing:
        raise NotConfigured(
            f"The destination {destination.name} is not configured: set the {', '.join(missing)}."
        )
    request, earlier, taken_over = _claim(destination, key, _fingerprint(records), actor)
    if earlier is not None:
        return {**earlier, "replayed": True}
    intake = Intake(destination, request)
    # Taken over from a process that died: the records it stored (held for approval) stay,
    # and every write reads back by id first what landed before it died.
    intake.recovering = taken_over
    writes: list = list(request.writes.all()) if taken_over else []
    done = {write.position for write in writes}
    intake.numbers.expect(
        sum(
            1
            for item in records
            if item.get("entity") == "offers"
            and isinstance(item.get("data"), dict)
            and not item["data"].get("offer_number")
        )
    )
    pending: list[Plan] = []  # consecutive records of one entity, written as one request

    def flush() -> None:
        if pending:
            _renew(request)
            _write_batch(intake, list(pending), writes)
            pending.clear()

    try:
        _receive(intake, request, records, pending, writes, flush, done)
    except LeaseLost:
        raise
    except Exception:
        # Whatever was written stays recorded and the answer is kept, so a retry under this
        # key is answered (not written twice) and the records not reached say so.
        _record_unreached(request, records, writes)
        raise
    finally:
        intake.close()
    return _finish(destination, request, key, actor, writes)


def _record_unreached(request: RecordRequest, records: list[dict], writes: list) -> None:
    unheld = "Not held for approval: the request failed here; send it again under a new key."
    for write in writes:
        if write.status == RecordWrite.Status.WAITING and write.change_id is None:
            write.status, write.error = RecordWrite.Status.FAILED, unheld
            if write.pk is not None:
                write.save(update_fields=["status", "error"])
    reached = {write.position for write in writes}
    for position, item in enumerate(records):
        if position not in reached:
            writes.append(
                Outcome(
                    position=position,
                    entity=item.get("entity") if item.get("entity") in entities.DEFAULTS else "",
                    record=item.get("data") if isinstance(item.get("data"), dict) else {},
                    status=RecordWrite.Status.FAILED,
                    error="Not written: the request failed before this record; send it again "
                    "under a new key.",
                )
            )
    _finish(request.destination, request, request.key, request.created_by, writes)


def _receive(intake: Intake, request: RecordRequest, records, pending, writes, flush, done) -> None:
    for position, item in enumerate(records):
        if position in done:
            continue  # stored (held for approval) before its first owner died
        entity, data = item.get("entity"), item.get("data")
        if pending and pending[0].entity != entity:
            flush()  # written before a record that may look them up (an event's client)
        write = Outcome(
            position=position,
            entity=entity if entity in entities.DEFAULTS else "",
            record=data if isinstance(data, dict) else {},
        )
        try:
            if entity not in entities.DEFAULTS or entity == "offer_line_items":
                raise MappingError(
                    "entity must be one of clients, events, offers (with line_items), tasks, emails.",
                    field="entity",
                )
            if not isinstance(data, dict):
                raise MappingError("data must be an object.", field="data")
            plan = intake.plan(position, entity, data)
        except MappingError as exc:
            write.status, write.error = RecordWrite.Status.REFUSED, exc.message
            write.error_code = exc.field[:20]
            writes.append(write)
            continue
        except http.ProviderError as exc:  # a lookup could not reach the destination
            write.status, write.error = RecordWrite.Status.FAILED, exc.message
            writes.append(write)
            continue
        write.row, write.children = plan.row, plan.children
        plan.write = write
        if intake.requires_approval(entity):
            flush()
            write.status = RecordWrite.Status.WAITING
            try:
                # Stored with its change or not at all: a taker finds it held, or holds it.
                with transaction.atomic():
                    write.pk = RecordWrite.objects.create(
                        **dict(zip(WRITE_ATTNAMES, _write_columns(request, write), strict=True))
                    ).pk
                    write.change_id = _hold(intake, plan).pk
                    RecordWrite.objects.filter(pk=write.pk).update(change_id=write.change_id)
            except BaseException:
                write.pk, write.change_id = None, None
                writes.append(write)
                raise
            writes.append(write)
        else:
            if pending and pending[0].on_conflict != plan.on_conflict:
                flush()  # one request upserts on one column, or inserts
            pending.append(plan)
            if len(pending) >= BATCH_SIZE:
                flush()
    flush()


# A write row's stored columns: every one but its id (a field added to RecordWrite must be
# given a value in _write_columns, or the check below stops the app from loading).
WRITE_FIELDS = [
    "workspace",
    "request",
    "destination",
    "position",
    "entity",
    "status",
    "record",
    "row",
    "children",
    "answer",
    "remote_id",
    "change",
    "error",
    "error_code",
    "attempts",
    "created_at",
    "written_at",
]
assert sorted(WRITE_FIELDS) == sorted(  # noqa: S101 - a programming error, caught at import
    f.name for f in RecordWrite._meta.concrete_fields if not f.primary_key
), "RecordWrite's columns changed: update WRITE_FIELDS and _write_columns"
WRITE_ATTNAMES = [RecordWrite._meta.get_field(name).attname for name in WRITE_FIELDS]


def _write_columns(request: RecordRequest, o: Outcome, now: datetime | None = None) -> list:
    """An outcome's RecordWrite row, in WRITE_FIELDS' order."""
    return [
        request.workspace_id,
        request.pk,
        request.destination_id,
        o.position,
        o.entity,
        o.status,
        o.record,
        o.row,
        o.children,
        o.answer,
        o.remote_id,
        o.change_id,
        o.error,
        o.error_code,
        o.attempts,
        now or timezone.now(),
        o.written_at,
    ]


def _finish(destination, request, key, actor, writes: list[RecordWrite]) -> dict:
    """Store the writes and the answer to the request in one transaction, if the request is
    still this process's (the new writes by one prepared INSERT: bulk_create's SQL compiler was
    the largest share of the hub's time per record; and one commit for them all, where SQLite
    in autocommit made each row its own)."""
    writes.sort(key=lambda w: w.position)
    answers = [_answer(write) for write in writes]
    counts: dict[str, int] = {}
    for answer in answers:
        counts[answer["status"]] = counts.get(answer["status"], 0) + 1
    body = {"key": key, "records": answers, "counts": counts}
    with transaction.atomic():
        now = timezone.now()
        insert_many(
            RecordWrite,
            WRITE_FIELDS,
            (_write_columns(request, w, now) for w in writes if w.pk is None),
        )
        if not update_where(
            RecordRequest,
            {"answer": body, "lease_until": None},
            {"id": request.pk, "owner": request.owner},
        ):
            raise LeaseLost("This request was taken over by a retry; it finishes it.")
        audit_record(
            action="destination.records",
            actor=actor,
            target=destination,
            details={"key": key, "counts": counts},
        )
    return body


def _answer(write) -> dict:
    answer = {"position": write.position, "entity": write.entity, "status": write.status}
    if write.status == RecordWrite.Status.WRITTEN:
        answer["id"] = write.remote_id
    elif write.status == RecordWrite.Status.WAITING:
        answer["change_id"] = write.change_id
    else:
        answer["error"] = write.error
        if write.error_code:
            answer["code"] = write.error_code
    return answer


def _hold(intake: Intake, plan: Plan) -> OutboundChange:
    return approvals.plan(
        workspace=intake.destination.workspace,
        owner=OWNER,
        target_entity=plan.entity,
        operation=OutboundChange.Operation.CREATE,
        after=plan.row,
        target_label=str(plan.row.get("subject") or plan.row.get("offer_number") or "")[:255],
        mapping_set=intake.links[plan.entity].mapping_set,
        payload={"write_id": plan.write.pk, "line_items": plan.children},
    )


def _write_batch(intake: Intake, plans: list[Plan], writes: list) -> None:
    """Write `plans` (one entity, one conflict column) in one request (their line items in a
    second); if the destination refuses the batch, each record alone, so only the ones at
    fault fail."""
    try:
        stored = _write_rows(
            intake,
            plans[0].entity,
            [plan.row for plan in plans],
            [plan.children for plan in plans],
            on_conflict=plans[0].on_conflict,
            read_back=intake.recovering,
        )
    except supabase.Refused as exc:
        if len(plans) > 1:
            for plan in plans:
                _write_batch(intake, [plan], writes)
            return
        _failed(plans[0].write, exc)
        writes.append(plans[0].write)
        return
    except http.ProviderError as exc:
        for plan in plans:
            _failed(plan.write, exc)
            writes.append(plan.write)
        return
    for plan, row in zip(plans, stored, strict=True):
        _written(intake, plan.write, row)
        writes.append(plan.write)


def _write_rows(
    intake: Intake,
    entity: str,
    rows: list[dict],
    children: list[list[dict]],
    *,
    on_conflict: str,
    read_back: bool = False,
) -> list[dict]:
    """Rows of one entity (offers with their line items) into the destination; the rows as
    stored, in the order sent. With `read_back` (a request taken over, an approval applied, a
    retry: an earlier attempt may have landed unrecorded), rows carrying their id are first
    read back by it, and those found are taken as written instead of being written twice
    (an upsert on a conflict column is safe to repeat and is sent again)."""
    landed: dict[str, dict] = {}
    landed_items: dict[str, dict] = {}
    if read_back:
        if not on_conflict:
            landed = _read_ids(intake, entity, [row.get("id") for row in rows])
        landed_items = _read_ids(
            intake, "offer_line_items", [item.get("id") for kids in children for item in kids]
        )
    todo = [row for row in rows if row.get("id") not in landed]
    fresh = iter(supabase.insert(intake.pg, entity, todo, on_conflict=on_conflict) if todo else [])
    stored = [landed[row["id"]] if row.get("id") in landed else next(fresh) for row in rows]
    items = [
        {**item, "offer_id": parent["id"]}
        for parent, kids in zip(stored, children, strict=True)
        for item in kids
        if item.get("id") not in landed_items
    ]
    if items:
        try:
            supabase.insert(intake.pg, "offer_line_items", items)
        except http.ProviderError:
            # PostgREST has no transaction across two requests: new offers are taken back so
            # a record is written whole or not at all (an upserted offer keeps its old items).
            if not on_conflict:
                supabase.delete(intake.pg, entity, in_={"id": [row["id"] for row in stored]})
            raise
    return stored


def _read_ids(intake: Intake, table: str, ids: list) -> dict[str, dict]:
    """The rows of `table` with these ids that the destination holds, by id."""
    wanted = [str(row_id) for row_id in ids if row_id]
    found: dict[str, dict] = {}
    for start in range(0, len(wanted), READ_BACK):
        chunk = wanted[start : start + READ_BACK]
        for row in supabase.read(intake.pg, table, in_={"id": chunk}):
            found[str(row["id"])] = row
    return found


def _write_one(intake: Intake, write: RecordWrite, children: list[dict]) -> dict:
    """One record again (approved, or retried), upserting on the conflict column its record
    named; what an earlier attempt landed is read back, not written twice."""
    on_conflict = intake.conflict_key(write.entity, write.record)
    [stored] = _write_rows(
        intake, write.entity, [write.row], [children], on_conflict=on_conflict, read_back=True
    )
    return stored


def _written(intake: Intake, write: RecordWrite | Outcome, row: dict) -> None:
    write.status = RecordWrite.Status.WRITTEN
    sent = write.row
    write.answer = {
        key: value for key, value in row.items() if key not in sent or sent[key] != value
    }
    write.remote_id = str(row.get("id", ""))
    write.error = write.error_code = ""
    write.attempts += 1
    write.written_at = intake.now()
    _remember(intake, write.entity, row)


def _failed(write: RecordWrite | Outcome, exc: http.ProviderError) -> None:
    write.status = RecordWrite.Status.FAILED
    write.error = redact_text(exc.message)[:2000]
    write.error_code = (exc.code or "")[:20]
    write.attempts += 1


# --- approved changes and retries -----------------------------------------------------------------


def apply_change(change: OutboundChange) -> None:
    """The review queue's applier: write a record a person approved. Applying it twice (a
    redelivered task) finds it written and writes nothing more."""
    write = (
        RecordWrite.objects.select_related("destination")
        .filter(pk=change.payload.get("write_id"))
        .first()
    )
    if write is None:
        raise ApplicationError("The record this change would write is gone.")
    if write.status == RecordWrite.Status.WRITTEN:
        return
    intake = Intake(write.destination)
    try:
        row = _write_one(intake, write, change.payload.get("line_items") or [])
    except http.ProviderError as exc:
        _failed(write, exc)
        write.save()
        raise
    _written(intake, write, row)
    write.save()


@audited
def write_retry(*, write: RecordWrite, actor: User | None) -> RecordWrite:
    """Write a failed record again, as it was mapped."""
    require_workspace_admin(
        actor=actor, workspace=write.workspace, doing="retry writes to destinations"
    )
    locked = RecordWrite.objects.select_related("destination").get(pk=write.pk)
    if locked.status != RecordWrite.Status.FAILED:
        raise ApplicationError(f"Only a failed write can be retried; this one is {locked.status}.")
    intake = Intake(locked.destination)
    try:
        row = _write_one(intake, locked, locked.children)
    except http.ProviderError as exc:
        _failed(locked, exc)
    else:
        _written(intake, locked, row)
    locked.save()
    audit_record(
        action="destination.write_retry",
        actor=actor,
        target=locked,
        workspace=locked.workspace_id,
        details={"status": locked.status},
    )
    return locked
