"""Every example of the seed's tables A1–A9 is a test vector of its transform."""

from datetime import UTC, datetime

import pytest

from integrations.mapping.engine import compile_fields
from integrations.mapping.transforms import REGISTRY, MappingError, compile_transform


def run(name, value, params=None, record=None, context=None):
    return compile_transform(name, params, context)(value, record or {})


# A1: column renames, through a mapping set (source → target)
A1 = [
    ("organization", "company"),
    ("chosen_date", "event_date"),
    ("number_of_participants", "attendees"),
    ("capacity_max", "capacity"),
    ("type", "category"),
    ("resolved_at", "completed_at"),
    ("deposit_paid", "deposit_paid_at"),
    ("deposit_status", "payment_status"),
    ("accepted_at", "confirmed_at"),
]


def test_a1_renames():
    mapper = compile_fields([{"source": s, "target": t} for s, t in A1])
    record = {source: f"value of {source}" for source, _ in A1}
    assert mapper.map(record) == {target: f"value of {source}" for source, target in A1}


def test_a1_renames_pull_back():
    mapper = compile_fields([{"source": s, "target": t} for s, t in A1], direction="pull")
    assert mapper.map({"company": "Acme"})["organization"] == "Acme"


# A2: natural keys → UUIDs, with validation and a cache
CLIENT = "3f2b8c1e-9d4a-4b6f-8e2d-1a5c7b9e0f12"
ROOM = "0c6d2e4f-1a3b-4c5d-8e9f-a0b1c2d3e4f5"


def lookups(tables):
    calls = []

    def lookup(table, key):
        calls.append((table, key))
        return tables.get(table, {}).get(key)

    return lookup, calls


@pytest.mark.parametrize(
    ("table", "value", "expected"),
    [
        ("clients", "Anna.Muster@Example.com ", CLIENT),  # client lookup by email
        ("rooms", "Salle-Lac", ROOM),  # room slug → UUID
        ("rooms", ROOM.upper(), ROOM),  # a UUID passes through, normalised
    ],
)
def test_a2_lookup_uuid(table, value, expected):
    lookup, _ = lookups(
        {"clients": {"anna.muster@example.com": CLIENT}, "rooms": {"salle-lac": ROOM}}
    )
    assert run("lookup_uuid", value, {"table": table}, context={"lookup": lookup}) == expected


def test_a2_lookup_caches_per_key_and_validates_uuids():
    lookup, calls = lookups({"products": {"wifi": "not-a-uuid", "beamer": CLIENT}})
    mapped = compile_transform("lookup_uuid", {"table": "products"}, {"lookup": lookup})
    assert [mapped("Beamer", {}), mapped("beamer", {}), mapped(" BEAMER", {})] == [CLIENT] * 3
    assert calls == [("products", "beamer")]  # one lookup for three records
    with pytest.raises(MappingError, match="not a UUID"):
        mapped("wifi", {})
    with pytest.raises(MappingError, match="not in the lookup table"):
        mapped("flipchart", {})
    nullable = compile_transform(
        "lookup_uuid", {"table": "products", "missing": "null"}, {"lookup": lookup}
    )
    assert nullable("flipchart", {}) is None


def test_a2_a3_lookup_of_many_gives_a_list_of_uuids():
    lookup, _ = lookups({"rooms": {"salle-lac": ROOM, "atelier": CLIENT}})
    many = compile_transform("lookup_uuid", {"table": "rooms", "many": True}, {"lookup": lookup})
    assert many("Salle-Lac", {}) == [ROOM]  # locked_room_id → room_ids[]
    assert many(["salle-lac", "atelier", "salle-lac"], {}) == [ROOM, CLIENT]
    assert many(None, {}) == []
    with pytest.raises(MappingError, match="not in the lookup table"):
        many(["salle-lac", "cellar"], {})


# A3: scalar ↔ array
def test_a3_scalar_to_array():
    assert run("to_array", ROOM) == [ROOM]  # locked_room_id → room_ids[]
    assert run("to_array", None) == []


def test_a3_features_and_equipment_become_amenities():
    mapper = compile_fields(
        [
            {"source": "features", "target": "amenities", "transform": "to_array"},
            {"source": "equipment", "target": "amenities", "transform": "to_array"},
        ]
    )
    record = {"features": ["wifi", "daylight"], "equipment": "beamer"}
    assert mapper.map(record) == {"amenities": ["wifi", "daylight", "beamer"]}
    joined = compile_fields(
        [
            {
                "source": "features,equipment",
                "target": "amenities",
                "transform": "to_array",
                "params": {"split": ","},
            }
        ]
    )
    assert joined.map({"features": "wifi, daylight", "equipment": "wifi"}) == {
        "amenities": ["wifi", "daylight"]
    }


