"""Microsoft Dataverse Web API emulator (one environment). Accepts the bearer tokens the
Azure emulator issued for this environment's URL; answers `WhoAmI`, IMI's job table
(`imi_jobs`: the collection with an OData subset, and one row by id) and `$metadata` (the CSDL
of those two, not of a whole environment); enforces the service
protection limit (6,000 requests per 5 minutes per user) with 429 + Retry-After and the
OData error body. The control plane's `/_sandbox/dataverse/jobs` loads generated or exact jobs.

The table is declared on the sandbox's OData engine (odata.py), which parses and answers the
queries; this module holds what is Dataverse's own, as the engine's dialect and around it.
Queries behave as the service does, not as the OData spec allows: there is no `$skip`; `$top`
gives way to `Prefer: odata.maxpagesize` (default and ceiling 5000; a larger request is
ignored, so it is not echoed in Preference-Applied); `@odata.count` stops at 5000; the primary
key comes back even when not selected; formatted values only when the Prefer header asks.
`@odata.nextLink` carries a `$skiptoken` paging cookie shaped like Dataverse's: the outer
`<cookie pagenumber pagingcookie istracking />` wraps an URL-encoded `<cookie page>` holding the
first and last row's values of every sort column and the key, and the next page starts after
that last row (keyset paging: rows added meanwhile neither repeat nor shift the pages).
Comparisons follow SQL Server: nulls sort first ascending; `ne`, `gt`... never match a null
(`ne 'x'` leaves nulls out, a known Dataverse gotcha); text compares without case; datetimes
to the second. `$expand` works on declared navigation properties, and imi_job declares none
(its lookups are not emulated). Not emulated: `$apply`, lambda and `Microsoft.Dynamics.CRM.*`
query functions, writes to `imi_jobs`.

# Reference: ../shared/providers/dataverse.md (Web API basics, error shape
# {"error":{"code","message"}}, 0x8006088a for a wrong entity set name, paging, no $skip,
# service protection limits 0x80072322, Retry-After); learn.microsoft.com power-apps/developer/
# data-platform/webapi/query: page-results (Preference-Applied, the nextLink $skiptoken cookie
# `<cookie pagenumber="2" pagingcookie="%3ccookie%20page%3d%221%22%3e%3ccontactid last first
# />..." istracking="False" />`, $top ignored with maxpagesize, >5000 ignored), select-columns
# (primary key always returned, `col@OData.Community.Display.V1.FormattedValue` before its
# property, labels for choice/status columns and "4/7/2023 2:59 PM" dates), count-rows
# ($count up to 5000), order-rows; Troubleshoot Dataverse Web API client errors (SupportArticles:
# "Resource not found for the segment", POST to the WhoAmI function answered 404 `{"error":
# {"code":"","message":"No HTTP resource was found that matches the request URI '...'."}}`,
# learn.microsoft.com/troubleshoot/power-platform/dataverse/dataverse-web-api-and-sdk/
# web-api-client-errors; "Could not find a property named '{p}' on type
# 'Microsoft.Dynamics.CRM.{e}'." documented with code 0x0, which today's service answers as
# 0x80060888, as client test fixtures capture it); Web service error codes (0x80040217
# ObjectDoesNotExist, answered as "{entity} With Id = {id} Does Not Exist"; 0x80048d16
# OrderByColumnsMustBeUnique); OData/odata.net Microsoft.OData.Core.txt (the $filter, $top,
# $count and $select messages: "Syntax error at position {0} in '{1}'.", unterminated string
# literal, "')' or operator expected", incompatible operand types, unknown function, query
# option given twice); WhoAmIResponse from learn.microsoft.com. Not published, so invented in
# the same style: the $skip message ("The query parameter $skip is not supported") and the
# malformed $skiptoken message. $metadata: the CSDL $metadata document of
# learn.microsoft.com power-apps/developer/data-platform/webapi/web-api-service-documents
# (namespace Microsoft.Dynamics.CRM); its container name "System" only as a Dataverse
# client's test fixture of a $metadata document has it (not confirmed on a live service).
"""

import html
import random
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.core import (
    Caller,
    Emulator,
    RateLimit,
    bearer_token,
    json_error,
    route_path,
)
from integrations.sandbox.odata import (
    DATETIME,
    GUID,
    GUID_PATTERN,
    INT32,
    INT64,
    STRING,
    Answer,
    Dialect,
    EntitySet,
    Function,
    ODataError,
    PagePlan,
    Property,
    Service,
    utc_datetime,
)

