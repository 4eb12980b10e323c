"""Salesforce's data API for the Salesforce emulator: Account and Contact (and the org's Users
as owners) under `/services/data/v{NN.N}/`.

Served: describe (global, per object, and `describe` with fields, types, nillable, defaults,
picklists, createable / updateable, the external-id field `Hub_Id__c`); SOQL through `query`
and `queryAll` (the subset in soql.py) in pages of at most 2,000 records chained by
`nextRecordsUrl`; sObject create / read / update / delete and upsert by external id; sObject
Collections create / update / upsert / delete (at most 200 records, per-record results,
`allOrNone` rolling the whole call back); the `updated` and `deleted` windows; `limits`. Every
write stamps `LastModifiedDate` and `SystemModstamp` from the emulator's clock; a delete moves
the row to the recycle bin (`IsDeleted`, seen by `queryAll` and `deleted`). Errors are
Salesforce's JSON arrays.

The control plane adds `/_sandbox/records` (POST: seed N records, or given ones; GET: every
row of an object as stored; PATCH: many rows edited in one call as another user) and
`/_sandbox/records/{id}` (edit or delete a record as another Salesforce user, or touch it as
the system: only `SystemModstamp` moves) for tests and benches of the hub's sync.

# Reference: ../shared/providers/salesforce.md "REST endpoints" (query batches of at most
# 2,000 and nextRecordsUrl, Collections ≤200 with allOrNone default false and per-record
# {id, success, errors[{statusCode, message, fields}]}, Get Updated / Get Deleted shapes,
# SystemModstamp vs LastModifiedDate, limits, errors as arrays); FACTS.md §11.
"""

import copy
import functools
import json
from urllib.parse import parse_qs

from faker import Faker
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox import soql
from integrations.sandbox.soql import SoqlError, parse_instant, sf_stamp

PREFIX = "/services/data/v{version}"
PAGE = 2_000  # the most records one query answer carries
COLLECTION_CAP = 200
# Reference: developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/
# salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm ("API query cursor
# limits": 10 open query cursors per user; opening another closes the oldest).
OPEN_CURSORS = 10
UPDATED_WINDOW_DAYS = 30
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Reference: ../shared/providers/salesforce.md "Errors" (404 NOT_FOUND); FACTS.md §4.
NOT_FOUND = ("NOT_FOUND", "The requested resource does not exist", [])
ROLLED_BACK = (
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
    [],
)
KEY_PREFIXES = {"Account": "001", "Contact": "003", "User": "005"}
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "datetime": "xsd:dateTime",
    "currency": "xsd:double",
    "double": "xsd:double",
    "int": "xsd:int",
}
# Reference: the standard picklist values of Account.Industry / Type and Contact.LeadSource /
# Salutation (developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/
# sforce_api_objects_account.htm, sforce_api_objects_contact.htm).
INDUSTRIES = [
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
]
ACCOUNT_TYPES = [
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
]
LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
SALUTATIONS = ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]


def with_checksum(id15: str) -> str:
    """The 18-character, case-safe id: three characters, each encoding which of five
    characters of the 15-character id are upper case.

    # Reference: developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm ("ID
    # field type": 15-character case-sensitive, 18-character case-insensitive with a checksum).
    """
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]) if ch.isupper())
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return id15 + suffix


def normal_id(value: str) -> str | None:
    """An id as 18 characters (15-character ids are accepted as Salesforce accepts them)."""
    if not isinstance(value, str) or not value.isalnum() or len(value) not in (15, 18):
        return None
    full = with_checksum(value[:15])
    return full if len(value) == 15 or full.lower() == value.lower() else None


def _field(name, type_, label, *, length=0, required=False, system=False, **extra) -> dict:
    """A describe field entry. `required`: nillable=false with no default, as a create must
    send it; `system`: set by Salesforce only (neither createable nor updateable)."""
    entry = {
        "name": name,
        "label": label,
        "type": type_,
        "soapType": SOAP_TYPES.get(type_, "xsd:string"),
        "length": length,
        "nillable": not (required or system) or type_ == "reference",
        "createable": not system,
        "updateable": not system,
        "defaultedOnCreate": system,
        "calculated": False,
        "custom": name.endswith("__c"),
        "externalId": False,
        "idLookup": name == "Id",
        "unique": False,
        "nameField": False,
        "filterable": True,
        "sortable": type_ != "textarea",
        "defaultValue": None,
        "picklistValues": [],
        "restrictedPicklist": False,
        "referenceTo": [],
        "relationshipName": None,
    }
    entry.update(extra)
    if system and type_ == "reference":
        entry["nillable"] = False
    return entry


def _picklist(values: list[str]) -> list[dict]:
    return [{"value": v, "label": v, "active": True, "defaultValue": False} for v in values]


def _common_head() -> list[dict]:
    return [
        _field("Id", "id", "Record ID", length=18, system=True, nillable=False),
        _field("IsDeleted", "boolean", "Deleted", system=True, nillable=False),
    ]


def _common_tail() -> list[dict]:
    user = {"referenceTo": ["User"], "length": 18}
    return [
        # Reference: the OwnerId description in ../shared/specs/salesforce-sobjects-openapi-
        # v59-core.json ("Default value is the user logged in to the API"): not nillable, yet
        # defaulted on create, so not required.
        _field("OwnerId", "reference", "Owner ID", nillable=False, defaultedOnCreate=True, **user),
        _field("CreatedDate", "datetime", "Created Date", system=True, nillable=False),
        _field("CreatedById", "reference", "Created By ID", system=True, **user),
        _field("LastModifiedDate", "datetime", "Last Modified Date", system=True, nillable=False),
        _field("LastModifiedById", "reference", "Last Modified By ID", system=True, **user),
        _field("SystemModstamp", "datetime", "System Modstamp", system=True, nillable=False),
        # The hub's own key, as an org admin would add it for an integration: an external id
        # (unique, indexed, usable in upserts by external id).
        _field(
            "Hub_Id__c",
            "string",
            "Hub ID",
            length=255,
            externalId=True,
            idLookup=True,
            unique=True,
        ),
    ]


