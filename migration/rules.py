"""The migration's value rules: one small pure function per rule of the seed, each tested with
the conformance vectors of spec-notes "Seed 001" (tests/migration/test_rules.py).

They raise `ValueError` on a value they cannot read; the transform turns that into an `Issue`
(validation.py) and leaves the cell empty, so a bad value never stops a project.

# Reference: ../shared/seeds/project-online-to-smartsheet-mapping-spec.md sections 1-3 and
# "Naming Conventions"; ../shared/spec-notes.md "Seed 001" (wins over the seed).
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from typing import Any

# --- names -----------------------------------------------------------------------------------

WORKSPACE_NAME_MAX = 100  # Smartsheet workspace names (seed section 1.A)
SHEET_NAME_MAX = 50  # seed Appendix C
COLUMN_NAME_MAX = 50
CELL_MAX = 4000
ELLIPSIS = "..."
DEFAULT_PREFIX = "PRJ"
PROJECT_ID_PREFIX = "Project"  # the Project ID auto-number column's prefix (spec-notes)

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_INVALID_NAME_CHARS = re.compile(r'[/\\:*?"<>|]')
_DASHES = re.compile(r"-+")


def project_prefix(name: str | None) -> str:
    """The auto-number prefix of a project (spec-notes' rule; its worked examples win over the
    seed's code): non-alphanumerics become spaces; the initials of all words; three or more
    initials → the first four; two → plus the first word's second character (padded "X"); one
    word → its first four characters, padded with "X" to three; no letter at all → "PRJ"."""
    words = _NOT_ALNUM.sub(" ", name or "").split()
    if not words or not any(ch.isalpha() for ch in "".join(words)):
        return DEFAULT_PREFIX
    words = [w.upper() for w in words]
    if len(words) == 1:
        return (words[0][:4] + "XXX")[: max(3, min(4, len(words[0])))]
    initials = "".join(w[0] for w in words)
    if len(initials) >= 3:
        return initials[:4]
    return initials + (words[0][1:2] or "X")


def workspace_name(project_name: str | None) -> str:
    """The Smartsheet workspace's name: the project's, with `/\\:*?"<>|` → "-", runs of dashes
    made one, spaces and dashes trimmed; over 100 characters → the first 97 + "..."."""
    name = _INVALID_NAME_CHARS.sub("-", project_name or "")
    name = _DASHES.sub("-", name).strip(" -")
    if len(name) > WORKSPACE_NAME_MAX:
        name = name[: WORKSPACE_NAME_MAX - len(ELLIPSIS)] + ELLIPSIS
    return name


def sheet_name(project_name: str, entity: str) -> str:
    """ "{Project} - {Entity}" within 50 characters: the project part is shortened (+ "...")
    when needed, never the entity part."""
    suffix = f" - {entity}"
    full = f"{project_name}{suffix}"
    if len(full) <= SHEET_NAME_MAX:
        return full
    room = SHEET_NAME_MAX - len(suffix) - len(ELLIPSIS)
    return f"{project_name[:room].rstrip()}{ELLIPSIS}{suffix}"


def custom_column_name(field_name: str, display_name: str | None, prefix: str = "Custom - ") -> str:
    """Seed section 5 "Custom Field Column Naming": the display name (else the internal name
    split into words: ProjectText5 → "Project Text 5"), cleaned, cut to fit 50 characters with
    the prefix ("..." when cut), prefixed."""
    if display_name and display_name.strip():
        base = display_name
    else:
        base = re.sub(r"([a-z])([A-Z])", r"\1 \2", field_name)
        base = re.sub(r"(\D)(\d)", r"\1 \2", base)
    cleaned = re.sub(r"[^\w\s-]", "", base)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    room = COLUMN_NAME_MAX - len(prefix)
    if len(cleaned) > room:
        cleaned = cleaned[: room - len(ELLIPSIS)] + ELLIPSIS
    return f"{prefix}{cleaned}"


# --- durations and work ------------------------------------------------------------------------

DEFAULT_HOURS_PER_DAY = 8.0
DAYS_PER_WEEK = 5  # working days, as Project counts them
DAYS_PER_MONTH = 20

_DURATION = re.compile(
    r"(?P<sign>-)?P(?:(?P<years>\d+(?:\.\d+)?)Y)?(?:(?P<months>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


_HOURS_ONLY = re.compile(r"PT(\d+(?:\.\d+)?)H")


@functools.lru_cache(maxsize=4096)  # durations repeat across a plan's tasks
def duration_hours(value: str, hours_per_day: float = DEFAULT_HOURS_PER_DAY) -> float:
    """Working hours of an ISO 8601 duration. Days, weeks and months are working time, as in
    Project: a day is `hours_per_day`, a week 5 days, a month 20 days (Appendix B)."""
    text = str(value).strip().upper()
    quick = _HOURS_ONLY.fullmatch(text)  # the common "PT40H"
    if quick:
        return float(quick[1])
    match = _DURATION.fullmatch(text)
    if not match or text in ("P", "PT", "-P") or text.endswith("T"):
        raise ValueError(f"{value!r} is not an ISO 8601 duration")
    part = {k: float(v) for k, v in match.groupdict().items() if v and k != "sign"}
    days = (
        part.get("years", 0) * 12 * DAYS_PER_MONTH
        + part.get("months", 0) * DAYS_PER_MONTH
        + part.get("weeks", 0) * DAYS_PER_WEEK
        + part.get("days", 0)
    )
    hours = (
        days * hours_per_day
        + part.get("hours", 0)
        + part.get("minutes", 0) / 60
        + part.get("seconds", 0) / 3600
    )
    return -hours if match["sign"] else hours


def duration_days(value: str, hours_per_day: float = DEFAULT_HOURS_PER_DAY) -> float:
    """A project sheet's Duration: decimal working days (a number, never text), 2 decimals.
    PT40H → 5.0, P5D → 5.0, PT480M → 1.0, PT36H → 4.5."""
    if hours_per_day <= 0:
        raise ValueError("hours per day must be positive")
    return round(duration_hours(value, hours_per_day) / hours_per_day, 2)


def work_text(value: str, hours_per_day: float = DEFAULT_HOURS_PER_DAY) -> str:
    """Work and Actual Work as hours text: PT40H → "40h", PT7H30M → "7.5h"."""
    return f"{_plain_number(round(duration_hours(value, hours_per_day), 2))}h"


def _plain_number(number: float) -> str:
    return f"{number:.2f}".rstrip("0").rstrip(".") if number % 1 else str(int(number))


# --- dates -------------------------------------------------------------------------------------


def date_only(value: Any) -> str:
    """YYYY-MM-DD: the date as written in its own offset (2024-12-31T23:59:59-08:00 is the
    31st, not the 1st in UTC)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return _date_text(str(value).strip())


@functools.lru_cache(maxsize=4096)  # dates repeat across a plan's tasks
def _date_text(text: str) -> str:
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date") from None


# --- priority, status, constraint --------------------------------------------------------------

PRIORITY_LEVELS = ["Lowest", "Very Low", "Lower", "Medium", "Higher", "Very High", "Highest"]
# The detailed section's bands: the lowest value of each level.
PRIORITY_BANDS = [(1000, "Highest"), (800, "Very High"), (600, "Higher"), (500, "Medium"),
                  (400, "Lower"), (200, "Very Low")]  # fmt: skip
PRIORITY_DEFAULT = "Medium"
PRIORITY_MIN, PRIORITY_MAX = 0, 1000


def priority_number(value: Any) -> float | None:
    """The priority as a number, None when there is none; ValueError for text that is not."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a priority")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a priority") from None


def priority_label(value: Any) -> str:
    """0 Lowest, 200 Very Low, 400 Lower, 500 Medium, 600 Higher, 800 Very High, 1000 Highest
    (bands: 800-999 Very High …); none → Medium."""
    number = priority_number(value)
    if number is None:
        return PRIORITY_DEFAULT
    for floor, label in PRIORITY_BANDS:
        if number >= floor:
            return label
    return "Lowest"


STATUSES = ["Not Started", "In Progress", "Complete"]


def percent_number(value: Any) -> float:
    """% complete as a number 0-100; ValueError for anything else (text, out of range)."""
    if value is None or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a percentage")
    try:
        number = float(str(value).strip().rstrip("%")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a percentage") from None
    if number != number or not 0 <= number <= 100:  # NaN, or out of range
        raise ValueError(f"{value!r} is outside 0-100")
    return number


def status_from_percent(value: Any) -> str:
    """0 → Not Started, 1-99 → In Progress, 100 → Complete."""
    number = percent_number(value)
    if number == 0:
        return "Not Started"
    if number == 100:
        return "Complete"
    return "In Progress"


def percent_fraction(value: Any) -> float:
    """45 (%) → 0.45: percentages are numbers in percent-formatted cells (spec-notes)."""
    return round(percent_number(value) / 100, 6)


# The seed's codes, and the labels Project and MS Project files use for them; the picklist
# options (PMO Standards/Task - Constraint Type) are the codes ("Picklist labels (same codes)").
CONSTRAINT_TYPES = {
    "ASAP": "As Soon As Possible",
    "ALAP": "As Late As Possible",
    "SNET": "Start No Earlier Than",
    "SNLT": "Start No Later Than",
    "FNET": "Finish No Earlier Than",
    "FNLT": "Finish No Later Than",
    "MSO": "Must Start On",
    "MFO": "Must Finish On",
}
# Project's numeric ConstraintType (pjConstraint: 0 ASAP … 7 FNLT).
_CONSTRAINT_NUMBERS = ["ASAP", "ALAP", "MSO", "MFO", "SNET", "SNLT", "FNET", "FNLT"]
_CONSTRAINT_LOOKUP = {
    **{code.casefold(): code for code in CONSTRAINT_TYPES},
    **{label.casefold(): code for code, label in CONSTRAINT_TYPES.items()},
    **{label.replace(" ", "").casefold(): code for code, label in CONSTRAINT_TYPES.items()},
    **{str(n): code for n, code in enumerate(_CONSTRAINT_NUMBERS)},
}


def constraint_code(value: Any) -> str:
    """The picklist value of a constraint: its code, whether the source wrote the code
    ("MSO"), the label ("Must Start On", "MustStartOn") or Project's number (2)."""
    key = str(value).strip().casefold().replace("_", "")
    try:
        return _CONSTRAINT_LOOKUP[key]
    except KeyError:
        raise ValueError(f"{value!r} is not a constraint type") from None


def constraint_label(value: Any) -> str:
    """The long label of a constraint code (MSO → "Must Start On"), for reports."""
    return CONSTRAINT_TYPES[constraint_code(value)]


# --- numbers, money, contacts, booleans ----------------------------------------------------------


def number(value: Any) -> float:
    """A number kept a number (Max Units 1.5 stays 1.5 and shows "150%" through the column's
    percent format; a rate 75 shows "$75.00" through the currency format)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} is not a number")
    return result


def contact(name: str | None, email: str | None) -> dict[str, str] | None:
    """A contact object (seed "Contact Objects"): email and name, each when present."""
    name = (name or "").strip()
    email = (email or "").strip()
    if not name and not email:
        return None
    found: dict[str, str] = {}
    if email:
        found["email"] = email
    if name:
        found["name"] = name
    return found


def contact_object_value(name: str | None, email: str | None) -> dict[str, str] | None:
    """A CONTACT_LIST cell's objectValue."""
    found = contact(name, email)
    return {"objectType": "CONTACT", **found} if found else None


def multi_contact_object_value(contacts: list[dict[str, str]]) -> dict[str, Any] | None:
    """A MULTI_CONTACT_LIST cell's objectValue (seed section 4): each contact a CONTACT object,
    as smartsheet-python-sdk's MultiContactObjectValue writes its ContactObjectValues."""
    if not contacts:
        return None
    return {
        "objectType": "MULTI_CONTACT",
        "values": [{"objectType": "CONTACT", **c} for c in contacts],
    }


def multi_picklist_object_value(values: list[str]) -> dict[str, Any] | None:
    """A MULTI_PICKLIST cell's objectValue (seed section 4)."""
    return {"objectType": "MULTI_PICKLIST", "values": values} if values else None


_TRUE = {"true", "1", "yes", "y", "on", "-1"}
_FALSE = {"false", "0", "no", "n", "off", ""}


def boolean(value: Any) -> bool:
    """A CHECKBOX value: true or false (a flag may arrive as text or 0/1 from a file)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    text = str(value).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not true or false")


# --- Smartsheet formats ----------------------------------------------------------------------
# A Smartsheet format descriptor is 18 comma-separated positions; the ones used here: 11
# currency (13 = USD), 12 decimalCount, 13 thousandsSeparator (1 on), 14 numberFormat (1 NUMBER,
# 2 CURRENCY, 3 PERCENT), 15 textWrap (1 on).
# Reference: https://developers.smartsheet.com/api/smartsheet/guides/advanced-topics/cell-formatting
# ("Format descriptor" table; GET /serverinfo's formats lists the lookup tables).


def format_descriptor(**positions: int) -> str:
    names = {"currency": 11, "decimal_count": 12, "thousands": 13, "number_format": 14,
             "text_wrap": 15}  # fmt: skip
    slots = [""] * 18
    for key, value in positions.items():
        slots[names[key]] = str(value)
    return ",".join(slots)


PERCENT_FORMAT = format_descriptor(number_format=3)
CURRENCY_FORMAT = format_descriptor(currency=13, decimal_count=2, thousands=1, number_format=2)
WRAP_FORMAT = format_descriptor(text_wrap=1)
