"""The Smartsheet data API of the emulator: workspaces, sheets (create, copy, get with
rowsModifiedSince and paging), columns, rows (add / update / delete, ≤ 500 per request, one
location per add, allowPartialSuccess, parentId hierarchy, version and modifiedAt), row
discussions, row attachments (simple and multipart upload, weighing 10 against the limit), and
the Smartsheet-Change-Agent of every change, kept in an event log (/_sandbox/events) as the
webhook callbacks would carry it.

# Reference: ../shared/providers/smartsheet.md §3, §5 (500 rows per call, location rules,
# partial success, rowsModifiedSince, copy, change agent); Smartsheet error codes 1006, 1008,
# 1012, 1034, 1036, 1037, 1041, 1042, 1062, 1063, 1123, 1160 from the published error table
# (developers.smartsheet.com/api/smartsheet/error-codes); Row, Sheet, Discussion, Attachment
# and BulkItemFailure objects from https://smartsheet.redoc.ly.
"""

import hashlib
import re
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox import TIMETRACKER_JOBS_COLUMNS, TIMETRACKER_JOBS_SHEET_ID

ROWS_CAP = 500
MAX_UPLOAD = 30 * 1024 * 1024
CELL_MAX = 4000
NAME_MAX = 50
ID_BASE, ID_SPACE, ID_STEP = 1_000_000_000_000_000, 9_000_000_000_000_000, 0x9E3779B97F4A7C15
LOCATION_KEYS = ("toTop", "toBottom", "parentId", "siblingId", "above")
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


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class SheetError(Exception):
    def __init__(self, status: int, code: int, message: str, detail: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


def guarded(handler):
    """Auth, then the handler; a SheetError becomes Smartsheet's error body."""

    async def wrapper(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        try:
            return await handler(self, request, info)
        except SheetError as exc:
            extra = {"detail": exc.detail} if exc.detail is not None else {}
            return self.error(exc.status, exc.code, exc.message, **extra)

    return wrapper


class SheetsMixin:
    """Mixed into SmartsheetEmulator (which supplies state, error(), authenticated())."""

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
        return {key: self.state[key] for key in state}

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
        stamp = now_iso()
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
                    "validation": False,
                    "width": 150,
                }
            )
        self.state["sheets"][str(sheet_id)] = sheet
        self.state["workspaces"][str(workspace_id)]["sheets"].append(sheet_id)
        return sheet

    def _new_row(self, cells: dict, parent_id: int | None, sheet: dict) -> dict:
        stamp = now_iso()
        return {
            "id": self.new_id(),
            "parentId": parent_id,
            "version": sheet["version"],
            "createdAt": stamp,
            "modifiedAt": stamp,
            "cells": cells,
        }

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
                "timestamp": now_iso(),
            }
        )
        del events[:-20_000]

    # --- JSON shapes ------------------------------------------------------------------------

    def _column_json(self, column: dict) -> dict:
        body = {
            key: column[key]
            for key in ("id", "version", "index", "title", "type", "validation", "width")
        }
        if column["primary"]:
            body["primary"] = True
        if column["options"]:
            body["options"] = column["options"]
        return body

    def _row_json(self, sheet: dict, row: dict, number: int, previous_sibling: int | None) -> dict:
        cells = []
        for column in sheet["columns"]:
            value = row["cells"].get(str(column["id"]))
            cells.append(
                {"columnId": column["id"]}
                if value is None
                else {"columnId": column["id"], "value": value, "displayValue": str(value)}
            )
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
        return body

    def _rows_json(self, sheet: dict, wanted: set | None = None) -> list[dict]:
        out, last_child = [], {}
        for number, row in enumerate(sheet["rows"], start=1):
            sibling = last_child.get(row["parentId"])
            last_child[row["parentId"]] = row["id"]
            if wanted is None or row["id"] in wanted:
                out.append(self._row_json(sheet, row, number, sibling))
        return out

    def _sheet_json(self, sheet: dict, rows: list[dict]) -> dict:
        return {
            "id": sheet["id"],
            "name": sheet["name"],
            "version": sheet["version"],
            "totalRowCount": len(sheet["rows"]),
            "accessLevel": "OWNER",
            "permalink": sheet["permalink"],
            "createdAt": sheet["createdAt"],
            "modifiedAt": sheet["modifiedAt"],
            "dependenciesEnabled": False,
            "ganttEnabled": False,
            "effectiveAttachmentOptions": ["FILE"],
            "columns": [self._column_json(c) for c in sheet["columns"]],
            "rows": rows,
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
            Route("/2.0/sheets/{sheet_id:int}", self.get_sheet, methods=["GET"]),
            Route("/2.0/sheets/{sheet_id:int}/version", self.get_version, methods=["GET"]),
            Route("/2.0/sheets/{sheet_id:int}/copy", self.copy_sheet, methods=["POST"]),
            Route("/2.0/sheets/{sheet_id:int}/columns", self.list_columns, methods=["GET"]),
            Route(
                "/2.0/sheets/{sheet_id:int}/columns/{column_id:int}",
                self.update_column,
                methods=["PUT"],
            ),
            Route("/2.0/sheets/{sheet_id:int}/rows", self.add_rows, methods=["POST"]),
            Route("/2.0/sheets/{sheet_id:int}/rows", self.update_rows, methods=["PUT"]),
            Route("/2.0/sheets/{sheet_id:int}/rows", self.delete_rows, methods=["DELETE"]),
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
            Route("/_sandbox/events", self.cp_events, methods=["GET"]),
        ]

    def weight(self, request: Request) -> int:
        # "Attaching a file counts as 10 requests" (rate limiting, providers/smartsheet.md §2).
        return 10 if request.method == "POST" and request.url.path.endswith("/attachments") else 1

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
        sheet["modifiedAt"] = now_iso()
        self.dirty = True
        return sheet["version"]

    def _user(self, info: dict) -> dict:
        user = self.state["users"][info["user_id"]]
        return {"name": f"{user['firstName']} {user['lastName']}", "email": user["email"]}

    # --- cells --------------------------------------------------------------------------------

    def _cells(self, sheet: dict, cells: list, strict_default: bool = True) -> dict:
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
            out[str(column_id)] = self._value(
                column, cell.get("value"), cell.get("strict", strict_default)
            )
        return out

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
        if kind == "DATE":
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
            sheet = self._new_sheet(name, workspace_id, columns)
        self.dirty = True
        return self._success({k: v for k, v in self._sheet_json(sheet, []).items() if k != "rows"})

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
            }
            for c in source["columns"]
        ]
        sheet = self._new_sheet(name, workspace_id, columns)
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
        out = self._rows_json(sheet, wanted)
        if query.get("page") or query.get("pageSize"):
            size = min(int(query.get("pageSize", 100)), 10_000)
            pages = max(1, -(-len(out) // size))
            page = min(max(1, int(query.get("page", 1))), pages)  # past the end: the last page
            out = out[(page - 1) * size : page * size]
        return JSONResponse(self._sheet_json(sheet, out))

    @guarded
    async def get_version(self, request: Request, info: dict) -> Response:
        return JSONResponse({"version": self._sheet(request)["version"]})

    @guarded
    async def list_columns(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        data = [self._column_json(c) for c in sheet["columns"]]
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
        for key in ("title", "type", "options"):
            if key in body:
                column[key] = body[key]
        version = self._touch(sheet)
        self._event(request, sheet, "column", "updated", column["id"])
        return self._success(self._column_json(column), version=version)

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

    def _insert_at(self, sheet: dict, parent_id: int | None, to_top: bool) -> int:
        rows = sheet["rows"]
        if parent_id is None:
            return 0 if to_top else len(rows)
        index = next((i for i, row in enumerate(rows) if row["id"] == parent_id), None)
        if to_top:
            return index + 1
        descendants, end = {parent_id}, index + 1
        while end < len(rows) and rows[end]["parentId"] in descendants:
            descendants.add(rows[end]["id"])
            end += 1
        return end

    @guarded
    async def add_rows(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        rows = self._bulk(await self._json(request))
        partial = request.query_params.get("allowPartialSuccess", "").lower() == "true"
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
        if location.get("siblingId") or location.get("above"):
            raise SheetError(400, 1062, "Invalid row location.")  # not emulated: we place by parent
        parent_id = location.get("parentId")
        if parent_id is not None and not any(row["id"] == parent_id for row in sheet["rows"]):
            raise SheetError(400, 1063, f"Invalid parentId: {parent_id}.")
        accepted, failed = [], []
        for index, row in enumerate(rows):
            try:
                accepted.append(self._cells(sheet, row.get("cells")))
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
        position = self._insert_at(sheet, parent_id, bool(location.get("toTop")))
        created = [self._new_row(cells, parent_id, sheet) for cells in accepted]
        sheet["rows"][position:position] = created
        ids = {row["id"] for row in created}
        for row in created:
            self._event(request, sheet, "row", "created", row["id"])
        return self._success(self._rows_json(sheet, ids), version=version, failed=failed or None)

    @guarded
    async def update_rows(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        rows = self._bulk(await self._json(request))
        partial = request.query_params.get("allowPartialSuccess", "").lower() == "true"
        by_id = {row["id"]: row for row in sheet["rows"]}
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
                changes.append((target, self._cells(sheet, row.get("cells"))))
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
        version = self._touch(sheet)
        stamp = now_iso()
        for target, cells in changes:
            target["cells"].update(cells)
            target["cells"] = {k: v for k, v in target["cells"].items() if v is not None}
            target["version"], target["modifiedAt"] = version, stamp
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

    def _row_of(self, sheet: dict, row_id: int) -> dict:
        row = next((row for row in sheet["rows"] if row["id"] == row_id), None)
        if row is None:
            raise SheetError(404, 1006, "Not Found")
        return row

    # --- discussions and attachments --------------------------------------------------------

    @guarded
    async def row_discussions(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        row = self._row_of(sheet, request.path_params["row_id"])
        if request.method == "GET":
            found = [d for d in self.state["discussions"].values() if d["rowId"] == row["id"]]
            data = [
                self._discussion_json(
                    d, with_comments="comments" in request.query_params.get("include", "")
                )
                for d in found
            ]
            return JSONResponse(
                {
                    "pageNumber": 1,
                    "pageSize": max(100, len(data)),
                    "totalPages": 1,
                    "totalCount": len(data),
                    "data": data,
                }
            )
        body = await self._json(request)
        text = ((body or {}).get("comment") or {}).get("text")
        if not text:
            raise SheetError(
                400,
                1012,
                "Required object attribute(s) are missing from your request: comment.text.",
            )
        stamp, author = now_iso(), self._user(info)
        discussion = {
            "id": self.new_id(),
            "sheetId": sheet["id"],
            "rowId": row["id"],
            "title": text[:100],
            "createdAt": stamp,
            "comments": [
                {
                    "id": self.new_id(),
                    "text": text,
                    "createdBy": author,
                    "createdAt": stamp,
                    "modifiedAt": stamp,
                }
            ],
        }
        self.state["discussions"][str(discussion["id"])] = discussion
        version = self._touch(sheet)
        self._event(request, sheet, "discussion", "created", discussion["id"])
        return self._success(self._discussion_json(discussion, with_comments=True), version=version)

    def _discussion_json(self, discussion: dict, *, with_comments: bool) -> dict:
        last = discussion["comments"][-1]
        body = {
            "id": discussion["id"],
            "title": discussion["title"],
            "accessLevel": "OWNER",
            "parentType": "ROW",
            "parentId": discussion["rowId"],
            "readOnly": False,
            "commentCount": len(discussion["comments"]),
            "lastCommentedAt": last["createdAt"],
            "lastCommentedUser": last["createdBy"],
        }
        if with_comments:
            body["comments"] = [
                dict(c, discussionId=discussion["id"]) for c in discussion["comments"]
            ]
        return body

    @guarded
    async def row_attachments(self, request: Request, info: dict) -> Response:
        sheet = self._sheet(request)
        row = self._row_of(sheet, request.path_params["row_id"])
        if request.method == "GET":
            data = [
                self._attachment_json(a)
                for a in self.state["attachments"].values()
                if a["rowId"] == row["id"]
            ]
            return JSONResponse(
                {
                    "pageNumber": 1,
                    "pageSize": max(100, len(data)),
                    "totalPages": 1,
                    "totalCount": len(data),
                    "data": data,
                }
            )
        name, content, mime = await self._upload(request)
        stamp = now_iso()
        attachment = {
            "id": self.new_id(),
            "sheetId": sheet["id"],
            "rowId": row["id"],
            "name": name,
            "mimeType": mime,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "createdAt": stamp,
            "createdBy": self._user(info),
        }
        self.state["attachments"][str(attachment["id"])] = attachment
        version = self._touch(sheet)
        self._event(request, sheet, "attachment", "created", attachment["id"])
        return self._success(self._attachment_json(attachment), version=version)

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