def _address(prefix: str) -> list[dict]:
    return [
        _field(f"{prefix}Street", "textarea", f"{prefix} Street", length=255),
        _field(f"{prefix}City", "string", f"{prefix} City", length=40),
        _field(f"{prefix}State", "string", f"{prefix} State/Province", length=80),
        _field(f"{prefix}PostalCode", "string", f"{prefix} Zip/Postal Code", length=20),
        _field(f"{prefix}Country", "string", f"{prefix} Country", length=80),
    ]


SCHEMA: dict[str, list[dict]] = {
    "Account": [
        *_common_head(),
        _field("Name", "string", "Account Name", length=255, required=True, nameField=True),
        _field(
            "Type", "picklist", "Account Type", length=255, picklistValues=_picklist(ACCOUNT_TYPES)
        ),
        _field("ParentId", "reference", "Parent Account ID", length=18, referenceTo=["Account"]),
        *_address("Billing"),
        _field("Phone", "phone", "Account Phone", length=40),
        _field("Website", "url", "Website", length=255),
        _field(
            "Industry", "picklist", "Industry", length=255, picklistValues=_picklist(INDUSTRIES)
        ),
        _field("AnnualRevenue", "currency", "Annual Revenue", precision=18, scale=0),
        _field("NumberOfEmployees", "int", "Employees", digits=8),
        _field("Description", "textarea", "Account Description", length=32000),
        *_common_tail(),
    ],
    "Contact": [
        *_common_head(),
        _field("AccountId", "reference", "Account ID", length=18, referenceTo=["Account"]),
        _field("LastName", "string", "Last Name", length=80, required=True),
        _field("FirstName", "string", "First Name", length=40),
        _field(
            "Salutation", "picklist", "Salutation", length=40, picklistValues=_picklist(SALUTATIONS)
        ),
        # Reference: Contact.Name in the sObject reference: "Concatenation of FirstName,
        # MiddleName, LastName, and Suffix", read-only.
        _field(
            "Name", "string", "Full Name", length=121, system=True, nameField=True, nillable=False
        ),
        *_address("Mailing"),
        _field("Phone", "phone", "Business Phone", length=40),
        _field("MobilePhone", "phone", "Mobile Phone", length=40),
        _field("Email", "email", "Email", length=80),
        _field("Title", "string", "Title", length=128),
        _field("Department", "string", "Department", length=80),
        _field(
            "LeadSource",
            "picklist",
            "Lead Source",
            length=255,
            picklistValues=_picklist(LEAD_SOURCES),
        ),
        _field("Description", "textarea", "Contact Description", length=32000),
        *_common_tail(),
    ],
}
FIELDS = {name: {f["name"]: f for f in fields} for name, fields in SCHEMA.items()}
LABELS = {"Account": ("Account", "Accounts"), "Contact": ("Contact", "Contacts")}


@functools.cache
def _generated(seed: int, accounts: int, contacts: int) -> tuple:
    """The seeded rows' contents, made once per seed (Faker takes a third of a second for a
    few hundred rows, and every test resets the emulators): (object, fields, (days ago
    created, share of the time since then at the last change, owner, last modifier), a pick
    of the contact's account), the last three as fractions in [0, 1)."""
    fake = Faker()
    fake.seed_instance(seed)
    rng = fake.random
    rows = []
    for _ in range(accounts):
        fields = {
            "Name": fake.company(),
            "Type": rng.choice(ACCOUNT_TYPES),
            "BillingStreet": fake.street_address(),
            "BillingCity": fake.city(),
            "BillingState": fake.state_abbr(),
            "BillingPostalCode": fake.postcode(),
            "BillingCountry": "United States",
            "Phone": fake.numerify("(###) ###-####"),
            "Website": f"https://www.{fake.domain_name()}",
            "Industry": rng.choice(INDUSTRIES),
            "AnnualRevenue": float(rng.randrange(100_000, 50_000_000, 1000)),
            "NumberOfEmployees": rng.randrange(5, 20_000),
            "Description": fake.catch_phrase(),
        }
        times = (rng.uniform(1, 60), rng.random(), rng.random(), rng.random())
        rows.append(("Account", fields, times, 0.0))
    for _ in range(contacts):
        first, last = fake.first_name(), fake.last_name()
        fields = {
            "FirstName": first,
            "LastName": last,
            "_email": (first, last, fake.domain_name()),
            "Phone": fake.numerify("(###) ###-####"),
            "Title": fake.job()[:128],
            "Department": rng.choice(["Sales", "Finance", "Operations", "IT", "Marketing"]),
            "LeadSource": rng.choice(LEAD_SOURCES),
            "MailingCity": fake.city(),
            "MailingCountry": "United States",
        }
        times = (rng.uniform(1, 60), rng.random(), rng.random(), rng.random())
        rows.append(("Contact", fields, times, rng.random()))
    return tuple(rows)


class ServedObject(Convertor):
    """A path segment naming an object this API serves (any case, as Salesforce's paths take
    it): other objects' paths stay unrouted, so `sobjects/User/{id}` keeps its own GET-only
    route and its 405, and an unknown object is the router's NOT_FOUND array."""

    regex = "(?i:" + "|".join(SCHEMA) + ")"

    def convert(self, value: str) -> str:
        return next(name for name in SCHEMA if name.lower() == value.lower())

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("sobject", ServedObject())


