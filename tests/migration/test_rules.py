"""The value rules against spec-notes "Seed 001"'s conformance table (every vector, exactly),
one test per rule, plus the seed's own examples of the rules the table does not cover."""

import pytest

from integrations.mapping import transforms
from integrations.mapping.transforms import MappingError
from migration import rules
from migration.mapping import transforms as _registered  # noqa: F401 - registers them

# --- spec-notes "Seed 001" conformance vectors --------------------------------------------------

PREFIX = {
    "Website Redesign": "WRE",
    "Website Redesign 2024": "WR2",
    "Q1 Planning": "QP1",
    "Infrastructure": "INFR",
    "IT": "ITX",
    "ACME Corp Redesign": "ACR",
    "Web App Dev Q1": "WADQ",
    "IT Infrastructure Upgrade": "IIU",
    "": "PRJ",
    "2024": "PRJ",
}
WORKSPACE = {
    "Q1/Q2 Planning & Execution": "Q1-Q2 Planning & Execution",
    "Project: New Product Launch": "Project- New Product Launch",
    "IT Infrastructure | Phase 1": "IT Infrastructure - Phase 1",
}
DURATION_DAYS = {"PT40H": 5.0, "P5D": 5.0, "PT480M": 1.0, "PT36H": 4.5, "P0DT8H0M0S": 1.0}
WORK = {"PT40H": "40h", "PT80H": "80h", "PT7H30M": "7.5h"}
DATE = {"2024-03-15T09:00:00Z": "2024-03-15", "2024-12-31T23:59:59-08:00": "2024-12-31"}
PRIORITY = {
    0: "Lowest",
    200: "Very Low",
    400: "Lower",
    500: "Medium",
    600: "Higher",
    800: "Very High",
    1000: "Highest",
    None: "Medium",
}
STATUS = {0: "Not Started", 1: "In Progress", 50: "In Progress", 99: "In Progress", 100: "Complete"}


def test_the_prefix_follows_spec_notes_rule_for_every_vector():
    assert {name: rules.project_prefix(name) for name in PREFIX} == PREFIX


def test_the_workspace_name_is_sanitised_and_cut_at_100_as_97_plus_ellipsis():
    assert {name: rules.workspace_name(name) for name in WORKSPACE} == WORKSPACE
    long_name = "Very Long Project Name That Exceeds The Character Limit " * 3
    cut = rules.workspace_name(long_name)
    assert len(cut) == 100 and cut == long_name.strip()[:97] + "..."
    exactly = "x" * 100
    assert rules.workspace_name(exactly) == exactly
    assert rules.workspace_name("--a//b--") == "a-b"


def test_a_duration_is_decimal_days_at_eight_hours_a_day():
    assert {iso: rules.duration_days(iso) for iso in DURATION_DAYS} == DURATION_DAYS
    assert all(isinstance(rules.duration_days(iso), float) for iso in DURATION_DAYS)


def test_a_duration_uses_the_hours_per_day_it_is_given():
    assert rules.duration_days("PT40H", 10) == 4.0
    assert rules.duration_days("P5D", 10) == 5.0
    assert rules.duration_days("P1W") == 5.0
    with pytest.raises(ValueError):
        rules.duration_days("40 hours")


def test_work_is_hours_text():
    assert {iso: rules.work_text(iso) for iso in WORK} == WORK
    assert rules.work_text("P1D", 7.5) == "7.5h"


def test_a_date_is_the_date_as_written_in_its_own_offset():
    assert {text: rules.date_only(text) for text in DATE} == DATE
    assert rules.date_only("2024-12-31") == "2024-12-31"
    with pytest.raises(ValueError):
        rules.date_only("31/12/2024")


def test_priority_maps_to_the_seven_levels_and_none_to_medium():
    assert {value: rules.priority_label(value) for value in PRIORITY} == PRIORITY
    # The detailed section's bands, between the levels.
    assert [rules.priority_label(v) for v in (199, 399, 499, 599, 799, 999)] == [
        "Lowest", "Very Low", "Lower", "Medium", "Higher", "Very High",
    ]  # fmt: skip


def test_status_comes_from_percent_complete():
    assert {value: rules.status_from_percent(value) for value in STATUS} == STATUS


