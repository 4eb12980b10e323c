"""The migration's named transforms, registered in the platform's transform registry (the
platform never imports apps: migration.apps imports this module when Django starts, so admin
and the API offer them and validate their parameters like the built-in ones).

Each wraps one rule of migration/rules.py: an empty value maps to empty, a value the rule
cannot read is a MappingError naming it (the transform reports it as an Issue and leaves the
cell empty). A record may carry `_hours_per_day` (the project's own): it wins over the
parameter, which wins over the seed's 8.
"""

from __future__ import annotations

from collections.abc import Callable

from integrations.mapping.transforms import MappingError, is_empty, register
from migration import rules

HOURS_PER_DAY = {
    "hours_per_day": {
        "type": "number",
        "minimum": 0.5,
        "maximum": 24,
        "description": "working hours in a day when the project has no calendar (default 8)",
    }
}


def _guarded(convert: Callable, *, empty=None) -> Callable:
    """`convert(value, record)` as a transform: an empty value maps to `empty`, one the rule
    cannot read is a MappingError."""

    def apply(value, record):
        if is_empty(value):
            return empty
        try:
            return convert(value, record)
        except ValueError as exc:
            raise MappingError(str(exc)) from None

    return apply


def _lenient(rule: Callable, *, empty=None) -> Callable:
    return _guarded(lambda value, record: rule(value), empty=empty)


def _hours(params: dict, record: dict) -> float:
    return (
        record.get("_hours_per_day") or params.get("hours_per_day") or rules.DEFAULT_HOURS_PER_DAY
    )


@register(
    "duration_days",
    "An ISO 8601 duration as decimal working days (PT40H → 5.0), for a project sheet's Duration.",
    params=dict(HOURS_PER_DAY),
)
def _duration_days(params, context):
    return _guarded(lambda value, record: rules.duration_days(value, _hours(params, record)))


@register(
    "work_hours",
    'An ISO 8601 duration as hours text (PT40H → "40h", PT7H30M → "7.5h").',
    params=dict(HOURS_PER_DAY),
)
def _work_hours(params, context):
    return _guarded(lambda value, record: rules.work_text(value, _hours(params, record)))


@register(
    "date_only",
    "The date of an ISO 8601 date-time as written in its own offset, YYYY-MM-DD.",
)
def _date_only(params, context):
    return _lenient(rules.date_only)


@register(
    "priority_label",
    "Project's priority 0-1000 as its label (7 levels: 500-599 Medium …; empty → Medium).",
)
def _priority_label(params, context):
    def apply(value, record):
        try:
            return rules.priority_label(value)
        except ValueError as exc:
            raise MappingError(str(exc)) from None

    return apply


@register(
    "status_from_percent",
    "A status from % complete: 0 Not Started, 1-99 In Progress, 100 Complete.",
)
def _status_from_percent(params, context):
    return _lenient(rules.status_from_percent)


@register(
    "percent_fraction",
    "A percentage 0-100 as a fraction for a percent-formatted cell (45 → 0.45).",
)
def _percent_fraction(params, context):
    return _lenient(rules.percent_fraction)


@register(
    "constraint_code",
    "A constraint type as its code (ASAP, ALAP, SNET, SNLT, FNET, FNLT, MSO, MFO), from a code, "
    "its label or Project's number.",
)
def _constraint_code(params, context):
    return _lenient(rules.constraint_code)


@register(
    "to_number",
    "A number kept a number (rates, costs, units): the column's format shows it as $ or %.",
)
def _to_number(params, context):
    return _lenient(rules.number)


@register("checkbox", "true or false for a CHECKBOX column (empty → false).")
def _checkbox(params, context):
    return _lenient(rules.boolean, empty=False)


@register(
    "contact",
    "A contact object from a name and an email (two source fields: name, email).",
)
def _contact(params, context):
    def apply(value, record):
        parts = list(value) if isinstance(value, list | tuple) else [value]
        name, email = (parts + [None, None])[:2]
        return rules.contact(
            None if name is None else str(name), None if email is None else str(email)
        )

    return apply
