"""Smartsheet through the official smartsheet-python-sdk, on our HTTP layer.

The SDK takes no session or CA option (smartsheet-python-sdk#94), so we give its client our
session (bucket, retries, counting, sandbox CA) and turn its own retries off: one layer
retries, not two. Its constructor would first build a session of its own (an adapter whose TLS
context loads the system's CA store: ~47 ms of CPU per client, thrown away at once), so it is
handed ours there instead.

# Reference: https://smartsheet.redoc.ly (OAuth: /token with `hash`, DELETE /token,
# GET /users/me) and ../shared/providers/smartsheet.md §1, §6.
"""

from __future__ import annotations

import functools
import hashlib
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import requests
from django.conf import settings

from integrations.connections import http
from integrations.connections.providers.base import (
    Identity,
    ProviderSpec,
    TokenSet,
    oauth_client,
    rate_key,
)

if TYPE_CHECKING:
    import smartsheet

SPEC = ProviderSpec(
    name="smartsheet",
    label="Smartsheet",
    kind="oauth",
    per_user=True,
    scopes=("READ_SHEETS", "WRITE_SHEETS", "CREATE_SHEETS"),
    pkce=False,  # not documented by Smartsheet; the token call carries a hash of the secret
)
PLACEHOLDER_TOKEN = "oauth-exchange"  # the SDK refuses to build a client without a token


def _authorize_base() -> str:
    return settings.PROVIDER_URLS["smartsheet_authorize"]


def api_base() -> str:
    return settings.PROVIDER_URLS["smartsheet_api"]


_handed: ContextVar[requests.Session | None] = ContextVar("smartsheet_session", default=None)


@functools.cache
def _sdk() -> ModuleType:
    """The SDK, imported on first use: its imports (~35 ms) would otherwise be paid by every
    process that starts Django, most of which never call Smartsheet. Its constructor gets the
    session by calling `smartsheet.smartsheet.pinned_session`: replaced here, once, so that a
    client built by client() below gets the hub's session and anything else the SDK's own."""
    import smartsheet
    import smartsheet.smartsheet

    sdk_pinned_session = smartsheet.smartsheet.pinned_session

    def pinned_session(pool_maxsize: int = 8) -> requests.Session:
        return _handed.get() or sdk_pinned_session(pool_maxsize=pool_maxsize)

    smartsheet.smartsheet.pinned_session = pinned_session
    return smartsheet


def client(access_token: str, *, key: str) -> smartsheet.Smartsheet:
    """An SDK client whose requests go through integrations.connections.http."""
    from smartsheet.session import redact_token

    sdk_module = _sdk()
    session = http.session("smartsheet", key=key)
    session.hooks["response"].append(redact_token)  # keeps the SDK's request log free of tokens
    handing = _handed.set(session)
    try:
        sdk = sdk_module.Smartsheet(
            access_token, api_base=api_base(), max_retry_time=0, user_agent="IntegrationHub/1.0"
        )
    finally:
        _handed.reset(handing)
    sdk._session = session  # already so; kept should an SDK upgrade build its session otherwise
    sdk.errors_as_exceptions(True)
    return sdk


@contextmanager
def _translated(action: str):
    """SDK exceptions -> our typed errors, with a message for people."""
    from smartsheet.exceptions import ApiError, UnexpectedRequestError

    try:
        yield
    except ApiError as exc:
        result = exc.error.result
        message = f"Smartsheet refused to {action}: {result.message} (error {result.code})"
        status = result.status_code or 400
        if status in (401, 403) and result.code in (1001, 1002, 1003):
            raise http.Unauthorized(
                message, provider="smartsheet", status=401, code=str(result.code)
            ) from None
        if status == 429 or result.code == 4003:
            raise http.RateLimited(
                message, provider="smartsheet", status=429, code=str(result.code)
            ) from None
        if status >= 500:
            raise http.Unavailable(
                message, provider="smartsheet", status=status, code=str(result.code)
            ) from None
        raise http.Permanent(
            message, provider="smartsheet", status=status, code=str(result.code)
        ) from None
    except UnexpectedRequestError as exc:
        cause = exc.__cause__
        if isinstance(cause, http.ProviderError):
            raise cause from None
        raise http.Unavailable(
            f"Smartsheet could not be reached to {action}", provider="smartsheet"
        ) from None


