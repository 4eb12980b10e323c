"""Microsoft Dataverse Web API emulator (one environment). Accepts the bearer tokens the
Azure emulator issued for this environment's URL; answers `WhoAmI` and IMI's job table
(`imi_jobs`: the collection with an OData subset, and one row by id); enforces the service
protection limit (6,000 requests per 5 minutes per user) with 429 + Retry-After and the
OData error body. The control plane's `/_sandbox/dataverse/jobs` loads generated or exact jobs.

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
to the second. Not emulated: `$expand`, `$apply`, lambda and `Microsoft.Dynamics.CRM.*` query
functions, writes to `imi_jobs`.

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
# malformed $skiptoken message.
"""

import html
import operator
import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote, unquote, unquote_plus

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

GUID, STRING, INT32, INT64 = "Edm.Guid", "Edm.String", "Edm.Int32", "Edm.Int64"
DATETIME, DATE, BOOLEAN, DOUBLE = "Edm.DateTimeOffset", "Edm.Date", "Edm.Boolean", "Edm.Double"

# Logical names and Edm types of imi_job's columns, in the order an unselected row lists them.
COLUMNS = {
    "imi_jobid": GUID,
    "imi_imnumber": STRING,
    "imi_jobnameaddress": STRING,
    "imi_gc": STRING,
    "imi_scopesummary": STRING,
    "imi_submittalstatus": INT32,
    "imi_productionphase": INT32,
    "statecode": INT32,
    "statuscode": INT32,
    "createdon": DATETIME,
    "modifiedon": DATETIME,
    "versionnumber": INT64,
}

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


