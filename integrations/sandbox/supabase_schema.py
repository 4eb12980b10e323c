"""The tables of the Supabase project the destination writes into, as its frontend reads them,
and how PostgreSQL takes and gives back each column type.

# Reference: ../shared/seeds/integration-status-tracker.md — A1 (company, event_date,
# attendees, capacity, category, completed_at, deposit_paid_at, payment_status, confirmed_at),
# A2 (UUID ids), A3 (room_ids[], amenities[]), A4 (the NOT NULL columns per table), A5
# (offer_number), A6 (the rooms' capacity columns), A8 (lower-case statuses), A9 (dates
# YYYY-MM-DD, times HH:MM:SS), B1 (rooms.deposit_required, deposit_percent) and B2
# (events.current_step DEFAULT 1, date_confirmed DEFAULT FALSE, caller_step), C (deposit
# columns on offers, the emails table), D (OE_EMAIL_ACCOUNT_ID: emails.email_account_id).
# The tracker names the columns it writes, not the frontend's whole schema: columns beyond
# those (notes, created_at, ...) are the usual Supabase ones and are marked as our choice.
# The status CHECK constraints encode A8's table: a capitalised status is refused as the
# real table's enum-like check would.
"""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # uuid | text | int | numeric | bool | date | time | timestamptz | jsonb | uuid[] | text[]
    nullable: bool = True
    default: str | None = None  # "gen_random_uuid()" | "now()" | a literal as JSON text
    unique: bool = False
    check: tuple[str, ...] = ()  # allowed values (a CHECK ... IN (...) constraint)
    references: str | None = None  # a foreign key to that table's id (resource embedding)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    # Row-level security: the row's team is its own team_id, or its parent's (offer_line_items
    # belong to the team of their offer), as the seed's policies `team_id = auth.jwt() ->>
    # 'team_id'` (Security Considerations, "Supabase RLS Policies Needed").
    parent: tuple[str, str] | None = None  # (column, table)
    by_name: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self.by_name.update({column.name: column for column in self.columns})

    @property
    def primary_key(self) -> str:
        return "id"


def _id() -> Column:
    return Column("id", "uuid", nullable=False, default="gen_random_uuid()", unique=True)


def _stamps() -> tuple[Column, ...]:
    return (
        Column("created_at", "timestamptz", nullable=False, default="now()"),
        Column("updated_at", "timestamptz", default="now()"),
    )


def _owner(nullable_team: bool = False) -> tuple[Column, ...]:
    return (
        Column("team_id", "uuid", nullable=nullable_team),
        Column("user_id", "uuid", nullable=False),
    )


EVENT_STATUSES = ("lead", "option", "confirmed", "cancelled")  # A8
OFFER_STATUSES = ("draft", "sent", "accepted", "declined", "expired")  # A8 (draft, sent) + ours
TASK_STATUSES = ("pending", "in_progress", "completed", "cancelled")  # our choice

TABLES = {
    table.name: table
    for table in (
        Table(
            "clients",
            (
                _id(),
                *_owner(),
                Column("name", "text", nullable=False),
                Column("email", "text"),
                Column("phone", "text"),
                Column("company", "text"),  # A1 organization -> company
                Column("notes", "text"),
                *_stamps(),
            ),
        ),
        Table(
            "events",
            (
                _id(),
                *_owner(),
                Column("client_id", "uuid", references="clients"),
                Column("title", "text", nullable=False),
                Column("event_date", "date", nullable=False),  # A1 chosen_date
                Column("start_time", "time", nullable=False),
                Column("end_time", "time", nullable=False),
                Column("status", "text", default='"lead"', check=EVENT_STATUSES),
                Column("attendees", "int"),  # A1 number_of_participants
                Column("room_ids", "uuid[]", default="[]"),  # A3 locked_room_id
                Column("notes", "text"),
                Column("current_step", "int", default="1"),  # B2
                Column("date_confirmed", "bool", default="false"),  # B2
                Column("caller_step", "int"),  # B2
                *_stamps(),
            ),
        ),
        Table(
            "offers",
            (
                _id(),
                *_owner(nullable_team=True),
                Column("event_id", "uuid", references="events"),
                Column("client_id", "uuid", references="clients"),
                Column("offer_number", "text", nullable=False, unique=True),  # A5
                Column("subject", "text", nullable=False),
                Column("offer_date", "date", nullable=False),
                Column("valid_until", "date"),
                Column("status", "text", default='"draft"', check=OFFER_STATUSES),
                Column("total_amount", "numeric"),
                Column("deposit_amount", "numeric"),  # C: deposit fields exist already
                Column("deposit_paid_at", "timestamptz"),  # A1 deposit_paid
                Column("payment_status", "text"),  # A1 deposit_status
                Column("confirmed_at", "timestamptz"),  # A1 accepted_at
                Column("notes", "text"),
                *_stamps(),
            ),
        ),
        Table(
            "offer_line_items",
            (
                _id(),
                Column("offer_id", "uuid", nullable=False, references="offers"),
                Column("product_id", "uuid", references="products"),
                Column("name", "text", nullable=False),
                Column("description", "text"),
                Column("quantity", "numeric", nullable=False),
                Column("unit_price", "numeric", nullable=False),
                Column("total", "numeric", nullable=False),
                Column("created_at", "timestamptz", nullable=False, default="now()"),
            ),
            parent=("offer_id", "offers"),
        ),
        Table(
            "tasks",
            (
                _id(),
                *_owner(),
                Column("title", "text", nullable=False),
                Column("category", "text", nullable=False),  # A1 type -> category
                Column("status", "text", default='"pending"', check=TASK_STATUSES),
                Column("event_id", "uuid", references="events"),
                Column("client_id", "uuid", references="clients"),
                Column("payload", "jsonb"),
                Column("due_date", "date"),
                Column("completed_at", "timestamptz"),  # A1 resolved_at
                *_stamps(),
            ),
        ),
        Table(
            "emails",
            (
                _id(),
                *_owner(),
                Column("email_account_id", "uuid"),  # D: OE_EMAIL_ACCOUNT_ID
                Column("event_id", "uuid", references="events"),
                Column("client_id", "uuid", references="clients"),
                Column("from_email", "text", nullable=False),
                Column("to_email", "text", nullable=False),
                Column("subject", "text", nullable=False),
                Column("body_text", "text", nullable=False),
                Column("body_html", "text"),
                Column("direction", "text", default='"outbound"'),
                Column("sent_at", "timestamptz"),
                *_stamps(),
            ),
        ),
        Table(
            "rooms",
            (
                _id(),
                Column("team_id", "uuid", nullable=False),
                Column("name", "text", nullable=False),
                Column("slug", "text"),
                Column("capacity", "int"),  # A6 default
                Column("theater_capacity", "int"),  # A6 theatre
                Column("cocktail_capacity", "int"),
                Column("seated_dinner_capacity", "int"),  # A6 dinner
                Column("standing_capacity", "int"),
                Column("amenities", "text[]", default="[]"),  # A3 features, equipment
                Column("deposit_required", "bool", default="false"),  # B1
                Column("deposit_percent", "int"),  # B1
                *_stamps(),
            ),
        ),
        Table(
            "products",
            (
                _id(),
                Column("team_id", "uuid", nullable=False),
                Column("name", "text", nullable=False),
                Column("slug", "text"),
                Column("category_id", "uuid"),  # A7
                Column("unit_price", "numeric"),
                Column("unit", "text"),
                *_stamps(),
            ),
        ),
    )
}