# --- the seed's other rules ------------------------------------------------------------------------


def test_a_sheet_name_keeps_50_characters_by_shortening_the_project_part():
    assert rules.sheet_name("Website Redesign", "Tasks") == "Website Redesign - Tasks"
    name = rules.sheet_name("A Very Long Project Name That Goes On And On Forever", "Tasks")
    assert name == "A Very Long Project Name That Goes On A... - Tasks"
    assert len(name) == 50
    assert len(rules.sheet_name("P" * 60, "Resources")) == 50


def test_a_constraint_is_its_code_from_a_code_a_label_or_projects_number():
    assert rules.constraint_code("MSO") == "MSO"
    assert rules.constraint_code("Must Start On") == "MSO"
    assert rules.constraint_code("StartNoEarlierThan") == "SNET"
    assert rules.constraint_code(0) == "ASAP"
    assert rules.constraint_label("FNLT") == "Finish No Later Than"
    assert {code: rules.constraint_label(code) for code in rules.CONSTRAINT_TYPES} == (
        rules.CONSTRAINT_TYPES
    )
    with pytest.raises(ValueError):
        rules.constraint_code("SOMETIME")


def test_max_units_and_money_stay_numbers_shown_through_formats():
    assert rules.number(1.5) == 1.5  # shown 150 % by the percent format
    assert rules.number("112.5") == 112.5
    assert rules.percent_fraction(45) == 0.45
    assert rules.PERCENT_FORMAT.split(",")[14] == "3"
    assert rules.CURRENCY_FORMAT.split(",")[11:15] == ["13", "2", "1", "2"]
    assert len(rules.CURRENCY_FORMAT.split(",")) == 18


def test_a_contact_is_name_and_email():
    assert rules.contact("John Doe", "john.doe@example.com") == {
        "email": "john.doe@example.com",
        "name": "John Doe",
    }
    assert rules.contact(None, "a@example.com") == {"email": "a@example.com"}
    assert rules.contact("", None) is None
    assert rules.contact_object_value("Jo", "jo@example.com") == {
        "objectType": "CONTACT", "email": "jo@example.com", "name": "Jo",
    }  # fmt: skip


def test_booleans_are_checkbox_values():
    assert [rules.boolean(v) for v in (True, False, None, 1, 0, "true", "No")] == [
        True, False, False, True, False, True, False,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        rules.boolean("perhaps")


def test_a_custom_column_name_prefers_the_display_name_and_fits_50():
    assert rules.custom_column_name("ProjectText1", "Customer Name") == "Custom - Customer Name"
    assert rules.custom_column_name("TaskNumber1", "Story Points") == "Custom - Story Points"
    assert rules.custom_column_name("ProjectText5", None) == "Custom - Project Text 5"
    long = rules.custom_column_name("TaskText2", "An Extremely Long Display Name For A Field X")
    assert len(long) == 50 and long.endswith("...")


# --- the same rules as named transforms of the mapping engine ------------------------------------


def test_the_rules_are_named_transforms_of_the_registry():
    def run(name, value, record=None, params=None):
        return transforms.compile_transform(name, params)(value, record or {})

    assert {iso: run("duration_days", iso) for iso in DURATION_DAYS} == DURATION_DAYS
    assert run("duration_days", "PT40H", {"_hours_per_day": 10}) == 4.0
    assert run("duration_days", "PT40H", params={"hours_per_day": 5}) == 8.0
    assert {iso: run("work_hours", iso) for iso in WORK} == WORK
    assert {text: run("date_only", text) for text in DATE} == DATE
    assert {v: run("priority_label", v) for v in PRIORITY} == PRIORITY
    assert {v: run("status_from_percent", v) for v in STATUS} == STATUS
    assert run("contact", ["John Doe", "john@example.com"]) == {
        "email": "john@example.com", "name": "John Doe",
    }  # fmt: skip
    assert run("percent_fraction", 45) == 0.45
    assert run("date_only", None) is None
    with pytest.raises(MappingError):
        run("date_only", "yesterday")
    with pytest.raises(MappingError):
        transforms.validate_params("duration_days", {"hours_per_day": 0})
