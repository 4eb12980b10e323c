"""The engine's records, built the way `integrations.runs` is: abstract models each app
subclasses into its own tables, and one pure routine.

`RecordLink` is one local record ↔ one remote record: the remote side's version or modstamp
after our last write or read (a record read back at that version is our own echo), a digest of
what was last synced, and `synced_values`, the last-synced value of every mapped field — the
base the planner's three-way merge compares both sides against. An empty `synced_values` is a
link made before the base was kept: the planner then sees every differing field as changed on
both sides, and the conflict policy settles it (as whole-record last write wins did).

`WriteIntent` is committed before a write whose result the provider gives no idempotency key
for (Smartsheet's rows): what the write does (`operation`), where it lands (`target`: the
parent, the record, the object — whatever the remote side's listing shows again), a digest of
its payload, and its batch and position in it. The write's answer turns the intents into links
in one transaction; a worker killed in between leaves them, and `reconcile` says which to adopt
(the remote side holds a record at that target with that payload that no link owns) and which to
drop (nothing landed: the next run writes them again).

Each app declares the ids of its records: their types differ by provider (a Smartsheet row id is
a 64-bit integer, a Salesforce id 18 characters, a Dataverse id a GUID).
"""

import hashlib
import json
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import orjson
from django.db import connections, models, router
from django.utils import timezone

from integrations.accounts.models import WorkspaceOwned


def update_many(model: type[models.Model], objects: Sequence, fields: Sequence[str]) -> None:
    """Write `fields` of each object by primary key with one prepared UPDATE run for all of
    them (executemany), in the caller's transaction. Django's bulk_update builds one CASE per
    field over the whole batch, which PostgreSQL plans slowly: the CRM bench's 10,000 link
    bases took 35 s that way and 6.5 s this way (1 s on SQLite)."""
    if not objects:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name) for name in fields]
    # Names from the model's own metadata, quoted by the backend; every value is a parameter.
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(f"{quote(column.column)} = %s" for column in columns),
        quote(model._meta.pk.column),
    )
    rows = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns]
        + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def insert_many(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert `rows` (each the values of `fields`, in order) with one prepared INSERT run for
    all of them (executemany), in the caller's transaction; no primary key is read back, and
    a column not listed gets the database's default (NULL: Django's defaults are not applied).
    (A multi-row INSERT instead was no faster on PostgreSQL: the 100 rows of a destination's
    request took 25-35 ms either way on a busy machine, most of it the server's.)
    bulk_create compiles every value of every row through the ORM's SQL compiler and wants a
    model instance per row: a third of the CRM bench's wall time for a run's change records."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name) for name in fields]
    # Names from the model's own metadata, quoted by the backend; every value is a parameter.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(quote(column.column) for column in columns),
        ", ".join(["%s"] * len(columns)),
    )
    prepare = [_preparer(column, connection) for column in columns]
    params = [[p(value) for p, value in zip(prepare, row, strict=True)] for row in rows]
    if params:
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)


