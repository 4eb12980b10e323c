"""10,000 mixed records (clients, events, tasks, emails, offers with a line item) through
`POST /api/destinations/<id>/records` into the Supabase emulator, end to end: the API view
(token auth, validation), the entity's mapping set (renames, lookups read from the destination
and cached, dates, times, statuses, offer numbers), the required fields, the write through
postgrest-py on the hub's HTTP layer, the record writes kept.

Requests carry 100 records, 20 of each entity in runs (a run of one entity goes out as one
PostgREST request; an offer, with its line items, as two). Approval is switched off for emails
and offers here: the figure is the write path, not a reviewer's speed.

Figures (after one warm-up request, not counted):
- records per second end to end (wall time, emulator included);
- hub µs per record: the wall time less the time spent inside the HTTP layer's adapter (its
  own timing, http.track: from handing the request to urllib3 to the answer's last byte —
  the socket, TLS, and the emulator's work, which runs in a thread of this process while the
  hub waits), per record. Everything else is the hub's: the API view (auth, parsing,
  validation), mapping, the database (the request row, the write rows, the answer; SQLite
  here, PostgreSQL with BENCH_DATABASE_URL), postgrest-py and httpx building the requests and
  parsing the answers. The API is called through Django's test client: no HTTP server
  parsing in front of it (in production, gunicorn's). Target: hub ≤ 200 µs.
- hub CPU µs per record: this thread's CPU time (time.thread_time) per record, which leaves
  out the emulator (another thread), PostgreSQL (another process) and every wait — the
  figure to read on a busy machine, where the wall-time one counts the waits for a CPU too.
- the same per round of 2,000 records (the best round shows the figure least disturbed by
  other work on the machine; the RESULT line is the whole run's).

Last line: RESULT records=<n> per_s=<x> hub_us_per_record=<x>
"""

import os
import time
import uuid

from _setup import fresh_database, scaled, start_sandbox

RECORDS = scaled(10_000, minimum=100)
PER_REQUEST = 100
RUN = PER_REQUEST // 5
ROUND = 2000


def batch(start: int) -> list[dict]:
    """100 records: 20 clients, then 20 events, tasks, emails and offers about them."""
    records = []
    people = [f"person.{start + n}@example.com" for n in range(RUN)]
    for n, email in enumerate(people):
        records.append(
            {
                "entity": "clients",
                "data": {"name": f"Person {start + n}", "email": email, "organization": "Bench AG"},
            }
        )
    for n, email in enumerate(people):
        records.append(
            {
                "entity": "events",
                "data": {
                    "title": f"Event {start + n}",
                    "chosen_date": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}",
                    "start_time": "9:00",
                    "end_time": "17:30",
                    "status": "Lead",
                    "number_of_participants": 10 + n,
                    "locked_room_id": "grand-hall",
                    "client_email": email,
                },
            }
        )
    for email in people:
        records.append(
            {
                "entity": "tasks",
                "data": {"title": f"Call {email}", "type": "follow_up", "client_email": email},
            }
        )
    for n, email in enumerate(people):
        records.append(
            {
                "entity": "emails",
                "data": {
                    "from_email": "events@venue.ch",
                    "to_email": email,
                    "subject": f"Your event {start + n}",
                    "body_text": "Dear guest, ...",
                    "client_email": email,
                },
            }
        )
    for n, email in enumerate(people):
        records.append(
            {
                "entity": "offers",
                "data": {
                    "subject": f"Offer {start + n}",
                    "offer_date": "2026-06-01",
                    "status": "Draft",
                    "client_email": email,
                    "line_items": [
                        {
                            "name": "Lunch",
                            "product": "lunch-buffet",
                            "quantity": 10,
                            "unit_price": 40,
                            "total": 400,
                        }
                    ],
                },
            }
        )
    return records


