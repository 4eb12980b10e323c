"""`bench/crm_sync.py --provider hubspot`: the same bench against the HubSpot emulator (over
TLS through hubspot-api-client on the hub's HTTP layer and the platform's one client).

The starting point is "after a first sync", built in bulk: 10,000 companies and 10,000 contacts
(each contact with a company as its primary one, associations v4) added through the emulator's
control plane with the emulator's clock a day back, the hub's records made from them with
bulk_create, and each pair's CrmLink with the base the sync keeps. A first run per object is
not counted and must find nothing to do. The emulator and the hub's HTTP layer both hold a
public app's limits: 110 requests per 10 s (search outside it) and 5 searches a second.

The changes, record i of each object in id order (every record changes on one side at least):
  even i   changed in the hub       company phone, contact phone
  odd i    changed in HubSpot       company city, contact jobtitle
  i % 50 = 0 (2 %, all even)        also the same field on both sides (company description,
                                    contact firstname): i % 100 = 0 last written in the hub,
                                    i % 100 = 50 last written in HubSpot
made in that time order, so last write wins settles each conflict one known way.

Call floor per object, from the API's rules: ceil(reads / 200) (a search page holds 200; reads
are the records HubSpot must return, the ones changed there) + ceil(writes / 100) (a batch update
takes 100; writes are the records whose hub changes must reach HubSpot). Counted from the
emulator's control plane. Wall floor, over the timed runs: the searches past the first 5 at 5
a second plus the other requests past the first 110 at 110 per 10 s (0 at small scale, where
everything fits the bursts: wall_ratio is then 0).

Last line: RESULT calls=<n> floor=<n> calls_ratio=<x> wall_s=<x> wall_floor_s=<x>
wall_ratio=<x> conflict_us_per_record=<x> records=<n> webhook_p95_s=<x>.
"""

import math
import os
import time
from datetime import timedelta

from _crm_common import (
    Crm,
    both_sides_checked,
    edit_both_sides,
    first_runs_find_nothing,
    link_hub_records,
    plain,
    planner_figure,
    timed_runs,
)
from _setup import fresh_database, scale, scaled, start_sandbox

RECORDS = scaled(10_000)  # per object
SEARCH_PAGE = 200
BATCH = 100
DAY = 86_400
LIMIT, WINDOW = 110, 10  # a public app's requests per 10 s (providers/hubspot.md "Rate limits")
SEARCHES_PER_SECOND = 5
# HubSpot's search shows a write "a few moments" later (the emulator: 2 s of its clock); run
# small, the emulator is told as much less, and the bench waits that instead of 2.5 s.
SEARCH_DELAY = 2.0 * min(1.0, scale())
TARGETS = {"calls_ratio": 1.05, "conflict_us_per_record": 1_000, "webhook_p95_s": 5}


class Entity:
    def __init__(self, name, kind, hub, crm, both, renames):
        self.name, self.kind = name, kind  # the config's entity, HubSpot's object type
        self.hub, self.crm, self.both = hub, crm, both  # the edited properties
        self.renames = renames  # hub field -> HubSpot property (the shipped mapping set's)
        self.ids: list[str] = []  # HubSpot ids in order
        self.hub_ids: list[int] = []
        self.expected: list[dict] = []
        self.hub_changed: set[int] = set()
        self.crm_changed: set[int] = set()
        self.rows: list[dict] = []

    @property
    def fields(self) -> list[str]:
        extra = ["associatedcompanyid"] if self.name == "contact" else []
        return [*self.renames.values(), *extra]

    @property
    def remote_ids(self) -> list[str]:
        return self.ids


def shipped(entity: str) -> dict:
    import json

    from _setup import ROOT

    rows = json.loads((ROOT / "crm" / "mapping" / f"hubspot-{entity}.json").read_text())["fields"]
    return {r["source"]: r["target"] for r in rows if r["direction"] != "none"}


def generated(kind: str, count: int) -> list[dict]:
    cities = ["Boston", "Denver", "Austin", "Seattle", "Chicago", "Atlanta", "Portland"]
    rows = []
    for n in range(count):
        if kind == "companies":
            rows.append(
                {
                    "name": f"Bench Company {n:05d} Inc.",
                    "domain": f"bench{n}.example.com",
                    "website": f"https://www.bench{n}.example.com",
                    "industry": ["CONSTRUCTION", "RETAIL", "ACCOUNTING"][n % 3],
                    "phone": f"(555) {n // 10_000:03d}-{n % 10_000:04d}",
                    "address": f"{100 + n % 900} Main St",
                    "city": cities[n % len(cities)],
                    "state": "CA",
                    "zip": f"{90_000 + n % 9_999:05d}",
                    "country": "United States",
                    "description": f"Customer since {2000 + n % 25}",
                }
            )
        else:
            rows.append(
                {
                    "firstname": ["Ada", "Grace", "Alan", "Edsger", "Barbara"][n % 5],
                    "lastname": f"Benchley{n:05d}",
                    "email": f"contact{n}@bench{n % 997}.example.com",
                    "phone": f"(555) {n // 10_000:03d}-{n % 10_000:04d}",
                    "jobtitle": ["Buyer", "Engineer", "Director", "Estimator"][n % 4],
                }
            )
    return rows


