"""100,000 records through a 20-field mapping set with mixed transforms (renames, enum maps,
UUID lookups, arrays, capacity by layout, dates, times, datetimes with a time zone, truncation,
names, defaults, email normalisation), compiled once as a sync compiles it.

Target: ≤ 50 µs per record, so mapping never matters next to API time (one Smartsheet or
HubSpot call takes tens of milliseconds and carries at most a few hundred records).
The `number` transform is left out: it takes a database row lock per record by design.

Last line: RESULT records=<n> us_per_record=<x>
"""

import random
import time
import uuid

from _setup import fresh_database, scaled

RECORDS = scaled(100_000)
FIELDS = [  # (source, target, transform, params)
    ("organization", "company", "rename", {}),
    ("chosen_date", "event_date", "date", {}),
    ("number_of_participants", "attendees", "rename", {}),
    (
        "status",
        "status",
        "enum_map",
        {"values": {"Lead": "lead", "Option": "option", "Confirmed": "confirmed"}},
    ),
    ("email", "email", "email", {}),
    ("client_email", "client_id", "lookup_uuid", {"table": "clients"}),
    ("locked_room_id", "room_ids", "to_array", {}),
    ("features", "amenities", "to_array", {}),
    ("equipment", "amenities", "to_array", {}),
    ("layout", "capacity", "pick_by_key", {}),
    ("start", "start_time", "time", {}),
    ("end", "end_time", "time", {}),
    ("created", "created_at", "datetime", {}),
    ("notes", "notes", "truncate", {"max_length": 255, "suffix": "…"}),
    ("name", "first_name", "split_name", {"part": "first"}),
    ("name", "last_name", "split_name", {"part": "last"}),
    ("gc", "general_contractor", "default", {"value": "Unknown"}),
    ("type", "category", "enum_map", {"values": {"Call": "call", "Email": "email"}}),
    ("deposit_status", "payment_status", "enum_map", {"case": "lower"}),
    ("first,last", "full_name", "join", {}),
]


def records(count: int, clients: list[str]) -> list[dict]:
    pick = random.Random(7)
    layouts = ["theatre", "cocktail", "dinner", "standing", None]
    return [
        {
            "organization": f"Company {n % 500}",
            "chosen_date": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "number_of_participants": 10 + n % 200,
            "status": pick.choice(["Lead", "Option", "Confirmed", "Cancelled"]),
            "email": f" Person.{n}@Example.com",
            "client_email": pick.choice(clients),
            "locked_room_id": str(uuid.UUID(int=n % 40 + 1)),
            "features": ["wifi", "daylight"] if n % 2 else ["wifi"],
            "equipment": "beamer" if n % 3 else None,
            "layout": layouts[n % 5],
            "theater_capacity": 120,
            "cocktail_capacity": 150,
            "seated_dinner_capacity": 80,
            "standing_capacity": 200,
            "capacity": 100,
            "start": f"{8 + n % 10}:{n % 60:02d}",
            "end": f"{4 + n % 8}:30 PM",
            "created": f"2026-03-{1 + n % 28:02d}T{n % 24:02d}:15:00",
            "notes": "Projector and catering. " * (1 + n % 20),
            "name": "Anna Maria Muster" if n % 2 else "Bo Li",
            "gc": None if n % 4 == 0 else "Turner",
            "type": "Call" if n % 2 else "Email",
            "deposit_status": "Paid" if n % 2 else "Open",
            "first": "Anna",
            "last": "Muster",
        }
        for n in range(count)
    ]


def main() -> None:
    fresh_database("mapping")
    from integrations.accounts import services as accounts
    from integrations.mapping import engine
    from integrations.mapping.models import FieldMapping, LookupEntry, LookupTable, MappingSet

    workspace = accounts.workspace_create(name="Bench")
    table = LookupTable.objects.create(workspace=workspace, name="clients")
    clients = [f"client{n}@example.com" for n in range(200)]
    for n, email in enumerate(clients):
        LookupEntry.objects.create(table=table, key=email, value=uuid.UUID(int=10_000 + n))
    mapping_set = MappingSet.objects.create(
        workspace=workspace, name="Bench", target_entity="events"
    )
    for position, (source, target, transform, params) in enumerate(FIELDS):
        FieldMapping.objects.create(
            mapping_set=mapping_set,
            position=position,
            source_field=source,
            target_field=target,
            transform=transform,
            params=params,
        )
    print(f"Preparing {RECORDS:,} records...")
    batch = records(RECORDS, clients)
    mapper = engine.mapper_for(mapping_set)
    mapper.map(batch[0])  # lookups warm, as in any run after its first records
    print(f"Mapping {RECORDS:,} records through {len(FIELDS)} fields...")
    began = time.perf_counter()
    for record in batch:
        mapper.map(record)
    seconds = time.perf_counter() - began
    per_record = seconds / RECORDS * 1e6
    sample = mapper.map(batch[1])
    print(
        f"  sample: { {k: sample[k] for k in ('event_date', 'client_id', 'amenities', 'capacity', 'start_time', 'created_at')} }"
    )
    print(
        f"  {RECORDS / seconds:,.0f} records/s, {per_record:.1f} µs per record "
        f"({per_record / len(FIELDS):.2f} µs per field); target ≤ 50 µs per record"
    )
    print(f"RESULT records={RECORDS} us_per_record={per_record:.1f}")


if __name__ == "__main__":
    main()
