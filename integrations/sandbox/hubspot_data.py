"""HubSpot's CRM data API for the HubSpot emulator: companies and contacts (v3 objects: basic,
batch, search), associations v4 (contact -> company) and the properties API.

Served: `GET/POST /crm/v3/objects/{type}` (list with `limit` <= 100, `after`, `properties`,
`archived`; create), `GET/PATCH/DELETE /crm/v3/objects/{type}/{id}`, `POST .../batch/{read,
create,update,archive}` (at most 100 inputs: 400 past it; per-record failures in a 207
multi-status answer with `errors` and `numErrors`), `POST .../search` (filterGroups ORed, their
filters ANDed, at most 5 groups, 6 filters a group, 18 in all; one sort; `limit` <= 200; an
`after` offset; `total`; no page past the 10,000th result: 400), associations v4 (default and
typed PUT, GET, batch create / read) and `GET /crm/v3/properties/{type}`. Properties are
strings; `hs_object_id`, `createdate` and the last-modified property (`lastmodifieddate` on
contacts, `hs_lastmodifieddate` on companies) are HubSpot's, read-only. A write becomes
searchable only `search_delay` seconds (config, emulator clock) after it; searches are limited
to 5 a second per account with HubSpot's SECONDLY 429 and are outside the ten-secondly limit.

Every write, archive and association made announces itself to the webhooks half
(hubspot_webhooks.py): creation / propertyChange / deletion / associationChange events, with
changeSource INTEGRATION for an app's API calls and CRM_UI for the control plane's edits (a
person's, choice); seeding announces nothing.

The control plane adds `/_sandbox/records` (POST: seed N companies / contacts or given ones;
GET ?type=: every row as stored; PATCH: many rows edited in one call) and
`/_sandbox/records/{type}/{id}` (GET, PATCH as another user, DELETE: archive).

# Reference: ../shared/providers/hubspot.md "CRM v3 objects", "Associations v4", "Rate limits".
# HubSpot/HubSpot-public-api-spec-collection (facts only, its licence keeps it out of here):
# - PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json and
#   PublicApiSpecs/CRM/Companies/Rollouts/424/v3/companies.json: list `limit` default 10,
#   `properties` comma separated (unknown names ignored), `archived`; SimplePublicObject
#   (required createdAt, id, properties, updatedAt; properties' values strings or null);
#   BatchResponseSimplePublicObject (required completedAt, results, startedAt, status; errors[]
#   of StandardError, numErrors); batch archive and DELETE answer 204 with no content;
#   PublicObjectSearchRequest (limit "up to 200"), Filter operators EQ NEQ LT LTE GT GTE
#   BETWEEN IN NOT_IN HAS_PROPERTY NOT_HAS_PROPERTY CONTAINS_TOKEN NOT_CONTAINS_TOKEN, with
#   value / values / highValue; NextPage requires `after`.
# - PublicApiSpecs/CRM/Associations/Rollouts/130902/v4/associations.json: the default PUT
#   answers BatchResponsePublicDefaultAssociation (results of {from, to, associationSpec});
#   reads answer MultiAssociatedObjectWithLabel {toObjectId, associationTypes [{category,
#   typeId, label}]}.
# - developers.hubspot.com/docs/api-reference/search/guide "Limitations": "It may take a few
#   moments for newly created or updated CRM objects to appear in search results"; 5 requests
#   per second per account; 10,000 results per query (paging past it: 400); 200 per page; up
#   to five filterGroups with up to 6 filters each, 18 filters in all; one sort.
# - developers.hubspot.com/docs/api-reference/crm-contacts-v3/guide: a contact's email is
#   unique (a duplicate create: 409 CONFLICT "Contact already exists. Existing ID: N").
"""

import fnmatch
import functools
import json
import random
from datetime import UTC, datetime

from faker import Faker
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.contracts.hubspot import FILTER_OPERATORS

OBJECT_TYPES = ("companies", "contacts")
LIST_MAX = 100
BATCH_MAX = 100
SEARCH_MAX = 200
SEARCH_CAP = 10_000
SEARCH_GROUPS, SEARCH_GROUP_FILTERS, SEARCH_FILTERS = 5, 6, 18
SEARCH_PER_SECOND = 5
DEFAULT_SEARCH_DELAY = 2.0  # seconds of the emulator's clock; config `search_delay`
# The search operators the published spec lists (its Filter schema), as the contract checks
# hold requests to them.
OPERATORS = FILTER_OPERATORS
MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate"}
# Reference: associations v4 guide (../shared/providers/hubspot.md "Associations v4").
CONTACT_TO_COMPANY, CONTACT_TO_PRIMARY_COMPANY = 279, 1
COMPANY_TO_CONTACT, COMPANY_TO_PRIMARY_CONTACT = 280, 2
SINGULAR = {"contacts": "contact", "companies": "company"}
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2"}
INDUSTRIES = [
    "ACCOUNTING",
    "COMPUTER_SOFTWARE",
    "CONSTRUCTION",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "MARKETING_AND_ADVERTISING",
    "RETAIL",
    "TELECOMMUNICATIONS",
    "TRANSPORTATION_TRUCKING_RAILROAD",
]
LIFECYCLE = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
]


def _prop(name, label, type_="string", field="text", *, read_only=False, options=()):
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field,
        "description": "",
        "groupName": "companyinformation" if name in _COMPANY_NAMES else "contactinformation",
        "options": [
            {"label": o.replace("_", " ").title(), "value": o, "displayOrder": i, "hidden": False}
            for i, o in enumerate(options)
        ],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": name in ("email", "hs_object_id"),
        "hidden": False,
        "hubspotDefined": True,
        "formField": not read_only,
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": read_only,
        },
    }


_COMPANY_NAMES = {
    "name",
    "address",
    "zip",
    "domain",
    "phone",
    "city",
    "state",
    "country",
    "industry",
    "numberofemployees",
    "annualrevenue",
    "description",
    "website",
    "hs_lastmodifieddate",
}


def _system(modified: str) -> list[dict]:
    return [
        _prop("createdate", "Create Date", "datetime", "date", read_only=True),
        _prop(modified, "Last Modified Date", "datetime", "date", read_only=True),
        _prop("hs_object_id", "Record ID", "number", "number", read_only=True),
    ]