def wall_floor(searches: int, others: int) -> float:
    """The least time the runs' requests take at the account's limits: a rolling second lets 5
    searches go at once and each further one 1/5 s later; a rolling 10 s lets 110 other
    requests go at once and each further one 1/11 s later."""
    search_s = max(0, searches - SEARCHES_PER_SECOND) / SEARCHES_PER_SECOND
    other_s = max(0, others - LIMIT) * WINDOW / LIMIT
    return search_s + other_s


def webhook_figure(sandbox, config, *, settle: bool) -> str:
    """` webhook_p95_s=<x>`: a HubSpot contact changed in the emulator until the hub's record
    holds it (delivery, the receiver, the queued task, the run reading it by id), one change at
    a time, 50 of them (5 small), with a Celery worker taking the tasks (bench/_webhooks.py)."""
    from _webhooks import contact_latency, p95

    # Measured once the bulk runs' ten-second window has passed (`settle`: their calls used the
    # whole budget, and a change right after them would wait for it like any call; the figure is
    # the steady-state latency, the bulk runs' own pacing is the wall figure above).
    if settle:
        time.sleep(WINDOW)
    seconds = contact_latency(sandbox, config, changes=max(5, scaled(50)))
    figure = p95(seconds)
    print("    each change, s: " + " ".join(f"{s:.2f}" for s in seconds))
    print(
        f"Webhook to synced: p95 {figure:.2f} s, median {sorted(seconds)[len(seconds) // 2]:.2f} s, "
        f"max {max(seconds):.2f} s over {len(seconds)} "
        f"changes (target ≤ {TARGETS['webhook_p95_s']} s)"
    )
    return f" webhook_p95_s={figure:.2f}"