API = "/api/data/v9.2"
ENTITY = "imi_job"
ENTITY_SET = "imi_jobs"
PRIMARY_KEY = "imi_jobid"
MAX_PAGE_SIZE = 5000  # default and ceiling of odata.maxpagesize
COUNT_LIMIT = 5000  # @odata.count stops here on standard tables
DEFAULT_JOB_COUNT = 300
DEFAULT_APPROVED_SHARE = 0.3
FORMATTED = "OData.Community.Display.V1.FormattedValue"
# The Web API's media type, as the service labels every JSON answer.
ODATA_JSON = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"

QUERY_ERROR = "0x80060888"  # what the service answers for a query it cannot parse or bind
NOT_FOUND_SEGMENT = "0x8006088a"
OBJECT_DOES_NOT_EXIST = "0x80040217"
ORDER_BY_COLUMNS_MUST_BE_UNIQUE = "0x80048d16"

SUBMITTAL_APPROVED = 826130004
SUBMITTAL_STATUS = {
    826130000: "Needed",
    826130001: "Ready to Submit",
    826130002: "AWT Approval",
    826130003: "Update with Field #'s",
    826130004: "Approved",
    826130005: "N/A",
}
PRODUCTION_PHASE = {
    826130000: "Not Started",
    826130001: "Shop Drawings",
    826130002: "Fabrication",
    826130003: "Installation",
    826130004: "Complete",
}
CHOICE_LABELS = {
    "imi_submittalstatus": SUBMITTAL_STATUS,
    "imi_productionphase": PRODUCTION_PHASE,
    "statecode": {0: "Active", 1: "Inactive"},
    "statuscode": {1: "Active", 2: "Inactive"},
}

# imi_job's columns, in the order an unselected row lists them.
IMI_JOBS = EntitySet(
    name=ENTITY_SET,
    entity_type=ENTITY,
    key=(PRIMARY_KEY,),
    properties=tuple(
        Property(name, edm, CHOICE_LABELS.get(name))
        for name, edm in (
            ("imi_jobid", GUID),
            ("imi_imnumber", STRING),
            ("imi_jobnameaddress", STRING),
            ("imi_gc", STRING),
            ("imi_scopesummary", STRING),
            ("imi_submittalstatus", INT32),
            ("imi_productionphase", INT32),
            ("statecode", INT32),
            ("statuscode", INT32),
            ("createdon", DATETIME),
            ("modifiedon", DATETIME),
            ("versionnumber", INT64),
        )
    ),
    etag="versionnumber",
)
COLUMNS = IMI_JOBS.columns
WHO_AM_I = Function(
    name="WhoAmI",
    returns="WhoAmIResponse",
    properties=(
        Property("BusinessUnitId", GUID),
        Property("UserId", GUID),
        Property("OrganizationId", GUID),
    ),
)


