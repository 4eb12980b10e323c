"""The Smartsheet data API of the emulator: workspaces, home, sheets (list, create, copy,
rename, get with rowsModifiedSince, paging, columnIds and the include / exclude flags),
columns (list, get, add, update, delete), rows (add / update / delete / move to another sheet,
≤ 500 per request, the documented row locations on add and update, allowPartialSuccess,
parentId hierarchy, writer info, version and modifiedAt), sheet and row discussions with their
comments, sheet and row attachments (files by simple or multipart upload, weighing 10 against
the limit; URLs as JSON), 4004 for a write that overlaps another to the same sheet with the
same token, and the Smartsheet-Change-Agent of every change, kept in an event log
(/_sandbox/events) as the webhook callbacks would carry it.

# Reference: ../shared/providers/smartsheet.md §3, §5 (500 rows per call, location rules,
# partial success, rowsModifiedSince, copy, change agent); Smartsheet error codes 1006, 1008,
# 1012, 1031, 1034, 1036, 1037, 1041, 1042, 1051, 1056, 1060, 1062, 1063, 1064, 1065, 1123,
# 1136, 1160 from the published error table
# (developers.smartsheet.com/api/smartsheet/error-codes); Row, Sheet, Discussion, Attachment
# and BulkItemFailure objects from https://smartsheet.redoc.ly.
# Reference: ../shared/specs/smartsheet-openapi-2025-ballerina-sanitized.json (SPEC-SS below):
# list-sheets, updateSheet, move-rows, column-get / columns-addToSheet / column-delete,
# discussions-list / -create, discussion-get, comments-create, attachments-get /
# -listOnSheet / -attachToSheet, getSheet's include / exclude flags, the `rows` tag's "Specify
# Row Location", SheetCreated, and responses/500 example 4004Example2 (overlapping writes).
"""

import asyncio
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config.endpoints import MIGRATION_TASKS_TEMPLATE_ID
from integrations.sandbox import TIMETRACKER_JOBS_COLUMNS, TIMETRACKER_JOBS_SHEET_ID
from integrations.sandbox.core import bearer_token

ROWS_CAP = 500
MAX_UPLOAD = 30 * 1024 * 1024
CELL_MAX = 4000
NAME_MAX = 50
ID_BASE, ID_SPACE, ID_STEP = 1_000_000_000_000_000, 9_000_000_000_000_000, 0x9E3779B97F4A7C15
LOCATION_KEYS = ("toTop", "toBottom", "parentId", "siblingId", "above")
# How long a sheet write keeps its (token, sheet) in-flight marker after its handler is done,
# its answer waiting as long: a real write takes a few hundred ms, ours none, so without a hold
# two "parallel" writes rarely overlap. None by default: every write would pay it, and the
# benchmarks measure the hub's wall time against the rate-limit floor, not an emulated
# processing time. Tests of 4004, and the one proving the projects sync serial per sheet, set
# it through the control plane: PUT /_sandbox/config {"write_hold": seconds}.
WRITE_HOLD = 0.0
VALID_LOCATIONS = {
    frozenset(keys)
    for keys in (
        (),
        ("toTop",),
        ("toBottom",),
        ("parentId",),
        ("parentId", "toBottom"),
        ("siblingId",),
        ("siblingId", "above"),
    )
}
# Reference: SPEC-SS Attachment.attachmentType (FILE comes only as a file, never as JSON).
URL_ATTACHMENT_TYPES = (
    "BOX_COM",
    "DROPBOX",
    "EGNYTE",
    "EVERNOTE",
    "GOOGLE_DRIVE",
    "LINK",
    "ONEDRIVE",
    "TRELLO",
)
ALL = object()  # "every discussion / attachment of the sheet", as opposed to a row's or None
URL_EXPIRES_IN_MS = 120_000  # a file attachment's temporary download URL (attachments-get)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")

TEMPLATE_WORKSPACE = 1357924680135792  # where the template lives (the seed names only its id)
TEMPLATE_SHEET_ID = 2455059368464260
TARGET_WORKSPACE_ID = 6590163225732996
TEMPLATE_COLUMNS = (
    ("Name", "TEXT_NUMBER", True, ()),
    ("Project #", "TEXT_NUMBER", False, ()),
    (
        "Type",
        "PICKLIST",
        False,
        (
            "Task Block",
            "Comment",
            "Attachment",
            "Purchase Order",
            "Work Order",
            "Custom Work Order",
        ),
    ),
    ("Status", "PICKLIST", False, ("Not Started", "In Progress", "Complete", "On Hold")),
    ("Start Date", "DATE", False, ()),
    ("End Date", "DATE", False, ()),
    ("Amount", "TEXT_NUMBER", False, ()),
    ("Notes", "TEXT_NUMBER", False, ()),
    ("Author", "CONTACT_LIST", False, ()),
)

# The project-sheet template the migration's Tasks sheets are created from (issue 17): a sheet
# with dependencies enabled, so it has the project columns the API cannot make (DURATION,
# PREDECESSOR, the ABSTRACT_DATETIME start / end dates) and project settings. Fixed ids, so a
# setting (MIGRATION_TASKS_TEMPLATE_ID) can default to it; the id counter is left alone.
# Reference: SPEC-SS Sheet.dependenciesEnabled, Sheet.projectSettings (ProjectSettings
# {workingDays, nonWorkingDays, lengthOfDay}); the Cells "Column Type" table (ABSTRACT_DATETIME
# "a project date", DURATION, PREDECESSOR); ../shared/providers/smartsheet.md §3; FACTS.md §1.7.
PROJECT_TEMPLATE_SHEET_ID = MIGRATION_TASKS_TEMPLATE_ID
PROJECT_TEMPLATE_COLUMNS = (  # (id, title, type, primary)
    (7391826450137349, "Task Name", "TEXT_NUMBER", True),
    (7391826450137350, "Start Date", "ABSTRACT_DATETIME", False),
    (7391826450137351, "End Date", "ABSTRACT_DATETIME", False),
    (7391826450137352, "Duration", "DURATION", False),
    (7391826450137353, "Predecessors", "PREDECESSOR", False),
    (7391826450137354, "% Complete", "TEXT_NUMBER", False),
    (7391826450137355, "Assigned To", "CONTACT_LIST", False),
)
PROJECT_SETTINGS = {
    "workingDays": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
    "nonWorkingDays": [],
    "lengthOfDay": 8,
}
# Reference: SPEC-SS Column.type enum; Column.systemColumnType enum; the Cells "Column Type"
# table. The project columns come only with a sheet whose dependencies are enabled (the UI's
# project settings; the API cannot enable them: issue 17, providers/smartsheet.md §3).
COLUMN_TYPES = frozenset(
    (
        "ABSTRACT_DATETIME",
        "CHECKBOX",
        "CONTACT_LIST",
        "DATE",
        "DATETIME",
        "DURATION",
        "MULTI_CONTACT_LIST",
        "MULTI_PICKLIST",
        "PICKLIST",
        "PREDECESSOR",
        "TEXT_NUMBER",
    )
)
PROJECT_COLUMN_TYPES = frozenset(("ABSTRACT_DATETIME", "DURATION", "PREDECESSOR"))
# Each system column type and the column type it goes with; DATETIME is only for these.
# Reference: SPEC-SS Column.systemColumnType ("Column.systemColumnType Value | Column Type":
# AUTO_NUMBER TEXT_NUMBER, CREATED_BY CONTACT_LIST, CREATED_DATE DATETIME, MODIFIED_BY
# CONTACT_LIST, MODIFIED_DATE DATETIME) and the Cells "Column Type" table (DATETIME: "Created
# (Date)", "Modified (Date)").
SYSTEM_COLUMN_TYPES = {
    "AUTO_NUMBER": "TEXT_NUMBER",
    "CREATED_BY": "CONTACT_LIST",
    "CREATED_DATE": "DATETIME",
    "MODIFIED_BY": "CONTACT_LIST",
    "MODIFIED_DATE": "DATETIME",
}
PREDECESSOR_TYPES = frozenset(("FF", "FS", "SF", "SS"))
# Column attributes kept as sent and answered back (SPEC-SS Column).
COLUMN_EXTRAS = (
    "systemColumnType",
    "autoNumberFormat",
    "hidden",
    "locked",
    "format",
    "description",
)
# Without `level` (or below 2 for sheets) the multi-value columns read as TEXT_NUMBER, their
# cells as text; Column.version says which they are (0 text, 1 multi-contact, 2 multi-picklist).
# Reference: the API reference's "Multi-contact or Multi-picklist: Working with Complex Objects"
# (find_string id 65714876271: "If you do nothing to your code, column types will display as
# TEXT_NUMBER"; "Sheets | 2").
MULTI_VERSIONS = {"MULTI_CONTACT_LIST": 1, "MULTI_PICKLIST": 2}

# The TimeTracker's rollback source (USE_DATAVERSE=false): approved jobs in a sheet, read by
# column id as the old Flask app did (seed: IM_NUMBER_COLUMN_ID, GC_COLUMN_ID, ...). Fixed ids,
# so settings can default to them; none of them comes from the id counter.
JOBS_WORKSPACE_ID = 2468013579246801
JOBS_SHEET_ID = TIMETRACKER_JOBS_SHEET_ID
JOBS_COLUMNS = (  # (id, title, type, primary, options)
    (TIMETRACKER_JOBS_COLUMNS["im_number"], "IM Number", "TEXT_NUMBER", True, ()),
    (
        TIMETRACKER_JOBS_COLUMNS["general_contractor"],
        "General Contractor",
        "TEXT_NUMBER",
        False,
        (),
    ),
    (TIMETRACKER_JOBS_COLUMNS["job_scope"], "Scope", "TEXT_NUMBER", False, ()),
    (
        TIMETRACKER_JOBS_COLUMNS["submittal_status"],
        "Submittal Status",
        "PICKLIST",
        False,
        ("Needed", "Ready to Submit", "AWT Approval", "Update with Field #'s", "Approved", "N/A"),
    ),
)
JOBS_ROWS = (  # IM number, GC, scope, status
    ("24-0101", "Turner Construction", "Casework and millwork, levels 2-4", "Approved"),
    ("24-0102", "Skanska USA", "Reception desk and feature wall", "Approved"),
    ("24-0103", "", "Break room cabinets", "Approved"),
    ("24-0104", "Whiting-Turner", "", "Approved"),
    ("24-0105", "Gilbane", "Lab casework " + "with epoxy tops " * 20, "Approved"),
    ("24-0106", "Clark Construction", "Nurse stations", "AWT Approval"),
    ("24-0107", "Hensel Phelps", "Library shelving", "Needed"),
    ("", "DPR Construction", "Lobby panels (no IM number yet)", "Approved"),
    ("24-0109", "McCarthy", "Classroom storage", "N/A"),
    ("24-0110", "Balfour Beatty", "Conference room credenzas", "Approved"),
)


