"""The CRM sync at the issue's scale: 10,000 accounts and 10,000 contacts (each contact with its
account) linked between the hub and Salesforce (the emulator, over TLS through simple-salesforce
and the platform's one client), then half of the records changed on each side and one sync run
per object, the queued run of `crm.services.sync_request` executed in this process.

The starting point is "after a first sync", built in bulk rather than synced: a first sync would
create 20,000 records one side at a time, which is not what is measured and costs minutes. The
org is seeded through the emulator's control plane (its reset rows, 150 accounts and 300
contacts, and generated ones up to the sizes; their modstamps a day old), the hub's records are
made from those rows with bulk_create (a contact's account is the hub account linked to its
AccountId), and each pair gets its CrmLink with the base the sync keeps: every mapped field's
value, text trimmed and empty as null. Then a first run per object is made and not counted:
it must find nothing to do (else the seeded bases are not what the sync would have kept, and the
bench stops), and it leaves whatever a run leaves behind (its cursors).

The changes, record i of each object in Id order (every record changes on one side at least):
  even i   changed in the hub       account Phone, contact Phone
  odd i    changed in Salesforce    account BillingCity, contact Title
  i % 50 = 0 (2 %, all even)        also the same field on both sides (account Description,
                                    contact FirstName): i % 100 = 0 last written in the hub,
                                    i % 100 = 50 last written in Salesforce
The edits are made in that time order (the hub edits of Salesforce's winners, then every
Salesforce edit, then the other hub edits), so last write wins (the config's default) settles
each conflict one known way.

Call floor per object, from the API's rules: ceil(reads / 2,000) (a query page holds 2,000 rows;
reads are the records Salesforce must return, the ones changed there, with an incremental read)
+ ceil(writes / 200) (an sObject Collections update takes 200; writes are the records whose hub
changes must reach Salesforce) + 1 describe. Counts come from the emulator's control plane.

Conflict detection is the planner's `plan()` alone, timed here on the inputs an incremental run
gives it (every link with its base, the hub records changed, the Salesforce records changed),
best of three, per record planned.

After the runs both sides must hold the expected values (each one-side change arrived, each
conflict settled by last write wins): a mismatch prints FAILED and exits non-zero.

Last line: RESULT calls=<n> floor=<n> calls_ratio=<x> wall_s=<x> conflict_us_per_record=<x>
records=<n>

`--provider hubspot`: the same against the HubSpot emulator and HubSpot's floor (bench/
_crm_hubspot.py says how), with wall_floor_s and wall_ratio on its last line.
"""

import functools
import json
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

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
from _setup import ROOT, fresh_database, scaled, start_sandbox

RECORDS = scaled(10_000)  # per object
PAGE = 2_000  # rows in one query answer
COLLECTION = 200  # records in one sObject Collections call
DAY = 86_400
TARGETS = {"calls_ratio": 1.05, "conflict_us_per_record": 1_000, "wall_s": 60}


@dataclass(frozen=True)
class Change:
    hub: str  # the field (CRM name) the hub edits on even records
    crm: str  # the field Salesforce edits on odd records
    both: str  # the field both edit on every 50th record


@dataclass
class Entity:
    name: str  # the config's entity
    sobject: str
    change: Change
    rows: list = field(default_factory=list)  # Salesforce's rows, in Id order
    hub_ids: list = field(default_factory=list)  # the hub record of each row
    expected: list = field(default_factory=list)  # each record's mapped values after the run
    hub_changed: set = field(default_factory=set)  # indexes
    crm_changed: set = field(default_factory=set)

    @property
    def renames(self) -> dict:
        """hub field → CRM field of the shipped mapping set's plain renames."""
        return {
            row["source"]: row["target"]
            for row in mapping_fields(self.name)
            if row["transform"] == "rename" and row["direction"] != "none"
        }

    @property
    def fields(self) -> list:
        return [row["target"] for row in mapping_fields(self.name) if row["direction"] != "none"]

    @property
    def hub(self) -> str:
        return self.change.hub

    @property
    def crm(self) -> str:
        return self.change.crm

    @property
    def both(self) -> str:
        return self.change.both

    @property
    def remote_ids(self) -> list[str]:
        return [row["Id"] for row in self.rows]


ENTITIES = [
    Entity("account", "Account", Change(hub="Phone", crm="BillingCity", both="Description")),
    Entity("contact", "Contact", Change(hub="Phone", crm="Title", both="FirstName")),
]


