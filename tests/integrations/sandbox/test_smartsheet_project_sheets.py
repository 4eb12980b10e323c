"""The Smartsheet emulator's project sheets and column kinds, driven by the official SDK as the
hub builds it (issue 17; integrations/sandbox/FACTS.md §1.7): the project-sheet template and
sheets made from it, the project column types only it has, AUTO_NUMBER system columns, multi-
value columns behind `level`, and objectValue writes (multi-contact, multi-picklist,
predecessor lists with DURATION lags)."""

import pytest
import smartsheet as sdk_models

from integrations.sandbox.smartsheet_sheets import (
    PROJECT_TEMPLATE_SHEET_ID,
    TARGET_WORKSPACE_ID,
)
from tests.integrations.sandbox.test_smartsheet_sdk import refused, ss, token  # noqa: F401

pytestmark = pytest.mark.django_db
Column, Row, Sheet = sdk_models.models.Column, sdk_models.models.Row, sdk_models.models.Sheet


def from_template(ss, name="Plan - Tasks"):  # noqa: F811
    made = ss.Workspaces.create_sheet_in_workspace_from_template(
        TARGET_WORKSPACE_ID, Sheet({"name": name, "from_id": PROJECT_TEMPLATE_SHEET_ID})
    ).result
    return ss.Sheets.get_sheet(made.id, level=2, include=["objectValue"])


def titled(sheet, title):
    return next(c for c in sheet.columns if c.title == title)


def cell(row, column):
    return next(c for c in row.cells if c.column_id == column.id)


def test_a_sheet_made_from_the_project_template_has_dependencies_and_project_columns(ss):  # noqa: F811
    sheet = from_template(ss)
    assert sheet.dependencies_enabled and sheet.gantt_enabled
    assert sheet.project_settings.length_of_day == 8
    assert [(c.title, str(c.type)) for c in sheet.columns][:5] == [
        ("Task Name", "TEXT_NUMBER"),
        ("Start Date", "ABSTRACT_DATETIME"),
        ("End Date", "ABSTRACT_DATETIME"),
        ("Duration", "DURATION"),
        ("Predecessors", "PREDECESSOR"),
    ]
    assert list(sheet.rows) == []


def test_project_columns_cannot_be_made_through_the_api(ss):  # noqa: F811
    sheet = from_template(ss)
    for kind in ("DURATION", "PREDECESSOR", "ABSTRACT_DATETIME"):
        assert refused(
            lambda kind=kind: ss.Sheets.add_columns(
                sheet.id, [Column({"title": f"X {kind}", "type": kind, "index": 1})]
            )
        )[:2] == (400, 1031)
    assert refused(
        lambda: ss.Workspaces.create_sheet_in_workspace(
            TARGET_WORKSPACE_ID,
            Sheet(
                {
                    "name": "No durations",
                    "columns": [
                        {"title": "Name", "type": "TEXT_NUMBER", "primary": True},
                        {"title": "Duration", "type": "DURATION"},
                    ],
                }
            ),
        )
    )[:2] == (400, 1031)
    # Several columns in one call take one common index.
    assert refused(
        lambda: ss.Sheets.add_columns(
            sheet.id,
            [
                Column({"title": "A", "type": "TEXT_NUMBER", "index": 1}),
                Column({"title": "B", "type": "TEXT_NUMBER", "index": 2}),
            ],
        )
    )[:2] == (400, 1031)


def test_auto_number_columns_number_new_rows_and_cannot_be_written(ss):  # noqa: F811
    made = ss.Workspaces.create_sheet_in_workspace(
        TARGET_WORKSPACE_ID,
        Sheet(
            {
                "name": "Numbered",
                "columns": [
                    {"title": "Name", "type": "TEXT_NUMBER", "primary": True},
                    {
                        "title": "ID",
                        "type": "TEXT_NUMBER",
                        "systemColumnType": "AUTO_NUMBER",
                        "autoNumberFormat": {"prefix": "WRE-", "fill": "00000"},
                    },
                ],
            }
        ),
    ).result
    name, number = made.columns
    assert str(number.system_column_type) == "AUTO_NUMBER"
    rows = [Row({"to_bottom": True, "cells": [{"column_id": name.id, "value": v}]}) for v in "ab"]
    ss.Sheets.add_rows(made.id, rows)
    sheet = ss.Sheets.get_sheet(made.id)
    assert [cell(row, number).value for row in sheet.rows] == ["WRE-00001", "WRE-00002"]
    assert refused(
        lambda: ss.Sheets.add_rows(
            made.id, [Row({"to_bottom": True, "cells": [{"column_id": number.id, "value": "X"}]})]
        )
    )[:2] == (400, 1031)
    assert (
        refused(  # a format needs an AUTO_NUMBER column
            lambda: ss.Sheets.add_columns(
                made.id,
                [
                    Column(
                        {
                            "title": "F",
                            "type": "TEXT_NUMBER",
                            "index": 1,
                            "auto_number_format": {"prefix": "A"},
                        }
                    )
                ],
            )
        )[:2]
        == (400, 1031)
    )