@dataclass(frozen=True)
class View:
    """What a read asked to see: getSheet's `include` / `exclude` flags and `columnIds`."""

    include: frozenset = frozenset()
    exclude: frozenset = frozenset()
    column_ids: frozenset | None = None
    level: int = 0  # the `level` query parameter: 2 shows multi-value columns as such

    @property
    def attachments(self) -> bool:
        # "discussions' attachments need both attachments and discussions" (SPEC-SS getSheet).
        return "attachments" in self.include

    @classmethod
    def of(cls, request: Request) -> "View":
        query = request.query_params

        def flags(name: str) -> frozenset:
            return frozenset(f.strip() for f in query.get(name, "").split(",") if f.strip())

        ids = flags("columnIds")
        try:
            column_ids = frozenset(int(i) for i in ids) if ids else None
        except ValueError:
            raise SheetError(
                400, 1008, f"Unable to parse request. Invalid columnIds {query['columnIds']!r}."
            ) from None
        level = query.get("level", "0")
        return cls(
            include=flags("include"),
            exclude=flags("exclude"),
            column_ids=column_ids,
            level=int(level) if level.isdigit() else 0,
        )


NO_VIEW = View()


def _object_value(column: dict, value, level: int = 2):
    """A cell's objectValue: a contact is an object; other values are the primitive itself
    (the SDK reads primitives as String/Number/BooleanObjectValue, object_value.py:65-70; the
    spec's ObjectValue oneOf lists only objects, a defect noted in the facts file §1.2)."""
    if isinstance(value, dict):  # stored as the objectValue it was written with
        if column["type"] in MULTI_VERSIONS and level < 2:
            return _display(value)  # backwards compatible: the text
        return value
    if column["type"] in ("CONTACT_LIST", "MULTI_CONTACT_LIST") and isinstance(value, str):
        return {"objectType": "CONTACT", "email": value, "name": value}
    return value


def _duration_text(duration: dict) -> str:
    """A DURATION object as Smartsheet displays it: "2w 3d 4h", a lead with a minus sign."""
    parts = [
        f"{duration[key]:g}{unit}"
        for key, unit in (("weeks", "w"), ("days", "d"), ("hours", "h"), ("minutes", "m"))
        if duration.get(key)
    ]
    text = " ".join(parts) or "0d"
    return ("-" if duration.get("negative") else "+") + text


def _display(value: dict, numbers: dict | None = None) -> str:
    """An objectValue's text (the cell's value and displayValue): contacts by name, picks
    joined with ", ", predecessors as "3FS +2d" by row number."""
    kind = value.get("objectType")
    if kind == "MULTI_CONTACT":
        return ", ".join(c.get("name") or c.get("email", "") for c in value.get("values", []))
    if kind == "MULTI_PICKLIST":
        return ", ".join(str(v) for v in value.get("values", []))
    if kind == "PREDECESSOR_LIST":
        texts = []
        for item in value.get("predecessors", []):
            number = (numbers or {}).get(item["rowId"], "#REF")
            lag = item.get("lag")
            shown = "" if not lag or _duration_text(lag)[1:] == "0d" else f" {_duration_text(lag)}"
            texts.append(
                f"{number}{'' if item['type'] == 'FS' and not shown else item['type']}{shown}"
            )
        return ", ".join(texts)
    return str(value)


def _subtree_end(rows: list[dict], index: int) -> int:
    """The index just past the row at `index` and all its descendants (rows in sheet order)."""
    descendants, end = {rows[index]["id"]}, index + 1
    while end < len(rows) and rows[end]["parentId"] in descendants:
        descendants.add(rows[end]["id"])
        end += 1
    return end


def _family(sheet: dict, row_ids: list[int]) -> set[int]:
    """The rows `row_ids` and all their descendants."""
    family, grew = set(row_ids), True
    while grew:
        more = {row["id"] for row in sheet["rows"] if row["parentId"] in family} - family
        grew = bool(more)
        family |= more
    return family


class RowIndex:
    """A sheet's row id -> position, built on first use and once per request (a 5,000-row
    sheet's rows are otherwise walked again by each step of a write)."""

    def __init__(self, sheet: dict):
        self.sheet = sheet
        self._index: dict[int, int] | None = None

    @property
    def index(self) -> dict[int, int]:
        if self._index is None:
            self._index = {row["id"]: i for i, row in enumerate(self.sheet["rows"])}
        return self._index

    def __contains__(self, row_id) -> bool:
        return row_id in self.index