def main() -> None:
    os.environ.setdefault("HUBSPOT_RATE_LIMIT", f"{LIMIT}/{WINDOW}")
    began_all = time.monotonic()
    fresh_database("crm-sync-hubspot")
    from django.utils import timezone

    from config.celery import app
    from crm.models import CrmConfig
    from integrations.accounts import services as accounts
    from integrations.accounts.models import User
    from integrations.sandbox.client import SandboxClient
    from tests.integrations.helpers import connect

    def step(text: str) -> None:
        print(f"[{time.monotonic() - began_all:6.1f} s] {text}")

    step("A fresh database migrated; starting the HubSpot emulator...")
    app.conf.task_always_eager = True
    server = start_sandbox(["hubspot"])
    sandbox = SandboxClient(server)
    sandbox.set_limit("hubspot", LIMIT, WINDOW)
    if SEARCH_DELAY < 2:
        sandbox.control("hubspot", "PUT", "config", {"search_delay": SEARCH_DELAY})
    crm = hubspot(sandbox)
    entities = [
        Entity("account", "companies", "phone", "city", "description", shipped("account")),
        Entity("contact", "contacts", "phone", "jobtitle", "firstname", shipped("contact")),
    ]
    companies, contacts = entities

    step(f"Seeding HubSpot with {RECORDS} companies and {RECORDS} contacts...")
    sandbox.advance_clock("hubspot", -DAY)
    for entity in entities:
        seeded = [r["id"] for r in sandbox.hubspot_rows(entity.kind) if not r["archived"]]
        more = generated(entity.kind, max(0, RECORDS - len(seeded)))
        for start in range(0, len(more), 2_500):
            chunk = more[start : start + 2_500]
            body = {"type": entity.kind, "records": chunk}
            if entity is contacts:
                ids = companies.ids
                body["primary"] = [ids[(start + n) % len(ids)] for n in range(len(chunk))]
            sandbox.hubspot_records(**body)
        rows = [r for r in sandbox.hubspot_rows(entity.kind) if not r["archived"]]
        entity.rows = sorted(rows, key=lambda r: int(r["id"]))
        entity.ids = [r["id"] for r in entity.rows]
    sandbox.control("hubspot", "POST", "clock", {"real": True})

    user = User.objects.create_user(email="bench@example.com", password=None)
    workspace = accounts.workspace_create(name="Bench", creator=user)
    connection = connect(sandbox, user=user, workspace=workspace, provider="hubspot")
    config = CrmConfig.objects.create(
        workspace=workspace,
        provider="hubspot",
        connection=connection,
        entities=["account", "contact"],
    )
    step("Making the hub's records and their links...")
    link_hub_records(
        entities, workspace, config, crm=crm, a_day_ago=timezone.now() - timedelta(days=1)
    )

    step("A first run per object (not counted): it must find nothing to do...")
    first_runs_find_nothing(entities, config)

    step("Changing half of the records on each side, 2 % on the same field on both...")
    edit_both_sides(entities, crm=crm)
    time.sleep(SEARCH_DELAY + 0.5)  # until search shows the edits

    step("Timing conflict detection (the planner alone)...")
    conflict_us = planner_figure(entities, config, crm=crm)

    searches = others = 0

    def floor(reads: int, writes: int) -> tuple[int, str]:
        least = math.ceil(reads / SEARCH_PAGE) + math.ceil(writes / BATCH)
        return least, f"ceil({reads}/{SEARCH_PAGE}) reads + ceil({writes}/{BATCH}) writes"

    def seen(calls: dict, began_at: float) -> None:
        nonlocal searches, others
        for endpoint, count in calls["by_endpoint"].items():
            if endpoint.endswith("/search"):
                searches += count
            else:
                others += count
        phases(calls["log"], began_at)

    calls_total, floor_total, wall = timed_runs(
        entities, config, sandbox, step, crm=crm, provider="hubspot", floor=floor, seen=seen
    )

    step("Checking both sides...")
    records = both_sides_checked(entities, server, crm=crm)
    ratio = calls_total / floor_total
    floor_s = wall_floor(searches, others)
    wall_ratio = wall / floor_s if floor_s else 0.0
    print(
        f"Calls {calls_total} against a floor of {floor_total}: {ratio:.3f} x "
        f"(target ≤ {TARGETS['calls_ratio']}); wall {wall:.1f} s against a floor of "
        f"{floor_s:.1f} s ({searches} searches at {SEARCHES_PER_SECOND}/s, {others} other "
        f"requests at {LIMIT}/{WINDOW} s); conflict detection {conflict_us:.2f} µs per record "
        f"(target ≤ {TARGETS['conflict_us_per_record']})"
    )
    step("Timing changes announced by webhook until they are in the hub...")
    webhook = webhook_figure(sandbox, config, settle=calls_total > LIMIT)
    server.stop()
    print(
        f"RESULT calls={calls_total} floor={floor_total} calls_ratio={ratio:.3f} "
        f"wall_s={wall:.1f} wall_floor_s={floor_s:.1f} wall_ratio={wall_ratio:.2f} "
        f"conflict_us_per_record={conflict_us:.2f} records={records}{webhook}"
    )


def phases(log: list[dict], began_at: float) -> None:
    """When the reads (searches, then the archived list) and the writes ran, from the call log:
    which budget the run's wall went to."""
    reads = [c for c in log if c["endpoint"].endswith("/search") or c["endpoint"][:4] == "GET "]
    writes = [c for c in log if c not in reads]
    for name, calls in (("reads", reads), ("writes", writes)):
        if calls:
            first = calls[0]["t"] - began_at
            last = calls[-1]["t"] + calls[-1]["ms"] / 1000 - began_at
            print(f"    {name}: {len(calls)} calls from +{first:.2f} s to +{last:.2f} s")


def hubspot(sandbox) -> Crm:
    """The bench's HubSpot side for the shared steps (bench/_crm_common.py): its rows as the
    emulator holds them now."""
    from django.utils.dateparse import parse_datetime

    remote_of: dict[int, str] = {}  # hub company id → its HubSpot id

    def hub_values(entity: Entity, record) -> dict:
        values = {crm: plain(getattr(record, hub)) for hub, crm in entity.renames.items()}
        if entity.name == "contact":
            values["associatedcompanyid"] = remote_of.get(record.account_id)
        return {name: values.get(name) for name in entity.fields}

    def rows(entity: Entity, *, changed_only: bool) -> dict:
        return {
            r["id"]: (
                {name: plain(r["properties"].get(name)) for name in entity.fields},
                parse_datetime(r["updatedAt"]),
            )
            for r in sandbox.hubspot_rows(entity.kind)
            if not r["archived"]
        }

    def edit(entity: Entity, edits: list[dict]) -> None:
        sandbox.control("hubspot", "PATCH", "records", {"type": entity.kind, "records": edits})

    return Crm(
        label="HubSpot",
        mark="HS",
        natural={"account": ("name", "domain"), "contact": ("email",)},
        hub_values=hub_values,
        rows=rows,
        edit=edit,
        id_key="id",
        account_key="associatedcompanyid",
        properties=lambda row: row["properties"],
        remote_of=remote_of,
    )
