"""Query filters shared by the API's list endpoints."""

from datetime import UTC

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

# The largest id a database column holds (a 64-bit signed integer).
MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(filters.NumberFilter):
    """A plain id, not a choice validated against the table: a choice filter answers 400 for
    an id that does not exist and 200 for one of another workspace, which would reveal it
    (README: another workspace's object is a 404). Not a number, or beyond what a column
    holds, is a 400."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class DateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date and time, compared in UTC. ISO 8601 allows offsets PostgreSQL refuses
    (beyond ±15:59, such as +21:51): passed on as given, one was a 500 there."""

    def filter(self, qs, value):
        if value is not None:
            value = value.astimezone(UTC)
        return super().filter(qs, value)