def test_each_system_column_type_goes_with_its_own_column_type(ss):  # noqa: F811
    # The spec's table: CREATED_DATE / MODIFIED_DATE on DATETIME, CREATED_BY / MODIFIED_BY on
    # CONTACT_LIST, AUTO_NUMBER on TEXT_NUMBER; a DATETIME column is only ever one of these.
    made = ss.Workspaces.create_sheet_in_workspace(
        TARGET_WORKSPACE_ID,
        Sheet(
            {
                "name": "System",
                "columns": [{"title": "Name", "type": "TEXT_NUMBER", "primary": True}],
            }
        ),
    ).result
    fitting = [
        ("Created", "DATETIME", "CREATED_DATE"),
        ("Modified", "DATETIME", "MODIFIED_DATE"),
        ("Created By", "CONTACT_LIST", "CREATED_BY"),
        ("Modified By", "CONTACT_LIST", "MODIFIED_BY"),
    ]
    added = ss.Sheets.add_columns(
        made.id,
        [
            Column({"title": t, "type": k, "system_column_type": s, "index": 1})
            for t, k, s in fitting
        ],
    ).result
    assert [(c.title, str(c.type), str(c.system_column_type)) for c in added] == fitting
    for kind, system in (
        ("TEXT_NUMBER", "CREATED_DATE"),
        ("DATETIME", "CREATED_BY"),
        ("CONTACT_LIST", "AUTO_NUMBER"),
        ("DATETIME", None),
    ):
        body = {"title": f"{kind} {system}", "type": kind, "index": 1}
        if system:
            body["system_column_type"] = system
        assert refused(lambda body=body: ss.Sheets.add_columns(made.id, [Column(body)]))[:2] == (
            400,
            1031,
        ), (kind, system)


def test_multi_value_columns_read_as_text_without_level_and_as_objects_with_it(ss):  # noqa: F811
    sheet = from_template(ss)
    added = ss.Sheets.add_columns(
        sheet.id,
        [
            Column({"title": "Team", "type": "MULTI_CONTACT_LIST", "index": 7}),
            Column({"title": "Tags", "type": "MULTI_PICKLIST", "index": 7, "options": ["a", "b"]}),
        ],
    ).result
    team, tags = added
    name = titled(sheet, "Task Name")
    people = [
        {"objectType": "CONTACT", "email": "ann@example.com", "name": "Ann"},
        {"objectType": "CONTACT", "email": "bo@example.com", "name": "Bo"},
    ]
    ss.Sheets.add_rows(
        sheet.id,
        [
            Row(
                {
                    "to_bottom": True,
                    "cells": [
                        {"column_id": name.id, "value": "Task"},
                        {
                            "column_id": team.id,
                            "object_value": {"objectType": "MULTI_CONTACT", "values": people},
                        },
                        {
                            "column_id": tags.id,
                            "object_value": {"objectType": "MULTI_PICKLIST", "values": ["a", "b"]},
                        },
                    ],
                }
            )
        ],
    )
    plain = ss.Sheets.get_sheet(sheet.id, include=["objectValue"])
    assert str(titled(plain, "Team").type) == "TEXT_NUMBER" and titled(plain, "Team").version == 1
    assert cell(plain.rows[0], titled(plain, "Team")).value == "Ann, Bo"
    full = ss.Sheets.get_sheet(sheet.id, include=["objectValue"], level=2)
    assert str(titled(full, "Team").type) == "MULTI_CONTACT_LIST"
    contacts = cell(full.rows[0], titled(full, "Team")).object_value.values
    assert [(c.email, c.name) for c in contacts] == [
        ("ann@example.com", "Ann"),
        ("bo@example.com", "Bo"),
    ]
    assert list(cell(full.rows[0], titled(full, "Tags")).object_value.values) == ["a", "b"]
    assert (
        refused(  # a contact without an email
            lambda: ss.Sheets.add_rows(
                sheet.id,
                [
                    Row(
                        {
                            "to_bottom": True,
                            "cells": [
                                {
                                    "column_id": team.id,
                                    "object_value": {
                                        "objectType": "MULTI_CONTACT",
                                        "values": [{"objectType": "CONTACT", "name": "X"}],
                                    },
                                }
                            ],
                        }
                    )
                ],
            )
        )[:2]
        == (400, 1042)
    )


@pytest.mark.contract(requests=False, reason="a lag that is no DURATION is sent on purpose")
def test_predecessors_are_lists_of_existing_rows_with_types_and_duration_lags(ss):  # noqa: F811
    sheet = from_template(ss)
    name, predecessors = titled(sheet, "Task Name"), titled(sheet, "Predecessors")
    rows = [Row({"to_bottom": True, "cells": [{"column_id": name.id, "value": v}]}) for v in "abc"]
    first, second, third = (row.id for row in ss.Sheets.add_rows(sheet.id, rows).result)

    def link(row_id, *items):
        value = {"objectType": "PREDECESSOR_LIST", "predecessors": list(items)}
        return Row({"id": row_id, "cells": [{"column_id": predecessors.id, "object_value": value}]})

    lag = {"objectType": "DURATION", "days": 2}
    ss.Sheets.update_rows(
        sheet.id,
        [link(third, {"rowId": first, "type": "FS", "lag": lag}, {"rowId": second, "type": "SS"})],
    )
    read = ss.Sheets.get_sheet(sheet.id, include=["objectValue"], level=2)
    written = cell(read.rows[2], predecessors)
    assert written.value == "1FS +2d, 2SS"
    items = written.object_value.predecessors
    assert [(p.row_id, str(p.type), p.row_number) for p in items] == [
        (first, "FS", 1),
        (second, "SS", 2),
    ]
    assert items[0].lag.days == 2
    for bad in (
        link(second, {"rowId": 1, "type": "FS"}),  # not a row of the sheet
        link(second, {"rowId": first, "type": "XX"}),  # not a type
        link(second, {"rowId": second, "type": "FS"}),  # itself
        link(second, {"rowId": first, "type": "FS", "lag": {"objectType": "DATE"}}),
    ):
        assert refused(lambda bad=bad: ss.Sheets.update_rows(sheet.id, [bad]))[:2] == (400, 1042)