def test_a3_array_back_to_scalar():
    assert run("from_array", [ROOM, "x"]) == ROOM
    assert run("from_array", ["a", "", "b"], {"join": ", "}) == "a, b"


# A4: required fields per target entity
def test_a4_a_record_missing_a_required_field_is_refused_whole():
    from integrations.mapping.engine import REQUIRED_FIELDS, MissingRequired

    mapper = compile_fields(
        [{"source": f, "target": f} for f in REQUIRED_FIELDS["events"]],
        required=REQUIRED_FIELDS["events"],
        entity="events",
    )
    record = {f: "x" for f in REQUIRED_FIELDS["events"]}
    assert mapper.map(record) == record
    with pytest.raises(MissingRequired) as refused:
        mapper.map({**record, "start_time": "", "user_id": None})
    assert refused.value.missing == ["start_time", "user_id"]
    assert "start_time, user_id" in refused.value.message
    assert REQUIRED_FIELDS == {
        "clients": ["name", "team_id", "user_id"],
        "events": ["title", "event_date", "start_time", "end_time", "team_id", "user_id"],
        "offers": ["offer_number", "subject", "offer_date", "user_id"],
        "offer_line_items": ["offer_id", "name", "quantity", "unit_price", "total"],
        "tasks": ["title", "category", "team_id", "user_id"],
        "emails": ["from_email", "to_email", "subject", "body_text", "team_id", "user_id"],
    }


# A6: capacity column by layout
ROOM_ROW = {
    "theater_capacity": 120,
    "cocktail_capacity": 150,
    "seated_dinner_capacity": 80,
    "standing_capacity": 200,
    "capacity": 100,
}


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("theatre", 120),
        ("cocktail", 150),
        ("dinner", 80),
        ("standing", 200),
        ("Theatre", 120),
        (None, 100),
        ("boardroom", 100),
    ],
)
def test_a6_capacity_by_layout(layout, expected):
    assert run("pick_by_key", layout, record=ROOM_ROW) == expected


def test_a6_an_empty_layout_column_falls_back_to_capacity():
    assert run("pick_by_key", "dinner", record={**ROOM_ROW, "seated_dinner_capacity": None}) == 100


# A8: status case
@pytest.mark.parametrize(
    ("internal", "target"),
    [
        ("Lead", "lead"),
        ("Option", "option"),
        ("Confirmed", "confirmed"),
        ("Cancelled", "cancelled"),
        ("Draft", "draft"),
        ("Sent", "sent"),
    ],
)
def test_a8_status_values(internal, target):
    assert run("enum_map", internal) == target  # case normalisation alone
    listed = {
        "Lead": "lead",
        "Option": "option",
        "Confirmed": "confirmed",
        "Cancelled": "cancelled",
        "Draft": "draft",
        "Sent": "sent",
    }
    assert run("enum_map", internal.upper(), {"values": listed, "strict": True}) == target


def test_a8_strict_refuses_unknown_values():
    with pytest.raises(MappingError, match="'Archived' is not one of the known values"):
        run("enum_map", "Archived", {"values": {"Lead": "lead"}, "strict": True})


# A9: time zones, dates, times
def test_a9_dates_default_to_zurich():
    late = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January in Zurich
    assert run("date", late) == "2026-01-01"
    assert run("date", late, {"timezone": "UTC"}) == "2025-12-31"
    assert run("date", "2025-12-09") == "2025-12-09"
    assert run("date", "09.12.2025", {"input_formats": ["%d.%m.%Y"]}) == "2025-12-09"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9:30", "09:30:00"),
        ("09:30:15", "09:30:15"),
        ("2:05 PM", "14:05:00"),
        (datetime(2025, 7, 1, 7, 0, tzinfo=UTC), "09:00:00"),
    ],
)
def test_a9_times_as_hh_mm_ss(value, expected):
    assert run("time", value) == expected


def test_a9_naive_datetimes_are_zurich_time():
    assert run("datetime", "2025-12-09 18:00") == "2025-12-09T18:00:00+01:00"
    assert run("datetime", "2025-07-09T18:00:00") == "2025-07-09T18:00:00+02:00"
    assert run("datetime", "2025-07-09T18:00:00", {"utc": True}) == "2025-07-09T16:00:00+00:00"


