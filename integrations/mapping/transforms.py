"""The transform registry. A field mapping names a transform and gives it parameters; it never
carries code. Each transform is a plain Python function registered here with a one-line
description (admin shows it) and a JSON Schema for its parameters (admin and the API validate
with jsonschema, naming the parameter at fault).

A transform is compiled once per mapping set: `build(params, context)` returns a function
`(value, record) -> value`, so mapping a record is a chain of closures with no parsing or
lookups of settings on the way (bench/mapping.py: µs per record).

Only `number` touches the database (it must, to never issue a number twice) and `lookup_uuid`
reads a configured table through the cache; none reads files or the network.

# Reference: ../shared/seeds/integration-status-tracker.md (A1 renames, A2 UUID lookups,
# A3 arrays, A5 offer numbers, A6 capacity by layout, A8 status case, A9 time zones);
# ../shared/spec-notes.md "Seed 002".
"""

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from integrations.mapping.numbers import next_number

DEFAULT_TIMEZONE = "Europe/Zurich"  # A9
UTC_ZONE = ZoneInfo("UTC")
EMPTY = (None, "", [], {})


class MappingError(Exception):
    """A record or a parameter that cannot be mapped. `field` names the field or parameter;
    the message is for people (no internals)."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class Transform:
    name: str
    description: str
    schema: dict  # JSON Schema of the parameters (an object)
    build: Callable[[dict, dict], Callable]  # (params, context) -> (value, record) -> value
    pure: bool = True  # False: it writes (number) and the preview does not run it

    @cached_property
    def validator(self):
        # Imported here: jsonschema's imports (~30 ms) would otherwise be paid by every process
        # that starts Django; parameters are checked only when a mapping is saved or imported.
        # Built once per transform (a frozen dataclass still has the __dict__ it is kept in).
        from jsonschema import Draft202012Validator

        return Draft202012Validator(self.schema)


REGISTRY: dict[str, Transform] = {}


def register(name: str, description: str, *, params: dict | None = None, pure: bool = True):
    properties = params or {}
    schema = {
        "type": "object",
        "properties": properties,
        "required": [key for key, spec in properties.items() if spec.pop("required", False)],
        "additionalProperties": False,
    }

    def decorator(build):
        REGISTRY[name] = Transform(name, description, schema, build, pure)
        return build

    return decorator


def choices() -> list[tuple[str, str]]:
    return [(name, f"{name} — {t.description}") for name, t in sorted(REGISTRY.items())]


def get(name: str) -> Transform:
    try:
        return REGISTRY[name]
    except KeyError:
        raise MappingError(
            f"There is no transform named {name!r}; pick one of: {', '.join(sorted(REGISTRY))}.",
            field="transform",
        ) from None


def validate_params(name: str, params) -> dict:
    """The parameters, checked against the transform's schema; the first problem is raised
    with the parameter's name."""
    transform = get(name)
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise MappingError("Parameters must be a JSON object.", field="params")
    errors = sorted(transform.validator.iter_errors(params), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        if error.validator == "required":
            missing = re.search(r"'([^']+)' is a required property", error.message)
            key = missing[1] if missing else ""
            raise MappingError(f"{name}: the parameter {key!r} is required.", field=key)
        if error.validator == "additionalProperties":
            extra = sorted(set(params) - set(transform.schema["properties"]))
            raise MappingError(
                f"{name}: unknown parameter {extra[0]!r}; it takes "
                f"{', '.join(transform.schema['properties']) or 'no parameters'}.",
                field=extra[0],
            )
        key = str(error.path[0]) if error.path else ""
        raise MappingError(f"{name}: the parameter {key!r} {_plain(error)}.", field=key)
    _extra_checks(name, params)
    return params


def _plain(error) -> str:
    """jsonschema's message without echoing a long value back."""
    if error.validator == "type":
        return f"must be {kind_words(error.validator_value, article=True)}"
    if error.validator == "enum":
        return f"must be one of {', '.join(map(repr, error.validator_value))}"
    if error.validator in ("minimum", "maximum", "minLength", "maxLength", "minItems"):
        return f"is out of range ({error.validator} {error.validator_value})"
    if error.validator == "pattern":
        return "is not in the expected form"
    return "is not valid"


# JSON Schema types in words: for error messages here and the parameter reference in admin.
KIND_NAMES = {
    "string": "text",
    "integer": "whole number",
    "number": "number",
    "boolean": "true or false",
    "object": "object",
    "array": "list",
    "null": "null",
}
_ARTICLES = {"integer": "a ", "number": "a ", "object": "an ", "array": "a "}


def kind_words(kind, *, article: bool = False) -> str:
    kinds = kind if isinstance(kind, list) else [kind]
    return " or ".join(
        (_ARTICLES.get(k, "") if article else "") + KIND_NAMES.get(k, k) for k in kinds
    )


def _extra_checks(name: str, params: dict) -> None:
    zone = params.get("timezone")
    if zone is not None and zone not in _zones():
        raise MappingError(f"{name}: {zone!r} is not a time zone name.", field="timezone")
    for pattern in params.get("input_formats", ()):
        if not FORMAT.fullmatch(pattern):
            raise MappingError(
                f"{name}: {pattern!r} uses a directive outside %d %m %Y %y %H %I %M %S %p.",
                field="input_formats",
            )


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def compile_transform(name: str, params: dict | None, context: dict | None = None) -> Callable:
    params = dict(params or {})
    _validated(name, json.dumps(params, sort_keys=True, default=str))
    return get(name).build(params, context or {})


@lru_cache(maxsize=4096)
def _validated(name: str, params_json: str) -> None:
    """Check parameters once per distinct (transform, parameters): a request compiles each
    mapping set anew (its lookups and numbers are the request's), and jsonschema's check was
    most of compiling (bench/destination.py). A failure raises and is not kept."""
    validate_params(name, json.loads(params_json))


# A tuple, not `str | list | dict | tuple`: that expression makes a new union object on every
# call, four times the cost of the check (about a thousand checks per request of records,
# bench/destination.py).
SIZED = (str, list, dict, tuple)


def is_empty(value) -> bool:
    return value is None or (isinstance(value, SIZED) and len(value) == 0)


# --- A1: rename, and plain copies ---------------------------------------------------------------


@register(
    "rename", "Copy the value as it is, under the target's name (A1: organization → company)."
)
def _rename(params, context):
    return lambda value, record: value


@register("text", 'The value as text, without surrounding space (24017 → "24017").')
def _text(params, context):
    return lambda value, record: None if value is None else str(value).strip()


@register(
    "default",
    "Use a fixed value when the source is empty (missing, null, '' or []).",
    params={"value": {"required": True}},
)
def _default(params, context):
    fallback = params["value"]
    return lambda value, record: fallback if is_empty(value) else value


# --- A8: enumerations -----------------------------------------------------------------------------


@register(
    "enum_map",
    "Translate one set of values into another, ignoring case (A8: Lead → lead).",
    params={
        # Numbers too: an option set's values are (Dataverse's 826130004 for "Approved").
        "values": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
        "case": {"enum": ["lower", "upper", "keep"], "description": "for values not listed"},
        "strict": {"type": "boolean", "description": "refuse values that are not listed"},
        "otherwise": {
            "type": ["string", "null"],
            "description": "the value for one that is not listed (instead of re-casing it)",
        },
    },
)
def _enum_map(params, context):
    # An empty source (None or "") maps through the "" entry when the table has one.
    table = {str(k).strip().casefold(): v for k, v in (params.get("values") or {}).items()}
    case, strict = params.get("case", "lower"), params.get("strict", False)
    recase = {"lower": str.lower, "upper": str.upper, "keep": lambda s: s}[case]
    has_otherwise, otherwise = "otherwise" in params, params.get("otherwise")

    def apply(value, record):
        if value is None:
            return table.get("")
        key = str(value).strip()
        folded = key.casefold()
        if folded in table:
            return table[folded]
        if strict:
            allowed = ", ".join(sorted(params.get("values") or {}))
            raise MappingError(f"{key!r} is not one of the known values ({allowed}).")
        return otherwise if has_otherwise else recase(key)

    return apply


# --- A2: natural key -> UUID ----------------------------------------------------------------------


@register(
    "lookup_uuid",
    "Find the UUID of a natural key (an email, a slug) in a lookup table; UUIDs pass through (A2).",
    params={
        "table": {"type": "string", "minLength": 1, "required": True},
        "normalize": {"enum": ["lower", "strip", "none"]},
        "missing": {"enum": ["error", "null"], "description": "when the key is not in the table"},
        "many": {
            "type": "boolean",
            "description": "a list of UUIDs: each key of a list looked up, a single key as a "
            "one-item list (A3: locked_room_id → room_ids[])",
        },
    },
)
def _lookup_uuid(params, context):
    lookup = context.get("lookup")
    if lookup is None:
        raise MappingError("Lookups need a workspace (no lookup tables here).", field="table")
    table, missing = params["table"], params.get("missing", "error")
    normalize = {"lower": lambda s: s.strip().lower(), "strip": str.strip, "none": lambda s: s}[
        params.get("normalize", "lower")
    ]
    seen: dict[str, str | None] = {}  # per compiled set: one cache hit per key and run
    if "memories" in context:
        # The caller keeps its compiled sets from run to run and empties what they remember
        # between runs: a key missing in one run may be written before the next.
        context["memories"].append(seen)

    def apply(value, record):
        if is_empty(value):
            return None
        text = str(value)
        if _uuid(text):
            return str(uuid.UUID(text))
        key = normalize(text)
        if key not in seen:  # checked once per key: a table holding a non-UUID is refused
            found = lookup(table, key)
            if found is not None and not _uuid(found):
                raise MappingError(
                    f"The lookup table {table!r} holds {found!r} for {text!r}: not a UUID."
                )
            seen[key] = found
        found = seen[key]
        if found is None:
            if missing == "null":
                return None
            raise MappingError(f"{text!r} is not in the lookup table {table!r}.")
        return found

    if not params.get("many"):
        return apply

    def apply_many(value, record):
        if is_empty(value):
            return []
        keys = value if isinstance(value, list | tuple) else [value]
        found = (apply(key, record) for key in keys)
        return list(dict.fromkeys(item for item in found if item is not None))

    return apply_many


UUID_SHAPE = re.compile(
    r"(?:urn:uuid:)?\{?[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}\}?"
)


def _uuid(text: str) -> bool:
    # The shape first: most keys are emails or slugs, and an exception per record is slow.
    if not UUID_SHAPE.fullmatch(text):
        return False
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


# --- A3: scalar <-> array -------------------------------------------------------------------------


@register(
    "to_array",
    "Make a list of the value(s) (A3: locked_room_id → room_ids[]; features + equipment → amenities[]).",
    params={
        "split": {"type": "string", "description": "also split text on this separator"},
        "unique": {"type": "boolean"},
    },
)
def _to_array(params, context):
    separator, unique = params.get("split"), params.get("unique", True)

    def apply(value, record):
        if separator is None:  # the common cases, without the general loop
            if value is None or value == "":
                return []
            if not isinstance(value, list | tuple):
                return [value]
            if not any(isinstance(item, list | tuple) for item in value):
                items = [item for item in value if not is_empty(item)]
                return list(dict.fromkeys(items)) if unique else items
        items = []
        for part in value if isinstance(value, list | tuple) else [value]:
            for item in part if isinstance(part, list | tuple) else [part]:
                if separator and isinstance(item, str):
                    items.extend(p.strip() for p in item.split(separator))
                else:
                    items.append(item)
        items = [item for item in items if not is_empty(item)]
        if unique:
            items = list(dict.fromkeys(items))
        return items

    return apply


@register(
    "from_array",
    "Make one value of a list: its first item, or the items joined.",
    params={"join": {"type": "string"}},
)
def _from_array(params, context):
    separator = params.get("join")

    def apply(value, record):
        items = value if isinstance(value, list | tuple) else [value]
        items = [item for item in items if not is_empty(item)]
        if separator is not None:
            return separator.join(str(item) for item in items)
        return items[0] if items else None

    return apply


# --- A6: a column chosen by a key -----------------------------------------------------------------

A6_COLUMNS = {
    "theatre": "theater_capacity",
    "cocktail": "cocktail_capacity",
    "dinner": "seated_dinner_capacity",
    "standing": "standing_capacity",
}


@register(
    "pick_by_key",
    "Read the column the value names (A6: layout theatre → theater_capacity, default capacity).",
    params={
        "columns": {"type": "object", "additionalProperties": {"type": "string"}},
        "default": {"type": "string", "description": "column when the key is unknown or empty"},
    },
)
def _pick_by_key(params, context):
    columns = {k.casefold(): v for k, v in (params.get("columns") or A6_COLUMNS).items()}
    default = params.get("default", "capacity")

    def apply(value, record):
        column = columns.get(str(value).strip().casefold(), default) if value else default
        picked = record.get(column)
        return record.get(default) if is_empty(picked) else picked

    return apply


# --- A9: dates, times, time zones -----------------------------------------------------------------

FORMAT = re.compile(r"(?:[^%]|%[dmYyHIMSp%])*")  # the only strptime directives we accept
TZ_PARAMS = {"timezone": {"type": "string", "description": f"default {DEFAULT_TIMEZONE}"}}
INPUT_FORMATS = {
    "input_formats": {"type": "array", "items": {"type": "string", "maxLength": 40}},
}


def _zone(params) -> ZoneInfo:
    try:
        return ZoneInfo(params.get("timezone", DEFAULT_TIMEZONE))
    except ZoneInfoNotFoundError:
        raise MappingError("Unknown time zone.", field="timezone") from None


def _parse(value, formats: list[str], zone: ZoneInfo):
    """A date, time or datetime from what sources send: Python objects, ISO 8601 text, or
    one of the given formats. Naive datetimes are in `zone`."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date | time):
        return value
    text = str(value).strip()
    for parse in (datetime.fromisoformat, date.fromisoformat, time.fromisoformat):
        try:
            parsed = parse(text.replace("Z", "+00:00"))
        except ValueError:
            continue
        return (
            parsed.replace(tzinfo=zone)
            if isinstance(parsed, datetime) and not parsed.tzinfo
            else parsed
        )
    for pattern in formats:
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return parsed.replace(tzinfo=zone)
    raise MappingError(f"{text!r} is not a date or time this mapping can read.")


@register(
    "date",
    "A date as YYYY-MM-DD, in the given time zone (A9; default Europe/Zurich).",
    params={**TZ_PARAMS, **INPUT_FORMATS},
)
def _date(params, context):
    zone, formats = _zone(params), params.get("input_formats", [])

    def apply(value, record):
        if is_empty(value):
            return None
        if isinstance(value, str) and len(value) == 10:
            try:
                return date.fromisoformat(value).isoformat()  # already a plain date
            except ValueError:
                pass
        parsed = _parse(value, formats, zone)
        if isinstance(parsed, datetime):
            parsed = parsed.astimezone(zone).date()
        if isinstance(parsed, time):
            raise MappingError(f"{value!r} is a time, not a date.")
        return parsed.isoformat()

    return apply


CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?")


def _clock(match, value) -> str:
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if match[4]:
        if not 1 <= hour <= 12:
            raise MappingError(f"{value!r} is not a time of day.")
        hour = hour % 12 + (12 if match[4].lower() == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise MappingError(f"{value!r} is not a time of day.")
    return f"{hour:02d}:{minute:02d}:{second:02d}"


@register(
    "time",
    "A time of day as HH:MM:SS, in the given time zone (A9).",
    params={**TZ_PARAMS, **INPUT_FORMATS},
)
def _time(params, context):
    zone = _zone(params)
    formats = params.get("input_formats") or ["%H:%M", "%I:%M %p", "%I %p", "%H.%M"]

    def apply(value, record):
        if is_empty(value):
            return None
        if isinstance(value, str) and not params.get("input_formats"):
            clock = CLOCK.fullmatch(value.strip())
            if clock:  # "9:30", "09:30:15", "2:05 PM": read directly (strptime is slow)
                return _clock(clock, value)
        parsed = _parse(value, formats, zone)
        if isinstance(parsed, datetime):
            parsed = parsed.astimezone(zone).time()
        if not isinstance(parsed, time):
            raise MappingError(f"{value!r} is a date, not a time.")
        return parsed.replace(microsecond=0, tzinfo=None).strftime("%H:%M:%S")

    return apply


@register(
    "datetime",
    "A moment as ISO 8601 with its offset; naive input is local time of the zone (A9).",
    params={**TZ_PARAMS, **INPUT_FORMATS, "utc": {"type": "boolean"}},
)
def _datetime(params, context):
    zone, formats, to_utc = _zone(params), params.get("input_formats", []), params.get("utc", False)

    def apply(value, record):
        if is_empty(value):
            return None
        parsed = None
        if isinstance(value, str) and "T" in value:  # ISO 8601, the usual case, directly
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
        if parsed is None:
            parsed = _parse(value, formats, zone)
        if not isinstance(parsed, datetime):
            if isinstance(parsed, date):
                parsed = datetime.combine(parsed, time(), tzinfo=zone)
            else:
                raise MappingError(f"{value!r} is a time without a date.")
        if to_utc:
            return parsed.astimezone(UTC_ZONE).isoformat()
        return (parsed if parsed.tzinfo is zone else parsed.astimezone(zone)).isoformat()

    return apply


# --- text -----------------------------------------------------------------------------------------


@register(
    "truncate",
    "Keep text within a length: cut it (with a suffix) or replace it whole; optionally a "
    "value for empty text.",
    params={
        "max_length": {"type": "integer", "minimum": 1, "required": True},
        "mode": {"enum": ["cut", "replace"]},
        "replacement": {"type": "string"},
        "suffix": {"type": "string", "maxLength": 10},
        "when_empty": {
            "type": "string",
            "description": "the value for a missing, empty or blank text",
        },
    },
)
def _truncate(params, context):
    limit, mode = params["max_length"], params.get("mode", "cut")
    replacement, suffix = params.get("replacement", ""), params.get("suffix", "")
    has_empty, when_empty = "when_empty" in params, params.get("when_empty")
    if len(suffix) >= limit:
        raise MappingError("truncate: the suffix must be shorter than max_length.", field="suffix")

    def apply(value, record):
        if has_empty and (value is None or not str(value).strip()):
            return when_empty
        if value is None:
            return None
        text = str(value)
        if len(text) <= limit:
            return text
        if mode == "replace":
            return replacement
        return text[: limit - len(suffix)] + suffix

    return apply


@register(
    "split_name",
    "One part of a full name: first (all but the last word) or last (the last word).",
    params={"part": {"enum": ["first", "last"], "required": True}},
)
def _split_name(params, context):
    last = params["part"] == "last"

    def apply(value, record):
        words = str(value or "").split()
        if not words:
            return ""
        if len(words) == 1:
            return "" if last else words[0]
        return words[-1] if last else " ".join(words[:-1])

    return apply


@register(
    "join",
    "Join several source fields (or a list) into one text, skipping empty ones.",
    params={"separator": {"type": "string"}},
)
def _join(params, context):
    separator = params.get("separator", " ")

    def apply(value, record):
        parts = value if isinstance(value, list | tuple) else [value]
        texts = [str(p).strip() for p in parts if not is_empty(p)]
        return separator.join(text for text in texts if text)

    return apply


# A dot-atom local part and LDH domain labels: a strict subset of what validate_email
# accepts, checked first because validate_email costs tens of µs per address.
PLAIN_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)


@register("email", "An email address, trimmed and lower-cased; an invalid one is refused.")
def _email(params, context):
    def apply(value, record):
        if is_empty(value):
            return None
        text = str(value).strip().lower()
        if len(text) <= 254 and PLAIN_EMAIL.fullmatch(text):
            return text  # the everyday shape, which Django's validator also accepts
        try:
            validate_email(text)
        except DjangoValidationError:
            raise MappingError(f"{str(value)[:100]!r} is not an email address.") from None
        return text

    return apply


# --- A5: numbers that are never issued twice ------------------------------------------------------


@register(
    "number",
    "A new number like OE-2025-12-0001 when the field is empty: never the same twice (A5).",
    params={
        "prefix": {"type": "string", "pattern": r"^[A-Za-z0-9]{1,10}$", "required": True},
        "digits": {"type": "integer", "minimum": 3, "maximum": 9},
        **TZ_PARAMS,
    },
    pure=False,
)
def _number(params, context):
    prefix, digits, zone = params["prefix"], params.get("digits", 4), _zone(params)
    # A caller mapping many records may hand out numbers it reserved in a block
    # (numbers.reserve_numbers); by default each is taken alone.
    issue = context.get("issue_number", next_number)

    def apply(value, record):
        if not is_empty(value):
            return value  # already numbered: keep it
        return issue(prefix=prefix, digits=digits, zone=zone)

    return apply
