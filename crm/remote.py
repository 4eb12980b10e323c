"""The CRM side of a sync, one class per provider: what `crm.sync.EntitySync` (and the approved
deletes, the field lists and the mapping preview) need of Salesforce or HubSpot, and nothing
of how each provider says it.

A remote answers rows (`Row`: the CRM id, the values by the CRM's field names, when it was last
changed, its cursor stamp, whether it is deleted) and per-record `Result`s of its writes. The
names the sync compares are the provider's own field names (Salesforce `Name`, HubSpot `name`),
plus the contact's account under `account_field` (Salesforce's `AccountId`; HubSpot's
read-only `associatedcompanyid`, written through associations v4). Each remote states its
batch size, its natural keys, its lookback before the cursor and how it filters.

Filters. Salesforce filters in the query (SOQL, `soql_where`): the records outside them are
never read. HubSpot filters here, after the read, with the same `passes` the hub side uses: the
search API's filters test tokens (CONTAINS_TOKEN is not "contains"), compare case-sensitively
on some types and cap a query at 5 groups of 6 filters (18 in all) which the incremental window
and the 10,000-result window filters already use part of — so the rule set would mean one thing
on the hub and another in HubSpot. The cost is reading the records outside the filter.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime

from integrations.connections.providers import hubspot, salesforce
from integrations.errors import ApplicationError


@dataclass
class Row:
    """One CRM record as the sync reads it."""

    id: str
    values: dict  # by the CRM's field names
    modified_at: datetime | None = None
    stamp: str | None = None  # what the CRM's incremental cursor is made of
    deleted: bool = False


@dataclass(frozen=True)
class Result:
    """One record's outcome in a batch write: its id, or the provider's error."""

    id: str
    ok: bool
    code: str = ""
    message: str = ""
    gone: bool = False  # the record is deleted there (an update or delete of it is moot)


@dataclass
class Listing:
    """What a read answered: the rows (deleted ones flagged), and what the absence of a linked
    record from it means: `complete` (it is gone, for certain) or `confirm` (read it by id to
    know: HubSpot's search lags writes, so missing from it is not proof)."""

    rows: list[Row]
    complete: bool = False
    confirm: bool = False


def instant(text):
    """A CRM timestamp (ISO 8601; Salesforce's +0000 too) as an aware datetime."""
    if not text:
        return None
    moment = parse_datetime(text) if isinstance(text, str) else text
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


class Remote:
    """What every provider's remote offers (see the module's docstring)."""

    provider = ""
    label = ""
    batch_size = 0
    account_field = ""
    owner_field = ""
    lookback = timedelta(0)
    objects: dict[str, str] = {}
    natural: dict[str, tuple[str, ...]] = {}
    # Field names of a record's display label (conflicts, the review queue).
    label_fields: tuple[str, ...] = ()

    def __init__(self, through):
        self.through = through
        self.sdk = None

    def call(self, function, *args, **kwargs):
        """`function(sdk, ...)` through the connection's one client (a 401 refreshes once)."""

        def work(c):
            self.sdk = c.sdk
            return function(c.sdk, *args, **kwargs)

        return self.through.call(work)

    def object_name(self, entity: str) -> str:
        return self.objects[entity]

    def natural_keys(self, entity: str) -> tuple[str, ...]:
        return self.natural[entity]

    def where(self, rules: list[dict], user_id: str) -> str:
        """The rules as the provider's query condition ("" when it filters after the read)."""
        return ""

    def filters_in_query(self) -> bool:
        return False

    def full_read_calls(self, records: int) -> int:
        """Calls one read of `records` records takes."""
        raise NotImplementedError

    def by_id_calls(self, ids: int) -> int:
        """Calls reading `ids` records by id takes."""
        raise NotImplementedError

    def label_of(self, values: dict) -> str:
        parts = [str(values.get(name)) for name in self.label_fields if values.get(name)]
        return " ".join(parts)

    # What each remote implements (the sync and the pages call nothing else):

    def describe(self, entity: str) -> list[dict]:
        """The object's fields: name, label, type, required, createable, updateable,
        read_only, picklist."""
        raise NotImplementedError

    def read(self, entity: str, fields, *, since=None, where: str = "") -> Listing:
        """Every record (since None) or those changed since `since`, with the deleted ones
        flagged; every page or an error."""
        raise NotImplementedError

    def read_ids(self, entity: str, fields, ids) -> list[Row]:
        """The records with these ids; an id the CRM no longer has is not in the answer."""
        raise NotImplementedError

    def create(self, entity: str, records: list[dict]) -> list[Result]:
        """At most `batch_size` records (CRM field → value), results in their order."""
        raise NotImplementedError

    def update(self, entity: str, records: list[dict]) -> list[Result]:
        """At most `batch_size` records ({"id": CRM id, field: value})."""
        raise NotImplementedError

    def delete(self, entity: str, ids: list[str]) -> list[Result]:
        raise NotImplementedError

    def count(self, entity: str) -> int:
        raise NotImplementedError

    def usage(self) -> dict:
        """The API quota as the last answer said it: {used, limit, ...} or {}."""
        raise NotImplementedError

    def sample(self, entity: str, fields, n: int = 5) -> list[dict]:
        """The `n` records changed last, {"id", field: value}: the mapping preview's."""
        raise NotImplementedError


# --- Salesforce ------------------------------------------------------------------------------------


USER_PLACEHOLDER = "{current_user_crm_id}"


def resolved(value, user_id: str):
    """A rule's value with the connected user's CRM id in place of the placeholder."""
    if isinstance(value, str):
        return value.replace(USER_PLACEHOLDER, user_id)
    if isinstance(value, list):
        return [resolved(v, user_id) for v in value]
    return value


def soql_where(rules: list[dict], user_id: str) -> str:
    """The rules as one SOQL condition (AND), every value a quoted literal."""
    parts = []
    for rule in rules:
        name, operator = rule["field"], rule["operator"]
        if not salesforce.NAME.match(name):
            raise ApplicationError(f"Not a filterable field: {name!r}.")
        value = resolved(rule.get("value"), user_id)
        if operator == "equals":
            parts.append(f"{name} = {salesforce.literal(value)}")
        elif operator == "not_equals":
            parts.append(f"{name} != {salesforce.literal(value)}")
        elif operator == "contains":
            parts.append(f"{name} LIKE {salesforce.like_literal(value)}")
        elif operator == "greater":
            parts.append(f"{name} > {salesforce.literal(value)}")
        elif operator == "less":
            parts.append(f"{name} < {salesforce.literal(value)}")
        elif operator == "in":
            parts.append(f"{name} IN ({', '.join(salesforce.literal(v) for v in value)})")
        elif operator == "empty":
            parts.append(f"{name} {'=' if value is not False else '!='} null")
    return " AND ".join(parts)


class SalesforceRemote(Remote):
    """Salesforce through simple-salesforce: queryAll (the recycle bin's records come flagged
    IsDeleted) on SystemModstamp, sObject Collections of 200, describe, Sforce-Limit-Info."""

    provider = "salesforce"
    label = "Salesforce"
    batch_size = salesforce.COLLECTION_SIZE
    account_field = "AccountId"
    owner_field = "OwnerId"
    # Reference: airbytehq/airbyte#27146 (a Salesforce record committed with a SystemModstamp
    # below the cursor an earlier read had already passed, so an incremental read never saw
    # it) and singer-io/tap-salesforce#135 (a lookback window on the SystemModstamp bookmark
    # for it). Records read again inside the window equal their base and are no change.
    lookback = timedelta(minutes=5)
    objects = {"account": "Account", "contact": "Contact"}
    natural = {"account": ("Name",), "contact": ("Email",)}
    label_fields = ("Name", "FirstName", "LastName")
    PAGE = 2_000  # records per query answer (salesforce.md "Query")

    def where(self, rules, user_id):
        return soql_where(rules, user_id) if rules else ""

    def filters_in_query(self) -> bool:
        return True

    def full_read_calls(self, records: int) -> int:
        return max(1, math.ceil(records / self.PAGE))

    def by_id_calls(self, ids: int) -> int:
        return math.ceil(ids / salesforce.IDS_PER_QUERY)

    @staticmethod
    def _row(row: dict) -> Row:
        return Row(
            id=row["Id"],
            values=row,
            modified_at=instant(row.get("LastModifiedDate")),
            stamp=row.get("SystemModstamp"),
            deleted=bool(row.get("IsDeleted")),
        )

    def describe(self, entity: str) -> list[dict]:
        fields = self.call(salesforce.describe, self.object_name(entity))
        return [{**f, "read_only": not (f["createable"] or f["updateable"])} for f in fields]

    def read(self, entity: str, fields, *, since=None, where: str = "") -> Listing:
        rows = self.call(
            salesforce.read,
            self.object_name(entity),
            fields,
            since=since,
            deleted=True,
            where=where,
        )
        # Everything, unfiltered, with the bin: a linked record missing from it is gone.
        return Listing([self._row(r) for r in rows], complete=since is None and not where)

    def read_ids(self, entity: str, fields, ids) -> list[Row]:
        rows = self.call(salesforce.read_ids, self.object_name(entity), fields, ids, deleted=True)
        return [self._row(r) for r in rows]

    @staticmethod
    def _results(results) -> list[Result]:
        return [
            Result(r.id, r.ok, r.code, r.message, gone=r.code == "ENTITY_IS_DELETED")
            for r in results
        ]

    def create(self, entity: str, records: list[dict]) -> list[Result]:
        return self._results(self.call(salesforce.create, self.object_name(entity), records))

    def update(self, entity: str, records: list[dict]) -> list[Result]:
        """records: {"id": CRM id, field: value, ...}."""
        rows = [{"Id": r["id"], **{k: v for k, v in r.items() if k != "id"}} for r in records]
        return self._results(self.call(salesforce.update, self.object_name(entity), rows))

    def delete(self, entity: str, ids: list[str]) -> list[Result]:
        return self._results(self.call(salesforce.delete, list(ids)))

    def count(self, entity: str) -> int:
        return self.call(salesforce.count, self.object_name(entity))

    def usage(self) -> dict:
        return salesforce.usage(self.sdk) if self.sdk is not None else {}

    def sample(self, entity: str, fields, n: int = 5) -> list[dict]:
        rows = self.call(salesforce.recent, self.object_name(entity), fields, n)
        return [{"id": r["Id"], **{f: r.get(f) for f in fields}} for r in rows]


# --- HubSpot ---------------------------------------------------------------------------------------


class HubSpotRemote(Remote):
    """HubSpot through hubspot-api-client: search on the last-modified property (windowed past
    the 10,000 cap, 200 a page), the archived list for deletes, batches of 100, the contact's
    primary company through associations v4 (read as `associatedcompanyid`), properties."""

    provider = "hubspot"
    label = "HubSpot"
    batch_size = hubspot.BATCH_SIZE
    # Reference: developers.hubspot.com/changelog/2019-01-24-update-the-associatedcompanyid-
    # contact-property-will-become-read-only-on-april-26th (the contact's primary company's id,
    # read-only since: associations are made through the associations API).
    account_field = "associatedcompanyid"
    owner_field = "hubspot_owner_id"
    # Reference: ../shared/providers/hubspot.md "Search" ("New writes show up after 'a few
    # moments'") and developers.hubspot.com/docs/api-reference/search/guide "Limitations": a
    # write made just before a read may be invisible to it and then carry a last-modified
    # stamp below the cursor that read set; the next read starts this much earlier. Records
    # read again equal their base and are no change.
    lookback = timedelta(minutes=2)
    objects = {"account": "companies", "contact": "contacts"}
    # A company is the same when its name or its domain is (HubSpot dedupes companies on the
    # domain: companies guide, "Create companies"); a contact when its email is.
    natural = {"account": ("name", "domain"), "contact": ("email",)}
    label_fields = ("name", "firstname", "lastname")

    def full_read_calls(self, records: int) -> int:
        return max(1, math.ceil(records / hubspot.SEARCH_PAGE))

    def by_id_calls(self, ids: int) -> int:
        return math.ceil(ids / hubspot.BATCH_SIZE)

    def _row(self, entity: str, row: dict, *, deleted: bool = False) -> Row:
        kind = self.object_name(entity)
        values = dict(row.get("properties") or {})
        stamp = values.get(hubspot.MODIFIED[kind]) or row.get("updatedAt")
        return Row(
            id=str(row["id"]),
            values=values,
            modified_at=instant(row.get("updatedAt") or stamp),
            stamp=stamp,
            deleted=deleted or bool(row.get("archived")),
        )

    def describe(self, entity: str) -> list[dict]:
        return self.call(hubspot.properties, self.object_name(entity))

    def read(self, entity: str, fields, *, since=None, where: str = "") -> Listing:
        """Search (everything, or what changed since `since`), then the archived records: a
        linked one among them is deleted. On a full read a linked record missing from search
        is read by id before it counts as gone (the search index lags writes)."""
        kind = self.object_name(entity)
        rows = [self._row(entity, r) for r in self.call(hubspot.read, kind, fields, since=since)]
        seen = {row.id for row in rows}
        for row in self.call(hubspot.archived, kind, since=since):
            if row["id"] not in seen:
                rows.append(self._row(entity, row, deleted=True))
        return Listing(rows, confirm=since is None)

    def read_ids(self, entity: str, fields, ids) -> list[Row]:
        """By id (batch read, 100 a call); an id HubSpot does not have (archived, or purged) is
        simply not in the answer, which the sync takes for deleted."""
        kind = self.object_name(entity)
        return [self._row(entity, r) for r in self.call(hubspot.read_ids, kind, fields, ids)]

    @staticmethod
    def _results(results) -> list[Result]:
        return [
            Result(r.id, r.ok, r.code, r.message, gone=r.code == "OBJECT_NOT_FOUND")
            for r in results
        ]

    def _split(self, entity: str, record: dict) -> tuple[dict, object, bool]:
        """(properties, company id, whether the company is set) of a contact's write."""
        props = dict(record)
        if entity != "contact" or self.account_field not in props:
            return props, None, False
        return props, props.pop(self.account_field), True

    def create(self, entity: str, records: list[dict]) -> list[Result]:
        """A contact is made with its company in the same call (no contact without it)."""
        kind = self.object_name(entity)
        split = [self._split(entity, r) for r in records]
        made = self.call(hubspot.create, kind, [p for p, _, _ in split], [c for _, c, _ in split])
        return self._results(made)

    def update(self, entity: str, records: list[dict]) -> list[Result]:
        """records: {"id": CRM id, property: value, ...}; a contact's `associatedcompanyid`
        becomes its primary company (associations v4), or none."""
        kind = self.object_name(entity)
        split = [self._split(entity, r) for r in records]
        writes = [(i, p) for i, (p, _, _) in enumerate(split) if set(p) - {"id"}]
        results: list[Result | None] = [None] * len(records)
        if writes:
            done = self._results(self.call(hubspot.update, kind, [p for _, p in writes]))
            for (index, _), result in zip(writes, done, strict=True):
                results[index] = result
        for index, record in enumerate(records):
            if results[index] is None:
                results[index] = Result(str(record["id"]), True)
        pairs, cleared = [], {}
        for result, (props, company, changed) in zip(results, split, strict=True):
            if result.ok and changed:
                if company:
                    pairs.append((str(props["id"]), company))
                else:
                    cleared[str(props["id"])] = True
        return self._linked(results, pairs, cleared)

    def _linked(self, results: list[Result], pairs, cleared: dict) -> list[Result]:
        """The contacts' companies set (primary) and cleared; a contact whose association failed
        fails with HubSpot's error."""
        failed = {}
        if pairs:
            for outcome in self.call(hubspot.associate, pairs, primary=True):
                if not outcome.ok:
                    failed[outcome.id] = outcome
        if cleared:
            current = self.call(hubspot.companies_of, list(cleared))
            drop = [
                (contact, link["id"])
                for contact, links in current.items()
                for link in links
                if link["primary"]
            ]
            if drop:
                for outcome in self.call(hubspot.dissociate, drop):
                    if not outcome.ok:
                        failed[outcome.id] = outcome
        if not failed:
            return results
        return [
            Result(r.id, False, failed[r.id].code, failed[r.id].message) if r.id in failed else r
            for r in results
        ]

    def delete(self, entity: str, ids: list[str]) -> list[Result]:
        return self._results(self.call(hubspot.archive, self.object_name(entity), list(ids)))

    def count(self, entity: str) -> int:
        return self.call(hubspot.count, self.object_name(entity))

    def usage(self) -> dict:
        return hubspot.usage(self.sdk) if self.sdk is not None else {}

    def sample(self, entity: str, fields, n: int = 5) -> list[dict]:
        rows = self.call(hubspot.recent, self.object_name(entity), fields, n)
        return [
            {"id": str(r["id"]), **{f: (r.get("properties") or {}).get(f) for f in fields}}
            for r in rows
        ]


REMOTES = {cls.provider: cls for cls in (SalesforceRemote, HubSpotRemote)}


def remote_class(provider: str) -> type[Remote]:
    try:
        return REMOTES[provider]
    except KeyError:
        raise ApplicationError(f"No CRM sync for {provider!r}.") from None


def remote_for(config, through) -> Remote:
    """The config's CRM, called through the connection's one client `through`."""
    return remote_class(config.provider)(through)
