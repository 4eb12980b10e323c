"""One OData engine for the emulators (Dataverse's Web API now, Project Online's ProjectData
feed next). An entity set is declared as data: its name, entity type, key, properties with
their EDM types and option labels, navigation properties, the property its ETag comes from.
A `Service` answers a collection GET (`$select`, `$filter`, `$orderby`, `$top`, `$skip`,
`$count`, `$expand` with a nested `$select`, server-driven paging with a next link), a
single-entity GET, and `$metadata` (CSDL generated from the declarations).

What differs between services is a `Dialect`: which query options it takes, how it pages
(page size, `Prefer: odata.maxpagesize`, the shape of its `$skiptoken`), whether it compares
as SQL Server does (nulls are unknown, text without case), formatted values, the names of the
JSON annotations (v4 `@odata.nextLink`, v3 `odata.nextLink`), its error body and codes. The
base `Dialect` is OData v4 as the specification has it.

Paging is keyset paging whatever the dialect: a next link's token holds the last row's values
of every sort column and of the key, and the next page starts after that row, so rows added or
removed meanwhile neither repeat nor shift the pages (Dataverse's paging cookie, WCF Data
Services' `$skiptoken`). The key always ends the sort order, so pages never overlap.

Predicates answer three values, True, False or None (unknown): under SQL Server's rules a
comparison with a null is unknown and a row comes back only for True; under the
specification's, `null eq null` is true and every other comparison with a null false.
Nothing in a query is evaluated as code.

# Reference: OData v4.01 Part 1 (Protocol) 11.2.6 server-driven paging (nextLink, Prefer
# odata.maxpagesize, Preference-Applied), 11.2.5.1-11.2.5.7 system query options; Part 2 (URL
# conventions) 5.1.1 logical operators and null, 5.1.1.9 canonical functions contains /
# startswith / endswith, 5.1.2 $expand with nested $select, 5.1.5 $orderby (null sorts before
# any value ascending); CSDL XML v4.0 (Edmx, Schema, EntityType, Key, Property,
# NavigationProperty, EntityContainer, EntitySet, NavigationPropertyBinding, Function,
# FunctionImport); CSDL v3 (MC-CSDL: Association, AssociationSet, NavigationProperty
# Relationship/FromRole/ToRole; edmx namespace schemas.microsoft.com/ado/2007/06/edmx); error
# messages from OData/odata.net Microsoft.OData.Core.txt, as ../shared/providers/dataverse.md
# and integrations/sandbox/dataverse.py cite them.
"""

import html
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from urllib.parse import parse_qsl, quote, unquote_plus

GUID, STRING, BOOLEAN = "Edm.Guid", "Edm.String", "Edm.Boolean"
INT16, INT32, INT64 = "Edm.Int16", "Edm.Int32", "Edm.Int64"
DOUBLE, DECIMAL = "Edm.Double", "Edm.Decimal"
DATETIME, DATE = "Edm.DateTimeOffset", "Edm.Date"
DATETIME_V3 = "Edm.DateTime"  # OData v3's date and time without an offset

_FAMILY = {
    GUID: "guid",
    STRING: "text",
    INT16: "number",
    INT32: "number",
    INT64: "number",
    DOUBLE: "number",
    DECIMAL: "number",
    DATETIME: "time",
    DATE: "time",
    DATETIME_V3: "time",
    BOOLEAN: "boolean",
}
_NUMBERS = (INT16, INT32, INT64, DOUBLE, DECIMAL)

GUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER = re.compile(r"-?\d+")
_REAL = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")  # after _INTEGER: 2.5, 1e-05
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_DEPTH = 100


def utc_datetime(text: str) -> str | None:
    """An OData DateTimeOffset (any offset, fractions up to .NET's 7 digits) in UTC, to the
    second, as Dataverse returns it. None when it is not one."""
    match = _DATETIME.fullmatch(text)
    if not match or match.group(7) is None:
        return None
    moment = _moment(match)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def local_datetime(text: str) -> str | None:
    """An OData v3 DateTime (no offset) to the second: "2012-01-01T00:00:00". None when it
    is not one, or carries an offset."""
    match = _DATETIME.fullmatch(text)
    if not match or match.group(7) is not None:
        return None
    moment = _moment(match)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S")


def _moment(match: re.Match) -> datetime | None:
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
        )
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return moment


# --- declarations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    name: str
    edm: str
    labels: Mapping | None = None  # an option set's labels: its formatted values


@dataclass(frozen=True)
class Navigation:
    """A navigation property: the rows of `target` whose `remote` property equals this row's
    `local` one (a lookup when single-valued, its reverse when a collection)."""

    name: str
    target: str  # entity set name
    local: str
    remote: str
    collection: bool = False


@dataclass(frozen=True)
class EntitySet:
    name: str
    entity_type: str
    key: tuple[str, ...]
    properties: tuple[Property, ...]
    navigations: tuple[Navigation, ...] = ()
    etag: str | None = None  # the property whose value is the row version

    @cached_property
    def columns(self) -> dict[str, str]:
        """Property name -> EDM type, in declaration order (an unselected row's order)."""
        return {prop.name: prop.edm for prop in self.properties}

    @cached_property
    def by_name(self) -> dict[str, Property]:
        return {prop.name: prop for prop in self.properties}

    @cached_property
    def navigation(self) -> dict[str, Navigation]:
        return {nav.name: nav for nav in self.navigations}