class SalesforceData:
    """The data API half of SalesforceEmulator (mixed in; uses its state, clock, errors and
    `authenticated`)."""

    # --- state -----------------------------------------------------------------------------------

    def data_state(self, seed: int, users: list[str], accounts: int, contacts: int) -> dict:
        state = {"sobjects": {name: {} for name in SCHEMA}, "next_id": 0, "cursors": {}}
        self._seed_into(state, seed, users, accounts, contacts)
        return state

    def _new_id(self, state: dict, sobject: str) -> str:
        number, digits = state["next_id"], ""
        state["next_id"] += 1
        for _ in range(7):
            number, rest = divmod(number, 62)
            digits = BASE62[rest] + digits
        return with_checksum(f"{KEY_PREFIXES[sobject]}Dn000{digits}")

    def _seed_into(self, state, seed: int, users: list[str], accounts: int, contacts: int):
        """Realistic rows, the same for the same seed: created over the last 60 days and last
        modified since, by the org's users. A contact belongs to one of the accounts seeded
        with it (or, with none, to one already there) and has its e-mail at its domain."""
        now = self.clock.time()
        pool = [i for i, r in state["sobjects"]["Account"].items() if not r["IsDeleted"]]
        new_accounts = []
        for sobject, fields, times, pick in _generated(seed, accounts, contacts):
            fields = dict(fields)
            if sobject == "Contact":
                candidates = new_accounts or pool
                account = candidates[int(pick * len(candidates))] if candidates else None
                first, last, domain = fields.pop("_email")
                if account:
                    website = state["sobjects"]["Account"][account]["Website"] or ""
                    domain = website.removeprefix("https://www.") or domain
                fields.update(AccountId=account, Email=f"{first}.{last}@{domain}".lower())
            record = self._blank(sobject)
            record.update(fields)
            record_id = self._new_id(state, sobject)
            created_days, modified_share, owner, modifier = times
            created = now - created_days * 86_400
            modified = created + (now - created) * modified_share
            record.update(
                Id=record_id,
                OwnerId=users[int(owner * len(users))],
                CreatedById=users[int(owner * len(users))],
                LastModifiedById=users[int(modifier * len(users))],
                CreatedDate=sf_stamp(created),
                LastModifiedDate=sf_stamp(modified),
                SystemModstamp=sf_stamp(modified),
            )
            self._derive(sobject, record)
            state["sobjects"][sobject][record_id] = record
            if sobject == "Account":
                new_accounts.append(record_id)
        self._changed()

    @staticmethod
    def _blank(sobject: str) -> dict:
        record = dict.fromkeys(FIELDS[sobject])
        record["IsDeleted"] = False
        return record

    @staticmethod
    def _derive(sobject: str, record: dict) -> None:
        if sobject == "Contact":
            record["Name"] = " ".join(p for p in (record["FirstName"], record["LastName"]) if p)

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def sf_errors(status: int, errors: list[tuple[str, str, list]]) -> JSONResponse:
        """The REST API's error body: an array of {message, errorCode, fields}."""
        return JSONResponse(
            [{"message": m, "errorCode": c, "fields": f} for c, m, f in errors], status_code=status
        )

    def _now(self) -> str:
        return sf_stamp(self.clock.time())

    def _find(self, record_id: str) -> tuple[str | None, dict | None]:
        """(object, record) of an id of any object, deleted rows included."""
        full = normal_id(record_id)
        if full is None:
            return None, None
        for sobject, prefix in KEY_PREFIXES.items():
            if full.startswith(prefix) and sobject in SCHEMA:
                return sobject, self.state["sobjects"][sobject].get(full)
        return None, None

    def _object(self, request: Request) -> str:
        return request.path_params["sobject"]  # canonical: ServedObject converted it

    def _shape(self, sobject: str, record: dict, version: str, fields=None) -> dict:
        out = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{version}/sobjects/{sobject}/{record['Id']}",
            }
        }
        for name in fields or FIELDS[sobject]:
            out[name] = record[name]
        return out

    def _live(self, sobject: str) -> dict:
        return self.state["sobjects"][sobject]

    # --- validation ------------------------------------------------------------------------------

    def _prepare(
        self, sobject: str, body: dict, record: dict | None, user_id: str, pending: dict
    ) -> tuple[dict | None, list[tuple[str, str, list]]]:
        """The record after this write (a new dict; nothing is stored), or its errors. `record`
        None: a create. `pending`: rows written earlier in the same call, seen by reference
        checks and external-id uniqueness."""
        fields = FIELDS[sobject]
        unknown = [k for k in body if k not in fields and k != "attributes"]
        if unknown:
            return None, [
                (
                    "INVALID_FIELD",
                    f"No such column '{unknown[0]}' on sobject of type {sobject}",
                    [unknown[0]],
                )
            ]
        writable = "createable" if record is None else "updateable"
        refused = [k for k in body if k != "attributes" and k != "Id" and not fields[k][writable]]
        if refused:
            verb = "create" if record is None else "update"
            return None, [
                (
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to {verb} fields: {', '.join(refused)}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.",
                    refused,
                )
            ]
        result = dict(record) if record else self._blank(sobject)
        errors = []
        for name, value in body.items():
            if name in ("attributes", "Id"):
                continue
            entry = fields[name]
            if isinstance(value, str) and value == "":
                value = None  # the REST API stores an empty text as null
            problem = self._check_value(sobject, entry, value, pending)
            if problem:
                errors.append(problem)
                continue
            result[name] = value
        if errors:
            return None, errors
        missing = [
            name
            for name, entry in fields.items()
            if not entry["nillable"]
            and entry["createable"]
            and not entry["defaultedOnCreate"]
            and result.get(name) in (None, "")
        ]
        if missing:
            return None, [
                (
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            ]
        ext = result.get("Hub_Id__c")
        if ext is not None:
            staged = [r for r in pending.values() if r.get("Hub_Id__c") == ext]
            clash = [
                other
                for other in [*self._by_external(sobject, "Hub_Id__c", ext), *staged]
                if other["Id"] != result["Id"] and not other["IsDeleted"]
            ]
            if clash:
                return None, [
                    (
                        "DUPLICATE_VALUE",
                        f"duplicate value found: Hub_Id__c duplicates value on record with id: "
                        f"{clash[0]['Id']}",
                        ["Hub_Id__c"],
                    )
                ]
        now = self._now()
        if record is None:
            result["OwnerId"] = result["OwnerId"] or user_id
            result.update(CreatedDate=now, CreatedById=user_id)
        result.update(LastModifiedDate=now, LastModifiedById=user_id, SystemModstamp=now)
        self._derive(sobject, result)
        return result, []

    def _check_value(self, sobject, entry, value, pending) -> tuple[str, str, list] | None:
        """One field's value: type, length, e-mail, reference. Reference: the errorCodes of the
        SOAP API's StatusCode list, which the REST API shares (developer.salesforce.com/docs/
        atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm#statuscode)."""
        name, kind = entry["name"], entry["type"]
        if value is None:
            return None
        if kind == "boolean" and not isinstance(value, bool):
            return (
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of boolean from {value!r}",
                [name],
            )
        if kind in ("currency", "double", "int") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            return (
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {kind} from {value!r}",
                [name],
            )
        if kind in ("string", "textarea", "picklist", "phone", "url", "email"):
            if not isinstance(value, str):
                return (
                    "JSON_PARSER_ERROR",
                    f"Cannot deserialize instance of string from {value!r}",
                    [name],
                )
            if entry["length"] and len(value) > entry["length"]:
                return (
                    "STRING_TOO_LONG",
                    f"{entry['label']}: data value too large: {value[:40]} (max length="
                    f"{entry['length']})",
                    [name],
                )
        if kind == "email" and (value.count("@") != 1 or "." not in value.split("@")[1]):
            return (
                "INVALID_EMAIL_ADDRESS",
                f"{entry['label']}: invalid email address: {value}",
                [name],
            )
        if kind == "reference":
            target = entry["referenceTo"][0]
            full = normal_id(value)
            if full is None or not full.startswith(KEY_PREFIXES[target]):
                return (
                    "MALFORMED_ID",
                    f"{entry['label']}: id value of incorrect type: {value}",
                    [name],
                )
            if target == "User":
                exists = full in self.state["users"]
            else:
                row = self._live(target).get(full) or pending.get(full)
                exists = row is not None and not row["IsDeleted"]
            if not exists:
                return ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])
        return None

    # --- routes ----------------------------------------------------------------------------------

    def data_routes(self) -> list[Route]:
        def both(path, endpoint, methods):
            # simple-salesforce sends some paths with a trailing slash (query/, limits/,
            # sobjects/Account/ for a create) and some without (sobjects, .../describe).
            return [
                Route(path, endpoint, methods=methods),
                Route(path + "/", endpoint, methods=methods),
            ]

        p = PREFIX
        return [
            *both(f"{p}/sobjects", self.describe_global, ["GET"]),
            *both(f"{p}/limits", self.limits_answer, ["GET"]),
            *both(f"{p}/query", self.query, ["GET"]),
            *both(f"{p}/queryAll", self.query, ["GET"]),
            Route(f"{p}/query/{{locator}}", self.query_more, methods=["GET"]),
            Route(f"{p}/queryAll/{{locator}}", self.query_more, methods=["GET"]),
            Route(f"{p}/composite/sobjects", self.collection, methods=["POST", "PATCH", "DELETE"]),
            Route(
                f"{p}/composite/sobjects/{{sobject:sobject}}/{{field}}",
                self.collection_upsert,
                methods=["PATCH"],
            ),
            *both(f"{p}/sobjects/{{sobject:sobject}}", self.sobject_root, ["GET", "POST"]),
            *both(f"{p}/sobjects/{{sobject:sobject}}/describe", self.describe_object, ["GET"]),
            *both(f"{p}/sobjects/{{sobject:sobject}}/updated", self.updated, ["GET"]),
            *both(f"{p}/sobjects/{{sobject:sobject}}/deleted", self.deleted, ["GET"]),
            Route(
                f"{p}/sobjects/{{sobject:sobject}}/{{record_id}}",
                self.sobject_row,
                methods=["GET", "PATCH", "DELETE"],
            ),
            Route(
                f"{p}/sobjects/{{sobject:sobject}}/{{field}}/{{value}}",
                self.external_row,
                methods=["GET", "PATCH"],
            ),
        ]

    def data_control_routes(self) -> list[Route]:
        return [
            Route("/_sandbox/records", self._cp_records, methods=["POST"]),
            Route("/_sandbox/records", self._cp_rows, methods=["GET"]),
            Route("/_sandbox/records", self._cp_edit_many, methods=["PATCH"]),
            Route(
                "/_sandbox/records/{record_id}", self._cp_record, methods=["GET", "PATCH", "DELETE"]
            ),
        ]

    # --- describe --------------------------------------------------------------------------------

    def _object_info(self, sobject: str, version: str) -> dict:
        base = f"/services/data/v{version}/sobjects/{sobject}"
        label, plural = LABELS[sobject]
        return {
            "name": sobject,
            "label": label,
            "labelPlural": plural,
            "keyPrefix": KEY_PREFIXES[sobject],
            "custom": False,
            "customSetting": False,
            "activateable": False,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "undeletable": True,
            "mergeable": True,
            "replicateable": True,
            "triggerable": True,
            "queryable": True,
            "retrieveable": True,
            "searchable": True,
            "layoutable": True,
            "feedEnabled": False,
            "mruEnabled": True,
            "hasSubtypes": False,
            "isSubtype": False,
            "dataTranslationEnabled": False,
            "isInterface": False,
            "deepCloneable": False,
            "associateEntityType": None,
            "associateParentEntity": None,
            "deprecatedAndHidden": False,
            "urls": {
                "sobject": base,
                "describe": f"{base}/describe",
                "rowTemplate": f"{base}/{{ID}}",
            },
        }

    async def describe_global(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        version = request.path_params["version"]
        # Reference: SPEC-SF DescribeGlobalResult {encoding, maxBatchSize, sobjects[]}; the
        # batch size is the Collections cap.
        return JSONResponse(
            {
                "encoding": "UTF-8",
                "maxBatchSize": COLLECTION_CAP,
                "sobjects": [self._object_info(name, version) for name in SCHEMA],
            }
        )

    async def describe_object(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        sobject = self._object(request)
        info = self._object_info(sobject, request.path_params["version"])
        return JSONResponse({**info, "fields": copy.deepcopy(SCHEMA[sobject])})

    async def limits_answer(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        used = len(self.runtime.windows.get(self.state["org"]["id"], ()))
        return JSONResponse(
            {"DailyApiRequests": {"Max": self.limit.limit, "Remaining": self.limit.limit - used}}
        )

    # --- query -----------------------------------------------------------------------------------

    def _batch_size(self, request: Request) -> int:
        # Reference: salesforce.md "Query" (Sforce-Query-Options: batchSize=200..2000 is a hint).
        options = request.headers.get("sforce-query-options", "")
        for part in options.split(","):
            key, _, value = part.strip().partition("=")
            if key.strip() == "batchSize" and value.strip().isdigit():
                return max(200, min(PAGE, int(value)))
        return PAGE

    async def query(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        text = request.query_params.get("q")
        if not text:
            return self.sf_errors(
                400, [("MALFORMED_QUERY", "A query string has to be specified", [])]
            )
        schema = {name: FIELDS[name] for name in SCHEMA}
        try:
            parsed = soql.parse(text, schema, self.clock.time())
        except SoqlError as exc:
            return self.sf_errors(400, [(exc.code, exc.message, [])])
        include_deleted = request.url.path.rstrip("/").endswith("queryAll")
        rows = [
            r
            for r in self._live(parsed.sobject).values()
            if (include_deleted or not r["IsDeleted"]) and soql.matches(parsed.where, r)
        ]
        rows = soql.ordered(rows, parsed.order)[parsed.offset :]
        if parsed.limit is not None:
            rows = rows[: parsed.limit]
        if parsed.count:
            return JSONResponse({"totalSize": len(rows), "done": True, "records": []})
        version = request.path_params["version"]
        shaped = [self._shape(parsed.sobject, r, version, parsed.fields) for r in rows]
        return self._page(request, shaped, 0, None, include_deleted)

    def _page(self, request, shaped: list, start: int, locator: str | None, all_rows: bool):
        """One answer of at most the batch size; the rest waits under a query locator."""
        size = self._batch_size(request)
        version = request.path_params["version"]
        body = {"totalSize": len(shaped), "done": start + size >= len(shaped)}
        if not body["done"]:
            if locator is None:
                # A query locator's own key prefix (01g) and counter: a query never shifts the
                # ids of the rows created after it.
                self.state["next_cursor"] = self.state.get("next_cursor", 0) + 1
                locator = f"01gDn{self.state['next_cursor']:010d}"
                cursors = self.state["cursors"]
                cursors[locator] = shaped
                while len(cursors) > OPEN_CURSORS:  # the oldest is closed, as Salesforce does
                    cursors.pop(next(iter(cursors)))
            endpoint = "queryAll" if all_rows else "query"
            body["nextRecordsUrl"] = (
                f"/services/data/v{version}/{endpoint}/{locator}-{start + size}"
            )
        elif locator is not None:
            self.state["cursors"].pop(locator, None)  # a finished cursor is closed
        body["records"] = shaped[start : start + size]
        return JSONResponse(body)

    async def query_more(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        locator, _, offset = request.path_params["locator"].rpartition("-")
        shaped = self.state["cursors"].get(locator)
        if shaped is None or not offset.isdigit():
            # Reference: the REST API's INVALID_QUERY_LOCATOR for a closed or unknown cursor
            # (developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
            # resources_query.htm, "Query More Results").
            return self.sf_errors(400, [("INVALID_QUERY_LOCATOR", "invalid query locator", [])])
        include_deleted = request.url.path.split("/")[-2] == "queryAll"
        return self._page(request, shaped, int(offset), locator, include_deleted)

    # --- one record ------------------------------------------------------------------------------

    async def sobject_root(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        sobject = self._object(request)
        version = request.path_params["version"]
        if request.method == "GET":
            recent = sorted(
                (r for r in self._live(sobject).values() if not r["IsDeleted"]),
                key=lambda r: r["LastModifiedDate"],
                reverse=True,
            )[:5]
            return JSONResponse(
                {
                    "objectDescribe": self._object_info(sobject, version),
                    "recentItems": [
                        self._shape(sobject, r, version, ["Id", "Name"]) for r in recent
                    ],
                }
            )
        body, failure = await self._json(request)
        if failure:
            return failure
        if not isinstance(body, dict) or "Id" in body:
            return self.sf_errors(
                400, [("INVALID_FIELD", "Unable to create/update fields: Id.", ["Id"])]
            )
        record, errors = self._prepare(sobject, body, None, info["user_id"], {})
        if errors:
            return self.sf_errors(400, errors)
        record["Id"] = self._new_id(self.state, sobject)
        self._commit(record, sobject)
        return JSONResponse({"id": record["Id"], "success": True, "errors": []}, status_code=201)

    async def _json(self, request: Request):
        raw = await request.body()
        try:
            return json.loads(raw or b"null"), None
        except ValueError:
            return None, self.sf_errors(
                400, [("JSON_PARSER_ERROR", "Unexpected character in the request body", [])]
            )

    async def sobject_row(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        sobject = self._object(request)
        full = normal_id(request.path_params["record_id"])
        record = self._live(sobject).get(full) if full else None
        if record is None or record["IsDeleted"]:
            if record is not None and request.method == "DELETE":
                return self.sf_errors(404, [("ENTITY_IS_DELETED", "entity is deleted", [])])
            return self.sf_errors(404, [NOT_FOUND])
        version = request.path_params["version"]
        if request.method == "GET":
            wanted = request.query_params.get("fields")
            fields = None
            if wanted:
                by_lower = {n.lower(): n for n in FIELDS[sobject]}
                fields = [by_lower.get(n.strip().lower()) for n in wanted.split(",")]
                if None in fields:
                    bad = wanted.split(",")[fields.index(None)]
                    return self.sf_errors(
                        400,
                        [
                            (
                                "INVALID_FIELD",
                                f"No such column '{bad}' on sobject of type {sobject}",
                                [],
                            )
                        ],
                    )
            return JSONResponse(self._shape(sobject, record, version, fields))
        if request.method == "DELETE":
            self._delete(record, info["user_id"])
            return Response(status_code=204)
        body, failure = await self._json(request)
        if failure:
            return failure
        if not isinstance(body, dict):
            return self.sf_errors(400, [("JSON_PARSER_ERROR", "The body must be an object", [])])
        updated, errors = self._prepare(sobject, body, record, info["user_id"], {})
        if errors:
            return self.sf_errors(400, errors)
        self._commit(updated, sobject)
        return Response(status_code=204)

    def _delete(self, record: dict, user_id: str) -> None:
        self._changed()
        now = self._now()
        record.update(
            IsDeleted=True, LastModifiedDate=now, LastModifiedById=user_id, SystemModstamp=now
        )

    def _changed(self) -> None:
        """A row was written: the external-id index is stale."""
        self._writes = getattr(self, "_writes", 0) + 1

    def _by_external(self, sobject: str, field: str, value) -> list[dict]:
        """The live rows whose external id `field` is `value`, through an index rebuilt after
        each write (a scan per record made one 200-record upsert against 10,000 rows take a
        quarter of a second)."""
        key = (id(self.state["sobjects"]), getattr(self, "_writes", 0))
        if getattr(self, "_index_key", None) != key:
            self._index = {}
            for name, rows in self.state["sobjects"].items():
                for ext in (n for n, e in FIELDS[name].items() if e["externalId"]):
                    index = self._index.setdefault((name, ext), {})
                    for row in rows.values():
                        if row[ext] is not None and not row["IsDeleted"]:
                            index.setdefault(str(row[ext]), []).append(row["Id"])
            self._index_key = key
        ids = self._index.get((sobject, field), {}).get(str(value), [])
        rows = self._live(sobject)
        return [rows[i] for i in ids if i in rows]

    async def external_row(self, request: Request) -> Response:
        """GET or upsert by an external-id field: `sobjects/{Object}/{Field}/{value}`.

        # Reference: developer.salesforce.com/docs/platform/api-rest/guide/dome-upsert.html and
        # atlas.en-us.244.0.api_asynch.meta/api_asynch/bulk_api_2_0_upsert.htm (no match:
        # created, 201 {id, success, errors, created: true}, "created" from API 46.0; one
        # match: updated; several: 300 with their URLs; an incorrect external id field: 404
        # NOT_FOUND "The requested resource does not exist"). An update answers 200 with
        # created false from 46.0 (the Collections upsert's UpsertResult), 204 before: the
        # 200 is UNVERIFIED for this resource (FACTS.md §11).
        """
        info, failure = self.authenticated(request)
        if failure:
            return failure
        sobject = self._object(request)
        by_lower = {n.lower(): n for n, e in FIELDS[sobject].items() if e["externalId"]}
        field = by_lower.get(request.path_params["field"].lower())
        version = request.path_params["version"]
        if field is None:
            return self.sf_errors(404, [NOT_FOUND])
        value = request.path_params["value"]
        found = self._by_external(sobject, field, value)
        if len(found) > 1:
            return JSONResponse(
                [f"/services/data/v{version}/sobjects/{sobject}/{r['Id']}" for r in found],
                status_code=300,
            )
        if request.method == "GET":
            if not found:
                return self.sf_errors(404, [NOT_FOUND])
            return JSONResponse(self._shape(sobject, found[0], version))
        body, failure = await self._json(request)
        if failure:
            return failure
        if not isinstance(body, dict):
            return self.sf_errors(400, [("JSON_PARSER_ERROR", "The body must be an object", [])])
        result = self._upsert_one(sobject, field, value, body, info["user_id"], {})
        if not result["success"]:
            return self.sf_errors(
                400, [(e["statusCode"], e["message"], e["fields"]) for e in result["errors"]]
            )
        self._commit(result.pop("_record"), sobject)
        if result["created"]:
            return JSONResponse(result, status_code=201)
        if float(version) < 46:
            return Response(status_code=204)
        return JSONResponse(result, status_code=200)

    def _upsert_one(self, sobject, field, value, body, user_id, pending) -> dict:
        """One upsert by external id, not stored: a result with the new row under `_record`."""
        if body.get(field) not in (None, value) and str(body.get(field)) != value:
            return self._failed(
                None, [("INVALID_FIELD", f"{field} in the body differs from the URL", [field])]
            )
        body = {k: v for k, v in body.items() if k != field}
        matches = [r for r in pending.values() if r.get(field) == value] or self._by_external(
            sobject, field, value
        )
        if len(matches) > 1:
            return self._failed(
                None,
                [
                    (
                        "DUPLICATE_EXTERNAL_ID",
                        f"{field}: more than one record found for external id field: [{value}]",
                        [field],
                    )
                ],
            )
        existing = matches[0] if matches else None
        record, errors = self._prepare(sobject, {**body, field: value}, existing, user_id, pending)
        if errors:
            return self._failed(existing and existing["Id"], errors)
        if existing is None:
            record["Id"] = self._new_id(self.state, sobject)
        return {
            "id": record["Id"],
            "success": True,
            "errors": [],
            "created": existing is None,
            "_record": record,
        }

    @staticmethod
    def _failed(record_id, errors) -> dict:
        """A per-record failure; a record that has no id yet answers none."""
        result = {"id": record_id} if record_id else {}
        result["success"] = False
        result["errors"] = [{"statusCode": c, "message": m, "fields": f} for c, m, f in errors]
        return result

    def _commit(self, record: dict, sobject: str) -> None:
        self._live(sobject)[record["Id"]] = record
        self._changed()

    # --- sObject Collections ---------------------------------------------------------------------

    async def collection(self, request: Request) -> Response:
        """Create (POST), update (PATCH) or delete (DELETE ?ids=) up to 200 records of any of
        the objects; 200 with one result per record, in request order.

        # Reference: ../shared/providers/salesforce.md "sObject Collections"; the cap's error
        # as the API sends it: EXCEEDED_ID_LIMIT "record limit reached. cannot submit more than
        # 200 records into this call" (jsforce users' reports, e.g. find_string ids 12072871133,
        # 69161426000); allOrNone's rolled-back records carry ALL_OR_NONE_OPERATION_ROLLED_BACK
        # (developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
        # resources_composite_sobjects_collections_create.htm, example response).
        """
        info, failure = self.authenticated(request)
        if failure:
            return failure
        user_id = info["user_id"]
        if request.method == "DELETE":
            query = parse_qs(request.url.query)
            ids = [i for i in ",".join(query.get("ids", [])).split(",") if i]
            all_or_none = query.get("allOrNone", ["false"])[0].lower() == "true"
            if not ids:
                return self.sf_errors(
                    400, [("MISSING_ARGUMENT", "ids parameter must be specified", ["ids"])]
                )
            if len(ids) > COLLECTION_CAP:
                return self._cap_error()
            return self._run(
                ids, all_or_none, lambda item, pending: self._delete_one(item, user_id)
            )
        body, failure = await self._json(request)
        if failure:
            return failure
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            return self.sf_errors(
                400, [("INVALID_FIELD", "records must be a non-empty array", ["records"])]
            )
        if len(records) > COLLECTION_CAP:
            return self._cap_error()
        all_or_none = bool(body.get("allOrNone", False))
        step = self._create_one if request.method == "POST" else self._update_one
        return self._run(records, all_or_none, lambda item, pending: step(item, user_id, pending))

    async def collection_upsert(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        sobject = self._object(request)
        field = next(
            (
                n
                for n, e in FIELDS[sobject].items()
                if e["externalId"] and n.lower() == request.path_params["field"].lower()
            ),
            None,
        )
        if field is None:
            return self.sf_errors(
                400,
                [
                    (
                        "INVALID_FIELD",
                        f"Field {request.path_params['field']} is not an external id field",
                        [],
                    )
                ],
            )
        body, failure = await self._json(request)
        if failure:
            return failure
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            return self.sf_errors(
                400, [("INVALID_FIELD", "records must be a non-empty array", ["records"])]
            )
        if len(records) > COLLECTION_CAP:
            return self._cap_error()

        def step(item, pending):
            if not isinstance(item, dict):
                return self._failed(None, [("JSON_PARSER_ERROR", "a record must be an object", [])])
            kind = (item.get("attributes") or {}).get("type")
            if kind != sobject:
                return self._failed(
                    None, [("INVALID_TYPE", "all records must be of the URL's type", [])]
                )
            if item.get(field) in (None, ""):
                return self._failed(
                    None,
                    [
                        (
                            "REQUIRED_FIELD_MISSING",
                            f"Required fields are missing: [{field}]",
                            [field],
                        )
                    ],
                )
            result = self._upsert_one(
                sobject, field, str(item[field]), item, info["user_id"], pending
            )
            return result

        return self._run(records, bool(body.get("allOrNone", False)), step)

    def _cap_error(self) -> Response:
        return self.sf_errors(
            400,
            [
                (
                    "EXCEEDED_ID_LIMIT",
                    "record limit reached. cannot submit more than 200 records into this call",
                    [],
                )
            ],
        )

    def _run(self, items, all_or_none: bool, step) -> Response:
        """Each item through `step` against rows staged in `pending`; commit them all unless
        allOrNone and one failed, in which case every other record answers rolled back."""
        pending: dict[str, dict] = {}
        results = []
        for item in items:
            result = step(item, pending)
            record = result.pop("_record", None)
            if record is not None:
                pending[record["Id"]] = record
            results.append(result)
        if all_or_none and not all(r["success"] for r in results):
            # Nothing is stored; the valid records answer that they were rolled back.
            return JSONResponse(
                [r if not r["success"] else self._failed(None, [ROLLED_BACK]) for r in results]
            )
        for record in pending.values():
            sobject = next(n for n, p in KEY_PREFIXES.items() if record["Id"].startswith(p))
            self._commit(record, sobject)
        return JSONResponse(results)

    def _type_of(self, item) -> tuple[str | None, dict | None]:
        if not isinstance(item, dict):
            return None, self._failed(
                None, [("JSON_PARSER_ERROR", "a record must be an object", [])]
            )
        kind = (item.get("attributes") or {}).get("type")
        sobject = next((n for n in SCHEMA if kind and n.lower() == str(kind).lower()), None)
        if sobject is None:
            return None, self._failed(
                None,
                [("INVALID_TYPE", "sObject type is missing or not supported: attributes.type", [])],
            )
        return sobject, None

    def _create_one(self, item, user_id, pending) -> dict:
        sobject, failed = self._type_of(item)
        if failed:
            return failed
        if item.get("Id"):
            return self._failed(
                None, [("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])]
            )
        record, errors = self._prepare(sobject, item, None, user_id, pending)
        if errors:
            return self._failed(None, errors)
        record["Id"] = self._new_id(self.state, sobject)
        return {"id": record["Id"], "success": True, "errors": [], "_record": record}

    def _update_one(self, item, user_id, pending) -> dict:
        sobject, failed = self._type_of(item)
        if failed:
            return failed
        if not item.get("Id"):
            return self._failed(
                None, [("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])]
            )
        found_type, record = self._find(item["Id"])
        record = pending.get(record["Id"], record) if record else record
        if record is None or found_type != sobject:
            return self._failed(
                item["Id"],
                [("MALFORMED_ID", f"Record ID: id value of incorrect type: {item['Id']}", ["Id"])],
            )
        if record["IsDeleted"]:
            return self._failed(record["Id"], [("ENTITY_IS_DELETED", "entity is deleted", [])])
        updated, errors = self._prepare(sobject, item, record, user_id, pending)
        if errors:
            return self._failed(record["Id"], errors)
        return {"id": record["Id"], "success": True, "errors": [], "_record": updated}

    def _delete_one(self, record_id, user_id) -> dict:
        sobject, record = self._find(record_id)
        if record is None:
            return self._failed(record_id, [("MALFORMED_ID", f"malformed id {record_id}", [])])
        if record["IsDeleted"]:
            return self._failed(record["Id"], [("ENTITY_IS_DELETED", "entity is deleted", [])])
        deleted = dict(record)
        self._delete(deleted, user_id)
        return {"id": record["Id"], "success": True, "errors": [], "_record": deleted}

    # --- replication windows ---------------------------------------------------------------------

    def _window(self, request: Request) -> tuple[float, float, Response | None]:
        """start and end, seconds truncated to the minute, or the error.

        # Reference: developer.salesforce.com/docs/platform/api-rest/guide/resources-getupdated
        # (UTC, seconds truncated, the last 30 days only); the errorCode for a start too old
        # or after the end is the SOAP getUpdated() one, INVALID_REPLICATION_DATE (developer.
        # salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getupdated.htm).
        """
        try:
            start = parse_instant(request.query_params["start"])
            end = parse_instant(request.query_params["end"])
        except (KeyError, ValueError):
            message = "start and end must be ISO 8601 date-times"
            return 0, 0, self.sf_errors(400, [("MALFORMED_QUERY", message, [])])
        start, end = start - start % 60, end - end % 60
        now = self.clock.time()
        if start < now - UPDATED_WINDOW_DAYS * 86_400 - 60:
            message = f"startDate cannot be more than {UPDATED_WINDOW_DAYS} days ago"
            return 0, 0, self.sf_errors(400, [("INVALID_REPLICATION_DATE", message, [])])
        if end <= start:
            message = "startDate must chronologically precede endDate"
            return 0, 0, self.sf_errors(400, [("INVALID_REPLICATION_DATE", message, [])])
        return start, min(end, now - now % 60), None

    async def updated(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        sobject = self._object(request)
        start, end, failure = self._window(request)
        if failure:
            return failure
        low, high = sf_stamp(start), sf_stamp(end)
        ids = [
            r["Id"]
            for r in self._live(sobject).values()
            if not r["IsDeleted"] and low <= r["SystemModstamp"] < high
        ]
        return JSONResponse({"ids": ids, "latestDateCovered": high})

    async def deleted(self, request: Request) -> Response:
        _, failure = self.authenticated(request)
        if failure:
            return failure
        sobject = self._object(request)
        start, end, failure = self._window(request)
        if failure:
            return failure
        low, high = sf_stamp(start), sf_stamp(end)
        bin_ = [r for r in self._live(sobject).values() if r["IsDeleted"]]
        rows = [
            {"id": r["Id"], "deletedDate": r["SystemModstamp"]}
            for r in bin_
            if low <= r["SystemModstamp"] < high
        ]
        earliest = min((r["SystemModstamp"] for r in bin_), default=low)
        return JSONResponse(
            {"deletedRecords": rows, "earliestDateAvailable": earliest, "latestDateCovered": high}
        )

    # --- control plane ---------------------------------------------------------------------------

    async def _cp_records(self, request: Request) -> Response:
        """Seed rows: {"accounts": n, "contacts": n, "seed"?} (realistic, deterministic per
        seed), or {"sobject", "records": [{field: value}], "user"?} (exactly these, created by
        `user`, default the first seeded user). Answers the new ids."""
        body = json.loads(await request.body() or b"{}")
        users = list(self.state["users"])
        before = {n: set(self._live(n)) for n in SCHEMA}
        if "records" in body:
            sobject = body.get("sobject")
            if sobject not in SCHEMA:
                return JSONResponse(
                    {"error": f"sobject must be one of {list(SCHEMA)}"}, status_code=400
                )
            user = body.get("user") or users[0]
            for fields in body["records"]:
                record, errors = self._prepare(sobject, fields, None, user, {})
                if errors:
                    return JSONResponse({"error": errors}, status_code=400)
                record["Id"] = self._new_id(self.state, sobject)
                self._commit(record, sobject)
        else:
            self._seed_into(
                self.state,
                int(body.get("seed", 1)),
                users,
                int(body.get("accounts", 0)),
                int(body.get("contacts", 0)),
            )
        self.dirty = True
        return JSONResponse({n: sorted(set(self._live(n)) - before[n]) for n in SCHEMA})

    async def _cp_rows(self, request: Request) -> Response:
        """Every row of one object as stored, the recycle bin's too (GET ?sobject=Account): what
        a test or a bench compares the hub's records with, without spending API calls."""
        sobject = request.query_params.get("sobject")
        if sobject not in SCHEMA:
            return JSONResponse(
                {"error": f"sobject must be one of {list(SCHEMA)}"}, status_code=400
            )
        return JSONResponse({"records": list(self._live(sobject).values())})

    async def _cp_edit_many(self, request: Request) -> Response:
        """Many rows edited in one call, each as PATCH /_sandbox/records/{id} edits one as
        another user: {"records": [{"Id", field: value, ...}], "user"?}. All or nothing: a row
        that is missing or deleted, or a value the field refuses, is a 400 naming the row, and
        no row changes."""
        body = json.loads(await request.body() or b"{}")
        items = body.get("records") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return JSONResponse({"error": "records must be a list of objects"}, status_code=400)
        user = body.get("user") or list(self.state["users"])[-1]  # not the hub's own user
        staged: dict[str, dict] = {}  # the rows after this call, by id: nothing stored yet
        for item in items:
            sobject, record = self._find(str(item.get("Id", "")))
            if record is None or record["IsDeleted"]:
                return JSONResponse({"error": f"no such record: {item.get('Id')}"}, status_code=400)
            fields = {k: v for k, v in item.items() if k != "Id"}
            current = staged.get(record["Id"], record)
            updated, errors = self._prepare(sobject, fields, current, user, staged)
            if errors:
                return JSONResponse({"error": errors, "id": record["Id"]}, status_code=400)
            staged[record["Id"]] = updated
        for record_id, updated in staged.items():
            self._find(record_id)[1].update(updated)
        self._changed()
        self.dirty = True
        return JSONResponse({"updated": sorted(staged)})

    async def _cp_record(self, request: Request) -> Response:
        """A record as stored (GET); edited as another user (PATCH {"fields", "user"?,
        "system"?}: LastModifiedDate, LastModifiedById and SystemModstamp move; with "system":
        true only SystemModstamp moves, as an automated update does); deleted as another user
        (DELETE ?user=)."""
        sobject, record = self._find(request.path_params["record_id"])
        if record is None:
            return JSONResponse({"error": "no such record"}, status_code=404)
        if request.method == "GET":
            return JSONResponse(record)
        users = list(self.state["users"])
        if request.method == "DELETE":
            self._delete(record, request.query_params.get("user") or users[-1])
            self.dirty = True
            return JSONResponse(record)
        body = json.loads(await request.body() or b"{}")
        now = self._now()
        if body.get("system"):
            record.update(body.get("fields", {}), SystemModstamp=now)
            self._changed()
        else:
            user = body.get("user") or users[-1]  # not the first user, whom the hub signs in as
            updated, errors = self._prepare(sobject, body.get("fields", {}), record, user, {})
            if errors:
                return JSONResponse({"error": errors}, status_code=400)
            record.update(updated)
            self._changed()
        self.dirty = True
        return JSONResponse(record)