@functools.cache
def mapping_fields(entity: str) -> list[dict]:
    """The shipped mapping set's fields (the one a config starts with)."""
    path = ROOT / "crm" / "mapping" / f"salesforce-{entity}.json"
    return json.loads(Path(path).read_text())["fields"]


def generated(sobject: str, start: int, count: int, accounts: list[str]) -> list[dict]:
    """Rows past the org's own, made without Faker (about a millisecond a row: 20,000 would
    take longer than the sync that is measured)."""
    cities = ["Boston", "Denver", "Austin", "Seattle", "Chicago", "Atlanta", "Portland"]
    rows = []
    for n in range(start, start + count):
        if sobject == "Account":
            rows.append(
                {
                    "Name": f"Bench Account {n:05d} Inc.",
                    "Website": f"https://www.bench{n}.example.com",
                    "Industry": ["Construction", "Engineering", "Retail", "Energy"][n % 4],
                    "Phone": f"(555) {n // 10_000:03d}-{n % 10_000:04d}",
                    "BillingStreet": f"{100 + n % 900} Main St",
                    "BillingCity": cities[n % len(cities)],
                    "BillingState": "CA",
                    "BillingPostalCode": f"{90_000 + n % 9_999:05d}",
                    "BillingCountry": "United States",
                    "Description": f"Customer since {2000 + n % 25}",
                }
            )
        else:
            rows.append(
                {
                    "FirstName": ["Ada", "Grace", "Alan", "Edsger", "Barbara"][n % 5],
                    "LastName": f"Benchley{n:05d}",
                    "Email": f"contact{n}@bench{n % 997}.example.com",
                    "Phone": f"(555) {n // 10_000:03d}-{n % 10_000:04d}",
                    "Title": ["Buyer", "Engineer", "Director", "Estimator"][n % 4],
                    "AccountId": accounts[n % len(accounts)] if accounts else None,
                }
            )
    return rows


def main() -> None:
    began_all = time.monotonic()
    fresh_database("crm-sync")
    from django.utils import timezone

    from config.celery import app
    from crm.models import CrmConfig
    from integrations.accounts import services as accounts
    from integrations.accounts.models import User
    from integrations.sandbox.client import SandboxClient
    from tests.integrations.helpers import connect

    def step(text: str) -> None:
        print(f"[{time.monotonic() - began_all:6.1f} s] {text}")

    step("A fresh database migrated; starting the Salesforce emulator...")
    app.conf.task_always_eager = True  # the worker's task, run here
    server = start_sandbox(["salesforce"])
    sandbox = SandboxClient(server)
    crm = salesforce(sandbox)

    # --- Salesforce: the org's rows and generated ones, their modstamps a day old ------------------
    step(f"Seeding Salesforce with {RECORDS} accounts and {RECORDS} contacts...")
    sandbox.advance_clock("salesforce", -DAY)
    by_object = {e.sobject: e for e in ENTITIES}
    for entity in ENTITIES:
        have = sandbox.control("salesforce", "GET", f"records?sobject={entity.sobject}")
        live = [r for r in have["records"] if not r["IsDeleted"]]
        account_ids = [r["Id"] for r in by_object["Account"].rows]
        more = generated(entity.sobject, len(live), max(0, RECORDS - len(live)), account_ids)
        for start in range(0, len(more), 5_000):
            sandbox.salesforce_records(sobject=entity.sobject, records=more[start : start + 5_000])
        entity.rows = live_rows(sandbox, entity)
    sandbox.control("salesforce", "POST", "clock", {"real": True})

    # --- the hub: a workspace, its connection, the config, and the same records, linked ----------
    user = User.objects.create_user(email="bench@example.com", password=None)
    workspace = accounts.workspace_create(name="Bench", creator=user)
    connection = connect(sandbox, user=user, workspace=workspace, provider="salesforce")
    config = CrmConfig.objects.create(
        workspace=workspace,
        provider="salesforce",
        connection=connection,
        entities=[e.name for e in ENTITIES],
    )
    step("Making the hub's records and their links...")
    link_hub_records(
        ENTITIES, workspace, config, crm=crm, a_day_ago=timezone.now() - timedelta(days=1)
    )

    step("A first run per object (not counted): it must find nothing to do...")
    first_runs_find_nothing(ENTITIES, config)

    # --- the changes ------------------------------------------------------------------------------
    step("Changing half of the records on each side, 2 % on the same field on both...")
    edit_both_sides(ENTITIES, crm=crm)
    for entity in ENTITIES:  # the planner's inputs: Salesforce's rows as the edits left them
        entity.rows = live_rows(sandbox, entity)

    # --- the planner alone, on an incremental run's inputs -------------------------------------
    step("Timing conflict detection (the planner alone)...")
    conflict_us = planner_figure(ENTITIES, config, crm=crm)

    # --- the timed runs ---------------------------------------------------------------------------
    def floor(reads: int, writes: int) -> tuple[int, str]:
        least = math.ceil(reads / PAGE) + math.ceil(writes / COLLECTION) + 1
        how = f"ceil({reads}/{PAGE}) reads + ceil({writes}/{COLLECTION}) writes + 1 describe"
        return least, how

    calls_total, floor_total, wall = timed_runs(
        ENTITIES, config, sandbox, step, crm=crm, provider="salesforce", floor=floor
    )

    # --- both sides as expected -------------------------------------------------------------------
    step("Checking both sides...")
    records = both_sides_checked(ENTITIES, server, crm=crm)
    ratio = calls_total / floor_total
    print(
        f"Calls {calls_total} against a floor of {floor_total}: {ratio:.3f} x "
        f"(target ≤ {TARGETS['calls_ratio']}); wall {wall:.1f} s (target < {TARGETS['wall_s']} s); "
        f"conflict detection {conflict_us:.2f} µs per record "
        f"(target ≤ {TARGETS['conflict_us_per_record']})"
    )
    server.stop()
    print(
        f"RESULT calls={calls_total} floor={floor_total} calls_ratio={ratio:.3f} "
        f"wall_s={wall:.1f} conflict_us_per_record={conflict_us:.2f} records={records}"
    )