@dataclass(frozen=True)
class Function:
    """An unbound function the service declares (Dataverse's WhoAmI): its answer is a
    complex type of these properties. The emulator answers it; the engine only lists it."""

    name: str
    returns: str
    properties: tuple[Property, ...]


@dataclass
class Answer:
    """A 200 answer's JSON body and headers; refusals are raised as ODataError."""

    body: dict
    headers: dict[str, str] = field(default_factory=dict)


class ODataError(Exception):
    """A request the service refuses; `code` None is the dialect's query error code."""

    def __init__(self, message: str, *, status: int = 400, code: str | None = None):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


def syntax_error(position: int, text: str) -> ODataError:
    return ODataError(f"Syntax error at position {position} in '{text}'.")


# --- dialects ------------------------------------------------------------------------------


@dataclass
class PagePlan:
    size: int
    paged: bool  # False: one page only, no next link ($top without a page size)
    top: int | None  # rows left in total across pages, or None
    applied: list[str]  # preferences to echo in Preference-Applied


class Dialect:
    """OData v4 as the specification has it. A service's subclass changes what it does
    differently."""

    version = "4.0"
    namespace = "Default"
    container = "Container"
    options = frozenset(
        {"$select", "$filter", "$orderby", "$top", "$skip", "$count", "$expand", "$skiptoken"}
    )
    count_option = "$count"
    count_limit: int | None = None
    page_size = 1000  # default and ceiling of a page: the specification leaves it to the server
    page_sizes: Mapping[str, int] = {}  # per entity set, where it differs
    honours_max_page_size = True  # Prefer: odata.maxpagesize
    sql_nulls = False
    ignore_case = False
    always_key = False  # the key comes back even when not selected
    typed_literals = False  # v3: guid'…', datetime'…'
    formatted_term: str | None = None  # the annotation formatted values travel under
    query_error_code = ""
    context_key, count_key = "@odata.context", "@odata.count"
    next_key, etag_key = "@odata.nextLink", "@odata.etag"
    media_type = "application/json; odata.metadata=minimal"

    def type_name(self, entity_set: EntitySet) -> str:
        return f"{self.namespace}.{entity_set.entity_type}"

    def headers(self) -> dict[str, str]:
        return {"OData-Version": self.version}

    def error_body(self, error: ODataError) -> dict:
        return {"error": {"code": error.code or self.query_error_code, "message": error.message}}

    def no_property(self, entity_set: EntitySet, name: str) -> ODataError:
        return ODataError(
            f"Could not find a property named '{name}' on type '{self.type_name(entity_set)}'."
        )

    def not_found(self, entity_set: EntitySet, key: tuple) -> ODataError:
        return ODataError(
            f"No entity of {entity_set.name} has the key {', '.join(map(str, key))}.", status=404
        )

    def repeated_order_column(self) -> ODataError:
        return ODataError(
            "A column has been specified more than once in the order by list. Columns in the order by list must be unique."
        )

    def unsupported_option(self, name: str) -> ODataError:
        return ODataError(f"The query parameter {name} is not supported")

    def invalid_token(self, token: str) -> ODataError:
        return ODataError(f"The $skiptoken value '{token}' is not valid.")

    def context(
        self, root: str, set_name: str, selected: list[str] | None, entity: bool = False
    ) -> str:
        columns = f"({','.join(selected)})" if selected else ""
        return f"{root}/$metadata#{set_name}{columns}" + ("/$entity" if entity else "")

    def count_value(self, count: int) -> int | str:
        return count

    def json_value(self, edm: str, value):
        """A property's value as the JSON answer carries it."""
        return value

    def counts(self, value: str | None) -> bool:
        if value is None:
            return False
        if value.lower() not in ("true", "false"):
            raise ODataError(
                f"Invalid value '{value}' for {self.count_option} query option found. Valid values are 'true, false'."
            )
        return value.lower() == "true"

    def plan(self, entity_set: EntitySet, top: int | None, prefer: dict[str, str]) -> PagePlan:
        """The page size: the service's (per entity set), lowered by a smaller odata.maxpagesize;
        $top limits the rows across all pages."""
        ceiling = self.page_sizes.get(entity_set.name, self.page_size)
        size, applied = ceiling, []
        requested = prefer.get("odata.maxpagesize", "")
        if self.honours_max_page_size and requested.isdigit() and 0 < int(requested) <= ceiling:
            size = int(requested)
            applied.append(f"odata.maxpagesize={size}")
        return PagePlan(size=size, paged=True, top=top, applied=applied)

    def formatted(self, prop: Property, value) -> str | None:
        return None if prop.labels is None else prop.labels.get(value)

    # The next link's $skiptoken: the last row's sort values and key as literals, comma
    # separated (WCF Data Services' form: Customers?$skiptoken='ERNSH').

    def literal(self, edm: str, value) -> str:
        if value is None:
            return "null"
        if edm == STRING:
            return "'" + value.replace("'", "''") + "'"
        if edm == BOOLEAN:
            return "true" if value else "false"
        if self.typed_literals and edm == GUID:
            return f"guid'{value}'"
        if self.typed_literals and edm == DATETIME_V3:
            return f"datetime'{value}'"
        return str(value)

    def next_token(
        self, entity_set: EntitySet, page: int, columns: list[str], first: dict, last: dict
    ) -> str:
        literals = ",".join(self.literal(entity_set.columns[c], last.get(c)) for c in columns)
        return quote(literals, safe="',")

    def read_token(self, entity_set: EntitySet, token: str, columns: list[str]) -> tuple[int, dict]:
        """(page number, {column: last value}) from a token `next_token` wrote."""
        parser = FilterParser(token, entity_set, self)
        values: list = []
        try:
            while True:
                operand = parser.operand()
                if operand.column is not None:
                    raise self.invalid_token(token)
                values.append(operand)
                if parser.peek() is None:
                    break
                parser.take(",", "',' expected")
        except ODataError:
            raise self.invalid_token(token) from None
        if len(values) != len(columns) or any(
            operand.edm is not None and _FAMILY[operand.edm] != _FAMILY[entity_set.columns[column]]
            for operand, column in zip(values, columns, strict=True)
        ):
            raise self.invalid_token(token)
        return 0, {column: operand.value for operand, column in zip(values, columns, strict=True)}