def _hash(secret: str, value: str) -> str:
    # Smartsheet's token call proves the secret with sha256(app_secret + "|" + code-or-refresh).
    return hashlib.sha256(f"{secret}|{value}".encode()).hexdigest()


def authorize_url(
    *, state: str, redirect_uri: str, code_challenge: str = "", domain: str = ""
) -> str:
    client_id, _ = oauth_client("smartsheet")
    params = {
        "response_type": "code",
        "client_id": client_id,
        "scope": " ".join(SPEC.scopes),
        "state": state,
        "redirect_uri": redirect_uri,
    }
    return f"{_authorize_base()}?{urlencode(params)}"


def _token_set(token) -> TokenSet:
    return TokenSet(
        access_token=token.access_token,
        refresh_token=token.refresh_token or "",
        expires_in=int(token.expires_in) if token.expires_in else None,
        scopes=SPEC.scopes,
    )


def exchange_code(
    *, code: str, redirect_uri: str, code_verifier: str = "", domain: str = ""
) -> TokenSet:
    client_id, secret = oauth_client("smartsheet")
    with _translated("exchange the authorization code"):
        token = client(PLACEHOLDER_TOKEN, key="oauth").Token.get_access_token(
            client_id, code, _hash(secret, code), redirect_uri
        )
    return _token_set(token)


def refresh(connection) -> TokenSet:
    client_id, secret = oauth_client("smartsheet")
    refresh_token = connection.refresh_token
    with _translated("refresh the access token"):
        token = client(PLACEHOLDER_TOKEN, key=rate_key(connection)).Token.refresh_access_token(
            client_id, refresh_token, _hash(secret, refresh_token)
        )
    return _token_set(token)


def revoke(connection) -> None:
    with _translated("revoke the access token"):
        client(connection.access_token, key=rate_key(connection)).Token.revoke_access_token()


def whoami(connection, access_token: str) -> Identity:
    return identify(access_token, key=rate_key(connection))


def identify(access_token: str, *, key: str) -> Identity:
    with _translated("say who is connected"):
        profile = client(access_token, key=key).Users.get_current_user()
    name = " ".join(part for part in (profile.first_name, profile.last_name) if part)
    account = profile.account
    return Identity(
        user_id=str(int(profile.id)),
        email=profile.email or "",
        name=name,
        account_id=str(int(account.id)) if account and account.id else "",
        account_name=(account.name or "") if account else "",
    )


# --- Sheets, rows, discussions, attachments (the projects sync) --------------------------------

# Reference: Smartsheet error codes (4004: "Request failed because sheetId {0} is currently
# being updated by another request that uses the same access token. Please retry your request
# once the previous request has completed.", HTTP 500): the write was not made, so the HTTP
# layer may send it again, POST included. The hub writes each sheet serially and should never
# cause one; another program using the same token can.
SHEET_BUSY = 4004


def _not_processed(response) -> bool:
    try:
        return response.status_code == 500 and response.json().get("errorCode") == SHEET_BUSY
    except ValueError:
        return False


http.NOT_PROCESSED_ANSWERS["smartsheet"] = _not_processed

CHANGE_AGENT = "integration-hub"  # on every write: inbound reads and webhooks can tell our echoes
ROWS_PER_REQUEST = 500  # Add / Update Rows cap
ATTACHMENT_WEIGHT = 10  # an attachment upload counts as 10 requests against the limit


@dataclass(frozen=True)
class ColumnInfo:
    id: int
    title: str
    type: str
    primary: bool
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowInfo:
    id: int
    parent_id: int | None
    version: int
    created_at: datetime | None
    modified_at: datetime | None
    cells: tuple[dict, ...]  # {"columnId": int, "value": ...}
    row_number: int = 0


@dataclass(frozen=True)
class SheetInfo:
    id: int
    name: str
    version: int
    permalink: str
    columns: tuple[ColumnInfo, ...]
    rows: tuple[RowInfo, ...]
    total_row_count: int


@dataclass(frozen=True)
class RowFailure:
    index: int  # position in the request
    row_id: int | None
    code: int
    message: str


@dataclass(frozen=True)
class RowsResult:
    rows: tuple[RowInfo, ...]  # the rows that were written, in request order
    failures: tuple[RowFailure, ...]
    version: int | None