SCHEMA = {
    "companies": [
        _prop("name", "Company name"),
        _prop("domain", "Company Domain Name"),
        _prop("website", "Website URL"),
        _prop("phone", "Phone Number", field="phonenumber"),
        _prop("address", "Street Address"),
        _prop("city", "City"),
        _prop("state", "State/Region"),
        _prop("zip", "Postal Code"),
        _prop("country", "Country/Region"),
        _prop("industry", "Industry", "enumeration", "select", options=INDUSTRIES),
        _prop("numberofemployees", "Number of Employees", "number", "number"),
        _prop("annualrevenue", "Annual Revenue", "number", "number"),
        _prop("description", "Description", field="textarea"),
        *_system("hs_lastmodifieddate"),
    ],
    "contacts": [
        _prop("email", "Email"),
        _prop("firstname", "First Name"),
        _prop("lastname", "Last Name"),
        _prop("phone", "Phone Number", field="phonenumber"),
        _prop("jobtitle", "Job Title"),
        _prop("company", "Company Name"),
        _prop("city", "City"),
        _prop("country", "Country/Region"),
        _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=LIFECYCLE),
        _prop(
            "associatedcompanyid",
            "Primary Associated Company ID",
            "number",
            "number",
            read_only=True,
        ),
        *_system("lastmodifieddate"),
    ],
}
PROPS = {kind: {p["name"]: p for p in props} for kind, props in SCHEMA.items()}
# Answered when a read names no properties (HubSpot's defaults for these objects).
DEFAULTS = {
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
}


class HubSpotObject(Convertor):
    """companies / contacts (v3 paths): other object types stay unrouted (404)."""

    regex = "companies|contacts"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class HubSpotAssociable(Convertor):
    """An object type as v4 paths take it: plural, singular or its type id."""

    regex = "contacts|contact|0-1|companies|company|0-2"

    def convert(self, value: str) -> str:
        aliases = {"contact": "contacts", "0-1": "contacts", "company": "companies"}
        return aliases.get(value, "companies" if value == "0-2" else value)

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("hsobject", HubSpotObject())
register_url_convertor("hsassoc", HubSpotAssociable())


def iso(epoch: float) -> str:
    """HubSpot's timestamps: ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_ms(value) -> float | None:
    """A date filter's or a property's value as epoch milliseconds (digits or ISO 8601)."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.lstrip("-").isdigit():
        return float(text)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


@functools.cache
def _pool(seed: int) -> dict:
    """Realistic values, made once per seed (Faker is slow; every test resets the emulators):
    rows are then combined from these pools, so seeding thousands of rows stays cheap."""
    fake = Faker()
    fake.seed_instance(seed + 101)
    return {
        "company": [fake.company() for _ in range(120)],
        "domain": [fake.domain_word() for _ in range(120)],
        "city": [fake.city() for _ in range(60)],
        "state": [fake.state_abbr() for _ in range(30)],
        "phone": [fake.numerify("+1 ###-###-####") for _ in range(120)],
        "phrase": [fake.catch_phrase() for _ in range(60)],
        "first": [fake.first_name() for _ in range(150)],
        "last": [fake.last_name() for _ in range(150)],
        "job": [fake.job()[:60] for _ in range(60)],
    }


def _generated(seed: int, index: int, kind: str, rng) -> tuple[dict, float, float]:
    """One seeded row's properties, days ago created, share of the time since at its change."""
    pool = _pool(seed)

    def pick(name):
        values = pool[name]
        return values[rng.randrange(len(values))]

    created, share = rng.uniform(1, 60), rng.random()
    if kind == "companies":
        company, word = pick("company"), pick("domain")
        domain = f"{word}{index}.com"
        return (
            {
                "name": company,
                "domain": domain,
                "website": f"https://www.{domain}",
                "phone": pick("phone"),
                "city": pick("city"),
                "state": pick("state"),
                "country": "United States",
                "industry": rng.choice(INDUSTRIES),
                "numberofemployees": str(rng.randrange(5, 20_000)),
                "annualrevenue": str(rng.randrange(100_000, 50_000_000, 1000)),
                "description": pick("phrase"),
            },
            created,
            share,
        )
    first, last = pick("first"), pick("last")
    return (
        {
            "email": f"{first}.{last}.{seed}-{index}@{pick('domain')}.com".lower(),
            "firstname": first,
            "lastname": last,
            "phone": pick("phone"),
            "jobtitle": pick("job"),
            "city": pick("city"),
            "country": "United States",
            "lifecyclestage": rng.choice(LIFECYCLE),
        },
        created,
        share,
    )


