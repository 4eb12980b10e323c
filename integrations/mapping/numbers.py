"""Numbers like OE-2025-12-0001 that are never issued twice (seed A5), from any number of
threads, processes or hosts: each is an atomic increment of one database row per prefix and
month, taken inside a transaction that locks that row (PostgreSQL: SELECT … FOR UPDATE;
SQLite: the write lock our IMMEDIATE transactions take at BEGIN). The table lives here,
beside the one function that writes it, so the `next_number` transform can use it without
the mapping models (which validate against the transforms) in between."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import IntegrityError, models, transaction
from django.db.models import F


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
    a request of offers, takes them in one transaction instead of one each)."""
    moment = (now or datetime.now(tz=zone)).astimezone(zone)
    key = f"{prefix}-{moment:%Y-%m}"
    row = NumberSequence.objects.filter(key=key)
    for _ in range(3):  # the row is created once per month; a racing creator wins, we retry
        try:
            with transaction.atomic():
                # The increment first: the row exists but for the month's first number, and
                # then this is one query fewer than making sure of it first.
                if not row.update(last=F("last") + count):
                    NumberSequence.objects.get_or_create(key=key)
                    row.update(last=F("last") + count)
                last = row.select_for_update().get().last
            break
        except IntegrityError:
            continue
    else:
        raise RuntimeError(f"could not take a number for {key}")
    # Past 10**digits in a month the number simply gets longer: unique beats pretty.
    return [f"{key}-{issued:0{digits}d}" for issued in range(last - count + 1, last + 1)]