def _stable_id(seed: int, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://dataverse.sandbox/{seed}/{name}"))


def _stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class _Stamps:
    """`_stamp` for many times: a day's date is formatted once, the time of day by arithmetic."""

    def __init__(self):
        self.days: dict[int, str] = {}

    def __call__(self, epoch: int) -> str:
        day, seconds = divmod(int(epoch), 86400)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = self.days[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * 86400))
        hours, rest = divmod(seconds, 3600)
        return f"{prefix}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def _random_uuid(rng: random.Random) -> str:
    """A version-4 GUID from `rng` (as uuid.UUID(int=..., version=4) formats it, faster)."""
    bits = rng.getrandbits(128)
    bits = (bits & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _formatted_datetime(value: str) -> str:
    # The user's time zone is UTC for an application user: "4/7/2023 9:59 PM".
    hour = int(value[11:13])
    suffix = "AM" if hour < 12 else "PM"
    return f"{int(value[5:7])}/{int(value[8:10])}/{value[0:4]} {hour % 12 or 12}:{value[14:16]} {suffix}"


# --- the dialect -------------------------------------------------------------------------------


class DataverseDialect(Dialect):
    """What the Web API does beyond (or instead of) the specification: see the module
    docstring. Its query errors carry 0x80060888."""

    namespace = "Microsoft.Dynamics.CRM"
    container = "System"
    options = frozenset(
        {"$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken"}
    )
    count_limit = COUNT_LIMIT
    page_size = MAX_PAGE_SIZE
    sql_nulls = ignore_case = always_key = True
    formatted_term = FORMATTED
    query_error_code = QUERY_ERROR
    media_type = ODATA_JSON

    def plan(self, entity_set: EntitySet, top: int | None, prefer: dict[str, str]) -> PagePlan:
        """odata.maxpagesize wins over $top; past 5000 it is ignored (the default holds, and
        it is not echoed); $top alone gives one page of at most 5000 rows, no next link."""
        requested = prefer.get("odata.maxpagesize", "")
        if requested.isdigit() and int(requested) > 0:
            if int(requested) <= MAX_PAGE_SIZE:
                size = int(requested)
                return PagePlan(size, paged=True, top=None, applied=[f"odata.maxpagesize={size}"])
            return PagePlan(MAX_PAGE_SIZE, paged=True, top=None, applied=[])
        if top is not None:
            return PagePlan(min(top, MAX_PAGE_SIZE), paged=False, top=None, applied=[])
        return PagePlan(MAX_PAGE_SIZE, paged=True, top=None, applied=[])

    def formatted(self, prop: Property, value) -> str | None:
        if prop.edm == DATETIME:
            return _formatted_datetime(value)
        return super().formatted(prop, value)

    def not_found(self, entity_set: EntitySet, key: tuple) -> ODataError:
        return ODataError(
            f"{entity_set.entity_type} With Id = {key[0]} Does Not Exist",
            status=404,
            code=OBJECT_DOES_NOT_EXIST,
        )

    def repeated_order_column(self) -> ODataError:
        return ODataError(
            "A column has been specified more than once in the order by list. Columns in the order by list must be unique.",
            code=ORDER_BY_COLUMNS_MUST_BE_UNIQUE,
        )

    def invalid_token(self, token: str) -> ODataError:
        return ODataError(f"The $skiptoken value is not a valid paging cookie: '{token}'.")

    def next_token(
        self, entity_set: EntitySet, page: int, columns: list[str], first: dict, last: dict
    ) -> str:
        return paging_cookie(entity_set, page, columns, first, last)

    def read_token(self, entity_set: EntitySet, token: str, columns: list[str]) -> tuple[int, dict]:
        return read_paging_cookie(entity_set, token, columns, self.invalid_token(token))


# --- the paging cookie -------------------------------------------------------------------------

_OUTER_COOKIE = re.compile(
    r'<cookie pagenumber="(\d+)" pagingcookie="([^"]*)" istracking="(?:True|False)" />'
)
_INNER_COOKIE = re.compile(
    r'<cookie page="(\d+)">((?:<\w+(?: (?:last|first)="[^"]*")* />)+)</cookie>'
)
_COOKIE_COLUMN = re.compile(r'<(\w+)((?: (?:last|first)="[^"]*")*) />')
_COOKIE_VALUE = re.compile(r' (last|first)="([^"]*)"')


def _cookie_text(edm: str, value) -> str:
    if edm == GUID:
        return "{" + value.upper() + "}"  # Dataverse writes keys braced and upper case
    return html.escape(str(value), quote=True)


def _cookie_value(edm: str, text: str):
    """A cookie attribute back to a column's value; ValueError when it cannot be one."""
    if edm == GUID:
        key = text.strip("{}")
        if not GUID_PATTERN.fullmatch(key):
            raise ValueError(text)
        return key.lower()
    if edm in (INT32, INT64):
        return int(text)
    if edm == DATETIME:
        if utc_datetime(text) != text:
            raise ValueError(text)
        return text
    return html.unescape(text)


def _lowercase_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group().lower(), text)


def paging_cookie(
    entity_set: EntitySet, page: int, columns: list[str], first: dict, last: dict
) -> str:
    """The `$skiptoken` of the page after `page`, URL-encoded as the nextLink carries it."""
    parts = []
    for column in columns:
        attributes = "".join(
            f' {label}="{_cookie_text(entity_set.columns[column], row[column])}"'
            for label, row in (("last", last), ("first", first))
            if row.get(column) is not None
        )
        parts.append(f"<{column}{attributes} />")
    inner = f'<cookie page="{page}">{"".join(parts)}</cookie>'
    outer = (
        f'<cookie pagenumber="{page + 1}" '
        f'pagingcookie="{_lowercase_escapes(quote(inner, safe=""))}" istracking="False" />'
    )
    return quote(outer, safe="=/")


