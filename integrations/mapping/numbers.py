"""Numbers like OE-2025-12-0001 that are never issued twice (seed A5), from any number of
threads, processes or hosts: each is an atomic increment of one database row per prefix and
month, one UPDATE … RETURNING that holds its lock until its transaction ends (the
statement's own in autocommit; PostgreSQL locks the row, SQLite the database for writes).
The table lives here, beside the one function that writes it, so the `next_number`
transform can use it without the mapping models (which validate against the transforms) in
between."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connections, models, router


class NumberSequence(models.Model):
    """The last number issued per prefix and month (OE-2025-12 → 17): numbers are taken by
    an atomic increment of this row, so no two callers ever get the same one."""

    key = models.CharField(max_length=40, unique=True)
    last = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.last}"


def next_number(
    *, prefix: str, digits: int = 4, zone: ZoneInfo, now: datetime | None = None
) -> str:
    return reserve_numbers(prefix=prefix, digits=digits, zone=zone, now=now, count=1)[0]


def reserve_numbers(
    *, prefix: str, digits: int = 4, zone: ZoneInfo, count: int, now: datetime | None = None
) -> list[str]:
    """`count` consecutive numbers, taken by one atomic increment (a caller that needs many,
    a request of offers, takes them in one statement instead of one each)."""
    moment = (now or datetime.now(tz=zone)).astimezone(zone)
    key = f"{prefix}-{moment:%Y-%m}"
    last = _increment(key, count)
    if last is None:  # the month's first number: its row is made (or a racing maker's taken)
        NumberSequence.objects.get_or_create(key=key)
        last = _increment(key, count)
        if last is None:
            raise RuntimeError(f"could not take a number for {key}")
    # Past 10**digits in a month the number simply gets longer: unique beats pretty.
    return [f"{key}-{issued:0{digits}d}" for issued in range(last - count + 1, last + 1)]


def _increment(key: str, count: int) -> int | None:
    """The row's `last` after adding `count`, in one statement (UPDATE … RETURNING, SQLite
    3.35+ and PostgreSQL): the increment locks the row, so no two callers see the same value.
    None when the row does not exist yet. It was a transaction of an UPDATE and a SELECT …
    FOR UPDATE: a request of offers spent 3% of its time taking its block of numbers
    (bench/destination.py)."""
    connection = connections[router.db_for_write(NumberSequence)]
    quote = connection.ops.quote_name
    meta = NumberSequence._meta
    last, column = quote(meta.get_field("last").column), quote(meta.get_field("key").column)
    # Names from the model's own metadata, quoted by the backend; the values are parameters.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {last} = {last} + %s "  # noqa: S608
        f"WHERE {column} = %s RETURNING {last}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [count, key])
        row = cursor.fetchone()
    return None if row is None else int(row[0])