def _stored(value) -> str | None:
    """A written value as HubSpot keeps it: a string; an empty string clears it."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class HubSpotData:
    """The CRM half of HubSpotEmulator (mixed in; uses its state, clock, `api_error` and
    `authenticated`)."""

    # --- state -----------------------------------------------------------------------------------

    def crm_state(self, seed: int, companies: int, contacts: int) -> dict:
        state = {"crm": {kind: {} for kind in OBJECT_TYPES}, "next_id": 1001, "assoc": {}}
        self._seed_into(state, seed, companies, contacts)
        return state

    def _seed_into(self, state: dict, seed: int, companies: int, contacts: int) -> dict:
        """Realistic rows, the same for the same seed: created over the last 60 days, changed
        since; a contact is associated with one of the companies seeded with it (primary).
        Seeded rows are searchable at once. Answers the new ids by type."""
        rng = random.Random(seed * 7919 + companies * 31 + contacts)
        now = self.clock.time()
        made = {kind: [] for kind in OBJECT_TYPES}
        for kind, count in (("companies", companies), ("contacts", contacts)):
            start = len(state["crm"][kind])
            for i in range(count):
                props, days, share = _generated(seed, start + i, kind, rng)
                created = now - days * 86_400
                modified = created + (now - created) * share
                record = self._new_record(state, kind, props, created, modified)
                record["indexed"] = self._snapshot(record, 0)
                made[kind].append(record["id"])
        companies_pool = made["companies"] or [
            i for i, r in state["crm"]["companies"].items() if not r["archived"]
        ]
        for contact in made["contacts"]:
            if companies_pool:
                company = companies_pool[rng.randrange(len(companies_pool))]
                name = state["crm"]["companies"][company]["properties"]["name"]
                state["crm"]["contacts"][contact]["properties"]["company"] = name
                self._associate(
                    state, contact, company, [CONTACT_TO_PRIMARY_COMPANY, CONTACT_TO_COMPANY]
                )  # sets associatedcompanyid; the record is indexed just below
                record = state["crm"]["contacts"][contact]
                record["indexed"] = self._snapshot(record, 0)
        return made

    def _new_record(self, state, kind, props, created: float, modified: float) -> dict:
        record_id = str(state["next_id"])
        state["next_id"] += 1
        properties = dict.fromkeys(PROPS[kind])
        properties.update(props)
        properties.update(
            hs_object_id=record_id, createdate=iso(created), **{MODIFIED[kind]: iso(modified)}
        )
        record = {
            "id": record_id,
            "properties": properties,
            "createdAt": iso(created),
            "updatedAt": iso(modified),
            "archived": False,
            "archivedAt": None,
            "indexed": None,  # what search sees, and from when
            "pending": None,  # a write search does not see yet
        }
        state["crm"][kind][record_id] = record
        state["search_version"] = state.get("search_version", 0) + 1
        return record

    @staticmethod
    def _snapshot(record: dict, at: float) -> dict:
        return {
            "at": at,
            "properties": dict(record["properties"]),
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": record["archived"],
        }

    def _reindex(self, record: dict) -> None:
        """After a write: search sees it `search_delay` seconds of the clock later."""
        delay = float(self.config.get("search_delay", DEFAULT_SEARCH_DELAY))
        now = self.clock.time()
        snapshot = self._snapshot(record, now + delay)
        if delay <= 0:
            record["indexed"], record["pending"] = snapshot, None
        else:
            record["pending"] = snapshot
        self._search_changed()

    def _search_changed(self) -> None:
        """What search sees changed: its remembered matches are stale."""
        self.state["search_version"] = self.state.get("search_version", 0) + 1

    def _searchable(self, record: dict, now: float) -> dict | None:
        pending = record["pending"]
        if pending and pending["at"] <= now:
            record["indexed"], record["pending"] = pending, None
            self._search_changed()
        indexed = record["indexed"]
        return indexed if indexed and not indexed["archived"] else None

    def _search_matches(self, kind: str, groups: list, query: str, sort: dict) -> list:
        """The (record, view) pairs a search matches, in its order. Remembered while nothing
        search sees changes and no write waits to become searchable: paging through a query
        (50 pages to reach 10,000 results) then scans the records once, not once a page."""
        key = json.dumps([kind, groups, query, sort], sort_keys=True, default=str)
        remembered = self.state.setdefault("search_cache", {})
        hit = remembered.get(key)
        if hit is not None and hit[0] == self.state.get("search_version", 0):
            return hit[1]
        now = self.clock.time()
        seen, waiting = [], False
        for record in self._store(kind).values():
            view = self._searchable(record, now)
            waiting = waiting or record["pending"] is not None
            if view is not None and self._matches(kind, view["properties"], groups):
                seen.append((record, view))
        if query:
            seen = [
                (r, v)
                for r, v in seen
                if any(query in str(value or "").lower() for value in v["properties"].values())
            ]
        prop = sort.get("propertyName", "hs_object_id")
        spec = PROPS[kind].get(prop, {"type": "string"})
        seen.sort(
            key=lambda rv: (self._sort_key(spec, rv[1]["properties"].get(prop)), int(rv[0]["id"])),
            reverse=sort.get("direction") == "DESCENDING",
        )
        if not waiting:
            if len(remembered) > 16:
                remembered.clear()
            remembered[key] = (self.state.get("search_version", 0), seen)
        return seen

    @staticmethod
    def _associate(state, contact: str, company: str, types: list[int]) -> bool:
        """Store the pair's types. A contact has one primary company: a new primary one takes
        the label from the old (which stays associated, unlabeled), and the contact's read-only
        `associatedcompanyid` follows it. Answers whether that property changed."""
        links = state["assoc"].setdefault(contact, {})
        if CONTACT_TO_PRIMARY_COMPANY in types:
            for other, held in links.items():
                if other != company and CONTACT_TO_PRIMARY_COMPANY in held:
                    held.remove(CONTACT_TO_PRIMARY_COMPANY)
        held = links.setdefault(company, [])
        for type_id in types:
            if type_id not in held:
                held.append(type_id)
        return HubSpotData._primary_changed(state, contact)

    @staticmethod
    def _primary_changed(state, contact: str) -> bool:
        record = state["crm"]["contacts"].get(contact)
        if record is None:
            return False
        primary = next(
            (c for c, held in state["assoc"].get(contact, {}).items() if 1 in held), None
        )
        if record["properties"].get("associatedcompanyid") == primary:
            return False
        record["properties"]["associatedcompanyid"] = primary
        return True

    def _link(self, contact: str, company: str, types: list[int]) -> None:
        """An association made through the API: a change of the contact's primary company is
        a change of its `associatedcompanyid`, so its last-modified stamp moves and search
        sees it (after the usual delay)."""
        if self._associate(self.state, contact, company, types):
            self._touched("contacts", contact)
        self.webhook_associated(contact, company, primary=CONTACT_TO_PRIMARY_COMPANY in types)

    def _unlink(self, contact: str, company: str) -> None:
        """Every association of the pair removed (v4 batch archive)."""
        links = self.state["assoc"].get(contact, {})
        held = links.pop(company, None)
        if held is not None and self._primary_changed(self.state, contact):
            self._touched("contacts", contact)
        if held is not None:
            self.webhook_associated(
                contact, company, primary=CONTACT_TO_PRIMARY_COMPANY in held, removed=True
            )

    def _touched(self, kind: str, record_id: str) -> None:
        # Reference: HubSpot's lastmodifieddate property ("Most recent timestamp of any
        # property update for this contact"), FACTS.md §12.
        record = self._store(kind)[record_id]
        now = iso(self.clock.time())
        record["properties"][MODIFIED[kind]] = now
        record["updatedAt"] = now
        self._reindex(record)
        self.dirty = True

    # --- helpers ---------------------------------------------------------------------------------

    def _store(self, kind: str) -> dict:
        return self.state["crm"][kind]

    def _live(self, kind: str, record_id) -> dict | None:
        record = self._store(kind).get(str(record_id))
        return record if record and not record["archived"] else None

    @staticmethod
    def _wanted(kind: str, names) -> list[str]:
        if not names:
            return list(DEFAULTS[kind])
        return [n for n in names if n in PROPS[kind]]  # unknown names are ignored

    @staticmethod
    def _shape(kind: str, record: dict, names: list[str], source: dict | None = None) -> dict:
        source = source or record
        out = {
            "id": record["id"],
            "properties": {n: source["properties"].get(n) for n in names},
            "createdAt": source["createdAt"],
            "updatedAt": source["updatedAt"],
            "archived": source["archived"],
        }
        if record["archived"] and record["archivedAt"]:
            out["archivedAt"] = record["archivedAt"]
        return out

    def _validation(self, message: str, errors: list[dict] | None = None, **context):
        extra = {}
        if errors:
            extra["errors"] = errors
        if context:
            extra["context"] = context
        return self.api_error(400, "VALIDATION_ERROR", message, **extra)

    def _not_found(self, kind: str, record_id: str) -> Response:
        return self.api_error(
            404,
            "OBJECT_NOT_FOUND",
            "Object not found.  objectId are usually numeric.",
            context={"id": [record_id]},
        )

    async def _json(self, request: Request):
        """The request's JSON body, or a 400 response."""
        try:
            return json.loads(await request.body() or b"null"), None
        except ValueError:
            return None, self._validation("Invalid input JSON on line 1: the body is not JSON")

    def _check_props(self, kind: str, props) -> list[dict]:
        """Per-property problems of a write, as HubSpot's errors[] entries."""
        if not isinstance(props, dict):
            return [{"message": "properties must be an object", "code": "INVALID_INPUT"}]
        problems = []
        for name, value in props.items():
            spec = PROPS[kind].get(name)
            if spec is None:
                problems.append(
                    {
                        "message": f'Property "{name}" does not exist',
                        "code": "PROPERTY_DOESNT_EXIST",
                        "context": {"propertyName": [name]},
                        "name": name,
                    }
                )
            elif spec["modificationMetadata"]["readOnlyValue"]:
                problems.append(
                    {
                        "message": f'"{name}" is a read only property; its value cannot be set.',
                        "code": "READ_ONLY_VALUE",
                        "context": {"propertyName": [name]},
                        "name": name,
                    }
                )
            elif value is None or value == "":
                continue  # clears the value
            elif not isinstance(value, str | int | float | bool):
                problems.append(
                    {
                        "message": f"{value!r} is not a valid value for property {name}",
                        "code": "INVALID_INPUT",
                        "name": name,
                    }
                )
            elif spec["type"] == "enumeration" and str(value) not in {
                o["value"] for o in spec["options"]
            }:
                problems.append(
                    {
                        "message": f"{value} was not one of the allowed options: "
                        + ", ".join(o["value"] for o in spec["options"]),
                        "code": "INVALID_OPTION",
                        "context": {"propertyName": [name]},
                        "name": name,
                    }
                )
            elif spec["type"] == "number":
                try:
                    float(str(value))
                except ValueError:
                    problems.append(
                        {
                            "message": f"{value} is not a valid number",
                            "code": "INVALID_LONG",
                            "context": {"propertyName": [name]},
                            "name": name,
                        }
                    )
        return problems

    def _email_owner(self, value, but: str | None = None) -> str | None:
        if not value:
            return None
        wanted = str(value).lower()
        for record in self._store("contacts").values():
            email = record["properties"].get("email")
            if not record["archived"] and email and email.lower() == wanted and record["id"] != but:
                return record["id"]
        return None

    def _write(
        self, kind: str, record: dict | None, props: dict, source: str = "INTEGRATION"
    ) -> dict:
        """Apply a validated write; answers the record (new or changed). `source` is the
        changeSource its webhook events carry: INTEGRATION for an app's API call, CRM_UI for
        a person's edit (the control plane's)."""
        now = self.clock.time()
        values = {key: _stored(value) for key, value in props.items()}
        before = None if record is None else dict(record["properties"])
        if record is None:
            record = self._new_record(self.state, kind, values, now, now)
        else:
            record["properties"].update(values)
            record["properties"][MODIFIED[kind]] = iso(now)
            record["updatedAt"] = iso(now)
        self._reindex(record)
        self.dirty = True
        self.webhook_record_changed(kind, record, before, source=source)
        return record

    def _write_errors(self, kind: str, props, record_id: str | None = None):
        """(status, category, message, errors) of a refused write, or None."""
        problems = self._check_props(kind, props)
        if problems:
            return 400, "VALIDATION_ERROR", "Property values were not valid", problems
        if kind == "contacts" and isinstance(props, dict):
            existing = self._email_owner(props.get("email"), but=record_id)
            if existing:
                return 409, "CONFLICT", f"Contact already exists. Existing ID: {existing}", []
        return None

    def _refused(self, failure) -> Response:
        status, category, message, errors = failure
        extra = {"errors": [{k: v for k, v in e.items() if k != "name"} for e in errors]}
        return self.api_error(status, category, message, **(extra if errors else {}))

    # --- routes ----------------------------------------------------------------------------------

    def crm_routes(self) -> list[Route]:
        o = "/crm/v3/objects/{object_type:hsobject}"
        a = "/crm/v4/objects/{from_type:hsassoc}/{from_id}/associations"
        b = "/crm/v4/associations/{from_type:hsassoc}/{to_type:hsassoc}/batch"
        return [
            Route(o, self.list_objects, methods=["GET"]),
            Route(o, self.create_object, methods=["POST"]),
            Route(o + "/search", self.search, methods=["POST"]),
            Route(o + "/batch/read", self.batch_read, methods=["POST"]),
            Route(o + "/batch/create", self.batch_create, methods=["POST"]),
            Route(o + "/batch/update", self.batch_update, methods=["POST"]),
            Route(o + "/batch/archive", self.batch_archive, methods=["POST"]),
            Route(o + "/{object_id}", self.object_row, methods=["GET", "PATCH", "DELETE"]),
            Route(
                a + "/default/{to_type:hsassoc}/{to_id}", self.associate_default, methods=["PUT"]
            ),
            Route(a + "/{to_type:hsassoc}/{to_id}", self.associate_typed, methods=["PUT"]),
            Route(a + "/{to_type:hsassoc}", self.associations_read, methods=["GET"]),
            Route(b + "/create", self.associations_batch_create, methods=["POST"]),
            Route(b + "/read", self.associations_batch_read, methods=["POST"]),
            Route(b + "/archive", self.associations_batch_archive, methods=["POST"]),
            Route("/crm/v3/properties/{object_type:hsobject}", self.properties, methods=["GET"]),
        ]

    def crm_control_routes(self) -> list[Route]:
        return [
            Route("/_sandbox/records", self._cp_records, methods=["POST"]),
            Route("/_sandbox/records", self._cp_rows, methods=["GET"]),
            Route("/_sandbox/records", self._cp_edit_many, methods=["PATCH"]),
            Route(
                "/_sandbox/records/{object_type}/{object_id}",
                self._cp_record,
                methods=["GET", "PATCH", "DELETE"],
            ),
        ]

    # --- basic -----------------------------------------------------------------------------------

    def _names(self, request: Request) -> list[str]:
        raw = request.query_params.getlist("properties")
        return [n.strip() for item in raw for n in item.split(",") if n.strip()]

    async def list_objects(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        kind = request.path_params["object_type"]
        try:
            limit = int(request.query_params.get("limit", 10))
        except ValueError:
            return self._validation("limit must be an integer")
        if not 1 <= limit <= LIST_MAX:
            return self._validation(f"limit must be between 1 and {LIST_MAX}; got {limit}")
        after = request.query_params.get("after", "")
        archived = request.query_params.get("archived", "false").lower() == "true"
        names = self._wanted(kind, self._names(request))
        rows = sorted(
            (r for r in self._store(kind).values() if r["archived"] == archived),
            key=lambda r: int(r["id"]),
        )
        if after:
            if not after.isdigit():
                return self._validation(f"after must be a paging cursor; got {after!r}")
            rows = [r for r in rows if int(r["id"]) > int(after)]
        page = rows[:limit]
        body = {"results": [self._shape(kind, r, names) for r in page]}
        if len(rows) > limit:
            cursor = str(int(page[-1]["id"]))
            body["paging"] = {
                "next": {"after": cursor, "link": f"{request.url.path}?after={cursor}"}
            }
        return JSONResponse(body)

    async def create_object(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        kind = request.path_params["object_type"]
        body, bad = await self._json(request)
        if bad:
            return bad
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return self._validation("Invalid input: properties is required")
        problem = self._write_errors(kind, body["properties"])
        if problem:
            return self._refused(problem)
        associations, bad = self._inline_associations(kind, body.get("associations") or [])
        if bad:
            return bad
        record = self._write(kind, None, body["properties"])
        for other, types in associations:
            contact, company = (
                (record["id"], other) if kind == "contacts" else (other, record["id"])
            )
            if self._associate(self.state, contact, company, types):
                self._reindex(self._store("contacts")[contact])
        return JSONResponse(self._shape(kind, record, list(PROPS[kind])), status_code=201)

    def _inline_associations(self, kind: str, items) -> tuple[list, Response | None]:
        """A create's `associations` [{to: {id}, types: [{associationCategory,
        associationTypeId}]}]: contact <-> company only."""
        found = []
        other = "companies" if kind == "contacts" else "contacts"
        for item in items if isinstance(items, list) else [None]:
            target = (item or {}).get("to", {}).get("id") if isinstance(item, dict) else None
            if target is None or self._live(other, target) is None:
                return [], self._validation(f"associations: no {SINGULAR[other]} {target}")
            types = [t.get("associationTypeId") for t in item.get("types") or []]
            if kind == "companies":
                types = [1 if t == COMPANY_TO_PRIMARY_CONTACT else 279 for t in types]
            found.append((str(target), types or [CONTACT_TO_COMPANY]))
        return found, None

    async def object_row(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        kind, record_id = request.path_params["object_type"], request.path_params["object_id"]
        if request.method == "GET":
            archived = request.query_params.get("archived", "false").lower() == "true"
            record = self._store(kind).get(record_id)
            if record is None or record["archived"] != archived:
                return self._not_found(kind, record_id)
            names = self._wanted(kind, self._names(request))
            return JSONResponse(self._shape(kind, record, names))
        record = self._live(kind, record_id)
        if request.method == "DELETE":
            if record is not None:
                self._archive(kind, record)
            return Response(status_code=204)  # archiving what is gone is not an error
        if record is None:
            return self._not_found(kind, record_id)
        body, bad = await self._json(request)
        if bad:
            return bad
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return self._validation("Invalid input: properties is required")
        problem = self._write_errors(kind, body["properties"], record_id)
        if problem:
            return self._refused(problem)
        record = self._write(kind, record, body["properties"])
        return JSONResponse(self._shape(kind, record, list(PROPS[kind])))

    def _archive(self, kind: str, record: dict, source: str = "INTEGRATION") -> None:
        now = self.clock.time()
        record.update(archived=True, archivedAt=iso(now), updatedAt=iso(now))
        self._reindex(record)
        self.dirty = True
        self.webhook_record_changed(kind, record, None, source=source, deleted=True)

    # --- batch -----------------------------------------------------------------------------------

    async def _inputs(self, request: Request):
        """The batch's inputs, or the 400 HubSpot answers (no inputs, too many)."""
        body, bad = await self._json(request)
        if bad:
            return None, None, bad
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            return None, None, self._validation("Invalid input: inputs must be a list of objects")
        if len(inputs) > BATCH_MAX:
            return (
                None,
                None,
                self._validation(
                    f"Batch input cannot exceed {BATCH_MAX} inputs; got {len(inputs)}",
                    [
                        {
                            "message": f"size must be between 1 and {BATCH_MAX}",
                            "code": "INVALID_INPUT",
                            "in": "inputs",
                        }
                    ],
                ),
            )
        return body, inputs, None

    def _batch(self, results: list, errors: list, started: float, created=False) -> Response:
        body = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(started),
            "completedAt": iso(self.clock.time()),
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return JSONResponse(body, status_code=207)
        return JSONResponse(body, status_code=201 if created else 200)

    @staticmethod
    def _standard_error(status: str, category: str, message: str, ids: list[str], **more):
        """A per-record failure: the spec's StandardError."""
        return {
            "status": status,
            "category": category,
            "message": message,
            "context": {"ids": ids, **more},
            "errors": [],
            "links": {},
        }

    async def batch_read(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        kind, started = request.path_params["object_type"], self.clock.time()
        body, inputs, bad = await self._inputs(request)
        if bad:
            return bad
        names = self._wanted(kind, body.get("properties") or [])
        id_property = body.get("idProperty")
        results, missing = [], []
        for item in inputs:
            key = str(item.get("id", ""))
            if id_property == "email" and kind == "contacts":
                found = self._email_owner(key)
                record = self._live(kind, found) if found else None
            else:
                record = self._live(kind, key)
            if record is None:
                missing.append(key)
            else:
                results.append(self._shape(kind, record, names))
        errors = []
        if missing:
            errors.append(
                self._standard_error(
                    "error",
                    "OBJECT_NOT_FOUND",
                    "Could not get some objects, they may be deleted or not exist.",
                    missing,
                )
            )
        return self._batch(results, errors, started)

    async def batch_create(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        kind, started = request.path_params["object_type"], self.clock.time()
        _, inputs, bad = await self._inputs(request)
        if bad:
            return bad
        # HubSpot validates the batch as a whole: one refused input refuses the call. An input
        # may carry its `associations` (SimplePublicObjectInputForCreate), made with it.
        emails, linked = set(), []
        for index, item in enumerate(inputs):
            associations, bad = self._inline_associations(kind, item.get("associations") or [])
            if bad is not None:
                message = json.loads(bad.body)["message"]
                return self._validation(message, [{"message": message, "in": f"inputs[{index}]"}])
            linked.append(associations)
            problem = self._write_errors(kind, item.get("properties"))
            email = str((item.get("properties") or {}).get("email") or "").lower()
            if problem is None and email and email in emails:
                problem = (409, "CONFLICT", f"Duplicate email in inputs: {email}", [])
            if problem:
                status, category, message, errors = problem
                return self.api_error(
                    status,
                    category,
                    message,
                    errors=[{"message": e["message"], "in": f"inputs[{index}]"} for e in errors]
                    or [{"message": message, "in": f"inputs[{index}]"}],
                )
            emails.add(email)
        results = [self._write(kind, None, item["properties"]) for item in inputs]
        for record, associations in zip(results, linked, strict=True):
            for other, types in associations:
                contact, company = (
                    (record["id"], other) if kind == "contacts" else (other, record["id"])
                )
                if self._associate(self.state, contact, company, types):
                    self._reindex(self._store("contacts")[contact])
        return self._batch(
            [self._shape(kind, r, list(PROPS[kind])) for r in results], [], started, created=True
        )

    async def batch_update(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        kind, started = request.path_params["object_type"], self.clock.time()
        _, inputs, bad = await self._inputs(request)
        if bad:
            return bad
        for index, item in enumerate(inputs):
            props = item.get("properties")
            problem = self._write_errors(kind, props, str(item.get("id", "")))
            if problem and problem[0] == 400:
                status, category, message, errors = problem
                return self.api_error(
                    status,
                    category,
                    message,
                    errors=[{"message": e["message"], "in": f"inputs[{index}]"} for e in errors],
                )
        results, missing, conflicts = [], [], []
        for item in inputs:
            record_id = str(item.get("id", ""))
            record = self._live(kind, record_id)
            if record is None:
                missing.append(record_id)
                continue
            if self._write_errors(kind, item["properties"], record_id):
                conflicts.append(record_id)
                continue
            results.append(self._write(kind, record, item["properties"]))
        errors = []
        if missing:
            errors.append(
                self._standard_error(
                    "error",
                    "OBJECT_NOT_FOUND",
                    "Could not update some objects, they may be deleted or not exist.",
                    missing,
                )
            )
        if conflicts:
            errors.append(
                self._standard_error(
                    "error", "CONFLICT", "A contact with this email already exists.", conflicts
                )
            )
        return self._batch(
            [self._shape(kind, r, list(PROPS[kind])) for r in results], errors, started
        )

    async def batch_archive(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        kind = request.path_params["object_type"]
        _, inputs, bad = await self._inputs(request)
        if bad:
            return bad
        for item in inputs:
            record = self._live(kind, str(item.get("id", "")))
            if record is not None:
                self._archive(kind, record)
        return Response(status_code=204)

    # --- search ----------------------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        kind = request.path_params["object_type"]
        body, bad = await self._json(request)
        if bad:
            return bad
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return self._validation("Invalid input: the body must be an object")
        groups = body.get("filterGroups") or []
        problem = self._search_problem(kind, body, groups)
        if problem:
            return self._validation(problem)
        limit = int(body.get("limit") or 10)
        after = int(body.get("after") or 0)
        if after >= SEARCH_CAP:
            return self._validation(
                f"Paging past {SEARCH_CAP} results is not supported: narrow the search "
                "with filters instead.",
                [{"message": f"after must be below {SEARCH_CAP}", "in": "after"}],
            )
        query = str(body.get("query") or "").strip().lower()
        sorts = body.get("sorts") or []
        sort = sorts[0] if sorts else {"propertyName": "hs_object_id", "direction": "ASCENDING"}
        if isinstance(sort, str):  # the SDK's typing allows "-name" / "name"
            sort = {
                "propertyName": sort.lstrip("-"),
                "direction": "DESCENDING" if sort.startswith("-") else "ASCENDING",
            }
        seen = self._search_matches(kind, groups, query, sort)
        names = self._wanted(kind, body.get("properties") or [])
        page = seen[after : after + limit]
        answer = {
            "total": len(seen),
            "results": [self._shape(kind, r, names, source=v) for r, v in page],
        }
        if after + limit < len(seen):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return JSONResponse(answer)

    def _search_problem(self, kind: str, body: dict, groups) -> str | None:
        if not isinstance(groups, list) or not all(
            isinstance(g, dict) and isinstance(g.get("filters", []), list) for g in groups
        ):
            return "filterGroups must be a list of {filters: [...]}"
        if len(groups) > SEARCH_GROUPS:
            return f"Too many filter groups: {len(groups)}; at most {SEARCH_GROUPS} are allowed."
        total = 0
        for group in groups:
            filters = group.get("filters", [])
            if len(filters) > SEARCH_GROUP_FILTERS:
                return (
                    f"Too many filters in a group: {len(filters)}; at most "
                    f"{SEARCH_GROUP_FILTERS} per group are allowed."
                )
            total += len(filters)
            for item in filters:
                if not isinstance(item, dict) or item.get("operator") not in OPERATORS:
                    return f"Unknown operator in filter {item!r}; one of {', '.join(OPERATORS)}"
                if not item.get("propertyName"):
                    return "Every filter needs a propertyName"
                operator = item["operator"]
                if operator in ("IN", "NOT_IN") and not isinstance(item.get("values"), list):
                    return f"{operator} needs `values`, a list"
                if operator == "BETWEEN" and ("value" not in item or "highValue" not in item):
                    return "BETWEEN needs `value` and `highValue`"
                if (
                    operator not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY")
                    and item.get("value") is None
                ):
                    return f"{operator} needs a `value`"
        if total > SEARCH_FILTERS:
            return f"Too many filters: {total}; at most {SEARCH_FILTERS} in all are allowed."
        sorts = body.get("sorts") or []
        if not isinstance(sorts, list) or len(sorts) > 1:
            return "At most one sort is allowed."
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 0 < limit <= SEARCH_MAX:
            return f"limit must be between 1 and {SEARCH_MAX}; got {limit}"
        after = body.get("after")
        if after not in (None, "") and not str(after).isdigit():
            return f"after must be a paging cursor; got {after!r}"
        return None

    @staticmethod
    def _sort_key(spec: dict, value):
        if value is None:
            return (1, 0.0, "")
        if spec["type"] == "number":
            try:
                return (0, float(value), "")
            except ValueError:
                return (0, 0.0, str(value))
        if spec["type"] == "datetime":
            return (0, epoch_ms(value) or 0.0, "")
        return (0, 0.0, str(value).lower())

    def _matches(self, kind: str, props: dict, groups: list) -> bool:
        if not groups:
            return True
        return any(all(self._test(kind, props, f) for f in g.get("filters", [])) for g in groups)

    @staticmethod
    def _test(kind: str, props: dict, item: dict) -> bool:
        name, operator = item["propertyName"], item["operator"]
        spec = PROPS[kind].get(name, {"type": "string"})
        have = props.get(name)
        if operator == "HAS_PROPERTY":
            return have not in (None, "")
        if operator == "NOT_HAS_PROPERTY":
            return have in (None, "")

        def norm(value):
            if value is None or value == "":
                return None
            if spec["type"] == "number":
                try:
                    return float(value)
                except ValueError:
                    return None
            if spec["type"] == "datetime":
                return epoch_ms(value)
            return str(value).lower()

        mine = norm(have)
        if operator in ("IN", "NOT_IN"):
            wanted = {norm(v) for v in item.get("values") or []}
            inside = mine is not None and mine in wanted
            return inside if operator == "IN" else not inside
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(item.get("value", "")).lower()
            text = str(have or "").lower()
            if "*" in token:
                found = any(fnmatch.fnmatchcase(t, token) for t in text.replace("@", " ").split())
                found = found or fnmatch.fnmatchcase(text, token)
            else:
                found = token in text.replace("@", " ").replace(".", " ").split() or token == text
            return found if operator == "CONTAINS_TOKEN" else not found
        value = norm(item.get("value"))
        if operator == "NEQ":
            return mine != value
        if mine is None or value is None:
            return False
        if operator == "EQ":
            return mine == value
        if operator == "BETWEEN":
            high = norm(item.get("highValue"))
            return high is not None and value <= mine <= high
        try:
            return {
                "LT": mine < value,
                "LTE": mine <= value,
                "GT": mine > value,
                "GTE": mine >= value,
            }[operator]
        except TypeError:
            return False

    # --- associations v4 -------------------------------------------------------------------------

    def _pair(self, from_type: str, from_id: str, to_type: str, to_id: str):
        """(contact id, company id) of a contact <-> company pair, or an error response."""
        if {from_type, to_type} != {"contacts", "companies"}:
            return None, self._validation(
                f"Associations between {from_type} and {to_type} are not served here"
            )
        for kind, record_id in ((from_type, from_id), (to_type, to_id)):
            if self._live(kind, record_id) is None:
                return None, self._not_found(kind, record_id)
        return ((from_id, to_id) if from_type == "contacts" else (to_id, from_id)), None

    def _types_from(self, from_type: str, stored: list[int]) -> list[dict]:
        """Stored contact -> company type ids as seen from `from_type`."""
        out = []
        for type_id in stored:
            if from_type == "companies":
                type_id = COMPANY_TO_PRIMARY_CONTACT if type_id == 1 else COMPANY_TO_CONTACT
            label = "Primary" if type_id in (1, 2) else None
            out.append({"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label})
        return out

    async def associate_default(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        p = request.path_params
        pair, bad = self._pair(p["from_type"], p["from_id"], p["to_type"], p["to_id"])
        if bad:
            return bad
        now = self.clock.time()
        self._link(*pair, [CONTACT_TO_COMPANY])
        self.dirty = True
        type_id = CONTACT_TO_COMPANY if p["from_type"] == "contacts" else COMPANY_TO_CONTACT
        return JSONResponse(
            {
                "status": "COMPLETE",
                "results": [
                    {
                        "from": {"id": p["from_id"]},
                        "to": {"id": p["to_id"]},
                        "associationSpec": {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": type_id,
                        },
                    }
                ],
                "startedAt": iso(now),
                "completedAt": iso(self.clock.time()),
            }
        )

    def _spec_types(self, from_type: str, specs) -> tuple[list[int] | None, str]:
        """Stored (contact -> company) type ids of a body's association specs."""
        if not isinstance(specs, list) or not specs:
            return None, "a list of {associationCategory, associationTypeId} is required"
        allowed = (
            {CONTACT_TO_COMPANY: 279, CONTACT_TO_PRIMARY_COMPANY: 1}
            if from_type == "contacts"
            else {COMPANY_TO_CONTACT: 279, COMPANY_TO_PRIMARY_CONTACT: 1}
        )
        types = []
        for spec in specs:
            type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
            if spec.get("associationCategory") != "HUBSPOT_DEFINED" or type_id not in allowed:
                return None, (
                    f"associationTypeId {type_id} is not valid for {SINGULAR[from_type]} to "
                    f"{'company' if from_type == 'contacts' else 'contact'}: one of "
                    + ", ".join(str(t) for t in allowed)
                )
            types.append(allowed[type_id])
        return types, ""

    async def associate_typed(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        p = request.path_params
        pair, bad = self._pair(p["from_type"], p["from_id"], p["to_type"], p["to_id"])
        if bad:
            return bad
        body, bad = await self._json(request)
        if bad:
            return bad
        types, problem = self._spec_types(p["from_type"], body)
        if problem:
            return self._validation(problem)
        self._link(*pair, types)
        self.dirty = True
        stored = self.state["assoc"][pair[0]][pair[1]]
        return JSONResponse(
            {
                "fromObjectTypeId": OBJECT_TYPE_IDS[p["from_type"]],
                "fromObjectId": p["from_id"],
                "toObjectTypeId": OBJECT_TYPE_IDS[p["to_type"]],
                "toObjectId": p["to_id"],
                "labels": [
                    t["label"] for t in self._types_from(p["from_type"], stored) if t["label"]
                ],
            },
            status_code=201,
        )

    def _associated(self, from_type: str, from_id: str) -> list[dict]:
        if from_type == "contacts":
            links = self.state["assoc"].get(from_id, {})
            pairs = [(c, t) for c, t in links.items() if self._live("companies", c)]
        else:
            pairs = [
                (contact, links[from_id])
                for contact, links in self.state["assoc"].items()
                if from_id in links and self._live("contacts", contact)
            ]
        return [
            {"toObjectId": other, "associationTypes": self._types_from(from_type, types)}
            for other, types in sorted(pairs, key=lambda p: int(p[0]))
        ]

    def _association_route(self, request: Request):
        """An association route's path parameters once the caller is authenticated and the pair
        of types is one served here (contacts <-> companies), or the error response."""
        _, failure = self.authenticated(request)
        if failure:
            return None, failure
        p = request.path_params
        if {p["from_type"], p["to_type"]} != {"contacts", "companies"}:
            return None, self._validation(f"Associations to {p['to_type']} are not served here")
        return p, None

    async def _association_batch(self, request: Request):
        """An association batch's path parameters and inputs, or the error response."""
        p, failure = self._association_route(request)
        if failure:
            return None, None, failure
        _, inputs, bad = await self._inputs(request)
        return (None, None, bad) if bad else (p, inputs, None)

    async def associations_read(self, request: Request) -> Response:
        p, failure = self._association_route(request)
        if failure:
            return failure
        if self._live(p["from_type"], p["from_id"]) is None:
            return self._not_found(p["from_type"], p["from_id"])
        return JSONResponse({"results": self._associated(p["from_type"], p["from_id"])})

    async def associations_batch_read(self, request: Request) -> Response:
        started = self.clock.time()
        p, inputs, failure = await self._association_batch(request)
        if failure:
            return failure
        results, missing = [], []
        for item in inputs:
            key = str(item.get("id", ""))
            if self._live(p["from_type"], key) is None:
                missing.append(key)
                continue
            results.append({"from": {"id": key}, "to": self._associated(p["from_type"], key)})
        errors = []
        if missing:
            errors.append(
                self._standard_error(
                    "error",
                    "OBJECT_NOT_FOUND",
                    f"No {SINGULAR[p['from_type']]} with these ids.",
                    missing,
                )
            )
        return self._batch(results, errors, started)

    async def associations_batch_archive(self, request: Request) -> Response:
        """Remove every association between each input's `from` and its `to` records: 204,
        the pairs that had none included. Reference: PublicApiSpecs/CRM/Associations/Rollouts/
        130902/v4/associations.json, POST /crm/v4/associations/{fromObjectType}/{toObjectType}/
        batch/archive (BatchInputPublicAssociationMultiArchive; 204 No Content)."""
        p, inputs, failure = await self._association_batch(request)
        if failure:
            return failure
        for index, item in enumerate(inputs):
            from_id = (
                (item.get("from") or {}).get("id") if isinstance(item.get("from"), dict) else None
            )
            targets = item.get("to")
            if from_id is None or not isinstance(targets, list):
                problem = "each input needs from {id} and to [{id}]"
                return self._validation(problem, [{"message": problem, "in": f"inputs[{index}]"}])
            for target in targets:
                to_id = str((target or {}).get("id", "")) if isinstance(target, dict) else ""
                pair = (
                    (str(from_id), to_id) if p["from_type"] == "contacts" else (to_id, str(from_id))
                )
                self._unlink(*pair)
        self.dirty = True
        return Response(status_code=204)

    async def associations_batch_create(self, request: Request) -> Response:
        started = self.clock.time()
        p, inputs, failure = await self._association_batch(request)
        if failure:
            return failure
        staged, errors = [], []
        for index, item in enumerate(inputs):
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            types, problem = self._spec_types(p["from_type"], item.get("types"))
            if problem:
                return self._validation(problem, [{"message": problem, "in": f"inputs[{index}]"}])
            pair, bad = self._pair(p["from_type"], from_id, p["to_type"], to_id)
            if bad:
                errors.append(
                    self._standard_error(
                        "error",
                        "OBJECT_NOT_FOUND",
                        "No such record to associate.",
                        [from_id, to_id],
                    )
                )
                continue
            staged.append((pair, types, from_id, to_id))
        results = []
        for pair, types, from_id, to_id in staged:
            self._link(*pair, types)
            stored = self.state["assoc"][pair[0]][pair[1]]
            results.append(
                {
                    "fromObjectTypeId": OBJECT_TYPE_IDS[p["from_type"]],
                    "fromObjectId": from_id,
                    "toObjectTypeId": OBJECT_TYPE_IDS[p["to_type"]],
                    "toObjectId": to_id,
                    "labels": [
                        t["label"] for t in self._types_from(p["from_type"], stored) if t["label"]
                    ],
                }
            )
        self.dirty = True
        return self._batch(results, errors, started, created=True)

    # --- properties ------------------------------------------------------------------------------

    async def properties(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        kind = request.path_params["object_type"]
        stamp = iso(0)
        return JSONResponse(
            {
                "results": [
                    {**spec, "createdAt": stamp, "updatedAt": stamp, "archived": False}
                    for spec in SCHEMA[kind]
                ]
            }
        )

    # --- control plane ---------------------------------------------------------------------------

    async def _cp_records(self, request: Request) -> Response:
        """Seed rows: {"companies": n, "contacts": n, "seed"?} (realistic, deterministic per
        seed, searchable at once), or {"type", "records": [{property: value}]} (exactly these,
        searchable after the search delay as the API's writes; contacts may come with
        "primary": [company id or null, one per record], their primary company). Answers the
        new ids by type."""
        body = json.loads(await request.body() or b"{}")
        if "records" in body:
            kind = body.get("type")
            if kind not in OBJECT_TYPES:
                return JSONResponse({"error": f"type must be one of {OBJECT_TYPES}"}, 400)
            primary = body.get("primary") or [None] * len(body["records"])
            if kind != "contacts" and any(primary) or len(primary) != len(body["records"]):
                return JSONResponse({"error": "primary: one company id per contact"}, 400)
            if any(c and self._live("companies", c) is None for c in primary):
                return JSONResponse({"error": "primary: no such company"}, 400)
            made = []
            for props in body["records"]:
                problem = self._write_errors(kind, props)
                if problem:
                    return JSONResponse({"error": problem[2], "errors": problem[3]}, 400)
            for props, company in zip(body["records"], primary, strict=True):
                record = self._write(kind, None, props, "CRM_UI")
                if company:
                    types = [CONTACT_TO_PRIMARY_COMPANY, CONTACT_TO_COMPANY]
                    self._associate(self.state, record["id"], str(company), types)
                    self._reindex(record)
                made.append(record["id"])
            self.dirty = True
            return JSONResponse({kind: made})
        made = self._seed_into(
            self.state,
            int(body.get("seed", 1)),
            int(body.get("companies", 0)),
            int(body.get("contacts", 0)),
        )
        self.dirty = True
        return JSONResponse(made)

    async def _cp_rows(self, request: Request) -> Response:
        """Every row of one type as stored, archived ones too (GET ?type=contacts), with each
        contact's associations (`associations`: {company id: [type ids]})."""
        kind = request.query_params.get("type")
        if kind not in OBJECT_TYPES:
            return JSONResponse({"error": f"type must be one of {OBJECT_TYPES}"}, 400)
        rows = []
        for record in self._store(kind).values():
            row = {k: v for k, v in record.items() if k not in ("indexed", "pending")}
            if kind == "contacts":
                row["associations"] = self.state["assoc"].get(record["id"], {})
            rows.append(row)
        return JSONResponse({"records": rows})

    async def _cp_edit_many(self, request: Request) -> Response:
        """Many rows edited in one call, as a HubSpot user would: {"type", "records": [{"id",
        property: value}]}. All or nothing: a missing row or a refused value is a 400."""
        body = json.loads(await request.body() or b"{}")
        kind, items = body.get("type"), body.get("records")
        if kind not in OBJECT_TYPES or not isinstance(items, list):
            return JSONResponse({"error": "give type and records"}, 400)
        staged = []
        for item in items:
            record = self._live(kind, str(item.get("id", "")))
            props = {k: v for k, v in item.items() if k != "id"}
            if record is None:
                return JSONResponse({"error": f"no such record: {item.get('id')}"}, 400)
            problem = self._write_errors(kind, props, record["id"])
            if problem:
                return JSONResponse({"error": problem[2], "id": record["id"]}, 400)
            staged.append((record, props))
        for record, props in staged:
            self._write(kind, record, props, "CRM_UI")
        return JSONResponse({"updated": [r["id"] for r, _ in staged]})

    async def _cp_record(self, request: Request) -> Response:
        """A row as stored (GET), edited as a HubSpot user would (PATCH {"properties"}: the
        last-modified property moves) or archived (DELETE)."""
        kind, record_id = request.path_params["object_type"], request.path_params["object_id"]
        record = self._store(kind).get(record_id) if kind in OBJECT_TYPES else None
        if record is None:
            return JSONResponse({"error": "no such record"}, 404)
        if request.method == "DELETE":
            if not record["archived"]:
                self._archive(kind, record, "CRM_UI")
        elif request.method == "PATCH":
            body = json.loads(await request.body() or b"{}")
            props = body.get("properties", {})
            problem = self._write_errors(kind, props, record_id)
            if problem:
                return JSONResponse({"error": problem[2], "errors": problem[3]}, 400)
            self._write(kind, record, props, "CRM_UI")
        return JSONResponse({k: v for k, v in record.items() if k not in ("indexed", "pending")})
