"""The SOQL subset the Salesforce emulator answers: one object, no relationships.

    SELECT field, ... | COUNT()  FROM Object
    [WHERE condition]  [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n]

Conditions: `field op value` with = != <> < <= > >=, `field [NOT] IN (values)`, `field LIKE
'pattern'` (% and _), combined with AND / OR / NOT and parentheses (required where AND and OR meet, and around a NOT
that does not open a condition). Values: 'strings' (with
backslash escapes), numbers, true / false / null, date-time literals (2024-01-31T10:00:00Z or
with an offset) and the date literals TODAY, YESTERDAY, LAST_N_DAYS:n, NEXT_N_DAYS:n. Text
compares case-insensitively, as SOQL does; date literals on date-time fields are day ranges
(`= TODAY` is within today, `> TODAY` after it), in UTC.

# Reference: developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/
# sforce_api_calls_soql_select_conditionexpression.htm (operators, LIKE wildcards and its
# case-insensitivity), sforce_api_calls_soql_select_logicaloperators.htm ("Parentheses are
# required whenever you mix the operators"; `AND NOT (x)` is "unexpected token: 'NOT'",
# jetstreamapp/soql-parser-js#201), sforce_api_calls_soql_select_dateformats.htm (date-time literals and
# date literals as ranges), sforce_api_calls_soql_select_orderby.htm (ASC nulls first, DESC
# nulls last by default); errors as the REST API sends them: MALFORMED_QUERY with the
# "ERROR at Row:1:Column:n" locator, INVALID_FIELD "No such column", INVALID_TYPE "sObject type
# 'X' is not supported" (../shared/providers/salesforce.md "Errors"; FACTS.md §11).
"""

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:\\.|[^'\\])*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*(?::\d+)?)
    )""",
    re.VERBOSE,
)
DAY = 86_400
IDS = ("id", "reference")  # compared and sorted as they are: ids are case-sensitive


class SoqlError(Exception):
    """A query the REST API refuses: `code` is its errorCode (MALFORMED_QUERY, INVALID_FIELD,
    INVALID_TYPE), the message its text."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Query:
    sobject: str
    fields: list[str]  # canonical names, in SELECT order; empty for COUNT()
    count: bool = False
    where: tuple | None = None
    # (field, desc, nulls first, case-insensitive)
    order: list[tuple[str, bool, bool, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


def sf_stamp(epoch: float) -> str:
    """Salesforce's date-time format: milliseconds and a +0000 offset, always UTC. Fixed width,
    so stored stamps compare as strings."""
    # Rounded once, to the millisecond, before it is split: rounding only the milliseconds
    # wrote x.9996 s as x.000 (a second early), so a later write could stamp an earlier time.
    millis = round(epoch * 1000)
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000))
    return f"{whole}.{millis % 1000:03d}+0000"