class SheetError(Exception):
    def __init__(self, status: int, code: int, message: str, detail: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


def overlap_message(sheet_id: int) -> str:
    # Reference: SPEC-SS components/responses/500 example 4004Example2; the live text (two
    # spaces before "Please") as captured from concurrent update_rows through the Python SDK:
    # https://www.volcengine.com/article/2045387 (statusCode 500, errorCode 4004).
    return (
        f"Request failed because sheetId {sheet_id} is currently being updated by another "
        "request that uses the same access token.  Please retry your request once the previous "
        "request has completed."
    )


def guarded(handler):
    """Auth, then the handler; a SheetError becomes Smartsheet's error body.

    A write to a sheet (any method but GET under /2.0/sheets/{id}) holds an in-flight marker
    for (access token, sheet) while it runs, plus the configured `write_hold` seconds (real
    writes take that long); another write with the same token to the same sheet meanwhile is
    answered 500 errorCode 4004, as Smartsheet does. Reads and other tokens never conflict.
    # Reference: ../shared/providers/smartsheet.md:23 ("4004 (500 …): write each sheet
    # serially"), :96 (smartsheet/smartsheet-javascript-sdk#108).
    """

    async def wrapper(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        marker = self.write_marker(request)
        if marker is not None:
            if marker in self.writing:
                return self.error(500, 4004, overlap_message(marker[1]))
            self.writing.add(marker)
        try:
            try:
                return await handler(self, request, info)
            except SheetError as exc:
                extra = {"detail": exc.detail} if exc.detail is not None else {}
                return self.error(exc.status, exc.code, exc.message, **extra)
        finally:
            if marker is not None:
                hold = float(self.config.get("write_hold", WRITE_HOLD))
                if hold > 0:
                    await asyncio.sleep(hold)
                self.writing.discard(marker)

    return wrapper


class SheetsMixin:
    """Mixed into SmartsheetEmulator (which supplies state, clock, error(), authenticated())."""

    def reset(self, seed: int | None = None) -> None:
        self.writing: set[tuple[str, int]] = set()  # (access token, sheet id) being written
        super().reset(seed)

    def write_marker(self, request: Request) -> tuple[str, int] | None:
        """(token, sheet) for a write to a sheet's contents; None for reads and for a copy
        (which writes a new sheet, not this one)."""
        sheet_id = request.path_params.get("sheet_id")
        if request.method in ("GET", "HEAD") or sheet_id is None:
            return None
        if request.url.path.endswith("/copy"):
            return None
        return bearer_token(request), int(sheet_id)

    # --- state --------------------------------------------------------------------------------

    def sheets_state(self, account: dict) -> dict:
        state = {
            "id_counter": 0,
            "workspaces": {},
            "sheets": {},
            "discussions": {},
            "attachments": {},
            "events": [],
        }
        self.state.update(state)  # new_id() reads the counter from self.state
        self.state["workspaces"][str(TEMPLATE_WORKSPACE)] = self._workspace_json(
            TEMPLATE_WORKSPACE, "Templates"
        )
        self.state["workspaces"][str(TARGET_WORKSPACE_ID)] = self._workspace_json(
            TARGET_WORKSPACE_ID, "ShopBoss Projects"
        )
        template = self._new_sheet(
            "ShopBoss Project Template",
            TEMPLATE_WORKSPACE,
            [
                {"title": t, "type": ty, "primary": p, "options": list(o)}
                for t, ty, p, o in TEMPLATE_COLUMNS
            ],
            sheet_id=TEMPLATE_SHEET_ID,
        )
        name_column = template["columns"][0]["id"]
        type_column = template["columns"][2]["id"]
        template["rows"].append(
            self._new_row(
                {str(name_column): "Example task block", str(type_column): "Task Block"},
                None,
                template,
            )
        )
        self._seed_jobs_sheet()
        self._seed_project_template()
        return {key: self.state[key] for key in state}

    def _seed_project_template(self) -> None:
        sheet = self._new_sheet(
            "Project Sheet Template",
            TEMPLATE_WORKSPACE,
            [
                {"id": i, "title": t, "type": ty, "primary": p}
                for i, t, ty, p in PROJECT_TEMPLATE_COLUMNS
            ],
            sheet_id=PROJECT_TEMPLATE_SHEET_ID,
        )
        sheet["dependenciesEnabled"] = sheet["ganttEnabled"] = True
        sheet["projectSettings"] = dict(PROJECT_SETTINGS)

    def _seed_jobs_sheet(self) -> None:
        self.state["workspaces"][str(JOBS_WORKSPACE_ID)] = self._workspace_json(
            JOBS_WORKSPACE_ID, "Operations"
        )
        sheet = self._new_sheet(
            "TimeTracker Jobs",
            JOBS_WORKSPACE_ID,
            [
                {"id": i, "title": t, "type": ty, "primary": p, "options": list(o)}
                for i, t, ty, p, o in JOBS_COLUMNS
            ],
            sheet_id=JOBS_SHEET_ID,
        )
        for number, values in enumerate(JOBS_ROWS, start=1):
            cells = {
                str(column[0]): value
                for column, value in zip(JOBS_COLUMNS, values, strict=True)
                if value
            }
            row = self._new_row(cells, None, sheet)
            row["id"] = JOBS_SHEET_ID + number  # fixed: the id counter is left alone
            sheet["rows"].append(row)

    def new_id(self) -> int:
        # A bijection of a counter: unique, 16 digits, and random-looking like Smartsheet's ids.
        self.state["id_counter"] += 1
        return ID_BASE + (self.state["id_counter"] * ID_STEP) % ID_SPACE

    def _workspace_json(self, workspace_id: int, name: str) -> dict:
        return {
            "id": workspace_id,
            "name": name,
            "accessLevel": "OWNER",
            "permalink": f"https://app.smartsheet.com/workspaces/{workspace_id}",
            "sheets": [],
        }

    def _new_sheet(
        self, name: str, workspace_id: int, columns: list[dict], sheet_id: int | None = None
    ) -> dict:
        sheet_id = sheet_id or self.new_id()
        stamp = self.clock.stamp()
        sheet = {
            "id": sheet_id,
            "name": name,
            "version": 1,
            "workspaceId": workspace_id,
            "createdAt": stamp,
            "modifiedAt": stamp,
            "permalink": f"https://app.smartsheet.com/sheets/{sheet_id}",
            "columns": [],
            "rows": [],
            "dependenciesEnabled": False,
            "ganttEnabled": False,
            "autoNumbers": {},  # column id -> the last number given
        }
        for index, column in enumerate(columns):
            sheet["columns"].append(
                {
                    "id": column.get("id") or self.new_id(),
                    "version": 0,
                    "index": index,
                    "title": column["title"],
                    "type": column.get("type", "TEXT_NUMBER"),
                    "primary": bool(column.get("primary")),
                    "options": list(column.get("options") or []),
                    "validation": bool(column.get("validation", False)),
                    "width": int(column.get("width") or 150),
                    **{key: column[key] for key in COLUMN_EXTRAS if column.get(key) is not None},
                }
            )
            sheet["columns"][-1]["version"] = MULTI_VERSIONS.get(sheet["columns"][-1]["type"], 0)
        self.state["sheets"][str(sheet_id)] = sheet
        self.state["workspaces"][str(workspace_id)]["sheets"].append(sheet_id)
        return sheet

    def _new_row(
        self, cells: dict, parent_id: int | None, sheet: dict, author: dict | None = None
    ) -> dict:
        stamp, author = self.clock.stamp(), author or self._owner()
        return {
            "id": self.new_id(),
            "parentId": parent_id,
            "version": sheet["version"],
            "createdAt": stamp,
            "modifiedAt": stamp,
            "createdBy": author,
            "modifiedBy": author,
            "cells": cells,
        }

    def _owner(self) -> dict:
        """The seeded sheets' owner (the first seeded user), as a MiniUser {name, email}."""
        user = next(iter(self.state["users"].values()))
        return {"name": f"{user['firstName']} {user['lastName']}", "email": user["email"]}

    def _event(
        self, request: Request, sheet: dict, object_type: str, event_type: str, object_id: int
    ) -> None:
        events = self.state["events"]
        events.append(
            {
                "sheetId": sheet["id"],
                "objectType": object_type,
                "eventType": event_type,
                "id": object_id,
                "changeAgent": request.headers.get("smartsheet-change-agent"),
                "timestamp": self.clock.stamp(),
            }
        )
        del events[:-20_000]

    # --- JSON shapes ------------------------------------------------------------------------

    def _column_json(self, column: dict, level: int = 2) -> dict:
        body = {
            key: column[key]
            for key in ("id", "version", "index", "title", "type", "validation", "width")
        }
        if column["type"] in MULTI_VERSIONS and level < 2:
            body["type"] = "TEXT_NUMBER"
        if column["primary"]:
            body["primary"] = True
        if column["options"]:
            body["options"] = column["options"]
        for key in COLUMN_EXTRAS:
            if column.get(key) not in (None, False):
                body[key] = column[key]
        return body

    def _row_json(
        self,
        sheet: dict,
        row: dict,
        number: int,
        previous_sibling: int | None,
        view: View = NO_VIEW,
        numbers: dict | None = None,
    ) -> dict:
        cells = []
        for column in self._columns_in(sheet, view):
            value = row["cells"].get(str(column["id"]))
            if value is None and "nonexistentCells" in view.exclude:
                continue  # "excludes empty cells"
            cell = {"columnId": column["id"]}
            if "columnType" in view.include:
                cell["columnType"] = self._column_json(column, view.level)["type"]
            if value is not None:
                text = _display(value, numbers) if isinstance(value, dict) else value
                cell["value"], cell["displayValue"] = text, str(text)
                if "objectValue" in view.include:
                    shown = _object_value(column, value, view.level)
                    if isinstance(shown, dict) and shown.get("objectType") == "PREDECESSOR_LIST":
                        shown = {
                            **shown,
                            "predecessors": [
                                {**p, "rowNumber": (numbers or {}).get(p["rowId"])}
                                | ({} if (numbers or {}).get(p["rowId"]) else {"invalid": True})
                                for p in shown["predecessors"]
                            ],
                        }
                    cell["objectValue"] = shown
            cells.append(cell)
        body = {
            "id": row["id"],
            "sheetId": sheet["id"],
            "rowNumber": number,
            "version": row["version"],
            "expanded": True,
            "accessLevel": "OWNER",
            "createdAt": row["createdAt"],
            "modifiedAt": row["modifiedAt"],
            "cells": cells,
        }
        if row["parentId"]:
            body["parentId"] = row["parentId"]
        if previous_sibling:
            body["siblingId"] = previous_sibling
        if view.include & {"writerInfo", "rowWriterInfo"}:
            # Reference: SPEC-SS getSheet `include` (writerInfo: createdBy and modifiedBy,
            # MiniUser {name, email}, on each row; rowWriterInfo its deprecated alias).
            body["createdBy"] = row.get("createdBy") or self._owner()
            body["modifiedBy"] = row.get("modifiedBy") or body["createdBy"]
        if "rowPermalink" in view.include:
            # The spec's Row spells it permaLink; its text and the SDK's Row read `permalink`.
            body["permalink"] = f"{sheet['permalink']}?rowId={row['id']}"
        if "discussions" in view.include:
            body["discussions"] = [
                self._discussion_json(d, with_comments=True, with_attachments=view.attachments)
                for d in self._discussions_of(sheet, row_id=row["id"])
            ]
        if "attachments" in view.include:
            body["attachments"] = [
                self._attachment_json(a) for a in self._attachments_of(sheet, row_id=row["id"])
            ]
        return body

    def _columns_in(self, sheet: dict, view: View) -> list[dict]:
        if view.column_ids is None:
            return sheet["columns"]
        return [c for c in sheet["columns"] if c["id"] in view.column_ids]

    def _rows_json(
        self, sheet: dict, wanted: set | None = None, view: View = NO_VIEW
    ) -> list[dict]:
        out, last_child = [], {}
        numbers = None
        if any(c["type"] == "PREDECESSOR" for c in sheet["columns"]):
            numbers = {row["id"]: n for n, row in enumerate(sheet["rows"], start=1)}
        for number, row in enumerate(sheet["rows"], start=1):
            sibling = last_child.get(row["parentId"])
            last_child[row["parentId"]] = row["id"]
            if wanted is None or row["id"] in wanted:
                out.append(self._row_json(sheet, row, number, sibling, view, numbers))
        return out

    def _span_json(self, sheet: dict, start: int, count: int) -> list[dict]:
        """The rows just added at `start` (siblings, in order) as _rows_json gives them,
        without walking the whole sheet: their numbers are their positions, the first one's
        sibling the nearest earlier row under the same parent."""
        rows = sheet["rows"]
        block = rows[start : start + count]
        if any(
            isinstance(value, dict) and value.get("objectType") == "PREDECESSOR_LIST"
            for row in block
            for value in row["cells"].values()
        ):
            return self._rows_json(sheet, {row["id"] for row in block})  # row numbers needed
        parent, sibling = (block[0]["parentId"] if block else None), None
        for j in range(start - 1, -1, -1):
            if rows[j]["id"] == parent:
                break
            if rows[j]["parentId"] == parent:
                sibling = rows[j]["id"]
                break
        out = []
        for offset, row in enumerate(block):
            out.append(self._row_json(sheet, row, start + offset + 1, sibling))
            sibling = row["id"]
        return out

    def _sheet_json(self, sheet: dict, rows: list[dict], view: View = NO_VIEW) -> dict:
        body = self._sheet_fields(sheet, view)
        body["rows"] = rows
        if "discussions" in view.include:
            body["discussions"] = [
                self._discussion_json(d, with_comments=True, with_attachments=view.attachments)
                for d in self._discussions_of(sheet, row_id=None)
            ]
        if "attachments" in view.include:
            body["attachments"] = [
                self._attachment_json(a) for a in self._attachments_of(sheet, row_id=None)
            ]
        return body

    def _sheet_fields(self, sheet: dict, view: View = NO_VIEW) -> dict:
        return {
            "id": sheet["id"],
            "name": sheet["name"],
            "version": sheet["version"],
            "totalRowCount": len(sheet["rows"]),
            "accessLevel": "OWNER",
            "permalink": sheet["permalink"],
            "createdAt": sheet["createdAt"],
            "modifiedAt": sheet["modifiedAt"],
            "dependenciesEnabled": sheet.get("dependenciesEnabled", False),
            "ganttEnabled": sheet.get("ganttEnabled", False),
            **(
                {"projectSettings": sheet["projectSettings"]}
                if sheet.get("projectSettings")
                else {}
            ),
            "effectiveAttachmentOptions": ["FILE", "LINK"],
            "columns": [self._column_json(c, view.level) for c in self._columns_in(sheet, view)],
        }

    # --- plumbing -----------------------------------------------------------------------------

    def sheet_routes(self) -> list[Route]:
        return [
            Route("/2.0/workspaces", self.list_workspaces, methods=["GET"]),
            Route("/2.0/workspaces", self.create_workspace, methods=["POST"]),
            Route("/2.0/workspaces/{workspace_id:int}", self.get_workspace, methods=["GET"]),
            Route(
                "/2.0/workspaces/{workspace_id:int}/metadata",
                self.workspace_metadata,
                methods=["GET"],
            ),
            Route(
                "/2.0/workspaces/{workspace_id:int}/children",
                self.workspace_children,
                methods=["GET"],
            ),
            Route("/2.0/workspaces/{workspace_id:int}/sheets", self.create_sheet, methods=["POST"]),
            Route("/2.0/sheets", self.list_sheets, methods=["GET"]),
            Route("/2.0/home", self.home, methods=["GET"]),
            Route("/2.0/sheets/{sheet_id:int}", self.get_sheet, methods=["GET"]),
            Route("/2.0/sheets/{sheet_id:int}", self.update_sheet, methods=["PUT"]),
            Route("/2.0/sheets/{sheet_id:int}/version", self.get_version, methods=["GET"]),
            Route("/2.0/sheets/{sheet_id:int}/copy", self.copy_sheet, methods=["POST"]),
            Route("/2.0/sheets/{sheet_id:int}/columns", self.list_columns, methods=["GET"]),
            Route("/2.0/sheets/{sheet_id:int}/columns", self.add_columns, methods=["POST"]),
            Route(
                "/2.0/sheets/{sheet_id:int}/columns/{column_id:int}",
                self.get_column,
                methods=["GET"],
            ),
            Route(
                "/2.0/sheets/{sheet_id:int}/columns/{column_id:int}",
                self.update_column,
                methods=["PUT"],
            ),
            Route(
                "/2.0/sheets/{sheet_id:int}/columns/{column_id:int}",
                self.delete_column,
                methods=["DELETE"],
            ),
            Route("/2.0/sheets/{sheet_id:int}/rows", self.add_rows, methods=["POST"]),
            Route("/2.0/sheets/{sheet_id:int}/rows", self.update_rows, methods=["PUT"]),
            Route("/2.0/sheets/{sheet_id:int}/rows", self.delete_rows, methods=["DELETE"]),
            Route("/2.0/sheets/{sheet_id:int}/rows/move", self.move_rows, methods=["POST"]),
            Route("/2.0/sheets/{sheet_id:int}/rows/{row_id:int}", self.get_row, methods=["GET"]),
            Route(
                "/2.0/sheets/{sheet_id:int}/rows/{row_id:int}/discussions",
                self.row_discussions,
                methods=["GET", "POST"],
            ),
            Route(
                "/2.0/sheets/{sheet_id:int}/rows/{row_id:int}/attachments",
                self.row_attachments,
                methods=["GET", "POST"],
            ),
            Route(
                "/2.0/sheets/{sheet_id:int}/discussions",
                self.sheet_discussions,
                methods=["GET", "POST"],
            ),
            Route(
                "/2.0/sheets/{sheet_id:int}/discussions/{discussion_id:int}",
                self.get_discussion,
                methods=["GET"],
            ),
            Route(
                "/2.0/sheets/{sheet_id:int}/discussions/{discussion_id:int}/comments",
                self.add_comment,
                methods=["POST"],
            ),
            Route(
                "/2.0/sheets/{sheet_id:int}/attachments",
                self.sheet_attachments,
                methods=["GET", "POST"],
            ),
            Route(
                "/2.0/sheets/{sheet_id:int}/attachments/{attachment_id:int}",
                self.get_attachment,
                methods=["GET"],
            ),
            Route("/_sandbox/events", self.cp_events, methods=["GET"]),
        ]

    def weight(self, request: Request) -> int:
        # "Attaching a file counts as 10 requests" (rate limiting, providers/smartsheet.md §2).
        upload = (
            request.method == "POST"
            and request.url.path.endswith("/attachments")
            and not request.headers.get("content-type", "").startswith("application/json")
        )
        return 10 if upload else 1  # a URL attachment is no file

    def _sheet(self, request: Request) -> dict:
        sheet = self.state["sheets"].get(str(request.path_params["sheet_id"]))
        if sheet is None:
            raise SheetError(404, 1006, "Not Found")
        return sheet

    async def _json(self, request: Request):
        try:
            return await request.json()
        except ValueError as exc:
            raise SheetError(
                400, 1008, f"Unable to parse request. The following error occurred: {exc}"
            ) from None

    def _success(
        self, result, *, version: int | None = None, failed: list | None = None
    ) -> JSONResponse:
        body = {
            "message": "PARTIAL_SUCCESS" if failed else "SUCCESS",
            "resultCode": 3 if failed else 0,
            "result": result,
        }
        if version is not None:
            body["version"] = version
        if failed:
            body["failedItems"] = failed
        return JSONResponse(body)

    def _touch(self, sheet: dict) -> int:
        sheet["version"] += 1
        sheet["modifiedAt"] = self.clock.stamp()
        self.dirty = True
        return sheet["version"]

    def _user(self, info: dict) -> dict:
        user = self.state["users"][info["user_id"]]
        return {"name": f"{user['firstName']} {user['lastName']}", "email": user["email"]}

    # --- cells --------------------------------------------------------------------------------

    def _present(self, sheet: dict) -> "RowIndex | None":
        """The sheet's row ids, when a predecessor may name them (dependencies on)."""
        if not sheet.get("dependenciesEnabled"):
            return None
        return RowIndex(sheet)

    def _numbered(self, sheet: dict, cells: dict) -> dict:
        """A new row's cells with each AUTO_NUMBER column's next value: prefix, the number
        zero-padded to the fill's length, suffix (SPEC-SS AutoNumberFormat; startingNumber
        where it begins). Date tokens in the prefix / suffix are not expanded (UNVERIFIED how)."""
        for column in sheet["columns"]:
            if column.get("systemColumnType") != "AUTO_NUMBER":
                continue
            form = column.get("autoNumberFormat") or {}
            key = str(column["id"])
            last = sheet.setdefault("autoNumbers", {}).get(key)
            number = int(form.get("startingNumber") or 1) if last is None else last + 1
            sheet["autoNumbers"][key] = number
            digits = str(number).zfill(len(form.get("fill") or ""))
            cells = {**cells, key: f"{form.get('prefix') or ''}{digits}{form.get('suffix') or ''}"}
        return cells

    def _cells(
        self,
        sheet: dict,
        cells: list,
        strict_default: bool = True,
        present: "RowIndex | None" = None,
    ) -> dict:
        """Validated cell values by column id, as Smartsheet stores them."""
        columns = {column["id"]: column for column in sheet["columns"]}
        out, seen = {}, set()
        for cell in cells or []:
            if "columnId" not in cell:
                raise SheetError(
                    400,
                    1012,
                    "Required object attribute(s) are missing from your request: cell.columnId.",
                )
            column_id = cell["columnId"]
            column = columns.get(column_id)
            if column is None:
                raise SheetError(400, 1036, f"The columnId {column_id} is invalid.")
            if column_id in seen:
                raise SheetError(
                    400,
                    1037,
                    f"The columnId {column_id} is included more than once in a single row.",
                )
            seen.add(column_id)
            if column.get("systemColumnType"):
                # Smartsheet fills system columns itself (AUTO_NUMBER, CREATED_BY...); the
                # code it answers a write to one with is UNVERIFIED (FACTS.md §1.7).
                raise SheetError(
                    400,
                    1031,
                    f"The value for cell in column {column_id}, {column['title']}, was not valid: "
                    f"{column['systemColumnType']} columns cannot be written.",
                )
            if cell.get("objectValue") is not None:
                out[str(column_id)] = self._object(sheet, column, cell["objectValue"], present)
                continue
            out[str(column_id)] = self._value(
                column, cell.get("value"), cell.get("strict", strict_default)
            )
        return out

    def _object(self, sheet: dict, column: dict, value, present: "RowIndex | None"):
        """A cell written as an objectValue, checked against its column's type and kept as
        sent (read back with include=objectValue).
        # Reference: SPEC-SS ObjectValue / MultiContactObjectValue / MultiPicklistObjectValue /
        # PredecessorList {objectType PREDECESSOR_LIST, predecessors[Predecessor {rowId, type
        # FF|FS|SF|SS, lag: Duration}]} / Duration {objectType DURATION, negative, elapsed,
        # weeks, days, hours, minutes...}; the SDK's models (multi_contact_object_value.py
        # `values`, predecessor.py); FACTS.md §1.7."""
        kind = column["type"]
        bad = SheetError(
            400,
            1042,
            f"The value for cell in column {column['id']}, {column['title']}, did not conform to the strict requirements for type {kind}.",
        )
        if not isinstance(value, dict):
            return self._value(column, value, True)  # a primitive objectValue is its value
        object_type = value.get("objectType")
        if kind == "CONTACT_LIST" and object_type == "CONTACT":
            if not EMAIL.match(str(value.get("email", ""))):
                raise bad
            return value["email"]
        if kind == "MULTI_CONTACT_LIST" and object_type == "MULTI_CONTACT":
            contacts = value.get("values")
            if not isinstance(contacts, list) or not all(
                isinstance(c, dict) and EMAIL.match(str(c.get("email", ""))) for c in contacts
            ):
                raise bad
            return {
                "objectType": "MULTI_CONTACT",
                "values": [
                    {
                        "objectType": "CONTACT",
                        "email": c["email"],
                        "name": c.get("name") or c["email"],
                    }
                    for c in contacts
                ],
            }
        if kind == "MULTI_PICKLIST" and object_type == "MULTI_PICKLIST":
            picks = value.get("values")
            if not isinstance(picks, list) or not all(isinstance(v, str) for v in picks):
                raise bad
            return {"objectType": "MULTI_PICKLIST", "values": list(picks)}
        if kind == "PREDECESSOR" and object_type == "PREDECESSOR_LIST":
            if not sheet.get("dependenciesEnabled"):
                raise bad
            items = []
            for item in value.get("predecessors") or []:
                lag = item.get("lag")
                if (
                    not isinstance(item, dict)
                    or item.get("type") not in PREDECESSOR_TYPES
                    or (present is not None and item.get("rowId") not in present)
                    or (
                        lag is not None
                        and (not isinstance(lag, dict) or lag.get("objectType") != "DURATION")
                    )
                ):
                    raise bad
                items.append(
                    {k: item[k] for k in ("rowId", "type", "lag") if item.get(k) is not None}
                )
            return {"objectType": "PREDECESSOR_LIST", "predecessors": items} if items else None
        raise bad

    def _value(self, column: dict, value, strict: bool):
        if value is None or value == "":
            return None  # "" becomes null
        if isinstance(value, str) and len(value) > CELL_MAX:
            value = value[:CELL_MAX]  # silently truncated, as the real API does
        kind = column["type"]
        bad = SheetError(
            400,
            1042,
            f"The value for cell in column {column['id']}, {column['title']}, did not conform to the strict requirements for type {kind}.",
        )
        if kind in ("DATE", "ABSTRACT_DATETIME"):
            if not (isinstance(value, str) and DATE.match(value)):
                if strict:
                    raise bad
                return str(value)
            return value[:10]
        if kind == "CONTACT_LIST":
            if strict and not (isinstance(value, str) and EMAIL.match(value)):
                raise bad
            return value
        if kind == "CHECKBOX":
            if not isinstance(value, bool):
                if strict:
                    raise bad
                return str(value).lower() in ("true", "1", "yes")
            return value
        if kind == "TEXT_NUMBER" and isinstance(value, str) and strict and NUMBER.match(value):
            # Strict parsing turns a number written as text into a number.
            return int(value) if "." not in value else float(value)
        return value

    # --- workspaces ---------------------------------------------------------------------------

    def _token_page(self, request: Request, items: list) -> JSONResponse:
        """Token paging: maxItems per page, an opaque lastKey while more remain."""
        query = request.query_params
        size = max(1, min(int(query.get("maxItems") or 100), 10_000))
        last_key = str(query.get("lastKey") or "0")
        start = int(last_key) if last_key.isdigit() else 0
        body = {"data": items[start : start + size]}
        if start + size < len(items):
            body["lastKey"] = str(start + size)
        return JSONResponse(body)

    @guarded
    async def list_workspaces(self, request: Request, info: dict) -> Response:
        data = [
            {k: w[k] for k in ("id", "name", "accessLevel", "permalink")}
            for w in self.state["workspaces"].values()
        ]
        if request.query_params.get("paginationType") == "token":
            return self._token_page(request, data)
        return JSONResponse(
            {
                "pageNumber": 1,
                "pageSize": len(data) or 100,
                "totalPages": 1,
                "totalCount": len(data),
                "data": data,
            }
        )

    def _workspace(self, request: Request) -> dict:
        workspace = self.state["workspaces"].get(str(request.path_params["workspace_id"]))
        if workspace is None:
            raise SheetError(404, 1006, "Not Found")
        return workspace

    @guarded
    async def workspace_metadata(self, request: Request, info: dict) -> Response:
        workspace = self._workspace(request)
        return JSONResponse({k: workspace[k] for k in ("id", "name", "accessLevel", "permalink")})

    @guarded
    async def workspace_children(self, request: Request, info: dict) -> Response:
        workspace = self._workspace(request)
        kinds = request.query_params.get("childrenResourceTypes", "sheets")
        children = []
        if "sheets" in kinds:
            for sheet_id in workspace["sheets"]:
                sheet = self.state["sheets"].get(str(sheet_id))
                if sheet:
                    fields = {
                        k: sheet[k] for k in ("id", "name", "permalink", "createdAt", "modifiedAt")
                    }
                    children.append({"resourceType": "sheet", "accessLevel": "OWNER", **fields})
        return self._token_page(request, children)

    @guarded
    async def create_workspace(self, request: Request, info: dict) -> Response:
        body = await self._json(request)
        if not body.get("name"):
            raise SheetError(
                400,
                1012,
                "Required object attribute(s) are missing from your request: workspace.name.",
            )
        workspace = self._workspace_json(self.new_id(), body["name"])
        self.state["workspaces"][str(workspace["id"])] = workspace
        self.dirty = True
        return self._success({k: workspace[k] for k in ("id", "name", "accessLevel", "permalink")})

    @guarded
    async def get_workspace(self, request: Request, info: dict) -> Response:
        workspace = self.state["workspaces"].get(str(request.path_params["workspace_id"]))
        if workspace is None:
            raise SheetError(404, 1006, "Not Found")
        sheets = [
            self.state["sheets"][str(i)]
            for i in workspace["sheets"]
            if str(i) in self.state["sheets"]
        ]
        return JSONResponse(
            {
                **{k: workspace[k] for k in ("id", "name", "accessLevel", "permalink")},
                "sheets": [
                    {k: s[k] for k in ("id", "name", "permalink", "createdAt", "modifiedAt")}
                    | {"accessLevel": "OWNER"}
                    for s in sheets
                ],
            }
        )

    @guarded
    async def create_sheet(self, request: Request, info: dict) -> Response:
        workspace_id = request.path_params["workspace_id"]
        if str(workspace_id) not in self.state["workspaces"]:
            raise SheetError(404, 1006, "Not Found")
        body = await self._json(request)
        name = body.get("name") or ""
        if not name:
            raise SheetError(
                400, 1012, "Required object attribute(s) are missing from your request: sheet.name."
            )
        self._check_name(name)
        if body.get("fromId"):
            source = self.state["sheets"].get(str(body["fromId"]))
            if source is None:
                raise SheetError(404, 1006, "Not Found")
            sheet = self._copy(
                source,
                name,
                workspace_id,
                with_rows="data" in request.query_params.get("include", ""),
            )
        else:
            columns = body.get("columns") or []
            if not columns or sum(1 for c in columns if c.get("primary")) != 1:
                raise SheetError(
                    400,
                    1012,
                    "Required object attribute(s) are missing from your request: column.primary.",
                )
            titles = set()
            for column in columns:
                self._check_column(column)
                if str(column.get("title", "")).lower() in titles:
                    raise SheetError(400, 1056, "Column titles must be unique.")
                titles.add(str(column.get("title", "")).lower())
            sheet = self._new_sheet(name, workspace_id, columns)
        self.dirty = True
        # Reference: SPEC-SS create-sheet-in-workspace → result oneOf(SheetCreated {id, name,
        # accessLevel, permalink, columns}, SheetCreatedFromTemplate {the same but columns}).
        result = {
            "id": sheet["id"],
            "name": sheet["name"],
            "accessLevel": "OWNER",
            "permalink": sheet["permalink"],
        }
        if not body.get("fromId"):
            result["columns"] = [self._column_json(c) for c in sheet["columns"]]
        return self._success(result)

    def _check_column(self, column: dict) -> None:
        """A column a request creates: a known type, and none of the project columns (only a
        sheet with dependencies has them, and the API cannot enable those); a system column
        type from the list with the column type it goes with (a DATETIME column is always one),
        an auto-number format only on an AUTO_NUMBER column, options only on a dropdown.
        # Reference: SPEC-SS Column.type / Column.systemColumnType enums, columns-addToSheet
        # ("autoNumberFormat (optional)", "systemColumnType (optional)"); error 1031 / 1060
        # from the published error table (find_string id 23190797305). Which code the service
        # gives a DURATION / PREDECESSOR column is UNVERIFIED (FACTS.md §1.7)."""
        kind = column.get("type") or "TEXT_NUMBER"
        if kind not in COLUMN_TYPES or kind in PROJECT_COLUMN_TYPES:
            raise SheetError(
                400, 1031, f"The value {kind} was not valid for the attribute column.type."
            )
        system = column.get("systemColumnType")
        if (system is not None and SYSTEM_COLUMN_TYPES.get(system) != kind) or (
            system is None and kind == "DATETIME"
        ):
            raise SheetError(
                400,
                1031,
                f"The value {system} was not valid for the attribute column.systemColumnType.",
            )
        if column.get("autoNumberFormat") is not None and system != "AUTO_NUMBER":
            raise SheetError(
                400,
                1031,
                "The value autoNumberFormat was not valid for the attribute column.autoNumberFormat.",
            )
        if column.get("options") and kind not in ("PICKLIST", "MULTI_PICKLIST"):
            raise SheetError(400, 1060, f"Column options are not allowed for column type {kind}.")

    def _check_name(self, name: str) -> None:
        if len(name) > NAME_MAX:
            raise SheetError(
                400,
                1041,
                f"The value for sheet.name must be {NAME_MAX} characters in length or less, but was {len(name)}.",
            )

    def _copy(self, source: dict, name: str, workspace_id: int, *, with_rows: bool) -> dict:
        columns = [
            {
                "title": c["title"],
                "type": c["type"],
                "primary": c["primary"],
                "options": c["options"],
                "validation": c["validation"],
                "width": c["width"],
                **{key: c[key] for key in COLUMN_EXTRAS if key in c},
            }
            for c in source["columns"]
        ]
        sheet = self._new_sheet(name, workspace_id, columns)
        # A sheet made from a project sheet is one: dependencies and their settings come along.
        for key in ("dependenciesEnabled", "ganttEnabled", "projectSettings"):
            if source.get(key):
                sheet[key] = source[key]
        if with_rows:
            remap = {
                str(old["id"]): str(new["id"])
                for old, new in zip(source["columns"], sheet["columns"], strict=True)
            }
            ids = {}
            for row in source["rows"]:
                copy = self._new_row(
                    {remap[k]: v for k, v in row["cells"].items()}, ids.get(row["parentId"]), sheet
                )
                ids[row["id"]] = copy["id"]
                sheet["rows"].append(copy)
        return sheet

    # --- sheets ----------------------------------------------------------------------------------

    @guarded
    async def copy_sheet(self, request: Request, info: dict) -> Response:
        source = self._sheet(request)
        body = await self._json(request)
        if body.get("destinationType") not in ("workspace", "folder", "home"):
            raise SheetError(
                400,
                1012,
                "Required object attribute(s) are missing from your request: containerDestination.destinationType.",
            )
        destination = body.get("destinationId")
        if (
            body["destinationType"] == "workspace"
            and str(destination) not in self.state["workspaces"]
        ):
            raise SheetError(404, 1006, "Not Found")
        name = body.get("newName") or source["name"]
        self._check_name(name)
        sheet = self._copy(
            source, name, destination, with_rows="data" in request.query_params.get("include", "")
        )
        self._event(request, sheet, "sheet", "created", sheet["id"])
        return self._success(
            {
                "id": sheet["id"],
                "name": sheet["name"],
                "accessLevel": "OWNER",
                "permalink": sheet["permalink"],
            }
        )

    @guarded
    async def get_sheet(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        query = request.query_params
        rows = sheet["rows"]
        wanted = None
        if query.get("rowIds"):
            wanted = {int(i) for i in query["rowIds"].split(",") if i.strip()}
        if query.get("rowsModifiedSince"):
            since = _epoch(query["rowsModifiedSince"])
            if since is None:
                raise SheetError(
                    400,
                    1008,
                    f"Unable to parse request. The following error occurred: invalid rowsModifiedSince {query['rowsModifiedSince']!r}.",
                )
            modified = {
                row["id"] for row in rows if _epoch(row["modifiedAt"]) >= since
            }  # inclusive
            wanted = modified if wanted is None else wanted & modified
        view = View.of(request)
        out = self._rows_json(sheet, wanted, view)
        if query.get("page") or query.get("pageSize"):
            size = min(int(query.get("pageSize", 100)), 10_000)
            pages = max(1, -(-len(out) // size))
            page = min(max(1, int(query.get("page", 1))), pages)  # past the end: the last page
            out = out[(page - 1) * size : page * size]
        return JSONResponse(self._sheet_json(sheet, out, view))

    @guarded
    async def list_sheets(self, request: Request, info: dict) -> Response:
        """list-sheets: an IndexResult of {id, name, accessLevel, permalink, createdAt,
        modifiedAt}; include=sheetVersion adds `version`."""
        include = View.of(request).include
        data = []
        for sheet in self.state["sheets"].values():
            item = {
                "id": sheet["id"],
                "name": sheet["name"],
                "accessLevel": "OWNER",
                "permalink": sheet["permalink"],
                "createdAt": sheet["createdAt"],
                "modifiedAt": sheet["modifiedAt"],
            }
            if "sheetVersion" in include:
                item["version"] = sheet["version"]
            data.append(item)
        return self._index_page(request, data)

    @guarded
    async def home(self, request: Request, info: dict) -> Response:
        """GET /home (the SDK's Home.list_all_contents; not in the spec, whose nearest is
        list-home-contents at GET /folders/personal → Home {sheets, folders, reports, sights,
        templates}; the SDK's Home also reads workspaces). Every sheet here lives in a
        workspace, so Home's own sheets are none and the workspaces carry theirs."""
        workspaces = []
        for workspace in self.state["workspaces"].values():
            sheets = [
                self.state["sheets"][str(i)]
                for i in workspace["sheets"]
                if str(i) in self.state["sheets"]
            ]
            workspaces.append(
                {
                    **{k: workspace[k] for k in ("id", "name", "accessLevel", "permalink")},
                    "sheets": [
                        {k: s[k] for k in ("id", "name", "permalink", "createdAt", "modifiedAt")}
                        | {"accessLevel": "OWNER"}
                        for s in sheets
                    ],
                }
            )
        return JSONResponse(
            {
                "sheets": [],
                "folders": [],
                "reports": [],
                "sights": [],
                "templates": [],
                "workspaces": workspaces,
            }
        )

    @guarded
    async def update_sheet(self, request: Request, info: dict) -> Response:
        """updateSheet (rename): body UpdateSheet {name, userSettings, projectSettings};
        answers {resultCode, message, result: Sheet} (without rows)."""
        sheet = self._sheet(request)
        body = await self._json(request)
        body = body if isinstance(body, dict) else {}
        if "name" in body:
            if not body["name"]:
                raise SheetError(
                    400,
                    1012,
                    "Required object attribute(s) are missing from your request: sheet.name.",
                )
            self._check_name(body["name"])
            sheet["name"] = body["name"]
        version = self._touch(sheet)
        self._event(request, sheet, "sheet", "updated", sheet["id"])
        return self._success(self._sheet_fields(sheet), version=version)

    @guarded
    async def get_version(self, request: Request, info: dict) -> Response:
        return JSONResponse({"version": self._sheet(request)["version"]})

    @guarded
    async def list_columns(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        level = View.of(request).level
        data = [self._column_json(c, level) for c in sheet["columns"]]
        return JSONResponse(
            {
                "pageNumber": 1,
                "pageSize": 100,
                "totalPages": 1,
                "totalCount": len(data),
                "data": data,
            }
        )

    @guarded
    async def update_column(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        column = next(
            (c for c in sheet["columns"] if c["id"] == request.path_params["column_id"]), None
        )
        if column is None:
            raise SheetError(404, 1006, "Not Found")
        body = await self._json(request)
        if "options" in body and "type" not in body:
            # Changing a dropdown's values needs the type too (providers/smartsheet.md §3).
            raise SheetError(
                400,
                1012,
                "Required object attribute(s) are missing from your request: column.type.",
            )
        if "type" in body and body["type"] != column["type"]:
            if body["type"] in PROJECT_COLUMN_TYPES or column["type"] in PROJECT_COLUMN_TYPES:
                raise SheetError(
                    400,
                    1031,
                    f"The value {body['type']} was not valid for the attribute column.type.",
                )
            self._check_column({**body, "options": body.get("options", column["options"])})
        if "title" in body:
            clash = {c["title"].lower() for c in sheet["columns"] if c is not column}
            if str(body["title"]).lower() in clash:
                raise SheetError(400, 1056, "Column titles must be unique.")
        for key in ("title", "type", "options", "width", "validation", *COLUMN_EXTRAS):
            if key in body and key not in ("systemColumnType",):
                column[key] = body[key]
        if isinstance(body.get("index"), int) and body["index"] != column["index"]:
            if not 0 <= body["index"] < len(sheet["columns"]):
                raise SheetError(
                    400,
                    1031,
                    f"The value {body['index']} was not valid for the attribute column.index.",
                )
            others = [c for c in sheet["columns"] if c is not column]
            others.insert(body["index"], column)
            for position, other in enumerate(others):
                other["index"] = position
            sheet["columns"] = others
        version = self._touch(sheet)
        self._event(request, sheet, "column", "updated", column["id"])
        return self._success(self._column_json(column), version=version)

    def _column_of(self, request: Request, sheet: dict) -> dict:
        column_id = request.path_params["column_id"]
        column = next((c for c in sheet["columns"] if c["id"] == column_id), None)
        if column is None:
            raise SheetError(404, 1006, "Not Found")
        return column

    @guarded
    async def get_column(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        column = self._column_of(request, sheet)
        return JSONResponse(self._column_json(column, View.of(request).level))

    @guarded
    async def add_columns(self, request: Request, info: dict) -> Response:
        """columns-addToSheet: a column or (as the SDK sends) an array, each with title, type
        and a zero-based index; the new columns' cells are empty.
        # Reference: Smartsheet's error table as a public client embeds it (code search, file
        # id 23190797305): 1031 "The value {0} was not valid for the attribute {1}.", 1056
        # "Column titles must be unique.", 1060 "Column options are not allowed for column
        # type {0}.", 1065 "The column specified cannot be deleted."
        """
        sheet = self._sheet(request)
        body = await self._json(request)
        wanted = body if isinstance(body, list) else [body]
        if not wanted or not all(isinstance(c, dict) for c in wanted):
            raise SheetError(
                400, 1012, "Required object attribute(s) are missing from your request: column."
            )
        titles = {c["title"].lower() for c in sheet["columns"]}
        columns = list(sheet["columns"])
        made = []
        for column in wanted:
            for key in ("title", "type", "index"):
                if column.get(key) in (None, ""):
                    raise SheetError(
                        400,
                        1012,
                        f"Required object attribute(s) are missing from your request: column.{key}.",
                    )
            if column["title"].lower() in titles:
                raise SheetError(400, 1056, "Column titles must be unique.")
            index = column["index"]
            if not isinstance(index, int) or not 0 <= index <= len(columns):
                raise SheetError(
                    400, 1031, f"The value {index} was not valid for the attribute column.index."
                )
            self._check_column(column)
            titles.add(column["title"].lower())
            new = {
                "id": self.new_id(),
                "version": MULTI_VERSIONS.get(column["type"], 0),
                "index": index,
                "title": column["title"],
                "type": column["type"],
                "primary": False,
                "options": list(column.get("options") or []),
                "validation": bool(column.get("validation", False)),
                "width": int(column.get("width") or 150),
                **{key: column[key] for key in COLUMN_EXTRAS if column.get(key) is not None},
            }
            made.append(new)
        if len({c["index"] for c in wanted}) > 1:
            # "When creating more than one column at a time, you cannot designate multiple
            # index locations. Use one common index as the starting point" (SPEC-SS
            # columns-addToSheet); the code the service answers is UNVERIFIED (FACTS.md §1.7).
            raise SheetError(
                400,
                1031,
                f"The value {wanted[1]['index']} was not valid for the attribute column.index.",
            )
        # The columns go in at the common index in the order sent.
        columns = [c for c in columns if c not in made]
        start = wanted[0]["index"]
        columns[start:start] = made
        for position, column in enumerate(columns):
            column["index"] = position
        sheet["columns"] = columns
        version = self._touch(sheet)
        for column in made:
            self._event(request, sheet, "column", "created", column["id"])
        return self._success([self._column_json(c) for c in made], version=version)

    @guarded
    async def delete_column(self, request: Request, info: dict) -> Response:
        """column-delete: GenericResult; the primary column cannot go (1065)."""
        sheet = self._sheet(request)
        column = self._column_of(request, sheet)
        if column["primary"]:
            raise SheetError(400, 1065, "The column specified cannot be deleted.")
        sheet["columns"] = [c for c in sheet["columns"] if c["id"] != column["id"]]
        for position, other in enumerate(sheet["columns"]):
            other["index"] = position
        for row in sheet["rows"]:
            row["cells"].pop(str(column["id"]), None)
        version = self._touch(sheet)
        self._event(request, sheet, "column", "deleted", column["id"])
        return JSONResponse({"message": "SUCCESS", "resultCode": 0, "version": version})

    # --- rows ----------------------------------------------------------------------------------

    def _bulk(self, body) -> list:
        rows = body if isinstance(body, list) else [body]
        if not rows:
            raise SheetError(
                400, 1012, "Required object attribute(s) are missing from your request: row."
            )
        if len(rows) > ROWS_CAP:
            raise SheetError(
                400,
                1160,
                "Invalid bulk request. See detail for more information.",
                {"message": f"At most {ROWS_CAP} rows per request."},
            )
        return rows

    def _location(self, sheet: dict, rows: list, present: "RowIndex | None" = None) -> dict:
        """The one location every row of the request carries ({} when none does), checked.

        # Reference: SPEC-SS tags[name=rows] "Specify Row Location": only one location
        # attribute per request, except parentId+toBottom and siblingId+above; every row the
        # same location (1123); an unknown parentId 1063, siblingId 1064; any other mix 1062.
        """
        locations = {
            tuple((key, row.get(key)) for key in LOCATION_KEYS if row.get(key) not in (None, False))
            for row in rows
        }
        if len(locations) > 1:
            raise SheetError(
                400,
                1123,
                "Specifying multiple row locations is not yet supported. Each row must use the same row location attribute and value (toBottom, toTop, parentId, siblingId, above).",
            )
        location = dict(next(iter(locations)))
        if frozenset(location) not in VALID_LOCATIONS:
            raise SheetError(400, 1062, "Invalid row location.")
        present = present or RowIndex(sheet)
        if "parentId" in location and location["parentId"] not in present:
            raise SheetError(400, 1063, f"Invalid parentId: {location['parentId']}.")
        if "siblingId" in location and location["siblingId"] not in present:
            raise SheetError(400, 1064, f"Invalid siblingId: {location['siblingId']}.")
        return location

    def _place(
        self, rows: list[dict], location: dict, index: dict | None = None
    ) -> tuple[int, int | None]:
        """Where rows at `location` go in the sheet's `rows` (in sheet order): the index to
        insert at, and their parent. No location: the bottom of the sheet (add's default)."""
        if index is None and ("siblingId" in location or "parentId" in location):
            index = {row["id"]: i for i, row in enumerate(rows)}
        if "siblingId" in location:
            sibling = index[location["siblingId"]]
            parent = rows[sibling]["parentId"]
            return (sibling if location.get("above") else _subtree_end(rows, sibling)), parent
        if "parentId" in location:
            parent = location["parentId"]
            if location.get("toBottom"):
                return _subtree_end(rows, index[parent]), parent  # the last child
            return index[parent] + 1, parent  # parentId alone: the first child
        return (0 if location.get("toTop") else len(rows)), None

    def _moved(self, sheet: dict, row_ids: list[int], location: dict) -> list[dict] | None:
        """The sheet's rows after moving `row_ids` (each with its descendants, in request
        order) to `location`; None when there is no location. A row cannot go under or beside
        one it carries along (1062)."""
        if not location:
            return None
        rows = sheet["rows"]
        index = {row["id"]: i for i, row in enumerate(rows)}
        by_id = {row["id"]: row for row in rows}
        chosen = set(row_ids)

        def carried(row_id: int) -> bool:  # an ancestor moves too: it takes this row along
            parent = by_id[row_id]["parentId"]
            while parent is not None:
                if parent in chosen:
                    return True
                parent = by_id[parent]["parentId"]
            return False

        blocks = []
        for row_id in dict.fromkeys(row_ids):
            if not carried(row_id):
                start = index[row_id]
                blocks.append(rows[start : _subtree_end(rows, start)])
        taken = {row["id"] for block in blocks for row in block}
        if {location.get("parentId"), location.get("siblingId")} & taken:
            raise SheetError(400, 1062, "Invalid row location.")
        remaining = [row for row in rows if row["id"] not in taken]
        position, parent = self._place(remaining, location)
        for block in blocks:
            block[0]["parentId"] = parent
        remaining[position:position] = [row for block in blocks for row in block]
        return remaining

    @guarded
    async def add_rows(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        rows = self._bulk(await self._json(request))
        partial = request.query_params.get("allowPartialSuccess", "").lower() == "true"
        present = RowIndex(sheet)
        location = self._location(sheet, rows, present)
        accepted, failed = [], []
        for index, row in enumerate(rows):
            try:
                accepted.append(
                    self._cells(
                        sheet,
                        row.get("cells"),
                        present=present if sheet.get("dependenciesEnabled") else None,
                    )
                )
            except SheetError as exc:
                if not partial:
                    raise SheetError(exc.status, exc.code, exc.message, {"index": index}) from None
                failed.append(
                    {
                        "index": index,
                        "error": {
                            "errorCode": exc.code,
                            "message": exc.message,
                            "refId": self.ref_id(),
                        },
                    }
                )
        if not accepted:
            return self._success([], version=sheet["version"], failed=failed)
        version = self._touch(sheet)
        position, parent_id = self._place(
            sheet["rows"], location, present.index if location else None
        )
        author = self._user(info)
        created = [
            self._new_row(self._numbered(sheet, cells), parent_id, sheet, author)
            for cells in accepted
        ]
        sheet["rows"][position:position] = created
        for row in created:
            self._event(request, sheet, "row", "created", row["id"])
        return self._success(
            self._span_json(sheet, position, len(created)), version=version, failed=failed or None
        )

    @guarded
    async def update_rows(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        rows = self._bulk(await self._json(request))
        partial = request.query_params.get("allowPartialSuccess", "").lower() == "true"
        location = self._location(sheet, [row for row in rows if isinstance(row, dict)])
        by_id = {row["id"]: row for row in sheet["rows"]}
        present = self._present(sheet)
        changes, failed = [], []
        for index, row in enumerate(rows):
            try:
                if "id" not in row:
                    raise SheetError(
                        400,
                        1012,
                        "Required object attribute(s) are missing from your request: row.id.",
                    )
                target = by_id.get(row["id"])
                if target is None:
                    raise SheetError(404, 1006, "Not Found")
                cells = self._cells(sheet, row.get("cells"), present=present)
                for cell in cells.values():
                    if isinstance(cell, dict) and any(
                        p["rowId"] == target["id"] for p in cell.get("predecessors", ())
                    ):
                        raise SheetError(  # a row cannot depend on itself
                            400,
                            1042,
                            f"The value for cell in row {target['id']} did not conform to the strict requirements for type PREDECESSOR.",
                        )
                changes.append((target, cells))
            except SheetError as exc:
                if not partial:
                    raise SheetError(
                        exc.status, exc.code, exc.message, {"index": index, "rowId": row.get("id")}
                    ) from None
                failed.append(
                    {
                        "index": index,
                        "rowId": row.get("id"),
                        "error": {
                            "errorCode": exc.code,
                            "message": exc.message,
                            "refId": self.ref_id(),
                        },
                    }
                )
        if not changes:
            return self._success([], version=sheet["version"], failed=failed or None)
        # "Update: the row stays where it is" unless a location moves it (and its children).
        moved = self._moved(sheet, [target["id"] for target, _ in changes], location)
        version = self._touch(sheet)
        stamp, author = self.clock.stamp(), self._user(info)
        if moved is not None:
            sheet["rows"] = moved
        for target, cells in changes:
            target["cells"].update(cells)
            target["cells"] = {k: v for k, v in target["cells"].items() if v is not None}
            target["version"], target["modifiedAt"] = version, stamp
            target["modifiedBy"] = author
            self._event(request, sheet, "row", "updated", target["id"])
        return self._success(
            self._rows_json(sheet, {target["id"] for target, _ in changes}),
            version=version,
            failed=failed or None,
        )

    @guarded
    async def delete_rows(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        ids = [int(i) for i in request.query_params.get("ids", "").split(",") if i.strip()]
        if not ids:
            raise SheetError(
                400, 1012, "Required object attribute(s) are missing from your request: ids."
            )
        present = {row["id"] for row in sheet["rows"]}
        missing = [i for i in ids if i not in present]
        if missing and request.query_params.get("ignoreRowsNotFound", "").lower() != "true":
            raise SheetError(404, 1006, "Not Found")
        doomed = set(ids) & present
        grew = True
        while grew:  # a parent's children go with it
            more = {row["id"] for row in sheet["rows"] if row["parentId"] in doomed} - doomed
            grew = bool(more)
            doomed |= more
        sheet["rows"] = [row for row in sheet["rows"] if row["id"] not in doomed]
        version = self._touch(sheet)
        for row_id in doomed:
            self._event(request, sheet, "row", "deleted", row_id)
        return self._success(sorted(doomed & set(ids)), version=version)

    @guarded
    async def get_row(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        rows = self._rows_json(sheet, {request.path_params["row_id"]})
        if not rows:
            raise SheetError(404, 1006, "Not Found")
        return JSONResponse(rows[0])

    @guarded
    async def move_rows(self, request: Request, info: dict) -> Response:
        """move-rows: rows, each with its children, to the bottom of another sheet; cells go to
        the destination's column of the same title (UNVERIFIED choice: the docs say only that
        the columns must match), others are dropped. include=attachments,discussions moves
        those along; without it they stay behind with the deleted rows. Answers the
        unwrapped CopyOrMoveRowResult {destinationSheetId, rowMappings[{from, to}]}.
        # Reference: SPEC-SS move-rows; error table 1136 "Cannot copy or move row(s) within
        # the same sheet."; the SDK's move_rows docstring (children move, ignoreRowsNotFound).
        """
        source = self._sheet(request)
        body = await self._json(request)
        body = body if isinstance(body, dict) else {}
        row_ids = body.get("rowIds") or []
        destination_id = (body.get("to") or {}).get("sheetId")
        if not row_ids or destination_id is None:
            missing = "rowIds" if not row_ids else "to.sheetId"
            raise SheetError(
                400, 1012, f"Required object attribute(s) are missing from your request: {missing}."
            )
        if destination_id == source["id"]:
            raise SheetError(400, 1136, "Cannot copy or move row(s) within the same sheet.")
        destination = self.state["sheets"].get(str(destination_id))
        if destination is None:
            raise SheetError(404, 1006, "Not Found")
        present = {row["id"] for row in source["rows"]}
        if set(row_ids) - present:
            if request.query_params.get("ignoreRowsNotFound", "").lower() != "true":
                raise SheetError(404, 1006, "Not Found")
            row_ids = [i for i in row_ids if i in present]
        # In request order, each with its descendants, the tops losing their parent.
        family = _family(source, row_ids)
        order = self._moved(source, row_ids, {"toBottom": True}) if row_ids else []
        taken = [row for row in order if row["id"] in family]
        include = View.of(request).include
        by_title = {c["title"]: str(c["id"]) for c in destination["columns"]}
        titles = {str(c["id"]): c["title"] for c in source["columns"]}
        mappings, new_ids = [], {}
        for row in taken:
            cells = {
                by_title[titles[k]]: v for k, v in row["cells"].items() if titles[k] in by_title
            }
            copy = self._new_row(
                cells, new_ids.get(row["parentId"]), destination, row.get("createdBy")
            )
            new_ids[row["id"]] = copy["id"]
            destination["rows"].append(copy)
            mappings.append({"from": row["id"], "to": copy["id"]})
        for kind, key in (("discussions", "discussions"), ("attachments", "attachments")):
            for item in list(self.state[key].values()):
                if item.get("sheetId") == source["id"] and item.get("rowId") in new_ids:
                    if kind in include:
                        item["sheetId"], item["rowId"] = destination["id"], new_ids[item["rowId"]]
                    else:
                        del self.state[key][str(item["id"])]
        source["rows"] = [row for row in source["rows"] if row["id"] not in new_ids]
        self._touch(source)
        self._touch(destination)
        for mapping in mappings:
            self._event(request, source, "row", "deleted", mapping["from"])
            self._event(request, destination, "row", "created", mapping["to"])
        return JSONResponse({"destinationSheetId": destination["id"], "rowMappings": mappings})

    def _row_of(self, sheet: dict, row_id: int) -> dict:
        row = next((row for row in sheet["rows"] if row["id"] == row_id), None)
        if row is None:
            raise SheetError(404, 1006, "Not Found")
        return row

    # --- discussions and attachments --------------------------------------------------------

    def _index_page(self, request: Request, items: list) -> JSONResponse:
        """An IndexResult: page / pageSize (100 by default), or every item with includeAll."""
        query = request.query_params
        if query.get("includeAll", "").lower() == "true":
            size, page = max(1, len(items)), 1
        else:
            size = max(1, min(int(query.get("pageSize") or 100), 10_000))
            page = max(1, int(query.get("page") or 1))
        pages = max(1, -(-len(items) // size))
        page = min(page, pages)  # past the end: the last page
        return JSONResponse(
            {
                "pageNumber": page,
                "pageSize": size,
                "totalPages": pages,
                "totalCount": len(items),
                "data": items[(page - 1) * size : page * size],
            }
        )

    def _discussions_of(self, sheet: dict, *, row_id=ALL) -> list[dict]:
        """A sheet's discussions: on the sheet (row_id None), on one row, or ALL of them (those
        of rows still present)."""
        rows = {row["id"] for row in sheet["rows"]}
        found = []
        for discussion in self.state["discussions"].values():
            if discussion.get("sheetId") != sheet["id"]:
                continue
            on_row = discussion.get("rowId")
            if row_id is ALL:
                if on_row is None or on_row in rows:
                    found.append(discussion)
            elif on_row == row_id:
                found.append(discussion)
        return found

    def _attachments_of(self, sheet: dict, *, row_id=ALL) -> list[dict]:
        rows = {row["id"] for row in sheet["rows"]}
        found = []
        for attachment in self.state["attachments"].values():
            if attachment.get("sheetId") != sheet["id"]:
                continue
            on_row = attachment.get("rowId")
            if row_id is ALL:
                if on_row is None or on_row in rows:
                    found.append(attachment)
            elif on_row == row_id:
                found.append(attachment)
        return found

    def _discussion(self, sheet: dict, discussion_id: int) -> dict:
        discussion = self.state["discussions"].get(str(discussion_id))
        if discussion is None or discussion not in self._discussions_of(sheet):
            raise SheetError(404, 1006, "Not Found")
        return discussion

    async def _comment_text(self, request: Request, *, nested: bool) -> str:
        """The comment's text: {"comment": {"text"}} for a new discussion, {"text"} for a
        comment. Multipart bodies (a comment with a file) are not emulated: 1008."""
        if request.headers.get("content-type", "").startswith("multipart/"):
            raise SheetError(
                400,
                1008,
                "Unable to parse request. The sandbox accepts only JSON comment bodies.",
            )
        body = await self._json(request)
        body = body if isinstance(body, dict) else {}
        text = ((body.get("comment") or {}) if nested else body).get("text")
        if not text:
            name = "comment.text" if nested else "text"
            raise SheetError(
                400, 1012, f"Required object attribute(s) are missing from your request: {name}."
            )
        return text

    def _new_comment(self, text: str, info: dict) -> dict:
        stamp = self.clock.stamp()
        return {
            "id": self.new_id(),
            "text": text,
            "createdBy": self._user(info),
            "createdAt": stamp,
            "modifiedAt": stamp,
        }

    async def _create_discussion(
        self, request: Request, info: dict, sheet: dict, row_id: int | None
    ) -> Response:
        text = await self._comment_text(request, nested=True)
        comment = self._new_comment(text, info)
        discussion = {
            "id": self.new_id(),
            "sheetId": sheet["id"],
            "rowId": row_id,
            "title": text[:100],  # read-only: the first 100 characters of the first comment
            "createdAt": comment["createdAt"],
            "comments": [comment],
        }
        self.state["discussions"][str(discussion["id"])] = discussion
        version = self._touch(sheet)
        self._event(request, sheet, "discussion", "created", discussion["id"])
        return self._success(self._discussion_json(discussion, with_comments=True), version=version)

    @guarded
    async def row_discussions(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        row = self._row_of(sheet, request.path_params["row_id"])
        if request.method == "POST":
            return await self._create_discussion(request, info, sheet, row["id"])
        return self._discussions_page(request, self._discussions_of(sheet, row_id=row["id"]))

    @guarded
    async def sheet_discussions(self, request: Request, info: dict) -> Response:
        """GET: every discussion of the sheet, sheet- and row-level (discussions-list);
        POST: a discussion on the sheet itself (discussions-create)."""
        sheet = self._sheet(request)
        if request.method == "POST":
            return await self._create_discussion(request, info, sheet, None)
        return self._discussions_page(request, self._discussions_of(sheet))

    def _discussions_page(self, request: Request, found: list[dict]) -> JSONResponse:
        include = View.of(request).include
        data = [
            self._discussion_json(
                d,
                with_comments="comments" in include,
                # "attachments" is effective only together with "comments" (SPEC-SS).
                with_attachments="comments" in include and "attachments" in include,
            )
            for d in found
        ]
        return self._index_page(request, data)

    @guarded
    async def get_discussion(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        discussion = self._discussion(sheet, request.path_params["discussion_id"])
        return JSONResponse(
            self._discussion_json(discussion, with_comments=True, with_attachments=True)
        )

    @guarded
    async def add_comment(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        discussion = self._discussion(sheet, request.path_params["discussion_id"])
        comment = self._new_comment(await self._comment_text(request, nested=False), info)
        discussion["comments"].append(comment)
        version = self._touch(sheet)
        self._event(request, sheet, "comment", "created", comment["id"])
        return self._success(dict(comment, discussionId=discussion["id"]), version=version)

    def _discussion_json(
        self, discussion: dict, *, with_comments: bool, with_attachments: bool = False
    ) -> dict:
        first, last = discussion["comments"][0], discussion["comments"][-1]
        on_row = discussion.get("rowId")
        body = {
            "id": discussion["id"],
            "title": discussion["title"],
            "accessLevel": "OWNER",
            "parentType": "ROW" if on_row else "SHEET",
            "parentId": on_row or discussion["sheetId"],
            "readOnly": False,
            "commentCount": len(discussion["comments"]),
            "createdBy": first["createdBy"],
            "lastCommentedAt": last["createdAt"],
            "lastCommentedUser": last["createdBy"],
        }
        if with_comments:
            body["comments"] = [
                dict(c, discussionId=discussion["id"]) for c in discussion["comments"]
            ]
        if with_attachments:
            body["commentAttachments"] = []  # files on comments are not emulated
        return body

    @guarded
    async def row_attachments(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        row = self._row_of(sheet, request.path_params["row_id"])
        if request.method == "POST":
            return await self._attach(request, info, sheet, row["id"])
        data = [self._attachment_json(a) for a in self._attachments_of(sheet, row_id=row["id"])]
        return self._index_page(request, data)

    @guarded
    async def sheet_attachments(self, request: Request, info: dict) -> Response:
        """GET: every attachment of the sheet, its rows' and its comments'
        (attachments-listOnSheet); POST: a file or a URL on the sheet (attachments-attachToSheet)."""
        sheet = self._sheet(request)
        if request.method == "POST":
            return await self._attach(request, info, sheet, None)
        return self._index_page(
            request, [self._attachment_json(a) for a in self._attachments_of(sheet)]
        )

    @guarded
    async def get_attachment(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        attachment = self.state["attachments"].get(str(request.path_params["attachment_id"]))
        if attachment is None or attachment not in self._attachments_of(sheet):
            raise SheetError(404, 1006, "Not Found")
        body = self._attachment_json(attachment)
        if body["attachmentType"] == "FILE":
            # "a temporary URL … urlExpiresInMillis" (SPEC-SS attachments-get). The sandbox keeps
            # no file bytes (only their hash), so this URL names the file but serves nothing.
            body["url"] = (
                f"https://sandbox-files.smartsheet.invalid/{attachment['sha256']}"
                f"/{attachment['name']}"
            )
            body["urlExpiresInMillis"] = URL_EXPIRES_IN_MS
        return JSONResponse(body)

    async def _attach(
        self, request: Request, info: dict, sheet: dict, row_id: int | None
    ) -> Response:
        stamp = self.clock.stamp()
        attachment = {
            "id": self.new_id(),
            "sheetId": sheet["id"],
            "rowId": row_id,
            "createdAt": stamp,
            "createdBy": self._user(info),
        }
        if request.headers.get("content-type", "").startswith("application/json"):
            attachment.update(await self._url_attachment(request))
        else:
            name, content, mime = await self._upload(request)
            attachment.update(
                name=name,
                attachmentType="FILE",
                mimeType=mime,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
            )
        self.state["attachments"][str(attachment["id"])] = attachment
        version = self._touch(sheet)
        self._event(request, sheet, "attachment", "created", attachment["id"])
        return self._success(self._attachment_json(attachment), version=version)

    async def _url_attachment(self, request: Request) -> dict:
        """A URL attachment's JSON body (URLAttachmentRequest {attachmentType,
        attachmentSubType, name, description, url}); a FILE cannot come as JSON (1051)."""
        body = await self._json(request)
        body = body if isinstance(body, dict) else {}
        kind = body.get("attachmentType")
        if kind == "FILE":
            raise SheetError(400, 1051, "Attachments of type FILE cannot be created using JSON.")
        if kind not in URL_ATTACHMENT_TYPES:
            raise SheetError(
                400,
                1012,
                "Required object attribute(s) are missing from your request: attachmentType.",
            )
        if not body.get("url"):
            raise SheetError(
                400, 1012, "Required object attribute(s) are missing from your request: url."
            )
        found = {
            "attachmentType": kind,
            "url": body["url"],
            "name": body.get("name") or body["url"],
        }
        for key in ("attachmentSubType", "description"):
            if body.get(key):
                found[key] = body[key]
        return found

    async def _upload(self, request: Request) -> tuple[str, bytes, str]:
        """Simple upload (the body is the file, named by Content-Disposition) or multipart
        with a part named "file" (how the SDK's attach_file_to_row sends it)."""
        declared = request.headers.get("content-length")
        if declared and int(declared) > MAX_UPLOAD:
            raise SheetError(
                400, 1074, "The file is too large to be uploaded through the API (30 MB at most)."
            )
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get("file")
            if upload is None or not hasattr(upload, "read"):
                raise SheetError(400, 1127, 'Required multipart part "file" is missing.')
            content = await upload.read()
            return (
                upload.filename or "file",
                content,
                upload.content_type or "application/octet-stream",
            )
        disposition = request.headers.get("content-disposition", "")
        match = re.search(r'filename="?([^";]+)"?', disposition)
        if not match:
            raise SheetError(
                400,
                1012,
                "Required object attribute(s) are missing from your request: Content-Disposition filename.",
            )
        content = await request.body()
        if declared and int(declared) != len(content):
            raise SheetError(
                400, 1075, "The Content-Size does not match the actual size of the content."
            )
        return match.group(1), content, content_type or "application/octet-stream"

    def _attachment_json(self, attachment: dict) -> dict:
        return {
            "id": attachment["id"],
            "name": attachment["name"],
            "attachmentType": "FILE",
            "mimeType": attachment["mimeType"],
            "sizeInKb": max(1, -(-attachment["size"] // 1024)),
            "parentType": "ROW",
            "parentId": attachment["rowId"],
            "createdAt": attachment["createdAt"],
            "createdBy": attachment["createdBy"],
        }

    def _attachment_json(self, attachment: dict) -> dict:
        on_row = attachment.get("rowId")
        body = {
            "id": attachment["id"],
            "name": attachment["name"],
            "attachmentType": attachment.get("attachmentType", "FILE"),
            "parentType": "ROW" if on_row else "SHEET",
            "parentId": on_row or attachment["sheetId"],
            "createdAt": attachment["createdAt"],
            "createdBy": attachment["createdBy"],
        }
        if body["attachmentType"] == "FILE":
            body["mimeType"] = attachment["mimeType"]
            body["sizeInKb"] = max(1, -(-attachment["size"] // 1024))
        else:
            body["url"] = attachment["url"]
            for key in ("attachmentSubType", "description"):
                if key in attachment:
                    body[key] = attachment[key]
        return body

    # --- control plane: the change-agent event log ------------------------------------------

    async def cp_events(self, request: Request) -> Response:
        sheet_id = request.query_params.get("sheet")
        events = [e for e in self.state["events"] if not sheet_id or str(e["sheetId"]) == sheet_id]
        return JSONResponse({"events": events})


def _epoch(stamp: str) -> float | None:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