def _when(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _row(row) -> RowInfo:
    return RowInfo(
        id=int(row.id),
        parent_id=int(row.parent_id) if row.parent_id else None,
        version=int(row.version or 0),
        created_at=_when(row.created_at),
        modified_at=_when(row.modified_at),
        cells=tuple(
            {"columnId": int(cell.column_id), "value": cell.value}
            for cell in row.cells
            if cell.column_id
        ),
        row_number=int(row.row_number or 0),
    )


def _column(column) -> ColumnInfo:
    return ColumnInfo(
        id=int(column.id),
        title=column.title,
        type=str(column.type),
        primary=bool(column.primary),
        options=tuple(column.options or ()),
    )


def writer(access_token: str, *, key: str) -> smartsheet.Smartsheet:
    """A client whose every write carries our change agent."""
    sdk = client(access_token, key=key)
    sdk.with_change_agent(CHANGE_AGENT)
    return sdk


def sdk(connection, access_token: str) -> smartsheet.Smartsheet:
    """The connection's SDK object (services.ConnectionClient): a writer, paced by the
    connection's token bucket."""
    return writer(access_token, key=rate_key(connection))


def copy_sheet(sdk, *, sheet_id: int, workspace_id: int, name: str) -> SheetInfo:
    """Copy a template's structure (columns, not its example rows) into a workspace, then
    read the copy."""
    destination = _sdk().models.ContainerDestination(
        {"destination_type": "workspace", "destination_id": workspace_id, "new_name": name}
    )
    with _translated("copy the template sheet"):
        result = sdk.Sheets.copy_sheet(sheet_id, destination)
    return get_sheet(sdk, sheet_id=int(result.result.id))


def get_sheet(
    sdk, *, sheet_id: int, modified_since: datetime | None = None, page_size: int | None = None
) -> SheetInfo:
    """The sheet with its columns and rows: every row (no paging), those modified since a
    moment, or (page_size) just the first few, when only the columns matter."""
    with _translated("read the sheet"):
        sheet = sdk.Sheets.get_sheet(
            sheet_id,
            rows_modified_since=modified_since.isoformat() if modified_since else None,
            page_size=page_size,
            page=1 if page_size else None,
        )
    return SheetInfo(
        id=int(sheet.id),
        name=sheet.name,
        version=int(sheet.version or 0),
        permalink=sheet.permalink or "",
        columns=tuple(_column(column) for column in sheet.columns),
        rows=tuple(_row(row) for row in sheet.rows),
        total_row_count=int(sheet.total_row_count or 0),
    )


def _row_from_json(row: dict) -> RowInfo:
    return RowInfo(
        id=int(row["id"]),
        parent_id=int(row["parentId"]) if row.get("parentId") else None,
        version=int(row.get("version") or 0),
        created_at=_when(row.get("createdAt")),
        modified_at=_when(row.get("modifiedAt")),
        cells=tuple(
            {"columnId": int(cell["columnId"]), "value": cell.get("value")}
            for cell in row.get("cells") or ()
            if cell.get("columnId")
        ),
        row_number=int(row.get("rowNumber") or 0),
    )


def _bulk_rows(sdk, *, method: str, sheet_id: int, rows: list[dict], action: str) -> RowsResult:
    """Add / Update Rows with allowPartialSuccess, through the SDK's own request path (its
    headers, token, change agent, error translation into its exceptions), with the rows as
    plain JSON both ways: the SDK's Row and Cell models cost ~40 ms of CPU per 500-row request
    to build and as much to read back (inspect.getmembers per object), more than the
    request itself (bench/migration.py). Same request body and answer as
    Sheets.add_rows_with_partial_success / update_rows_with_partial_success."""
    from smartsheet.util import fresh_operation

    if len(rows) > ROWS_PER_REQUEST:
        raise ValueError(f"at most {ROWS_PER_REQUEST} rows per request")
    operation = fresh_operation("add_rows" if method == "POST" else "update_rows")
    operation["method"] = method
    operation["path"] = "/sheets/{sheetId}/rows"
    operation["path_params"] = {"sheetId": sheet_id}
    operation["query_params"] = {"allowPartialSuccess": "true"}
    operation["json"] = rows
    base = sdk.Sheets._base
    with _translated(action):
        # "Result" without a result type: the SDK checks the answer and raises its errors,
        # and keeps the response; the rows are read from its JSON.
        answer = base.request(base.prepare_request(operation), ["Result", None], operation)
    body = answer.request_response.json()
    written = body.get("result") or []
    failures = tuple(
        RowFailure(
            index=int(item.get("index") or 0),
            row_id=int(item["rowId"]) if item.get("rowId") else None,
            code=int((item.get("error") or {}).get("errorCode") or 0),
            message=(item.get("error") or {}).get("message") or "",
        )
        for item in body.get("failedItems") or ()
    )
    return RowsResult(
        rows=tuple(
            _row_from_json(row) for row in (written if isinstance(written, list) else [written])
        ),
        failures=failures,
        version=body.get("version"),
    )


def add_rows(sdk, *, sheet_id: int, cells: list[list[dict]], parent_id: int | None) -> RowsResult:
    """Add rows (≤ 500) in one request, all at one location: the bottom of the sheet or the
    bottom of a parent's children. Partial success: bad rows fail alone, with their reason.
    A cell is {"columnId", "value"} or {"columnId", "objectValue"} (contacts, multi-values,
    predecessors)."""
    location = (
        {"toBottom": True} if parent_id is None else {"parentId": parent_id, "toBottom": True}
    )
    rows = [{**location, "cells": row_cells} for row_cells in cells]
    return _bulk_rows(sdk, method="POST", sheet_id=sheet_id, rows=rows, action="add rows")


def update_rows(sdk, *, sheet_id: int, rows: list[tuple[int, list[dict]]]) -> RowsResult:
    """Update rows (≤ 500) by id; rows that fail (deleted in Smartsheet, bad values) fail alone."""
    payload = [{"id": row_id, "cells": row_cells} for row_id, row_cells in rows]
    return _bulk_rows(sdk, method="PUT", sheet_id=sheet_id, rows=payload, action="update rows")


def add_discussion(sdk, *, sheet_id: int, row_id: int, text: str) -> int:
    discussion = _sdk().models.Discussion({"comment": _sdk().models.Comment({"text": text})})
    with _translated("add a discussion"):
        result = sdk.Discussions.create_discussion_on_row(sheet_id, row_id, discussion)
    return int(result.result.id)


def row_discussion_texts(sdk, *, sheet_id: int, row_id: int) -> dict[int, str]:
    """Discussion id → its first comment's text (to recognize one we already posted)."""
    with _translated("read a row's discussions"):
        result = sdk.Discussions.get_row_discussions(
            sheet_id, row_id, include="comments", include_all=True
        )
    found = {}
    for discussion in result.data:
        comments = discussion.comments or []
        found[int(discussion.id)] = comments[0].text if comments else (discussion.title or "")
    return found


def attach_file(
    sdk, *, sheet_id: int, row_id: int, name: str, stream, size: int, content_type: str
) -> int:
    """Upload a file to a row, streamed from `stream` (Smartsheet's simple upload: the body is
    the file). Driven through the SDK's own request path: its multipart helper would read the
    whole file into memory first."""
    stream.seek(0)  # from the start, also when the caller repeats the call after a refresh
    from smartsheet.util import fresh_operation

    operation = fresh_operation("attach_file_to_row")
    operation["method"] = "POST"
    operation["path"] = f"/sheets/{sheet_id}/rows/{row_id}/attachments"
    operation["form_data"] = stream
    safe_name = name.replace('"', "").replace("\r", "").replace("\n", "")
    operation["headers"] = {
        "Content-Type": content_type or "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{safe_name}"',
        "Content-Length": str(size),
        http.WEIGHT_HEADER: str(ATTACHMENT_WEIGHT),
    }
    with _translated("upload an attachment"):
        result = sdk.Attachments._base.request(
            sdk.Attachments._base.prepare_request(operation), ["Result", "Attachment"], operation
        )
    return int(result.result.id)


def row_attachment_names(sdk, *, sheet_id: int, row_id: int) -> dict[int, tuple[str, int]]:
    """Attachment id → (name, size in kB) on a row (to recognize one already uploaded)."""
    with _translated("read a row's attachments"):
        result = sdk.Attachments.list_row_attachments(sheet_id, row_id, include_all=True)
    return {int(item.id): (item.name, int(item.size_in_kb or 0)) for item in result.data}


# --- Workspaces, sheets made in them, columns (the Project Online migration) -------------------
# Reference: SPEC-SS create-workspace, list-workspaces (token paging), get-workspace-children,
# create-sheet-in-workspace (columns, or fromId: a template / sheet whose structure the new one
# takes: a project sheet's dependencies included), columns-addToSheet ("When creating more than
# one column at a time ... Use one common index"), column-updateColumn (title and index in one
# call; type required with options); SDK 4.4.0 workspaces.py, sheets.py.


@dataclass(frozen=True)
class Container:
    """A workspace or sheet as a listing shows it."""

    id: int
    name: str
    permalink: str


def create_workspace(sdk, *, name: str) -> Container:
    workspace = _sdk().models.Workspace({"name": name})
    with _translated("create a workspace"):
        result = sdk.Workspaces.create_workspace(workspace).result
    return Container(int(result.id), result.name, result.permalink or "")


def list_workspaces(sdk) -> list[Container]:
    with _translated("list workspaces"):
        result = sdk.Workspaces.list_workspaces(max_items=1000)
        found = list(result.data)
        while getattr(result, "last_key", None):
            result = sdk.Workspaces.list_workspaces(max_items=1000, last_key=result.last_key)
            found.extend(result.data)
    return [Container(int(w.id), w.name, w.permalink or "") for w in found]


def workspace_sheets(sdk, *, workspace_id: int) -> list[Container]:
    """The sheets directly in a workspace."""
    with _translated("list a workspace's sheets"):
        result = sdk.Workspaces.get_workspace_children(
            workspace_id, children_resource_types=["sheets"], max_items=1000
        )
        found = list(result.data)
        while getattr(result, "last_key", None):
            result = sdk.Workspaces.get_workspace_children(
                workspace_id,
                children_resource_types=["sheets"],
                max_items=1000,
                last_key=result.last_key,
            )
            found.extend(result.data)
    return [Container(int(s.id), s.name, s.permalink or "") for s in found]


def create_sheet(
    sdk, *, workspace_id: int, name: str, columns: list[dict]
) -> tuple[Container, tuple[ColumnInfo, ...]]:
    """A sheet with its columns (Smartsheet's Column attributes, camelCase) in one call."""
    sheet = _sdk().models.Sheet({"name": name, "columns": columns})
    with _translated("create a sheet"):
        result = sdk.Workspaces.create_sheet_in_workspace(workspace_id, sheet).result
    made = Container(int(result.id), result.name, result.permalink or "")
    return made, tuple(_column(column) for column in result.columns)


def create_sheet_from(sdk, *, workspace_id: int, name: str, template_id: int) -> Container:
    """A sheet made from a template (its columns and settings, not its rows)."""
    sheet = _sdk().models.Sheet({"name": name, "fromId": template_id})
    with _translated("create a sheet from the template"):
        result = sdk.Workspaces.create_sheet_in_workspace_from_template(workspace_id, sheet).result
    return Container(int(result.id), result.name, result.permalink or "")


def add_columns(sdk, *, sheet_id: int, columns: list[dict], index: int) -> tuple[ColumnInfo, ...]:
    """Columns added in one call, in order, from one common index."""
    payload = [_sdk().models.Column({**column, "index": index}) for column in columns]
    with _translated("add columns"):
        result = sdk.Sheets.add_columns(sheet_id, payload).result
    result = result if isinstance(result, list) else [result]
    return tuple(_column(column) for column in result)


def update_column(sdk, *, sheet_id: int, column_id: int, changes: dict) -> ColumnInfo:
    """One column's title / index / options (with its type) and the like."""
    with _translated("update a column"):
        result = sdk.Sheets.update_column(sheet_id, column_id, _sdk().models.Column(changes)).result
    return _column(result)


def sheet_objects(sdk, *, sheet_id: int):
    """The sheet as the SDK reads it with objectValues and multi-value columns (level 2):
    what a check of a migrated sheet compares."""
    with _translated("read the sheet"):
        return sdk.Sheets.get_sheet(sheet_id, include=["objectValue"], level=2)