# --- $filter -------------------------------------------------------------------------------

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
_TYPED = {"guid": GUID, "datetime": DATETIME_V3, "datetimeoffset": DATETIME}

# True, False, or None (unknown, as when SQL Server compares a null); a row is returned only
# for True.
Predicate = Callable[[dict], bool | None]


class _Operand:
    """One side of a comparison: a column (read from the row) or a literal."""

    def __init__(self, *, edm: str | None, column: str | None = None, value=None):
        self.edm, self.column, self.value = edm, column, value

    @property
    def is_null(self) -> bool:
        return self.column is None and self.value is None

    def getter(self, ignore_case: bool) -> Callable[[dict], object]:
        # GUIDs compare without case in every dialect; text only where the service does.
        folded = (STRING, GUID) if ignore_case else (GUID,)
        if self.column is None:
            value = self.value
            if isinstance(value, str) and self.edm in folded:
                value = value.lower()
            return lambda row: value
        column = self.column
        if self.edm in folded:
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
    contains/startswith/endswith, not, and, or, parentheses."""

    def __init__(self, text: str, entity_set: EntitySet, dialect: Dialect):
        self.text, self.entity_set, self.dialect = text, entity_set, dialect
        self.tokens = _lex(text)
        self.index = 0
        self.depth = 0

    def parse(self) -> Predicate:
        if not self.tokens:
            raise self._expected_expression()
        predicate = self._or()
        if self.peek() is not None:
            raise ODataError(
                f"')' or operator expected at position {self._position()} in '{self.text}'."
            )
        return predicate

    # tokens

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _position(self) -> int:
        token = self.peek()
        return token[2] if token else len(self.text)

    def _keyword(self) -> str | None:
        token = self.peek()
        return token[1].lower() if token and token[0] == "word" else None

    def take(self, kind: str, message: str) -> tuple[str, str, int]:
        token = self.peek()
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
        token = self.peek()
        if token is None:
            raise self._expected_expression()
        if token[0] == "(":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise ODataError("Recursion depth exceeded allowed limit.")
            self.index += 1
            inner = self._or()
            self.take(")", "')' or operator expected")
            self.depth -= 1
            return inner
        following = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
        if token[0] == "word" and following and following[0] == "(":
            return self._function()
        left = self.operand()
        name = self._keyword()
        if name not in _OPERATORS:
            if left.edm == BOOLEAN and left.column is None:  # $filter=true
                return lambda row, constant=left.value: constant
            following = self.peek()
            if following is None or following[0] == ")" or name in ("and", "or"):
                raise ODataError("The $filter expression must evaluate to a single boolean value.")
            raise ODataError(
                f"')' or operator expected at position {self._position()} in '{self.text}'."
            )
        self.index += 1
        right = self.operand()
        return self._comparison(left, name, right)

    def operand(self) -> _Operand:
        token = self.peek()
        if token is None or token[0] in (")", ","):
            raise self._expected_expression()
        if token[0] == "(":
            raise syntax_error(token[2], self.text)
        self.index += 1
        kind, word, position = token
        if kind == "string":
            return _Operand(edm=STRING, value=word)
        following = self.peek()
        if (
            self.dialect.typed_literals
            and word.lower() in _TYPED
            and following is not None
            and following[0] == "string"
            and following[2] == position + len(word)
        ):
            self.index += 1
            return self._typed(_TYPED[word.lower()], following[1], position)
        return self._literal_or_column(word, position)

    def _typed(self, edm: str, text: str, position: int) -> _Operand:
        """guid'…', datetime'…', datetimeoffset'…' (OData v3's typed literals)."""
        if edm == GUID and GUID_PATTERN.fullmatch(text):
            return _Operand(edm=GUID, value=text.lower())
        if edm == DATETIME_V3 and (moment := local_datetime(text)) is not None:
            return _Operand(edm=DATETIME_V3, value=moment)
        if edm == DATETIME and (moment := utc_datetime(text)) is not None:
            return _Operand(edm=DATETIME, value=moment)
        raise syntax_error(position, self.text)

    def _literal_or_column(self, word: str, position: int) -> _Operand:
        lowered = word.lower()
        if lowered == "null":
            return _Operand(edm=None, value=None)
        if lowered in ("true", "false"):
            return _Operand(edm=BOOLEAN, value=lowered == "true")
        if GUID_PATTERN.fullmatch(word):
            return _Operand(edm=GUID, value=word.lower())
        if "T" in word and _DATE.match(word):
            moment = utc_datetime(word)
            if moment is None:
                raise syntax_error(position, self.text)
            return _Operand(edm=DATETIME, value=moment)
        if _DATE.fullmatch(word):
            try:
                day = date.fromisoformat(word)
            except ValueError:
                raise syntax_error(position, self.text) from None
            return _Operand(edm=DATE, value=day.isoformat())
        if _INTEGER.fullmatch(word):
            number = int(word)
            return _Operand(edm=INT32 if -(2**31) <= number < 2**31 else INT64, value=number)
        if _REAL.fullmatch(word):
            return _Operand(edm=DOUBLE, value=float(word))
        if IDENTIFIER.fullmatch(word):
            if word not in self.entity_set.columns:
                raise self.dialect.no_property(self.entity_set, word)
            return _Operand(edm=self.entity_set.columns[word], column=word)
        raise syntax_error(position, self.text)

    def _function(self) -> Predicate:
        name_token = self.take("word", "Expression expected")
        name = name_token[1].lower()
        if name not in _FUNCTIONS:
            raise ODataError(
                f"An unknown function with name '{name_token[1]}' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."
            )
        self.take("(", "'(' expected")
        first = self.operand()
        self.take(",", "')' or ',' expected")
        second = self.operand()
        self.take(")", "')' or ',' expected")
        if first.edm != STRING or second.edm != STRING:
            raise ODataError(
                f"No function signature for the function with name '{name}' matches the specified arguments. The function signatures considered are: {name}(Edm.String Nullable=true, Edm.String Nullable=true)."
            )
        fold = self.dialect.ignore_case
        test, text, part = _FUNCTIONS[name], first.getter(fold), second.getter(fold)
        unknown = None if self.dialect.sql_nulls else False

        def call(row):
            whole, piece = text(row), part(row)
            return unknown if whole is None or piece is None else test(whole, piece)

        return call

    def _comparison(self, left: _Operand, name: str, right: _Operand) -> Predicate:
        kind, test = _OPERATORS[name]
        if left.edm and right.edm and _FAMILY[left.edm] != _FAMILY[right.edm]:
            raise ODataError(
                f"A binary operator with incompatible types was detected. Found operand types '{left.edm}' and '{right.edm}' for operator kind '{kind}'."
            )
        if left.column is None and right.column is not None:  # 5 lt col reads as col gt 5
            left, right, name = right, left, _MIRRORED[name]
            test = _OPERATORS[name][1]
        if left.edm in (DATETIME, DATETIME_V3) and right.edm == DATE and right.column is None:
            # A date against a date and time is its midnight, in the column's own form.
            midnight = f"{right.value}T00:00:00" + ("Z" if left.edm == DATETIME else "")
            right = _Operand(edm=left.edm, value=midnight)
        fold = self.dialect.ignore_case
        read, other = left.getter(fold), right.getter(fold)
        if right.is_null and name in ("eq", "ne"):  # eq null / ne null: IS NULL / IS NOT NULL
            return (
                (lambda row: read(row) is None)
                if name == "eq"
                else lambda row: read(row) is not None
            )
        if self.dialect.sql_nulls:

            def compare(row):
                a, b = read(row), other(row)
                return None if a is None or b is None else test(a, b)

            return compare

        def compare_spec(row):
            a, b = read(row), other(row)
            if a is None or b is None:
                return test(a, b) if name in ("eq", "ne") else False
            return test(a, b)

        return compare_spec


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


# --- $select, $orderby, $expand, Prefer ----------------------------------------------------


def parse_select(text: str | None, entity_set: EntitySet, dialect: Dialect) -> list[str] | None:
    """The selected properties, in the order given; None for every property."""
    if text is None:
        return None
    columns: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item == "*":
            return None
        if item not in entity_set.columns:
            raise dialect.no_property(entity_set, item)
        if item in columns:
            raise ODataError(
                f"Found multiple select terms with same select path '{item}' at one $select, please combine them together."
            )
        columns.append(item)
    return columns


def parse_orderby(
    text: str | None, entity_set: EntitySet, dialect: Dialect
) -> list[tuple[str, bool]]:
    """[(property, descending)], in the order given."""
    if text is None:
        return []
    order: list[tuple[str, bool]] = []
    offset = 0
    for part in text.split(","):
        words = part.split()
        if not words:
            raise ODataError(f"Expression expected at position {offset} in '{text}'.")
        column, direction = words[0], (words[1].lower() if len(words) > 1 else "asc")
        if not IDENTIFIER.fullmatch(column):
            raise syntax_error(offset + part.index(column), text)
        if column not in entity_set.columns:
            raise dialect.no_property(entity_set, column)
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise syntax_error(offset + part.index(words[1]), text)
        if any(column == seen for seen, _ in order):
            raise dialect.repeated_order_column()
        order.append((column, direction == "desc"))
        offset += len(part) + 1
    return order


def _split_outside(text: str, separator: str, quote_mark: str = "'") -> list[str]:
    """`text` split at `separator`s that are neither quoted nor inside parentheses."""
    parts, current, quoted, depth = [], [], False, 0
    for char in text:
        if char == quote_mark:
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == separator and not quoted and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass
class Expansion:
    navigation: Navigation
    target: EntitySet
    selected: list[str] | None
    related: dict | None = None  # the target's rows by their `remote` value, once per request


def parse_expand(
    text: str | None, entity_set: EntitySet, sets: Mapping[str, EntitySet], dialect: Dialect
) -> list[Expansion]:
    """`nav`, `nav($select=a,b)`, comma separated."""
    if text is None:
        return []
    expansions: list[Expansion] = []
    for item in (part.strip() for part in _split_outside(text, ",")):
        if not item:
            raise ODataError(f"Expression expected at position {len(text)} in '{text}'.")
        name, _, rest = item.partition("(")
        name = name.strip()
        if name not in entity_set.navigation:
            if name in entity_set.columns:
                raise ODataError(
                    f"Property '{name}' on type '{dialect.type_name(entity_set)}' is not a navigation property or complex property. Only navigation properties can be expanded."
                )
            raise dialect.no_property(entity_set, name)
        navigation = entity_set.navigation[name]
        target = sets[navigation.target]
        selected = None
        if rest:
            if not rest.endswith(")"):
                raise syntax_error(len(text), text)
            for option in _split_outside(rest[:-1], ";"):
                option_name, _, value = option.strip().partition("=")
                if option_name != "$select":
                    raise dialect.unsupported_option(f"{option_name} inside $expand")
                selected = parse_select(value, target, dialect)
        if any(seen.navigation.name == name for seen in expansions):
            raise ODataError(
                f"Found multiple expand terms with same expand path '{name}' at one $expand."
            )
        expansions.append(Expansion(navigation, target, selected))
    return expansions


def parse_prefer(headers: Iterable[str]) -> dict[str, str]:
    """Preferences by lowercase name, e.g. {"odata.maxpagesize": "5000",
    "odata.include-annotations": '"OData.Community.Display.V1.FormattedValue"'}."""
    preferences: dict[str, str] = {}
    for header in headers:
        for item in _split_outside(header, ",", '"'):
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


def wants_annotation(include: str | None, term: str | None) -> bool:
    """Whether an odata.include-annotations value ("*", a list, "-" exclusions) covers `term`."""
    if not include or not term:
        return False
    patterns = [p.strip() for p in include.strip('"').split(",") if p.strip()]
    excluded = any(_annotation_matches(p[1:], term) for p in patterns if p.startswith("-"))
    included = any(_annotation_matches(p, term) for p in patterns if not p.startswith("-"))
    return included and not excluded


# --- the service ---------------------------------------------------------------------------


def sort_key(edm: str, ignore_case: bool) -> Callable[[object], tuple]:
    """The comparable form of a value: nulls first, text without case where the service
    compares so."""
    if edm == STRING and ignore_case:
        return lambda value: (0, "") if value is None else (1, value.lower())
    empty = 0 if edm in _NUMBERS else False if edm == BOOLEAN else ""
    return lambda value: (0, empty) if value is None else (1, value)


class Service:
    """The entity sets (and functions) of one OData service, answered in one dialect. `root`
    gives the service root URL (it may change with the emulator's configuration)."""

    def __init__(
        self,
        dialect: Dialect,
        entity_sets: Iterable[EntitySet],
        *,
        root: Callable[[], str],
        functions: Iterable[Function] = (),
    ):
        self.dialect = dialect
        self.sets = {entity_set.name: entity_set for entity_set in entity_sets}
        self.functions = {function.name: function for function in functions}
        self.root = root

    def segments(self) -> set[str]:
        """Every first path segment the service answers."""
        return {*self.sets, *self.functions, "$metadata"}

    def _options(self, query: str) -> dict[str, str]:
        options: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            if not name.startswith("$"):
                continue
            if name not in self.dialect.options:
                raise self.dialect.unsupported_option(name)
            if name in options:
                raise ODataError(
                    f"Query option '{name}' was specified more than once, but it must be specified at most once."
                )
            options[name] = value
        return options

    def _record(
        self,
        entity_set: EntitySet,
        row: dict,
        columns: list[str],
        formatted: bool,
        store: Mapping[str, list[dict]] | None = None,
        expansions: list[Expansion] = (),
    ) -> dict:
        dialect = self.dialect
        record: dict = {}
        if entity_set.etag is not None:
            record[dialect.etag_key] = f'W/"{row[entity_set.etag]}"'
        for column in columns:
            value = row.get(column)
            if formatted and value is not None:
                label = dialect.formatted(entity_set.by_name[column], value)
                if label is not None:
                    record[f"{column}@{dialect.formatted_term}"] = label
            record[column] = dialect.json_value(entity_set.columns[column], value)
        if dialect.always_key:
            for column in entity_set.key:
                record.setdefault(column, row[column])
        for expansion in expansions:
            record[expansion.navigation.name] = self._expanded(row, expansion, formatted, store)
        return record

    def _expanded(
        self, row: dict, expansion: Expansion, formatted: bool, store
    ) -> dict | list | None:
        navigation, target = expansion.navigation, expansion.target
        if expansion.related is None:
            expansion.related = {}
            for other in store[target.name]:
                expansion.related.setdefault(other.get(navigation.remote), []).append(other)
        wanted = row.get(navigation.local)
        columns = expansion.selected if expansion.selected is not None else list(target.columns)
        matches = [] if wanted is None else expansion.related.get(wanted, [])
        records = [self._record(target, other, columns, formatted) for other in matches]
        if navigation.collection:
            return records
        return records[0] if records else None

    def _formatting(self, prefer: dict[str, str]) -> tuple[bool, list[str]]:
        include = prefer.get("odata.include-annotations")
        if not include:
            return False, []
        return wants_annotation(include, self.dialect.formatted_term), [
            f"odata.include-annotations={include}"
        ]

    def collection(
        self,
        name: str,
        store: Mapping[str, list[dict]],
        *,
        query: str = "",
        prefer: Iterable[str] = (),
    ) -> Answer:
        """One page of entity set `name` (its rows are `store[name]`)."""
        dialect, entity_set = self.dialect, self.sets[name]
        options = self._options(query)
        selected = parse_select(options.get("$select"), entity_set, dialect)
        predicate = (
            FilterParser(options["$filter"], entity_set, dialect).parse()
            if "$filter" in options
            else None
        )
        order = parse_orderby(options.get("$orderby"), entity_set, dialect)
        expansions = parse_expand(options.get("$expand"), entity_set, self.sets, dialect)
        top = _whole_number(options, "$top")
        skip = _whole_number(options, "$skip") or 0
        counted = dialect.counts(options.get(dialect.count_option))
        keys = [column for column, _ in order]
        for column in entity_set.key:  # the key breaks ties, so pages never overlap
            if column not in keys:
                order.append((column, False))
                keys.append(column)
        page_number, after = 1, None
        if "$skiptoken" in options:
            page_number, after = dialect.read_token(entity_set, options["$skiptoken"], keys)
            if any(after.get(column) is None for column in entity_set.key):
                raise dialect.invalid_token(options["$skiptoken"])
        preferences = parse_prefer(prefer)
        plan = dialect.plan(entity_set, top, preferences)
        formatted, applied = self._formatting(preferences)

        rows = store[name]
        rows = [row for row in rows if predicate(row) is True] if predicate else list(rows)
        total = len(rows)
        for column, descending in reversed(order):  # stable sorts, last key first
            key = sort_key(entity_set.columns[column], dialect.ignore_case)
            rows.sort(
                key=lambda row, key=key, column=column: key(row.get(column)), reverse=descending
            )
        start = self._first_after(entity_set, rows, order, after) if after is not None else skip
        size = plan.size if plan.top is None else min(plan.size, plan.top)
        page = rows[start : start + size]
        columns = selected if selected is not None else list(entity_set.columns)

        context = self._context(name, selected, expansions)
        body: dict = {dialect.context_key: context}
        if counted:
            body[dialect.count_key] = dialect.count_value(
                total if dialect.count_limit is None else min(total, dialect.count_limit)
            )
        body["value"] = [
            self._record(entity_set, row, columns, formatted, store, expansions) for row in page
        ]
        left = None if plan.top is None else plan.top - len(page)
        if plan.paged and page and start + len(page) < len(rows) and left != 0:
            token = dialect.next_token(entity_set, page_number, keys, page[0], page[-1])
            body[dialect.next_key] = self._next_link(name, query, token, left)
        headers = dialect.headers()
        if plan.applied or applied:
            headers["Preference-Applied"] = ",".join([*plan.applied, *applied])
        return Answer(body, headers)

    def _context(
        self,
        name: str,
        selected: list[str] | None,
        expansions: list[Expansion],
        entity: bool = False,
    ) -> str:
        items = list(selected) if selected is not None else []
        if selected is not None or any(e.selected is not None for e in expansions):
            items += [
                f"{e.navigation.name}({','.join(e.selected)})"
                for e in expansions
                if e.selected is not None
            ]
        return self.dialect.context(self.root(), name, items or None, entity)

    def _next_link(self, name: str, query: str, token: str, left: int | None) -> str:
        """The request's own query, unchanged, with the token (and what is left of $top)."""
        kept = []
        for part in query.split("&"):
            option = unquote_plus(part.partition("=")[0])
            if not part or option in ("$skiptoken", "$skip"):
                continue
            if option == "$top" and left is not None:
                part = f"$top={left}"
            kept.append(part)
        return f"{self.root()}/{name}?{'&'.join([*kept, f'$skiptoken={token}'])}"

    def _first_after(
        self, entity_set: EntitySet, rows: list[dict], order: list[tuple[str, bool]], last: dict
    ) -> int:
        """Index of the first sorted row that comes after the token's last row (binary
        search: rows are in the very order the comparison follows)."""
        fold = self.dialect.ignore_case
        keys = [
            (column, sort_key(entity_set.columns[column], fold), descending)
            for column, descending in order
        ]
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

    def entity(
        self,
        name: str,
        store: Mapping[str, list[dict]],
        key: tuple,
        *,
        query: str = "",
        prefer: Iterable[str] = (),
    ) -> Answer:
        """One row of entity set `name` by its key values (in the key's order), with $select
        and $expand; other query options are not read."""
        dialect, entity_set = self.dialect, self.sets[name]
        options = dict(parse_qsl(query, keep_blank_values=True))
        selected = parse_select(options.get("$select"), entity_set, dialect)
        expansions = parse_expand(options.get("$expand"), entity_set, self.sets, dialect)
        row = next(
            (
                row
                for row in store[name]
                if tuple(row.get(column) for column in entity_set.key) == key
            ),
            None,
        )
        if row is None:
            raise dialect.not_found(entity_set, key)
        formatted, applied = self._formatting(parse_prefer(prefer))
        columns = selected if selected is not None else list(entity_set.columns)
        record = self._record(entity_set, row, columns, formatted, store, expansions)
        headers = dialect.headers()
        if entity_set.etag is not None:
            headers["ETag"] = record[dialect.etag_key]
        if applied:
            headers["Preference-Applied"] = ",".join(applied)
        context = self._context(name, selected, expansions, entity=True)
        return Answer({dialect.context_key: context, **record}, headers)

    # --- $metadata ----------------------------------------------------------------------------

    def metadata(self) -> str:
        """The service's CSDL XML, generated from the declarations."""
        if self.dialect.version.startswith("3"):
            return self._metadata_v3()
        return self._metadata_v4()

    def _properties(self, properties: Iterable[Property], key: tuple = ()) -> list[str]:
        return [
            f'<Property Name="{p.name}" Type="{p.edm}"'
            + (' Nullable="false"' if p.name in key else "")
            + " />"
            for p in properties
        ]

    def _key(self, entity_set: EntitySet) -> str:
        refs = "".join(f'<PropertyRef Name="{column}" />' for column in entity_set.key)
        return f"<Key>{refs}</Key>"

    def _metadata_v4(self) -> str:
        ns = self.dialect.namespace
        schema, container = [], []
        for entity_set in self.sets.values():
            lines = [
                self._key(entity_set),
                *self._properties(entity_set.properties, entity_set.key),
            ]
            bindings = []
            for nav in entity_set.navigations:
                target = f"{ns}.{self.sets[nav.target].entity_type}"
                kind = f"Collection({target})" if nav.collection else target
                lines.append(f'<NavigationProperty Name="{nav.name}" Type="{kind}" />')
                bindings.append(
                    f'<NavigationPropertyBinding Path="{nav.name}" Target="{nav.target}" />'
                )
            schema.append(
                f'<EntityType Name="{entity_set.entity_type}">{"".join(lines)}</EntityType>'
            )
            container.append(
                f'<EntitySet Name="{entity_set.name}" EntityType="{ns}.{entity_set.entity_type}">'
                f"{''.join(bindings)}</EntitySet>"
            )
        for function in self.functions.values():
            schema.append(
                f'<ComplexType Name="{function.returns}">{"".join(self._properties(function.properties))}</ComplexType>'
                f'<Function Name="{function.name}"><ReturnType Type="{ns}.{function.returns}" Nullable="false" /></Function>'
            )
            container.append(
                f'<FunctionImport Name="{function.name}" Function="{ns}.{function.name}" />'
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
            "<edmx:DataServices>"
            f'<Schema Namespace="{html.escape(ns)}" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
            f"{''.join(schema)}"
            f'<EntityContainer Name="{self.dialect.container}">{"".join(container)}</EntityContainer>'
            "</Schema></edmx:DataServices></edmx:Edmx>"
        )

    def _metadata_v3(self) -> str:
        """CSDL v3: a navigation property names an Association (two typed ends) that an
        AssociationSet in the container binds to entity sets."""
        ns = self.dialect.namespace
        schema, associations, sets, association_sets = [], [], [], []
        for entity_set in self.sets.values():
            lines = [
                self._key(entity_set),
                *self._properties(entity_set.properties, entity_set.key),
            ]
            for nav in entity_set.navigations:
                target = self.sets[nav.target]
                name = f"{entity_set.entity_type}_{nav.name}"
                source_role, target_role = f"{name}_Source", f"{name}_Target"
                lines.append(
                    f'<NavigationProperty Name="{nav.name}" Relationship="{ns}.{name}" '
                    f'FromRole="{source_role}" ToRole="{target_role}" />'
                )
                associations.append(
                    f'<Association Name="{name}">'
                    f'<End Type="{ns}.{entity_set.entity_type}" Role="{source_role}" Multiplicity="0..1" />'
                    f'<End Type="{ns}.{target.entity_type}" Role="{target_role}" '
                    f'Multiplicity="{"*" if nav.collection else "0..1"}" /></Association>'
                )
                association_sets.append(
                    f'<AssociationSet Name="{name}" Association="{ns}.{name}">'
                    f'<End Role="{source_role}" EntitySet="{entity_set.name}" />'
                    f'<End Role="{target_role}" EntitySet="{target.name}" /></AssociationSet>'
                )
            schema.append(
                f'<EntityType Name="{entity_set.entity_type}">{"".join(lines)}</EntityType>'
            )
            sets.append(
                f'<EntitySet Name="{entity_set.name}" EntityType="{ns}.{entity_set.entity_type}" />',
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">'
            '<edmx:DataServices m:DataServiceVersion="3.0" m:MaxDataServiceVersion="3.0" '
            'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
            f'<Schema Namespace="{html.escape(ns)}" xmlns="http://schemas.microsoft.com/ado/2009/11/edm">'
            f"{''.join(schema)}{''.join(associations)}"
            f'<EntityContainer Name="{self.dialect.container}" m:IsDefaultEntityContainer="true">'
            f"{''.join(sets)}{''.join(association_sets)}</EntityContainer>"
            "</Schema></edmx:DataServices></edmx:Edmx>"
        )


def _whole_number(options: dict[str, str], name: str) -> int | None:
    value = options.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise ODataError(
            f"Invalid value '{value}' for {name} query option found. The {name} query option requires a non-negative integer value."
        )
    return int(value)


def parse_key(text: str, entity_set: EntitySet, dialect: Dialect) -> tuple:
    """The key values of a key segment's parentheses, in the key's order: `5`, `'a'`,
    `guid'…'` for a one-property key, `ProjectId=guid'…',TaskId=guid'…'` for any key
    (Project Online's Tasks and Assignments have two). A syntax error when it is not one."""
    values: dict[str, object] = {}
    parts = _split_outside(text, ",")
    for part in parts:
        name, equals, literal = part.partition("=")
        if not equals or "'" in name:
            name, literal = entity_set.key[0], part
        parser = FilterParser(literal.strip(), entity_set, dialect)
        try:
            operand = parser.operand()
        except ODataError:
            raise syntax_error(0, text) from None
        if operand.column is not None or operand.is_null or parser.peek() is not None:
            raise syntax_error(0, text)
        values[name.strip()] = operand.value
    if len(values) != len(parts) or set(values) != set(entity_set.key):
        raise syntax_error(0, text)
    return tuple(values[column] for column in entity_set.key)


class ProjectDataDialect(Dialect):
    """Project Online's reporting feed (`/_api/ProjectData/`), as far as it is published:
    WCF Data Services on the OData v3 libraries, so JSON light (`odata.metadata`,
    `odata.nextLink`, `odata.count` as a string, Int64 and Decimal values as strings,
    DateTime without an offset), `$skip` and `$inlinecount=allpages`, typed literals
    (`datetime'2012-01-01T00:00:00'`, `guid'…'`), a page size per entity set and no
    `Prefer: odata.maxpagesize`, the v3 error body. Issue 17 completes it (its entity sets,
    custom fields, the formats and limits it meets).

    Not published, so chosen: the default page size (300, the figure clients are warned not
    to hard-code), SQL Server's null and case rules (the feed reads the reporting database),
    the `$skiptoken` as the last row's sort values and key (WCF Data Services' form), and the
    messages of refused queries (odata.net's, as Dataverse's)."""

    # Reference: ../shared/providers/project-online.md §2 (OData v3, `value` + odata.nextLink
    # with application/json, page size per entity set, keys, $top/$skip loops);
    # learn.microsoft.com/previous-versions/office/project-odata/jj163015 (WCF Data Service,
    # OData V3 libraries), jj163161 (CostScenarioProjects: a default page limit of 200),
    # jj163621 (`$filter=ProjectStartDate gt datetime'2012-01-01T00:00:00'`, ReportingData
    # namespace); learn.microsoft.com/powershell/module/sharepoint-server/
    # set-spprojectodataconfiguration (DefaultMaxPageSize, PageSizeOverride per entity set);
    # gist.github.com/markdstafford/5457004 (OData team: JSON light's odata.metadata
    # `…/$metadata#…/Products/@Element`, DateTime "1992-01-01T00:00:00", Decimal "2.5").

    version = "3.0"
    namespace = "ReportingData"
    container = "ReportingData"
    options = frozenset(
        {"$select", "$filter", "$orderby", "$top", "$skip", "$inlinecount", "$expand", "$skiptoken"}
    )
    count_option = "$inlinecount"
    page_size = 300
    page_sizes = {"CostScenarioProjects": 200}
    honours_max_page_size = False
    sql_nulls = ignore_case = True
    typed_literals = True
    context_key, count_key = "odata.metadata", "odata.count"
    next_key, etag_key = "odata.nextLink", "odata.etag"
    media_type = "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"

    def headers(self) -> dict[str, str]:
        return {"DataServiceVersion": "3.0;"}

    def error_body(self, error: ODataError) -> dict:
        return {
            "odata.error": {
                "code": error.code or self.query_error_code,
                "message": {"lang": "en-US", "value": error.message},
            }
        }

    def context(
        self, root: str, set_name: str, selected: list[str] | None, entity: bool = False
    ) -> str:
        element = "/@Element" if entity else ""
        columns = f"&$select={','.join(selected)}" if selected else ""
        return f"{root}/$metadata#{set_name}{element}{columns}"

    def counts(self, value: str | None) -> bool:
        if value is None:
            return False
        if value not in ("allpages", "none"):
            raise ODataError(
                f"Invalid value '{value}' for $inlinecount query option found. Valid values are 'allpages, none'."
            )
        return value == "allpages"

    def count_value(self, count: int) -> int | str:
        return str(count)

    def json_value(self, edm: str, value):
        return str(value) if value is not None and edm in (INT64, DECIMAL) else value