class InvalidValue(Exception):
    """A value PostgreSQL would refuse for the column's type: (SQLSTATE, message)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


DATE_INPUT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
TIME_INPUT = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?$")

# Reference: https://www.postgresql.org/docs/current/errcodes-appendix.html (22P02
# invalid_text_representation, 22007 invalid_datetime_format, 22008 datetime_field_overflow);
# the message is PostgreSQL's own `invalid input syntax for type X: "value"`.
TYPE_NAMES = {
    "uuid": "uuid",
    "int": "integer",
    "numeric": "numeric",
    "bool": "boolean",
    "date": "date",
    "time": "time without time zone",
    "timestamptz": "timestamp with time zone",
}


def _syntax(kind: str, value, code: str = "22P02") -> InvalidValue:
    text = value if isinstance(value, str) else str(value)
    return InvalidValue(code, f'invalid input syntax for type {TYPE_NAMES[kind]}: "{text}"')


def coerce(column: Column, value):
    """The value as PostgreSQL stores it and PostgREST gives it back, or InvalidValue."""
    if value is None:
        return None
    kind = column.type
    if kind.endswith("[]"):
        if not isinstance(value, list):
            raise InvalidValue("22P02", f'malformed array literal: "{value}"')
        inner = Column(column.name, kind[:-2])
        return [coerce(inner, item) for item in value]
    if kind == "text":
        return value if isinstance(value, str) else _json_text(value)
    if kind == "jsonb":
        return value
    if kind == "uuid":
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise _syntax(kind, value) from None
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | str):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise _syntax(kind, value)
        try:
            return int(value)
        except ValueError:
            raise _syntax(kind, value) from None
    if kind == "numeric":
        if isinstance(value, bool):
            raise _syntax(kind, value)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise _syntax(kind, value) from None
        # PostgREST answers numeric columns as JSON numbers.
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("t", "true", "yes", "on", "1"):
            return True
        if text in ("f", "false", "no", "off", "0"):
            return False
        raise _syntax(kind, value)
    if kind == "date":
        match = DATE_INPUT.match(str(value))
        if not match:
            raise _syntax(kind, value, "22007")
        try:
            return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        except ValueError:
            raise InvalidValue("22008", f'date/time field value out of range: "{value}"') from None
    if kind == "time":
        match = TIME_INPUT.match(str(value))
        if not match:
            raise _syntax(kind, value, "22007")
        try:
            moment = time(int(match[1]), int(match[2]), int(match[3] or 0))
        except ValueError:
            raise InvalidValue("22008", f'date/time field value out of range: "{value}"') from None
        return moment.strftime("%H:%M:%S")
    if kind == "timestamptz":
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise _syntax(kind, value, "22007") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # the session's TimeZone: UTC on Supabase
        return moment.astimezone(UTC).isoformat()
    raise AssertionError(f"unknown column type {kind}")


def _json_text(value) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def default_of(column: Column, now: str):
    if column.default is None:
        return None
    if column.default == "gen_random_uuid()":
        return str(uuid.uuid4())
    if column.default == "now()":
        return now
    return json.loads(column.default)