def parse_instant(text: str) -> float:
    """Epoch seconds of an ISO 8601 instant (Z, +00:00 or +0000 offsets)."""
    text = text.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class _Parser:
    def __init__(self, text: str, schema: dict[str, dict], now: float):
        self.text = text
        self.schema = schema  # object name -> {field name: describe entry}
        self.now = now
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            if not text[position:].strip():
                break
            match = TOKEN.match(text, position)
            if match is None:
                self.fail(position, f"unexpected token: '{text[position:].split()[0]}'")
            kind = match.lastgroup
            start = match.start(kind)
            self.tokens.append((kind, match.group(kind), start))
            position = match.end()
        self.index = 0
        self.fields: dict[str, dict] = {}
        self.by_lower: dict[str, str] = {}

    # --- tokens ----------------------------------------------------------------------------------

    def fail(self, position: int, message: str, code: str = "MALFORMED_QUERY"):
        raise SoqlError(code, f"\n{self.text}\nERROR at Row:1:Column:{position + 1}\n{message}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() in words:
            self.index += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            self.unexpected()

    def expect(self, kind: str, value: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            self.unexpected()
        self.index += 1
        return token

    def unexpected(self):
        token = self.peek()
        if token is None:
            self.fail(len(self.text), "unexpected token: <EOF>")
        self.fail(token[2], f"unexpected token: '{token[1]}'")

    # --- grammar ---------------------------------------------------------------------------------

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        selected: list[tuple[str, int]] = []
        count = False
        if self.keyword("COUNT"):
            self.expect("punct", "(")
            self.expect("punct", ")")
            count = True
        else:
            while True:
                token = self.expect("word")
                selected.append((token[1], token[2]))
                if not (self.peek() and self.peek()[1] == ","):
                    break
                self.index += 1
        self.expect_keyword("FROM")
        name_token = self.expect("word")
        sobject = next((n for n in self.schema if n.lower() == name_token[1].lower()), None)
        if sobject is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"\n{self.text}\nERROR at Row:1:Column:{name_token[2] + 1}\n"
                f"sObject type '{name_token[1]}' is not supported. If you are attempting to use "
                "a custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            )
        self.fields = self.schema[sobject]
        self.by_lower = {name.lower(): name for name in self.fields}
        self.sobject = sobject
        query = Query(sobject, [self.field(name, pos) for name, pos in selected], count=count)
        if self.keyword("WHERE"):
            query.where = self.condition()
        if self.keyword("ORDER"):
            self.expect_keyword("BY")
            while True:
                token = self.expect("word")
                name = self.field(token[1], token[2])
                desc = self.keyword("DESC")
                if not desc:
                    self.keyword("ASC")  # the default, optional
                nulls_first = not desc
                if self.keyword("NULLS"):
                    nulls_first = self.keyword("FIRST")
                    if not nulls_first:
                        self.expect_keyword("LAST")
                query.order.append((name, desc, nulls_first, self.fields[name]["type"] not in IDS))
                if not (self.peek() and self.peek()[1] == ","):
                    break
                self.index += 1
        if self.keyword("LIMIT"):
            query.limit = int(self.expect("number")[1])
        if self.keyword("OFFSET"):
            query.offset = int(self.expect("number")[1])
        if self.peek() is not None:
            self.unexpected()
        return query

    def field(self, name: str, position: int) -> str:
        canonical = self.by_lower.get(name.lower())
        if canonical is None:
            self.fail(
                position,
                f"No such column '{name}' on entity '{self.sobject}'. If you are attempting to "
                "use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
                code="INVALID_FIELD",
            )
        return canonical

    def condition(self) -> tuple:
        """Terms joined by one operator: SOQL refuses AND and OR mixed at one level ("Parentheses
        are required whenever you mix the operators")."""
        parts = [self.term(first=True)]
        operator = None
        while self.peek() and self.peek()[0] == "word" and self.peek()[1].upper() in ("AND", "OR"):
            word = self.peek()[1].upper()
            if operator not in (None, word):
                self.unexpected()
            operator = word
            self.index += 1
            parts.append(self.term(first=False))
        return parts[0] if len(parts) == 1 else (operator.lower(), parts)

    def term(self, *, first: bool) -> tuple:
        """A comparison, a parenthesized condition, or NOT and a term; NOT only opens a
        condition (`a AND NOT b` is refused, `a AND (NOT b)` is not)."""
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() == "NOT":
            if not first:
                self.unexpected()
            self.index += 1
            return ("not", self.term(first=False))
        if token and token[1] == "(":
            self.index += 1
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def comparison(self) -> tuple:
        token = self.expect("word")
        name = self.field(token[1], token[2])
        kind = self.fields[name]["type"]
        fold = kind not in IDS
        if self.keyword("NOT"):
            self.expect_keyword("IN")
            return ("not", ("in", name, self.value_list(kind), fold))
        if self.keyword("IN"):
            return ("in", name, self.value_list(kind), fold)
        if self.keyword("LIKE"):
            value_token = self.expect("string")
            return ("like", name, _like(value_token[1][1:-1]))
        operator = self.expect("op")[1]
        return ("cmp", name, "!=" if operator == "<>" else operator, self.value(kind), fold)

    def value_list(self, kind: str) -> list:
        self.expect("punct", "(")
        values = [self.value(kind)]
        while self.peek() and self.peek()[1] == ",":
            self.index += 1
            values.append(self.value(kind))
        self.expect("punct", ")")
        return values

    @staticmethod
    def unquote(text: str) -> str:
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), text[1:-1])

    def value(self, kind: str):
        """The literal, converted to what the field stores, folded as `matches` folds values:
        stamps as Salesforce's string, text lowercased (SOQL compares text case-insensitively),
        date literals as ("range", start, end)."""
        stamp = lambda epoch: sf_stamp(epoch).lower()  # noqa: E731
        token = self.expect(self.peek()[0] if self.peek() else "word")
        token_kind, text, position = token
        if token_kind == "string":
            if kind in ("datetime", "date", "boolean", "double", "int", "currency"):
                self.fail(
                    position,
                    f"value of filter criterion for field must be of type {kind} and should not "
                    "be enclosed in quotes",
                    code="INVALID_FIELD",
                )
            text = self.unquote(text)
            return text if kind in IDS else text.lower()
        if token_kind == "number":
            return float(text)
        if token_kind == "datetime":
            return stamp(parse_instant(text))
        if token_kind == "date":
            start = parse_instant(f"{text}T00:00:00Z")
            return ("range", stamp(start), stamp(start + DAY))
        if token_kind == "word":
            word = text.upper()
            if word in ("TRUE", "FALSE"):
                return word == "TRUE"
            if word == "NULL":
                return None
            today = self.now - self.now % DAY
            ranges = {"TODAY": (today, today + DAY), "YESTERDAY": (today - DAY, today)}
            if word in ranges:
                start, end = ranges[word]
                return ("range", stamp(start), stamp(end))
            days = re.fullmatch(r"(LAST|NEXT)_N_DAYS:(\d+)", word)
            if days:
                n = int(days[2])
                start, end = (
                    (today - n * DAY, today + DAY)
                    if days[1] == "LAST"
                    else (today + DAY, today + (n + 1) * DAY)
                )
                return ("range", stamp(start), stamp(end))
        self.fail(position, f"unexpected token: '{text}'")