def main() -> None:
    # As production runs: with DEBUG on, Django keeps every query with its parameters quoted
    # (on SQLite by one more query each), which cost more than the hub's own work here.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # no TLS in front of a test client
    fresh_database("destination")
    server = start_sandbox(["supabase"])
    from rest_framework.test import APIClient

    from config import endpoints
    from destinations import services
    from destinations.models import Destination
    from integrations.accounts import services as accounts
    from integrations.accounts.models import Membership, User
    from integrations.connections import http
    from integrations.mapping.models import MappingSet

    user = User.objects.create_user(email="bench@example.com", password=uuid.uuid4().hex)
    workspace = accounts.workspace_create(name="Bench", creator=user)
    assert Membership.objects.filter(workspace=workspace, user=user, role="admin").exists()
    _, key = accounts.api_token_create(user=user, name="bench")
    destination = services.destination_save(
        destination=Destination(
            workspace=workspace,
            name="Bench",
            url="https://bench.supabase.co",
            team_id=endpoints.SUPABASE_TEAM_ID,
            user_id=endpoints.SUPABASE_SYSTEM_USER_ID,
        ),
        actor=user,
        service_key=endpoints.SUPABASE_SERVICE_KEY,
    )
    MappingSet.objects.filter(workspace=workspace).update(requires_approval=False)
    api = APIClient(SERVER_NAME="127.0.0.1")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = f"/api/destinations/{destination.pk}/records"

    # One request first, not counted: the first request of a process imports and compiles
    # what every later one reuses (the admin, the serializers, the regexes).
    warm = api.post(url, {"records": batch(-PER_REQUEST)}, format="json")
    assert warm.status_code == 200, (warm.status_code, warm.content[:300])
    statuses: dict[str, int] = {}
    sent = 0
    rounds: list[tuple[float, float]] = []  # (hub µs, hub CPU µs) per record, per round
    started, cpu_started = time.perf_counter(), time.thread_time()
    with http.track() as calls:
        while sent < RECORDS:
            round_start, round_cpu = time.perf_counter(), time.thread_time()
            round_calls, round_sent = calls.seconds, sent
            while sent < RECORDS and sent - round_sent < ROUND:
                records = batch(sent)[: RECORDS - sent]
                answer = api.post(
                    url, {"records": records}, format="json", HTTP_IDEMPOTENCY_KEY=f"bench-{sent}"
                )
                if answer.status_code != 200:
                    raise SystemExit(
                        f"request at {sent} answered {answer.status_code}: {answer.content[:300]}"
                    )
                for status, count in answer.json()["counts"].items():
                    statuses[status] = statuses.get(status, 0) + count
                sent += len(records)
            done = sent - round_sent
            hub = time.perf_counter() - round_start - (calls.seconds - round_calls)
            rounds.append((hub / done * 1e6, (time.thread_time() - round_cpu) / done * 1e6))
    wall = time.perf_counter() - started
    cpu = time.thread_time() - cpu_started
    server.stop()
    hub_seconds = max(0.0, wall - calls.seconds)
    per_s = sent / wall
    hub_us = hub_seconds / sent * 1e6
    print(f"records {sent} in {wall:.2f} s ({per_s:.0f}/s); outcomes {statuses}")
    print(
        f"calls to the emulator {calls.calls} ({calls.calls / sent:.2f} per record), "
        f"{calls.seconds:.2f} s in them; hub {hub_seconds:.2f} s ({hub_us:.0f} µs per record); "
        f"hub CPU {cpu:.2f} s ({cpu / sent * 1e6:.0f} µs per record)"
    )
    print(
        "per round of {} records, hub µs / hub CPU µs per record: {}; best {:.0f} / {:.0f}".format(
            ROUND,
            ", ".join(f"{h:.0f}/{c:.0f}" for h, c in rounds),
            min(h for h, _ in rounds),
            min(c for _, c in rounds),
        )
    )
    if statuses.get("written", 0) != sent:
        raise SystemExit("not every record was written")
    print(f"RESULT records={sent} per_s={per_s:.0f} hub_us_per_record={hub_us:.0f}")


if __name__ == "__main__":
    main()
