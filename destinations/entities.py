"""The entities a destination takes and their default mapping sets: the seed's transforms from
the workflow's own field names to the columns the frontend reads.

# Reference: ../shared/seeds/integration-status-tracker.md — A1 renames (organization →
# company, chosen_date → event_date, number_of_participants → attendees, type → category,
# resolved_at → completed_at, deposit_paid → deposit_paid_at, deposit_status → payment_status,
# accepted_at → confirmed_at), A2 lookups (client by email, room and product by slug → UUID),
# A3 (locked_room_id → room_ids[]), A4 required fields (integrations.mapping.engine
# REQUIRED_FIELDS), A5 offer numbers OE-YYYY-MM-XXXX, A8 lower-case statuses, A9 dates, times
# and Europe/Zurich; Part E "HIL for every message": emails and offers wait for approval.
"""

from integrations.mapping.engine import REQUIRED_FIELDS

STATUS = {"transform": "enum_map", "params": {"case": "lower"}}  # A8: Lead -> lead
DATE = {"transform": "date"}  # A9, Europe/Zurich
TIME = {"transform": "time"}
MOMENT = {"transform": "datetime"}
CLIENT_BY_EMAIL = {"transform": "lookup_uuid", "params": {"table": "clients", "missing": "null"}}


def _row(source: str, target: str, spec: dict | None = None) -> dict:
    spec = spec or {}
    return {
        "source": source,
        "target": target,
        "transform": spec.get("transform", "rename"),
        "params": dict(spec.get("params", {})),
        "direction": "push",
    }


# entity -> (field rows, requires approval, conflict key)
DEFAULTS: dict[str, tuple[list[dict], bool, str]] = {
    "clients": (
        [
            _row("id", "id"),
            _row("name", "name", {"transform": "text"}),
            _row("email", "email", {"transform": "email"}),
            _row("phone", "phone", {"transform": "text"}),
            _row("organization", "company"),
            _row("notes", "notes"),
        ],
        False,
        "id",
    ),
    "events": (
        [
            _row("id", "id"),
            _row("title", "title", {"transform": "text"}),
            _row("chosen_date", "event_date", DATE),
            _row("start_time", "start_time", TIME),
            _row("end_time", "end_time", TIME),
            _row("status", "status", STATUS),
            _row("number_of_participants", "attendees"),
            _row(
                "locked_room_id",
                "room_ids",
                {"transform": "lookup_uuid", "params": {"table": "rooms", "many": True}},
            ),
            _row("client_email", "client_id", CLIENT_BY_EMAIL),
            _row("notes", "notes"),
            _row("current_step", "current_step"),
            _row("date_confirmed", "date_confirmed"),
            _row("caller_step", "caller_step"),
        ],
        False,
        "id",
    ),
    "offers": (
        [
            _row("id", "id"),
            _row(
                "offer_number", "offer_number", {"transform": "number", "params": {"prefix": "OE"}}
            ),
            _row("subject", "subject", {"transform": "text"}),
            _row("offer_date", "offer_date", DATE),
            _row("valid_until", "valid_until", DATE),
            _row("status", "status", STATUS),
            _row("event_id", "event_id"),
            _row("client_email", "client_id", CLIENT_BY_EMAIL),
            _row("total_amount", "total_amount"),
            _row("deposit_amount", "deposit_amount"),
            _row("deposit_paid", "deposit_paid_at", MOMENT),
            _row("deposit_status", "payment_status", STATUS),
            _row("accepted_at", "confirmed_at", MOMENT),
            _row("notes", "notes"),
        ],
        True,
        "offer_number",
    ),
    "offer_line_items": (
        [
            _row(
                "product",
                "product_id",
                {"transform": "lookup_uuid", "params": {"table": "products", "missing": "null"}},
            ),
            _row("name", "name", {"transform": "text"}),
            _row("description", "description"),
            _row("quantity", "quantity"),
            _row("unit_price", "unit_price"),
            _row("total", "total"),
        ],
        False,
        "",
    ),
    "tasks": (
        [
            _row("id", "id"),
            _row("title", "title", {"transform": "text"}),
            _row("type", "category", {"transform": "text"}),
            _row("status", "status", STATUS),
            _row("payload", "payload"),
            _row("due_date", "due_date", DATE),
            _row("resolved_at", "completed_at", MOMENT),
            _row("event_id", "event_id"),
            _row("client_email", "client_id", CLIENT_BY_EMAIL),
        ],
        False,
        "id",
    ),
    "emails": (
        [
            _row("id", "id"),
            _row("from_email", "from_email", {"transform": "email"}),
            _row("to_email", "to_email", {"transform": "email"}),
            _row("subject", "subject", {"transform": "text"}),
            _row("body_text", "body_text"),
            _row("body_html", "body_html"),
            _row("sent_at", "sent_at", MOMENT),
            _row("event_id", "event_id"),
            _row("client_email", "client_id", CLIENT_BY_EMAIL),
        ],
        True,
        "id",
    ),
}

# The tables carrying the team and the system user (line items belong to their offer's team).
STAMPED = ("clients", "events", "offers", "tasks", "emails")
# What lookups read from the destination: table -> the natural key column.
LOOKUP_KEYS = {"clients": "email", "rooms": "slug", "products": "slug"}


def required(entity: str) -> list[str]:
    return list(REQUIRED_FIELDS[entity])