def _like(pattern: str) -> re.Pattern:
    """A LIKE pattern (still escaped, as quoted in the query): % and _ are wildcards, \\% and
    \\_ the characters themselves, other backslash escapes as in any string literal.

    # Reference: developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/
    # sforce_api_calls_soql_select_comparisonoperators.htm ("LIKE": "the % and _ wildcards ...
    # escape them with a backslash") and sforce_api_calls_soql_select_quotedstringescapes.htm.
    """
    parts, index = [], 0
    while index < len(pattern):
        ch = pattern[index]
        if ch == "\\" and index + 1 < len(pattern):
            index += 1
            ch = pattern[index]
            parts.append(re.escape({"n": "\n", "t": "\t", "r": "\r"}.get(ch, ch).lower()))
        elif ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch.lower()))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def parse(text: str, schema: dict[str, dict], now: float) -> Query:
    """The query, or SoqlError. `schema`: object name -> {field name: {"type": ...}}."""
    return _Parser(text, schema, now).parse()


# --- evaluation --------------------------------------------------------------------------------


def _folded(value, fold: bool = True):
    return value.lower() if fold and isinstance(value, str) else value


def matches(condition: tuple | None, record: dict) -> bool:
    if condition is None:
        return True
    head = condition[0]
    if head == "and":
        return all(matches(part, record) for part in condition[1])
    if head == "or":
        return any(matches(part, record) for part in condition[1])
    if head == "not":
        return not matches(condition[1], record)
    if head == "like":
        value = _folded(record.get(condition[1]))
        return value is not None and condition[2].fullmatch(str(value)) is not None
    value = _folded(record.get(condition[1]), condition[-1])
    if head == "in":
        return value is not None and any(_equal(value, v) for v in condition[2])
    _, _, operator, literal, _ = condition
    if literal is None:
        return (value is None) == (operator == "=") if operator in ("=", "!=") else False
    if operator == "=":
        return value is not None and _equal(value, literal)
    if operator == "!=":
        return value is None or not _equal(value, literal)
    if value is None:
        return False
    if isinstance(literal, tuple):  # a date range
        _, start, end = literal
        return {
            "<": value < start,
            "<=": value < end,
            ">": value >= end,
            ">=": value >= start,
        }[operator]
    try:
        return {
            "<": value < literal,
            "<=": value <= literal,
            ">": value > literal,
            ">=": value >= literal,
        }[operator]
    except TypeError:
        return False


def _equal(value, literal) -> bool:
    if isinstance(literal, tuple):
        return literal[1] <= value < literal[2]
    if isinstance(literal, float) and isinstance(value, int | float):
        return float(value) == literal
    return value == literal


def ordered(records: list[dict], order: list[tuple[str, bool, bool, bool]]) -> list[dict]:
    """Sorted by each ORDER BY item, last first (stable sorts compose); text case-insensitive,
    ids as they are."""
    result = list(records)
    for name, desc, nulls_first, fold in reversed(order):
        present = [r for r in result if r.get(name) is not None]
        missing = [r for r in result if r.get(name) is None]
        present.sort(key=lambda r: _folded(r[name], fold), reverse=desc)
        result = missing + present if nulls_first else present + missing
    return result