def read_paging_cookie(
    entity_set: EntitySet, token: str, columns: list[str], invalid: ODataError
) -> tuple[int, dict]:
    """(page number, {column: last value}) from a `$skiptoken` as the query string decoded it.
    The cookie must name the same sort columns as the query it continues."""
    outer = _OUTER_COOKIE.fullmatch(token.strip())
    if not outer:
        raise invalid
    inner = _INNER_COOKIE.fullmatch(unquote(outer.group(2)))
    if not inner:
        raise invalid
    last = {}
    for column, attributes in _COOKIE_COLUMN.findall(inner.group(2)):
        if column not in entity_set.columns or column in last:
            raise invalid
        values = dict(_COOKIE_VALUE.findall(attributes))
        try:
            last[column] = (
                _cookie_value(entity_set.columns[column], values["last"])
                if "last" in values
                else None
            )
        except ValueError:
            raise invalid from None
    if list(last) != columns:
        raise invalid
    return int(outer.group(1)), last


# --- jobs ------------------------------------------------------------------------------------

_PLACES = (
    "Riverside", "Lakeview", "Northgate", "Cedar Ridge", "Harbor Point", "Oak Park", "Westfield",
    "Summit", "Prairie View", "Stonebridge", "Maple Grove", "Eastwood", "Pinecrest", "Fox Valley",
    "Union Station", "Meadowbrook", "Bayshore", "Highland", "Kingsley", "Mill Creek",
)  # fmt: skip
_BUILDINGS = (
    "Medical Office Building", "Elementary School Addition", "Parking Structure",
    "Mixed-Use Residences", "Distribution Center", "Public Library Renovation",
    "Community Recreation Center", "Fire Station No. 4", "Corporate Headquarters",
    "Senior Living Campus", "Water Treatment Plant", "University Science Hall",
    "Hotel & Conference Center", "Transit Center", "Data Center Phase 2", "Hospital Tower",
)  # fmt: skip
_STREETS = (
    "N Lakeview Ave", "W Madison St", "Commerce Dr", "S State St", "Industrial Pkwy",
    "E Main St", "Harbor Blvd", "Cedar Ln", "Oak St", "Airport Rd", "Riverside Dr",
    "University Ave", "Market St", "Elm St", "Route 59",
)  # fmt: skip
_CITIES = (
    ("Chicago", "IL", "606"), ("Naperville", "IL", "605"), ("Milwaukee", "WI", "532"),
    ("Indianapolis", "IN", "462"), ("Gary", "IN", "464"), ("Joliet", "IL", "604"),
    ("Madison", "WI", "537"), ("Rockford", "IL", "611"), ("Aurora", "IL", "605"),
    ("South Bend", "IN", "466"),
)  # fmt: skip
_GCS = (
    "Pepper Construction", "Walsh Construction", "Power Construction", "Clayco",
    "Bulley & Andrews", "McShane Construction", "Leopardo Companies", "Mortenson",
    "J.P. Cullen", "Skender", "Lendlease", "Turner Construction", "Gilbane Building Co.",
    "W.E. O'Neil Construction", "Krusinski Construction", "Novak Construction",
)  # fmt: skip
_SCOPES = (
    "Furnish and install structural steel per S-series drawings",
    "miscellaneous metals incl. lintels, embeds and bollards",
    "steel stairs with pan treads and guardrails",
    "aluminum storefront and entrances at Level 1",
    "curtain wall system on the north and east elevations",
    "interior glazing and borrowed lites",
    "ornamental railings at the atrium",
    "metal deck and shear studs",
    "roof screen framing and dunnage",
    "canopy steel with AESS finish",
    "ladder, ship's ladder and roof hatch rails",
    "field touch-up painting and galvanizing repair",
    "elevator pit ladders and sill angles",
    "loose lintels for masonry openings",
)  # fmt: skip
_LONG_SCOPE_TAIL = (
    "All work per specification sections 05 12 00, 05 50 00 and 08 44 13, addenda 1 through 4, "
    "and the approved submittals; excludes fireproofing, final field painting and temporary "
    "protection by others."
)
# Rows the first generated jobs become, so any seed covers what a client must survive.
_EDGE_CASES = (
    *({"imi_submittalstatus": status} for status in SUBMITTAL_STATUS),
    {"imi_submittalstatus": None},
    {"imi_submittalstatus": SUBMITTAL_APPROVED, "statecode": 1},
    {"imi_submittalstatus": SUBMITTAL_APPROVED, "imi_imnumber": None},
    {"imi_submittalstatus": SUBMITTAL_APPROVED, "imi_imnumber": ""},
    {"imi_submittalstatus": SUBMITTAL_APPROVED, "imi_scopesummary": "long"},
    {"imi_submittalstatus": SUBMITTAL_APPROVED, "imi_scopesummary": "empty"},
    {"imi_submittalstatus": SUBMITTAL_APPROVED, "imi_scopesummary": "null", "imi_gc": None},
    {"imi_submittalstatus": SUBMITTAL_APPROVED, "imi_productionphase": None},
)
_OTHER_STATUSES = (826130000, 826130001, 826130002, 826130003, 826130005, None)
_OTHER_WEIGHTS = (30, 15, 12, 12, 11, 20)
_NUMBERED = re.compile(r"(\d{2})-(\d+)")
TWO_YEARS = 2 * 365 * 86400