def live_rows(sandbox, entity: Entity) -> list[dict]:
    """The org's live rows of the entity's object, in Id order (the control plane's read)."""
    rows = sandbox.control("salesforce", "GET", f"records?sobject={entity.sobject}")["records"]
    return sorted((r for r in rows if not r["IsDeleted"]), key=lambda r: r["Id"])


def salesforce(sandbox) -> Crm:
    """The bench's Salesforce side for the shared steps (bench/_crm_common.py): an incremental
    run's reads are the bench's own copy of the changed rows; a comparison reads the org."""
    from django.utils.dateparse import parse_datetime

    remote_of: dict[int, str] = {}  # hub account id → its Salesforce id

    def hub_values(entity: Entity, record) -> dict:
        """A hub record in the CRM's names, as the sync compares it (a contact's account,
        should the mapping carry AccountId, as its linked Salesforce id)."""
        values = {crm: plain(getattr(record, hub)) for hub, crm in entity.renames.items()}
        if "AccountId" in entity.fields and "AccountId" not in values:
            values["AccountId"] = remote_of.get(record.account_id)
        return {name: values.get(name) for name in entity.fields}

    def rows(entity: Entity, *, changed_only: bool) -> dict:
        found = entity.rows if changed_only else live_rows(sandbox, entity)
        return {
            r["Id"]: (
                {name: plain(r.get(name)) for name in entity.fields},
                parse_datetime(r["LastModifiedDate"]) if r.get("LastModifiedDate") else None,
            )
            for r in found
        }

    def edit(entity: Entity, edits: list[dict]) -> None:
        sandbox.control("salesforce", "PATCH", "records", {"records": edits})

    return Crm(
        label="Salesforce",
        mark="SF",
        natural={"account": ("Name",), "contact": ("Email",)},
        hub_values=hub_values,
        rows=rows,
        edit=edit,
        id_key="Id",
        account_key="AccountId",
        remote_of=remote_of,
    )


def chosen_provider(argv: list[str]) -> str:
    if argv in ([], ["--provider", "salesforce"]):
        return "salesforce"
    if argv == ["--provider", "hubspot"]:
        return "hubspot"
    raise SystemExit("usage: bench/crm_sync.py [--provider salesforce|hubspot]")


if __name__ == "__main__":
    if chosen_provider(sys.argv[1:]) == "hubspot":
        import _crm_hubspot

        sys.exit(_crm_hubspot.main())
    sys.exit(main())