# The rest of the vocabulary
def test_truncate_default_names_and_email():
    assert run("truncate", "x" * 300, {"max_length": 255}) == "x" * 255
    assert run("truncate", "abcdef", {"max_length": 5, "suffix": "…"}) == "abcd…"
    assert (
        run(
            "truncate",
            "x" * 300,
            {"max_length": 255, "mode": "replace", "replacement": "See Work Order"},
        )
        == "See Work Order"
    )
    assert run("default", "", {"value": "Unknown"}) == "Unknown"
    assert run("default", "Acme", {"value": "Unknown"}) == "Acme"
    assert run("split_name", "Anna Maria Muster", {"part": "first"}) == "Anna Maria"
    assert run("split_name", "Anna Maria Muster", {"part": "last"}) == "Muster"
    assert run("join", ["Anna", "", "Muster"]) == "Anna Muster"
    assert run("email", "  Anna.Muster@Example.COM ") == "anna.muster@example.com"
    with pytest.raises(MappingError, match="is not an email address"):
        run("email", "anna at example")


@pytest.mark.django_db
def test_a5_offer_numbers():
    from zoneinfo import ZoneInfo

    from integrations.mapping.numbers import next_number

    zone = ZoneInfo("Europe/Zurich")
    december = datetime(2025, 12, 9, 10, tzinfo=UTC)
    first = next_number(prefix="OE", zone=zone, now=december)
    second = next_number(prefix="OE", zone=zone, now=december)
    assert (first, second) == ("OE-2025-12-0001", "OE-2025-12-0002")
    assert (
        next_number(prefix="OE", zone=zone, now=datetime(2025, 12, 31, 23, 30, tzinfo=UTC))
        == "OE-2026-01-0001"
    )
    assert run("number", "OE-2025-11-0042", {"prefix": "OE"}) == "OE-2025-11-0042"  # kept
    assert run("number", None, {"prefix": "OE"}).startswith("OE-")


@pytest.mark.django_db
def test_a5_numbers_reserved_in_a_block_are_consecutive_and_never_issued_again():
    from zoneinfo import ZoneInfo

    from integrations.mapping.numbers import next_number, reserve_numbers

    zone = ZoneInfo("Europe/Zurich")
    june = datetime(2026, 6, 1, 10, tzinfo=UTC)
    block = reserve_numbers(prefix="OE", zone=zone, now=june, count=3)
    assert block == ["OE-2026-06-0001", "OE-2026-06-0002", "OE-2026-06-0003"]
    assert next_number(prefix="OE", zone=zone, now=june) == "OE-2026-06-0004"
    issued = []
    mapped = compile_transform(
        "number",
        {"prefix": "OE"},
        {"issue_number": lambda **kw: issued.append(kw["prefix"]) or "OE-2026-06-0099"},
    )
    assert mapped(None, {}) == "OE-2026-06-0099" and issued == ["OE"]  # the caller's pool


def test_every_transform_has_a_description_and_a_schema():
    assert set(REGISTRY) >= {
        "rename",
        "default",
        "enum_map",
        "lookup_uuid",
        "to_array",
        "from_array",
        "pick_by_key",
        "date",
        "time",
        "datetime",
        "truncate",
        "split_name",
        "join",
        "email",
        "number",
    }
    for name, transform in REGISTRY.items():
        assert transform.description.endswith((")", ".")), name
        assert transform.schema["type"] == "object"
        assert transform.schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("name", "params", "value", "expected"),
    [
        ("text", {}, 24017, "24017"),
        ("text", {}, "  J-1 ", "J-1"),
        ("text", {}, None, None),
        # An option set with a label for "not set" and one for values it does not list.
        ("enum_map", {"values": {"": "", "1": "One"}, "otherwise": "Unknown"}, 1, "One"),
        ("enum_map", {"values": {"": "", "1": "One"}, "otherwise": "Unknown"}, 7, "Unknown"),
        ("enum_map", {"values": {"": "", "1": "One"}, "otherwise": "Unknown"}, None, ""),
        ("enum_map", {"values": {"1": "One"}}, None, None),  # no "" entry: empty stays empty
        # The seed's scope rule: empty or too long is replaced whole, never cut.
        (
            "truncate",
            {"max_length": 3, "mode": "replace", "replacement": "R", "when_empty": "E"},
            "  ",
            "E",
        ),
        (
            "truncate",
            {"max_length": 3, "mode": "replace", "replacement": "R", "when_empty": "E"},
            None,
            "E",
        ),
        (
            "truncate",
            {"max_length": 3, "mode": "replace", "replacement": "R", "when_empty": "E"},
            "abcd",
            "R",
        ),
        (
            "truncate",
            {"max_length": 3, "mode": "replace", "replacement": "R", "when_empty": "E"},
            "abc",
            "abc",
        ),
        ("truncate", {"max_length": 3}, None, None),
    ],
)
def test_text_enum_otherwise_and_truncate_when_empty(name, params, value, expected):
    assert compile_transform(name, params, None)(value, {}) == expected