def _scope_texts(rng: random.Random) -> tuple[list[str], list[str]]:
    """Pools of scope summaries for one generation: short ones (one to three phrases, under
    255 characters) and long ones (over 255). Drawing from pools keeps generation fast."""

    def text(phrases: list[str], tail: str = "") -> str:
        joined = "; ".join(phrases) + tail
        return joined[0].upper() + joined[1:]

    short = [text(rng.sample(_SCOPES, 1 + index % 3)) for index in range(96)]
    long = [text(rng.sample(_SCOPES, 5), ". " + _LONG_SCOPE_TAIL) for _ in range(24)]
    return short, long


def generate_jobs(
    count: int,
    *,
    seed: int,
    approved_share: float = DEFAULT_APPROVED_SHARE,
    existing: list[dict] = (),
    now: float | None = None,
) -> list[dict]:
    """`count` realistic jobs, the same for the same seed and day. Created over the two years
    before today (UTC); IM numbers ("24-0173": year, then its sequence in creation order)
    continue those in `existing`. Fast enough for tens of thousands: no Faker, and every draw
    is one `random()` (Random.choice and randrange cost several times more)."""
    rng = random.Random(seed)
    draw = rng.random

    def pick(options):
        return options[int(draw() * len(options))]

    short_scopes, long_scopes = _scope_texts(rng)
    scopes = {"null": None, "empty": ""}
    phases = list(PRODUCTION_PHASE)
    other_statuses = [
        s for s, w in zip(_OTHER_STATUSES, _OTHER_WEIGHTS, strict=True) for _ in range(w)
    ]
    anchor = (int(now if now is not None else time.time()) // 86400) * 86400
    taken = {job["imi_jobid"] for job in existing}
    rows = []
    for index in range(count):
        created = anchor - 1 - int(draw() * (TWO_YEARS - 1))
        roll = draw()
        city, region, zip_prefix = pick(_CITIES)
        job_id = _random_uuid(rng)
        while job_id in taken:
            job_id = _random_uuid(rng)
        taken.add(job_id)
        row = {
            "imi_jobid": job_id,
            "imi_imnumber": None if roll < 0.04 else "" if roll < 0.06 else "pending",
            "imi_jobnameaddress": (
                f"{pick(_PLACES)} {pick(_BUILDINGS)} - {100 + int(draw() * 9800)} "
                f"{pick(_STREETS)}, {city}, {region} {zip_prefix}{int(draw() * 100):02d}"
            ),
            "imi_gc": None if draw() < 0.10 else pick(_GCS),
            "imi_scopesummary": "normal",
            "imi_submittalstatus": (
                SUBMITTAL_APPROVED if draw() < approved_share else pick(other_statuses)
            ),
            "imi_productionphase": None if draw() < 0.15 else pick(phases),
            "statecode": 1 if draw() < 0.08 else 0,
            "statuscode": 1,
            "createdon": created,
            "modifiedon": created + int(draw() * (anchor - created)),
            "versionnumber": 0,
        }
        roll = draw()
        if roll < 0.20:
            row["imi_scopesummary"] = "null" if roll < 0.05 else "empty" if roll < 0.10 else "long"
        if index < len(_EDGE_CASES):
            row.update(_EDGE_CASES[index])
        kind = row["imi_scopesummary"]
        if kind == "normal":
            row["imi_scopesummary"] = pick(short_scopes)
        elif kind == "long":
            row["imi_scopesummary"] = pick(long_scopes)
        else:
            row["imi_scopesummary"] = scopes[kind]
        if row["statecode"] == 1:
            row["statuscode"] = 2
        rows.append(row)
    _number_jobs(rows, existing)
    version = max((job["versionnumber"] for job in existing), default=4_100_000)
    for row in sorted(rows, key=lambda job: job["modifiedon"]):
        version += 1 + int(draw() * 40)
        row["versionnumber"] = version
    stamp = _Stamps()
    for row in rows:
        row["createdon"], row["modifiedon"] = stamp(row["createdon"]), stamp(row["modifiedon"])
    return rows


def _number_jobs(rows: list[dict], existing: list[dict]) -> None:
    """Give each "pending" IM number the next number of its creation year."""
    last: dict[str, int] = {}
    for job in existing:
        match = _NUMBERED.fullmatch(job.get("imi_imnumber") or "")
        if match:
            last[match.group(1)] = max(last.get(match.group(1), 0), int(match.group(2)))
    for row in sorted(rows, key=lambda job: job["createdon"]):
        if row["imi_imnumber"] == "pending":
            year = time.strftime("%y", time.gmtime(row["createdon"]))
            last[year] = last.get(year, 0) + 1
            row["imi_imnumber"] = f"{year}-{last[year]:04d}"


def explicit_job(record: dict, *, version: int, now: float | None = None) -> dict:
    """A job from a control-plane record: the columns above, with defaults for the rest
    (createdon: `now`, the emulator's clock)."""
    unknown = set(record) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown columns: {', '.join(sorted(unknown))}")
    now = _stamp(time.time() if now is None else now)
    job = {column: record.get(column) for column in COLUMNS}
    job["imi_jobid"] = str(record.get("imi_jobid") or uuid.uuid4()).lower()
    if not GUID_PATTERN.fullmatch(job["imi_jobid"]):
        raise ValueError(f"imi_jobid is not a GUID: {job['imi_jobid']}")
    job["statecode"] = record.get("statecode", 0)
    if job["statecode"] not in (0, 1):
        raise ValueError("statecode is 0 (Active) or 1 (Inactive)")
    job["statuscode"] = record.get("statuscode", 2 if job["statecode"] else 1)
    for column in ("createdon", "modifiedon"):
        value = record.get(column) or (job["createdon"] if column == "modifiedon" else now)
        job[column] = utc_datetime(value)
        if job[column] is None:
            raise ValueError(f"{column} is not a date and time: {value}")
    for column, edm in COLUMNS.items():
        value = job[column]
        if value is None or column in ("imi_jobid", "createdon", "modifiedon"):
            continue
        if edm == STRING and not isinstance(value, str):
            raise ValueError(f"{column} must be a string or null")
        if edm in (INT32, INT64) and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{column} must be an integer or null")
        if column in CHOICE_LABELS and value not in CHOICE_LABELS[column]:
            raise ValueError(f"{column} has no option {value}")
    job["versionnumber"] = record.get("versionnumber") or version
    return job


def approved_active(jobs: list[dict]) -> int:
    """Jobs a TimeTracker sync takes: Approved, Active, and with an IM number."""
    return sum(
        1
        for job in jobs
        if job["imi_submittalstatus"] == SUBMITTAL_APPROVED
        and job["statecode"] == 0
        and job["imi_imnumber"] not in (None, "")
    )


def jobs_summary(jobs: list[dict]) -> dict:
    by_status: dict[str, int] = {}
    for job in jobs:
        key = str(job["imi_submittalstatus"]) if job["imi_submittalstatus"] is not None else "null"
        by_status[key] = by_status.get(key, 0) + 1
    scopes = [job["imi_scopesummary"] for job in jobs]
    return {
        "jobs": len(jobs),
        "approved_active": approved_active(jobs),
        "by_submittal_status": dict(sorted(by_status.items())),
        "inactive": sum(1 for job in jobs if job["statecode"] == 1),
        "im_number_null": sum(1 for job in jobs if job["imi_imnumber"] is None),
        "im_number_empty": sum(1 for job in jobs if job["imi_imnumber"] == ""),
        "scope_null": sum(1 for scope in scopes if scope is None),
        "scope_empty": sum(1 for scope in scopes if scope == ""),
        "scope_over_255": sum(1 for scope in scopes if scope and len(scope) > 255),
        "gc_null": sum(1 for job in jobs if job["imi_gc"] is None),
        "production_phase_null": sum(1 for job in jobs if job["imi_productionphase"] is None),
    }


# --- the emulator ----------------------------------------------------------------------------


class DataverseEmulator(Emulator):
    name = "dataverse"
    title = "Microsoft Dataverse"
    default_limit = RateLimit(limit=6000, window=300)
    api_prefixes = ("/api/data/",)

    def __init__(self, *, azure=None, **kwargs):
        self.azure = azure
        self.service = Service(
            DataverseDialect(), [IMI_JOBS], root=lambda: f"{self.base}{API}", functions=[WHO_AM_I]
        )
        super().__init__(**kwargs)

    def initial_state(self, seed: int) -> dict:
        return {
            **super().initial_state(seed),
            "organization_id": _stable_id(seed, "organization"),
            "business_unit_id": _stable_id(seed, "business unit"),
            "app_users": {},  # client id -> systemuser id of its application user
            "imi_jobs": generate_jobs(DEFAULT_JOB_COUNT, seed=seed),
        }

    def load(self, state: dict) -> None:
        super().load(state)
        if "imi_jobs" not in self.state:  # a snapshot from before the job table existed
            self.state["imi_jobs"] = generate_jobs(DEFAULT_JOB_COUNT, seed=self.seed)

    @property
    def base(self) -> str:
        return self.config.get("base_url", "https://127.0.0.1")

    def odata_error(
        self, status: int, code: str, message: str, headers: dict | None = None
    ) -> JSONResponse:
        return json_error({"error": {"code": code, "message": message}}, status, headers)

    def caller(self, request: Request) -> Caller | None:
        info = self._token(request)
        return Caller(key=info["client_id"]) if info else None  # per (application) user

    def _token(self, request: Request) -> dict | None:
        if self.azure is None:
            return None
        info, _ = self.azure.token_info(bearer_token(request))
        if info is None or info["audience"].rstrip("/") != self.base.rstrip("/"):
            return None
        return info

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return self.odata_error(
            429,
            "0x80072322",
            f"Number of requests exceeded the limit of {self.limit.limit} over time window of {int(self.limit.window)} seconds.",
            {"Retry-After": str(max(1, round(retry_after)))},
        )

    def storm_response(self, request: Request, retry_after: float | None) -> Response:
        return self.rate_limited(request, retry_after if retry_after is not None else 5)

    def error_response(self, request: Request, status: int, code: int | None = None) -> Response:
        return self.odata_error(status, "0x80040216", "An unexpected error occurred.")

    def unauthorized(self) -> Response:
        tenant = next(iter(self.azure.state["tenants"]), "common") if self.azure else "common"
        authority = self.azure.base if self.azure else "https://login.microsoftonline.com"
        return Response(
            status_code=401,
            headers={
                "WWW-Authenticate": f"Bearer authorization_uri={authority}/{tenant}/oauth2/authorize, resource_id={self.base}/"
            },
        )

    def api_routes(self) -> list[Route]:
        return [
            Route(f"{API}/WhoAmI", self.who_am_i, methods=["GET"]),
            Route(f"{API}/$metadata", self.metadata, methods=["GET"]),
            Route(f"{API}/{ENTITY_SET}", self.list_jobs, methods=["GET"]),
            Route(f"{API}/{ENTITY_SET}({{key}})", self.get_job, methods=["GET"]),
            # Entity set names are case sensitive: anything else is a missing segment.
            Route(f"{API}/{{segments:path}}", self.unknown_segment, methods=["GET"]),
        ]

    def control_routes(self) -> list[Route]:
        return [
            *super().control_routes(),
            Route("/_sandbox/dataverse/jobs", self._cp_jobs, methods=["GET", "POST"]),
        ]

    async def who_am_i(self, request: Request) -> Response:
        info = self._token(request)
        if info is None:
            return self.unauthorized()
        user_id = self.state["app_users"].setdefault(
            info["client_id"], _stable_id(self.seed, f"application user {info['client_id']}")
        )
        return JSONResponse(
            {
                "@odata.context": f"{self.base}{API}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": self.state["business_unit_id"],
                "UserId": user_id,
                "OrganizationId": self.state["organization_id"],
            }
        )

    async def unknown_segment(self, request: Request) -> Response:
        if self._token(request) is None:
            return self.unauthorized()
        return self._missing_segment(request.path_params["segments"])

    def _missing_segment(self, segments_path: str) -> Response:
        known = self.service.segments()
        segments = [s.split("(")[0] for s in segments_path.split("/")]
        missing = next((s for s in segments if s not in known), segments[-1])
        return self.odata_error(
            404, NOT_FOUND_SEGMENT, f"Resource not found for the segment '{missing}'."
        )

    def route_error(self, request: Request, status: int, allowed: list[str]) -> Response:
        """What no route serves, answered as the Web API does: the token is checked first (as
        for any Web API call), a segment that names no entity set or function is 404
        0x8006088a, a function called with the wrong method is the documented 404 "No HTTP
        resource was found..." (POST WhoAmI), and a write to the job table, which this
        emulator does not serve, is 405 in the OData error shape (code and text of that one
        are not published: ASP.NET Web API's wording, an empty code as in the 404)."""
        path = route_path(request)
        if not path.startswith(f"{API}/"):
            return self._no_resource(request)
        if self._token(request) is None:
            return self.unauthorized()
        segments = path.removeprefix(f"{API}/")
        first = segments.split("/")[0].split("(")[0]
        if first in self.service.sets and status == 405:
            return self.odata_error(
                405, "", f"The requested resource does not support http method '{request.method}'."
            )
        if first in self.service.functions:
            return self._no_resource(request)
        return self._missing_segment(segments)

    def _no_resource(self, request: Request) -> Response:
        uri = f"{self.base}{route_path(request)}"
        return self.odata_error(
            404, "", f"No HTTP resource was found that matches the request URI '{uri}'."
        )

    # --- imi_jobs ------------------------------------------------------------------------------

    def _served(self, request: Request, answer: Callable[[], Answer]) -> Response:
        """The engine's answer, or its refusal in Dataverse's error body, to a caller whose
        token is good (the Web API checks the token first)."""
        if self._token(request) is None:
            return self.unauthorized()
        try:
            result = answer()
        except ODataError as error:
            return json_error(self.service.dialect.error_body(error), error.status)
        return JSONResponse(
            result.body, headers=result.headers, media_type=self.service.dialect.media_type
        )

    async def list_jobs(self, request: Request) -> Response:
        return self._served(
            request,
            lambda: self.service.collection(
                ENTITY_SET,
                self.state,
                query=request.url.query,
                prefer=request.headers.getlist("prefer"),
            ),
        )

    async def get_job(self, request: Request) -> Response:
        key = request.path_params["key"]
        if key.startswith(f"{PRIMARY_KEY}="):
            key = key[len(PRIMARY_KEY) + 1 :]

        def answer() -> Answer:
            if not GUID_PATTERN.fullmatch(key):
                raise ODataError("Bad Request - Error in query syntax.")
            return self.service.entity(
                ENTITY_SET,
                self.state,
                (key.lower(),),
                query=request.url.query,
                prefer=request.headers.getlist("prefer"),
            )

        return self._served(request, answer)

    async def metadata(self, request: Request) -> Response:
        """The CSDL of what this emulator serves (imi_jobs and WhoAmI), not an environment's
        whole schema."""
        if self._token(request) is None:
            return self.unauthorized()
        return Response(
            self.service.metadata(),
            headers={"OData-Version": "4.0"},
            media_type="application/xml",
        )

    # --- control plane -------------------------------------------------------------------------

    async def _cp_jobs(self, request: Request) -> Response:
        """GET: counts of the job table. POST {"count", "seed", "approved_share", "replace"}:
        generated jobs; POST {"records": [...], "replace"}: exactly these jobs. Both answer
        {"jobs": total, "approved_active": n}."""
        jobs = self.state["imi_jobs"]
        if request.method == "GET":
            return JSONResponse(jobs_summary(jobs))
        body = await self._body(request)
        existing = [] if body.get("replace", True) else jobs
        try:
            if "records" in body:
                version = max((job["versionnumber"] for job in existing), default=4_100_000)
                added = [
                    explicit_job(record, version=version + index + 1, now=self.clock.time())
                    for index, record in enumerate(body["records"])
                ]
                ids = [job[PRIMARY_KEY] for job in [*existing, *added]]
                if len(set(ids)) != len(ids):
                    raise ValueError("imi_jobid values must be unique")
            else:
                added = generate_jobs(
                    int(body.get("count", DEFAULT_JOB_COUNT)),
                    seed=int(body.get("seed", self.seed)),
                    approved_share=float(body.get("approved_share", DEFAULT_APPROVED_SHARE)),
                    existing=existing,
                    now=self.clock.time(),
                )
        except (ValueError, TypeError, AttributeError) as error:  # AttributeError: not a dict
            return json_error({"error": str(error)}, 400)
        self.state["imi_jobs"] = [*existing, *added]
        self.dirty = True
        return JSONResponse(
            {
                "jobs": len(self.state["imi_jobs"]),
                "approved_active": approved_active(self.state["imi_jobs"]),
            }
        )