def update_where(model: type[models.Model], values: dict, where: dict) -> int:
    """Set `values` (field name → value) on the rows whose `where` fields equal the values
    given (a None is refused: = NULL matches nothing), in one prepared UPDATE, each value
    prepared as insert_many prepares it (a JSON column by json_text); the number of rows
    changed. QuerySet.update compiled the UPDATE anew per call and encoded its JSON by
    json.dumps: ~3% of the hub's time per record for a destination request's answer, stored
    once per request (bench/destination.py)."""
    if any(value is None for value in where.values()):
        raise ValueError("update_where matches equal values; None matches nothing")
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    changed = [meta.get_field(name) for name in values]
    matched = [meta.get_field(name) for name in where]
    # Names from the model's own metadata, quoted by the backend; every value is a parameter.
    sql = "UPDATE {} SET {} WHERE {}".format(  # noqa: S608
        quote(meta.db_table),
        ", ".join(f"{quote(column.column)} = %s" for column in changed),
        " AND ".join(f"{quote(column.column)} = %s" for column in matched),
    )
    params = [
        _preparer(column, connection)(value)
        for column, value in zip(
            [*changed, *matched], [*values.values(), *where.values()], strict=True
        )
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# orjson's options: the types plain JSON does not have (a datetime, a dataclass, a subclass
# of str or int such as a TextChoices member) go to json.dumps, which treats them as before.
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def json_text(value) -> str:
    """`value` as JSON text, read back by Django's JSONField (json.loads) as json.dumps's
    text is: orjson's when that text reads back equal to `value`, json.dumps's otherwise (a
    NaN, which orjson writes as null; a UUID or an enum, which json.dumps refuses; an integer
    past 64 bits). The four JSON columns of a destination's write row (bench/destination.py's
    offers) took 11 µs through json.dumps and take 4.4 this way, the check included."""
    try:
        text = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError included
        return json.dumps(value)
    if orjson.loads(text) != value:
        return json.dumps(value)
    return text.decode()


# Fields whose value, already of this Python type, goes to the database as it is: Django's
# get_db_prep_save would only convert it to the same type again (str(), int()).
_PLAIN = {
    "CharField": (str,),
    "TextField": (str,),
    "IntegerField": (int,),
    "BigIntegerField": (int,),
    "SmallIntegerField": (int,),
    "PositiveIntegerField": (int,),
    "PositiveBigIntegerField": (int,),
    "PositiveSmallIntegerField": (int,),
    "BooleanField": (bool,),
    "ForeignKey": (int,),
}


def _preparer(column: models.Field, connection) -> Callable:
    """`value -> database value` for one column, as get_db_prep_save gives it, without its
    per-value dispatch where the value needs none (a str for a CharField, an int for a
    foreign key, a dict or list for a JSONField: the backend's own JSON adapter). Preparing
    every value through the field was most of inserting the destinations' write rows."""
    plain = _PLAIN.get(column.get_internal_type())
    if isinstance(column, models.ForeignKey) and column.target_field.get_internal_type() not in (
        "AutoField",
        "BigAutoField",
    ):
        plain = None  # a key that is not an integer id (a UUID, a code): the field converts it
    prep = column.get_db_prep_save
    if plain is not None:
        return lambda value: (
            value if value is None or type(value) in plain else prep(value, connection)
        )
    if isinstance(column, models.JSONField):
        adapt, encoder = connection.ops.adapt_json_value, column.encoder
        if encoder is None and connection.vendor == "sqlite":
            return lambda value: (
                json_text(value) if type(value) in (dict, list) else prep(value, connection)
            )
        if encoder is None and connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb  # Django's own adapter, with our dumps

            return lambda value: (
                Jsonb(value, dumps=json_text)
                if type(value) in (dict, list)
                else prep(value, connection)
            )
        return lambda value: (
            adapt(value, encoder) if type(value) in (dict, list) else prep(value, connection)
        )
    if isinstance(column, models.DateTimeField | models.DateField | models.UUIDField):
        # Immutable values, often the same one on every row (a batch's time): prepared once.
        last: list = [object(), None]

        def same(value):
            if value is not last[0]:
                last[0], last[1] = value, prep(value, connection)
            return last[1]

        return same
    return lambda value: prep(value, connection)


def digest(values: dict) -> str:
    """A record link's `content_hash`: SHA-256 of the values as sorted JSON (what is not JSON,
    a date or a decimal, as its text)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


class RecordLink(WorkspaceOwned):
    remote_version = models.PositiveBigIntegerField(
        default=0, help_text="The remote record's version after our last write or read."
    )
    remote_modified_at = models.DateTimeField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, help_text="Digest of the values last synced.")
    synced_values = models.JSONField(
        default=dict,
        blank=True,
        help_text="Field → value as last synced: the merge base (empty: linked before it was kept).",
    )
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class WriteIntent(WorkspaceOwned):
    operation = models.CharField(max_length=20)
    target = models.CharField(
        max_length=100,
        blank=True,
        help_text="Where the write lands, as the remote side lists it again (empty: the top).",
    )
    payload_hash = models.CharField(max_length=64)
    batch = models.CharField(max_length=36, db_index=True)
    position = models.PositiveIntegerField(default=0, help_text="Its place in its batch.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["created_at", "batch", "position"]


class Intent(Protocol):
    target: str
    payload_hash: str


@dataclass(frozen=True, slots=True)
class Held:
    """A record the remote side holds now that no link owns: its id, its target and the digest
    of its payload, computed the way the intent's was."""

    remote_id: Hashable
    target: str
    payload_hash: str


I = TypeVar("I", bound=Intent)  # noqa: E741


@dataclass(slots=True)
class Reconciliation(Generic[I]):
    adopt: list[tuple[I, Held]] = field(default_factory=list)
    drop: list[I] = field(default_factory=list)


def row_target(parent_id: Hashable | None) -> str:
    """A row write intent's target: the row it lands under ("" for the top level), as a
    sheet's listing shows it again (Smartsheet's parentId)."""
    return "" if parent_id is None else str(parent_id)


def held_rows(rows: Iterable, *, owned: set, digest_of) -> list[Held]:
    """The rows of a listing (in its order: a batch lands in the order it was sent) that no
    link owns, each as `Held` under its parent with `digest_of(row)`: what `reconcile` matches
    a dead run's row intents against. `rows` need `id` and `parent_id`."""
    return [
        Held(row.id, row_target(row.parent_id), digest_of(row))
        for row in rows
        if row.id not in owned
    ]


def reconcile(intents: Sequence[I], held: Iterable[Held]) -> Reconciliation[I]:
    """Match leftover intents (in the order they were written) against what the remote side
    holds (in its own order: a batch lands in the order it was sent) by target and payload.
    Two intents with the same target and payload take two records, one each; an intent with no
    record left to take is dropped, so its write goes out again."""
    candidates: dict[tuple[str, str], deque[Held]] = defaultdict(deque)
    for record in held:
        candidates[(record.target, record.payload_hash)].append(record)
    result: Reconciliation[I] = Reconciliation()
    for intent in intents:
        queue = candidates.get((intent.target, intent.payload_hash))
        if queue:
            result.adopt.append((intent, queue.popleft()))
        else:
            result.drop.append(intent)
    return result