def _stable_id(seed: int, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://dataverse.sandbox/{seed}/{name}"))


class ODataError(Exception):
    """A request the service refuses; the handler answers it as the OData error body."""

    def __init__(self, message: str, *, status: int = 400, code: str = QUERY_ERROR):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


def _no_property(name: str) -> ODataError:
    return ODataError(
        f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{ENTITY}'."
    )


def _syntax_error(position: int, text: str) -> ODataError:
    return ODataError(f"Syntax error at position {position} in '{text}'.")


# --- values ------------------------------------------------------------------------------------

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(r"-?\d+\.\d+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


def utc_datetime(text: str) -> str | None:
    """An OData DateTimeOffset (any offset, fractions up to .NET's 7 digits) as Dataverse
    returns it: UTC, to the second. None when it is not one."""
    match = _DATETIME.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
        )
    except ValueError:
        return None
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _formatted_datetime(value: str) -> str:
    # The user's time zone is UTC for an application user: "4/7/2023 9:59 PM".
    hour = int(value[11:13])
    suffix = "AM" if hour < 12 else "PM"
    return f"{int(value[5:7])}/{int(value[8:10])}/{value[0:4]} {hour % 12 or 12}:{value[14:16]} {suffix}"


def formatted_value(column: str, value) -> str | None:
    if value is None:
        return None
    if column in CHOICE_LABELS:
        return CHOICE_LABELS[column].get(value)
    if COLUMNS[column] == DATETIME:
        return _formatted_datetime(value)
    return None


def _sort_key(column: str) -> Callable[[object], tuple]:
    """The comparable form of a column's value: nulls first, text without case."""
    if COLUMNS[column] == STRING:
        return lambda value: (0, "") if value is None else (1, value.lower())
    empty = 0 if COLUMNS[column] in (INT32, INT64) else ""
    return lambda value: (0, empty) if value is None else (1, value)


# --- $filter -----------------------------------------------------------------------------------

_OPERATORS = {
    "eq": ("Equal", operator.eq),
    "ne": ("NotEqual", operator.ne),
    "gt": ("GreaterThan", operator.gt),
    "ge": ("GreaterThanOrEqual", operator.ge),
    "lt": ("LessThan", operator.lt),
    "le": ("LessThanOrEqual", operator.le),
}
_MIRRORED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_FUNCTIONS = {
    "contains": lambda text, part: part in text,
    "startswith": lambda text, part: text.startswith(part),
    "endswith": lambda text, part: text.endswith(part),
}
_FAMILY = {
    GUID: "guid",
    STRING: "text",
    INT32: "number",
    INT64: "number",
    DOUBLE: "number",
    DATETIME: "time",
    DATE: "time",
    BOOLEAN: "boolean",
}
_MAX_DEPTH = 100

# A predicate answers SQL's three values: True, False, or None (unknown, as when a null is
# compared); a row is returned only for True.
Predicate = Callable[[dict], bool | None]


class _Operand:
    """One side of a comparison: a column (read from the row) or a literal."""

    def __init__(self, *, edm: str | None, column: str | None = None, value=None):
        self.edm, self.column, self.value = edm, column, value

    @property
    def is_null(self) -> bool:
        return self.column is None and self.value is None

    def getter(self) -> Callable[[dict], object]:
        if self.column is None:
            value = self.value
            if isinstance(value, str) and self.edm in (STRING, GUID):
                value = value.lower()
            return lambda row: value
        column = self.column
        if COLUMNS[column] in (STRING, GUID):
            return lambda row: None if row.get(column) is None else row[column].lower()
        return lambda row: row.get(column)


def _lex(text: str) -> list[tuple[str, str, int]]:
    """(kind, value, position) tokens: "(" ")" "," "string" (quotes undone) or "word"."""
    tokens, i, size = [], 0, len(text)
    while i < size:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "(),":
            tokens.append((char, char, i))
            i += 1
        elif char == "'":
            j, chars = i + 1, []
            while True:
                if j >= size:
                    raise ODataError(
                        f"There is an unterminated string literal at position {size} in '{text}'."
                    )
                if text[j] == "'":
                    if j + 1 < size and text[j + 1] == "'":
                        chars.append("'")
                        j += 2
                        continue
                    break
                chars.append(text[j])
                j += 1
            tokens.append(("string", "".join(chars), i))
            i = j + 1
        else:
            j = i
            while j < size and not text[j].isspace() and text[j] not in "(),'":
                j += 1
            tokens.append(("word", text[i:j], i))
            i = j
    return tokens


class FilterParser:
    """`$filter` to a predicate: comparisons (eq ne gt ge lt le) between columns and literals,
    contains/startswith/endswith, not, and, or, parentheses. Nothing is evaluated as code."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = _lex(text)
        self.index = 0
        self.depth = 0

    def parse(self) -> Predicate:
        if not self.tokens:
            raise self._expected_expression()
        predicate = self._or()
        if self._peek() is not None:
            raise ODataError(
                f"')' or operator expected at position {self._position()} in '{self.text}'."
            )
        return predicate

    # tokens

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _position(self) -> int:
        token = self._peek()
        return token[2] if token else len(self.text)

    def _keyword(self) -> str | None:
        token = self._peek()
        return token[1].lower() if token and token[0] == "word" else None

    def _take(self, kind: str, message: str) -> tuple[str, str, int]:
        token = self._peek()
        if token is None or token[0] != kind:
            raise ODataError(f"{message} at position {self._position()} in '{self.text}'.")
        self.index += 1
        return token

    def _expected_expression(self) -> ODataError:
        return ODataError(f"Expression expected at position {self._position()} in '{self.text}'.")

    # grammar

    def _or(self) -> Predicate:
        left = self._and()
        while self._keyword() == "or":
            self.index += 1
            left = _either(left, self._and())
        return left

    def _and(self) -> Predicate:
        left = self._not()
        while self._keyword() == "and":
            self.index += 1
            left = _both(left, self._not())
        return left

    def _not(self) -> Predicate:
        if self._keyword() == "not":
            self.index += 1
            inner = self._not()
            return lambda row: None if (value := inner(row)) is None else not value
        return self._primary()

    def _primary(self) -> Predicate:
        token = self._peek()
        if token is None:
            raise self._expected_expression()
        if token[0] == "(":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise ODataError("Recursion depth exceeded allowed limit.")
            self.index += 1
            inner = self._or()
            self._take(")", "')' or operator expected")
            self.depth -= 1
            return inner
        following = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
        if token[0] == "word" and following and following[0] == "(":
            return self._function()
        left = self._operand()
        name = self._keyword()
        if name not in _OPERATORS:
            if left.edm == BOOLEAN and left.column is None:  # $filter=true
                return lambda row, constant=left.value: constant
            following = self._peek()
            if following is None or following[0] == ")" or name in ("and", "or"):
                raise ODataError("The $filter expression must evaluate to a single boolean value.")
            raise ODataError(
                f"')' or operator expected at position {self._position()} in '{self.text}'."
            )
        self.index += 1
        right = self._operand()
        return _comparison(left, name, right)

    def _operand(self) -> _Operand:
        token = self._peek()
        if token is None or token[0] in (")", ","):
            raise self._expected_expression()
        if token[0] == "(":
            raise ODataError(f"Syntax error at position {token[2]} in '{self.text}'.")
        self.index += 1
        kind, word, position = token
        if kind == "string":
            return _Operand(edm=STRING, value=word)
        return _literal_or_column(word, position, self.text)

    def _function(self) -> Predicate:
        name_token = self._take("word", "Expression expected")
        name = name_token[1].lower()
        if name not in _FUNCTIONS:
            raise ODataError(
                f"An unknown function with name '{name_token[1]}' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."
            )
        self._take("(", "'(' expected")
        first = self._operand()
        self._take(",", "')' or ',' expected")
        second = self._operand()
        self._take(")", "')' or ',' expected")
        if first.edm != STRING or second.edm != STRING:
            raise ODataError(
                f"No function signature for the function with name '{name}' matches the specified arguments. The function signatures considered are: {name}(Edm.String Nullable=true, Edm.String Nullable=true)."
            )
        test, text, part = _FUNCTIONS[name], first.getter(), second.getter()

        def call(row):
            whole, piece = text(row), part(row)
            return None if whole is None or piece is None else test(whole, piece)

        return call


def _literal_or_column(word: str, position: int, text: str) -> _Operand:
    lowered = word.lower()
    if lowered == "null":
        return _Operand(edm=None, value=None)
    if lowered in ("true", "false"):
        return _Operand(edm=BOOLEAN, value=lowered == "true")
    if _GUID.fullmatch(word):
        return _Operand(edm=GUID, value=word.lower())
    if "T" in word and _DATE.match(word):
        moment = utc_datetime(word)
        if moment is None:
            raise _syntax_error(position, text)
        return _Operand(edm=DATETIME, value=moment)
    if _DATE.fullmatch(word):
        try:
            day = date.fromisoformat(word)
        except ValueError:
            raise _syntax_error(position, text) from None
        return _Operand(edm=DATE, value=f"{day.isoformat()}T00:00:00Z")
    if _INTEGER.fullmatch(word):
        number = int(word)
        return _Operand(edm=INT32 if -(2**31) <= number < 2**31 else INT64, value=number)
    if _DECIMAL.fullmatch(word):
        return _Operand(edm=DOUBLE, value=float(word))
    if _IDENTIFIER.fullmatch(word):
        if word not in COLUMNS:
            raise _no_property(word)
        return _Operand(edm=COLUMNS[word], column=word)
    raise _syntax_error(position, text)


def _comparison(left: _Operand, name: str, right: _Operand) -> Predicate:
    kind, test = _OPERATORS[name]
    if left.edm and right.edm and _FAMILY[left.edm] != _FAMILY[right.edm]:
        raise ODataError(
            f"A binary operator with incompatible types was detected. Found operand types '{left.edm}' and '{right.edm}' for operator kind '{kind}'."
        )
    if left.column is None and right.column is not None:  # 5 lt col reads as col gt 5
        left, right, name = right, left, _MIRRORED[name]
        test = _OPERATORS[name][1]
    read = left.getter()
    if right.is_null:  # eq null / ne null are IS NULL / IS NOT NULL
        if name == "eq":
            return lambda row: read(row) is None
        if name == "ne":
            return lambda row: read(row) is not None
        return lambda row: None
    other = right.getter()

    def compare(row):
        a, b = read(row), other(row)
        return None if a is None or b is None else test(a, b)

    return compare


def _both(left: Predicate, right: Predicate) -> Predicate:
    def both(row):
        a = left(row)
        if a is False:
            return False
        b = right(row)
        if b is False:
            return False
        return None if a is None or b is None else True

    return both


def _either(left: Predicate, right: Predicate) -> Predicate:
    def either(row):
        a = left(row)
        if a is True:
            return True
        b = right(row)
        if b is True:
            return True
        return None if a is None or b is None else False

    return either


# --- $select, $orderby, Prefer -----------------------------------------------------------------


def parse_select(text: str | None) -> list[str] | None:
    """The selected columns, in the order given; None for every column."""
    if text is None:
        return None
    columns = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item == "*":
            return None
        if item not in COLUMNS:
            raise _no_property(item)
        if item in columns:
            raise ODataError(
                f"Found multiple select terms with same select path '{item}' at one $select, please combine them together."
            )
        columns.append(item)
    return columns


def parse_orderby(text: str | None) -> list[tuple[str, bool]]:
    """[(column, descending)], in the order given."""
    if text is None:
        return []
    order, offset = [], 0
    for part in text.split(","):
        words = part.split()
        if not words:
            raise ODataError(f"Expression expected at position {offset} in '{text}'.")
        column, direction = words[0], (words[1].lower() if len(words) > 1 else "asc")
        if not _IDENTIFIER.fullmatch(column):
            raise _syntax_error(offset + part.index(column), text)
        if column not in COLUMNS:
            raise _no_property(column)
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise _syntax_error(offset + part.index(words[1]), text)
        if any(column == seen for seen, _ in order):
            raise ODataError(
                "A column has been specified more than once in the order by list. Columns in the order by list must be unique.",
                code=ORDER_BY_COLUMNS_MUST_BE_UNIQUE,
            )
        order.append((column, direction == "desc"))
        offset += len(part) + 1
    return order


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_prefer(headers: list[str]) -> dict[str, str]:
    """Preferences by lowercase name, e.g. {"odata.maxpagesize": "5000",
    "odata.include-annotations": '"OData.Community.Display.V1.FormattedValue"'}."""
    preferences = {}
    for header in headers:
        for item in _split_outside_quotes(header, ","):
            name, _, value = item.split(";")[0].strip().partition("=")
            if name:
                preferences.setdefault(name.strip().lower(), value.strip())
    return preferences


def _annotation_matches(pattern: str, term: str) -> bool:
    return (
        pattern == "*"
        or pattern == term
        or (pattern.endswith(".*") and term.startswith(pattern[:-1]))
    )


def wants_annotation(include: str | None, term: str) -> bool:
    """Whether an odata.include-annotations value ("*", a list, "-" exclusions) covers `term`."""
    if not include:
        return False
    patterns = [p.strip() for p in include.strip('"').split(",") if p.strip()]
    excluded = any(_annotation_matches(p[1:], term) for p in patterns if p.startswith("-"))
    included = any(_annotation_matches(p, term) for p in patterns if not p.startswith("-"))
    return included and not excluded


# --- the paging cookie -------------------------------------------------------------------------

_OUTER_COOKIE = re.compile(
    r'<cookie pagenumber="(\d+)" pagingcookie="([^"]*)" istracking="(?:True|False)" />'
)
_INNER_COOKIE = re.compile(
    r'<cookie page="(\d+)">((?:<\w+(?: (?:last|first)="[^"]*")* />)+)</cookie>'
)
_COOKIE_COLUMN = re.compile(r'<(\w+)((?: (?:last|first)="[^"]*")*) />')
_COOKIE_VALUE = re.compile(r' (last|first)="([^"]*)"')


def _cookie_text(column: str, value) -> str:
    if COLUMNS[column] == GUID:
        return "{" + value.upper() + "}"  # Dataverse writes keys braced and upper case
    return html.escape(str(value), quote=True)


def _cookie_value(column: str, text: str):
    """A cookie attribute back to the column's value; ValueError when it cannot be one."""
    edm = COLUMNS[column]
    if edm == GUID:
        key = text.strip("{}")
        if not _GUID.fullmatch(key):
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


def paging_cookie(page: int, columns: list[str], first: dict, last: dict) -> str:
    """The `$skiptoken` of the page after `page`, URL-encoded as the nextLink carries it."""
    parts = []
    for column in columns:
        attributes = "".join(
            f' {label}="{_cookie_text(column, row[column])}"'
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


def read_paging_cookie(token: str, columns: list[str]) -> tuple[int, dict]:
    """(page number, {column: last value}) from a `$skiptoken` as the query string decoded it.
    The cookie must name the same sort columns as the query it continues."""
    invalid = ODataError(f"The $skiptoken value is not a valid paging cookie: '{token}'.")
    outer = _OUTER_COOKIE.fullmatch(token.strip())
    if not outer:
        raise invalid
    inner = _INNER_COOKIE.fullmatch(unquote(outer.group(2)))
    if not inner:
        raise invalid
    last = {}
    for column, attributes in _COOKIE_COLUMN.findall(inner.group(2)):
        if column not in COLUMNS or column in last:
            raise invalid
        values = dict(_COOKIE_VALUE.findall(attributes))
        try:
            last[column] = _cookie_value(column, values["last"]) if "last" in values else None
        except ValueError:
            raise invalid from None
    if list(last) != columns or last.get(PRIMARY_KEY) is None:
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
    if not _GUID.fullmatch(job["imi_jobid"]):
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

_LIST_OPTIONS = {"$select", "$filter", "$orderby", "$top", "$count", "$skiptoken"}


class DataverseEmulator(Emulator):
    name = "dataverse"
    title = "Microsoft Dataverse"
    default_limit = RateLimit(limit=6000, window=300)
    api_prefixes = ("/api/data/",)

    def __init__(self, *, azure=None, **kwargs):
        self.azure = azure
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

    def _answer(self, body: dict, headers: dict | None = None) -> JSONResponse:
        return JSONResponse(
            body, headers={"OData-Version": "4.0", **(headers or {})}, media_type=ODATA_JSON
        )

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
        known = {"WhoAmI", ENTITY_SET}
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
        if first == ENTITY_SET and status == 405:
            return self.odata_error(
                405, "", f"The requested resource does not support http method '{request.method}'."
            )
        if first == "WhoAmI":
            return self._no_resource(request)
        return self._missing_segment(segments)

    def _no_resource(self, request: Request) -> Response:
        uri = f"{self.base}{route_path(request)}"
        return self.odata_error(
            404, "", f"No HTTP resource was found that matches the request URI '{uri}'."
        )

    # --- imi_jobs ------------------------------------------------------------------------------

    def _options(self, request: Request) -> dict[str, str]:
        options: dict[str, str] = {}
        for name, value in request.query_params.multi_items():
            if not name.startswith("$"):
                continue
            if name not in _LIST_OPTIONS:
                raise ODataError(f"The query parameter {name} is not supported")
            if name in options:
                raise ODataError(
                    f"Query option '{name}' was specified more than once, but it must be specified at most once."
                )
            options[name] = value
        return options

    def _record(self, row: dict, columns: list[str], formatted: bool) -> dict:
        record = {"@odata.etag": f'W/"{row["versionnumber"]}"'}
        for column in columns:
            value = row.get(column)
            if formatted and value is not None:
                label = formatted_value(column, value)
                if label is not None:
                    record[f"{column}@{FORMATTED}"] = label
            record[column] = value
        if PRIMARY_KEY not in record:
            record[PRIMARY_KEY] = row[PRIMARY_KEY]
        return record

    async def list_jobs(self, request: Request) -> Response:
        if self._token(request) is None:
            return self.unauthorized()
        try:
            return self._list_jobs(request)
        except ODataError as error:
            return self.odata_error(error.status, error.code, error.message)

    def _list_jobs(self, request: Request) -> Response:
        options = self._options(request)
        selected = parse_select(options.get("$select"))
        predicate = FilterParser(options["$filter"]).parse() if "$filter" in options else None
        order = parse_orderby(options.get("$orderby"))
        top = options.get("$top")
        if top is not None and not top.isdigit():
            raise ODataError(
                f"Invalid value '{top}' for $top query option found. The $top query option requires a non-negative integer value."
            )
        count = options.get("$count", "false").lower()
        if count not in ("true", "false"):
            raise ODataError(
                f"Invalid value '{options['$count']}' for $count query option found. Valid values are 'true, false'."
            )
        keys = [column for column, _ in order]
        if PRIMARY_KEY not in keys:
            order = [*order, (PRIMARY_KEY, False)]  # the key breaks ties, so pages never overlap
            keys.append(PRIMARY_KEY)
        page_number, after = 1, None
        if "$skiptoken" in options:
            page_number, after = read_paging_cookie(options["$skiptoken"], keys)

        prefer = parse_prefer(request.headers.getlist("prefer"))
        applied = []
        page_size = None
        requested = prefer.get("odata.maxpagesize", "")
        if requested.isdigit() and int(requested) > 0:
            if int(requested) <= MAX_PAGE_SIZE:
                page_size = int(requested)
                applied.append(f"odata.maxpagesize={page_size}")
            else:
                page_size = MAX_PAGE_SIZE  # a larger preference is ignored: the default holds
        include = prefer.get("odata.include-annotations")
        if include:
            applied.append(f"odata.include-annotations={include}")
        formatted = wants_annotation(include, FORMATTED)
        paged = True
        if page_size is None:
            if top is not None:
                page_size, paged = min(int(top), MAX_PAGE_SIZE), False
            else:
                page_size = MAX_PAGE_SIZE

        rows = self.state["imi_jobs"]
        if predicate is not None:
            rows = [row for row in rows if predicate(row) is True]
        else:
            rows = list(rows)
        total = len(rows)
        for column, descending in reversed(order):  # stable sorts, last key first
            key = _sort_key(column)
            rows.sort(
                key=lambda row, key=key, column=column: key(row.get(column)), reverse=descending
            )
        start = 0
        if after is not None:
            start = _first_after(rows, order, after)
        page = rows[start : start + page_size]
        columns = selected if selected is not None else list(COLUMNS)

        context = f"{self.base}{API}/$metadata#{ENTITY_SET}"
        if selected is not None:
            context += f"({','.join(selected)})"
        body: dict = {"@odata.context": context}
        if count == "true":
            body["@odata.count"] = min(total, COUNT_LIMIT)
        body["value"] = [self._record(row, columns, formatted) for row in page]
        if paged and page and start + page_size < len(rows):
            token = paging_cookie(page_number, keys, page[0], page[-1])
            kept = [
                part
                for part in request.url.query.split("&")
                if part and unquote_plus(part.partition("=")[0]) != "$skiptoken"
            ]
            body["@odata.nextLink"] = (
                f"{self.base}{API}/{ENTITY_SET}?{'&'.join([*kept, f'$skiptoken={token}'])}"
            )
        headers = {"Preference-Applied": ",".join(applied)} if applied else {}
        return self._answer(body, headers)

    async def get_job(self, request: Request) -> Response:
        if self._token(request) is None:
            return self.unauthorized()
        key = request.path_params["key"]
        if key.startswith(f"{PRIMARY_KEY}="):
            key = key[len(PRIMARY_KEY) + 1 :]
        if not _GUID.fullmatch(key):
            return self.odata_error(400, QUERY_ERROR, "Bad Request - Error in query syntax.")
        key = key.lower()
        try:
            selected = parse_select(request.query_params.get("$select"))
        except ODataError as error:
            return self.odata_error(error.status, error.code, error.message)
        row = next((job for job in self.state["imi_jobs"] if job[PRIMARY_KEY] == key), None)
        if row is None:
            return self.odata_error(
                404, OBJECT_DOES_NOT_EXIST, f"{ENTITY} With Id = {key} Does Not Exist"
            )
        include = parse_prefer(request.headers.getlist("prefer")).get("odata.include-annotations")
        record = self._record(
            row,
            selected if selected is not None else list(COLUMNS),
            wants_annotation(include, FORMATTED),
        )
        columns = f"({','.join(selected)})" if selected is not None else ""
        headers = {"ETag": record["@odata.etag"]}
        if include:
            headers["Preference-Applied"] = f"odata.include-annotations={include}"
        return self._answer(
            {
                "@odata.context": f"{self.base}{API}/$metadata#{ENTITY_SET}{columns}/$entity",
                **record,
            },
            headers,
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


def _first_after(rows: list[dict], order: list[tuple[str, bool]], last: dict) -> int:
    """Index of the first sorted row that comes after the cookie's last row (binary search:
    rows are in the very order the comparison follows)."""
    keys = [(column, _sort_key(column), descending) for column, descending in order]
    bound = [(key(last[column]), descending) for column, key, descending in keys]

    def comes_after(row: dict) -> bool:
        for (column, key, _), (other, descending) in zip(keys, bound, strict=True):
            mine = key(row.get(column))
            if mine != other:
                return (mine > other) != descending
        return False

    low, high = 0, len(rows)
    while low < high:
        middle = (low + high) // 2
        if comes_after(rows[middle]):
            high = middle
        else:
            low = middle + 1
    return low
