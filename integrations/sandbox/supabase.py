"""Supabase emulator: a project's Data API (PostgREST under /rest/v1) over the tables the seed's
frontend reads (supabase_schema.py), with the API gateway's key checks and row-level security
by team for every key but the service role's.

What it serves is the subset the official client (postgrest-py) sends for the hub: `select`
(columns, renames, resources embedded along the foreign keys); the filters eq, neq, gt, gte,
lt, lte, like, ilike, in and is (each also under `not.`); `order`, `limit`, `offset`; inserts
of one object or an array (with `columns`), upserts (`Prefer: resolution=merge-duplicates` /
`ignore-duplicates`, `on_conflict`), updates and deletes by filter; `Prefer:
return=representation|minimal`, `count=exact`, `missing=default`.

# Reference: https://docs.postgrest.org/en/v14/references/errors.html — errors are JSON with
# code, message, details and hint (null when absent); PostgreSQL codes map to statuses (23505
# and 23503 -> 409, 42501 -> 403 when authenticated else 401, 42P01 -> 404, "other" -> 400);
# PGRST100 (400, a query parameter that does not parse), PGRST102 (400, invalid body), PGRST204
# (400, a column in `columns` or the body not found), PGRST205 (404, table not found), PGRST301
# (401, the JWT does not verify).
# Reference: https://docs.postgrest.org/en/v14/references/api/tables_views.html — horizontal
# filtering operators, `order`, `limit`/`offset`, Content-Range, `Prefer: return=...`,
# `resolution=merge-duplicates` with `on_conflict`, `columns` on bulk inserts (missing keys
# become NULL unless `Prefer: missing=default`).
# Reference: https://supabase.com/docs/guides/api/api-keys — the keys are JWTs naming a
# Postgres role (anon, service_role; signed-in users are `authenticated`); the service role
# bypasses row-level security; every request carries the key in the `apikey` header.
# Reference: ../shared/seeds/integration-status-tracker.md, "Supabase RLS Policies Needed":
# SELECT USING / INSERT WITH CHECK `team_id = auth.jwt() ->> 'team_id'` on every table.
# The gateway's own answers (no key, a key it does not know, a path no route serves) are as
# Supabase projects answer them: {"message", "hint"} without PostgREST's code (FACTS.md §14).
"""

import base64
import hashlib
import hmac
import json
import re
import time
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config import endpoints
from integrations.sandbox.core import Caller, Emulator, RateLimit, bearer_token
from integrations.sandbox.supabase_schema import TABLES, Column, InvalidValue, coerce, default_of

OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is")
RESERVED = ("select", "order", "limit", "offset", "on_conflict", "columns")
ROOM_SLUGS = ("grand-hall", "garden-room", "boardroom", "terrace")
PRODUCT_SLUGS = ("coffee-break", "lunch-buffet", "projector", "aperitif")


# --- keys: HS256 JWTs, as a project's legacy anon and service_role keys ------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: dict, secret: str = endpoints.SUPABASE_JWT_SECRET) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64(signature.digest())}"


def verify(token: str, secret: str = endpoints.SUPABASE_JWT_SECRET) -> dict | None:
    """The claims of a token signed with the project's secret and not expired, else None."""
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_b64(expected.digest()), signature):
            return None
        claims = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or claims.get("exp", float("inf")) < time.time():
        return None
    return claims


class Refused(Exception):
    """An answer other than success: PostgREST's error body (or the gateway's)."""

    def __init__(self, status: int, code: str | None, message: str, details=None, hint=None):
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "details": details, "hint": hint, "message": message}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def _gateway(status: int, message: str, hint: str) -> Response:
    # The gateway in front of PostgREST answers without PostgREST's `code` and `details`.
    return JSONResponse({"message": message, "hint": hint}, status_code=status)


class SupabaseEmulator(Emulator):
    name = "supabase"
    title = "Supabase"
    # Supabase publishes no request limit for the Data API (a project is bounded by its
    # compute and connection pool); the sandbox's limit is high, and tests may lower it.
    default_limit = RateLimit(limit=100_000, window=1)
    api_prefixes = ("/rest/v1/",)

    def initial_state(self, seed: int) -> dict:
        team, other = endpoints.SUPABASE_TEAM_ID, str(uuid.uuid5(uuid.NAMESPACE_URL, "team-b"))
        rows: dict[str, dict] = {name: {} for name in TABLES}
        now = self.clock.stamp()
        for owner in (team, other):
            for index, slug in enumerate(ROOM_SLUGS):
                room_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"room:{owner}:{slug}:{seed}"))
                rows["rooms"][room_id] = self._seeded(
                    "rooms",
                    now,
                    id=room_id,
                    team_id=owner,
                    name=slug.replace("-", " ").title(),
                    slug=slug,
                    capacity=40 + 20 * index,
                    theater_capacity=60 + 20 * index,
                    cocktail_capacity=50 + 20 * index,
                    seated_dinner_capacity=30 + 10 * index,
                    standing_capacity=70 + 20 * index,
                    amenities=["wifi", "projector"][: 1 + index % 2],
                    deposit_required=index % 2 == 0,
                    deposit_percent=30 if index % 2 == 0 else None,
                )
            for index, slug in enumerate(PRODUCT_SLUGS):
                product_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"product:{owner}:{slug}:{seed}"))
                rows["products"][product_id] = self._seeded(
                    "products",
                    now,
                    id=product_id,
                    team_id=owner,
                    name=slug.replace("-", " ").title(),
                    slug=slug,
                    unit_price=12.5 + 10 * index,
                    unit="person" if index != 2 else "day",
                )
        return {"rows": rows, "secret": endpoints.SUPABASE_JWT_SECRET}

    def _seeded(self, table: str, now: str, **values) -> dict:
        row = {column.name: default_of(column, now) for column in TABLES[table].columns}
        row.update(values)
        return row

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._indexes: dict[tuple[str, str], dict] = {}

    def load(self, state: dict) -> None:
        super().load(state)
        self._indexes = {}

    # --- routes ---------------------------------------------------------------------------------

    def api_routes(self) -> list[Route]:
        return [
            Route(
                "/rest/v1/{table}",
                self.table_endpoint,
                methods=["GET", "HEAD", "POST", "PATCH", "DELETE"],
            ),
            Route("/_sandbox/keys", self._cp_keys, methods=["POST"]),
            Route("/_sandbox/rows/{table}", self._cp_rows, methods=["GET"]),
        ]

    def caller(self, request: Request) -> Caller | None:
        key = request.headers.get("apikey", "")
        return Caller(key=hashlib.sha256(key.encode()).hexdigest()[:16]) if key else None

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return JSONResponse(
            {"message": "Too many requests"},
            status_code=429,
            headers={"Retry-After": str(max(1, int(retry_after)))},
        )

    def error_response(self, request: Request, status: int, code: int | None = None) -> Response:
        # Reference: PostgREST errors, group 0 (PGRST000-003: the database cannot be reached).
        if status in (502, 503, 504):
            return Refused(
                503, "PGRST000", "Could not connect with the database", None, None
            ).response()
        return Refused(status, "XX000", "internal error").response()

    def storm_response(self, request: Request, retry_after: float | None) -> Response:
        return self.rate_limited(request, retry_after or 1)

    def route_error(self, request: Request, status: int, allowed: list[str]) -> Response:
        if status == 404:
            return _gateway(404, "no Route matched with those values", None)
        return Refused(405, "PGRST117", f"Unsupported HTTP method: {request.method}").response()

    # --- control plane: keys for other roles, rows as stored ----------------------------------

    async def _cp_keys(self, request: Request) -> Response:
        """A key for `role` (anon, authenticated, service_role), with `team_id` as a claim: a
        signed-in user of that team, as the frontend's requests carry."""
        body = await self._body(request)
        claims = {"iss": "supabase", "ref": "sandbox", "role": body.get("role", "anon")}
        if body.get("team_id"):
            claims["team_id"] = str(body["team_id"])
        claims["iat"] = int(self.clock.time())
        claims["exp"] = claims["iat"] + int(body.get("expires_in", 3600))
        return JSONResponse({"key": sign(claims, self.state["secret"])})

    async def _cp_rows(self, request: Request) -> Response:
        table = request.path_params["table"]
        if table not in TABLES:
            return JSONResponse({"error": f"no table {table}"}, status_code=404)
        return JSONResponse(list(self.state["rows"][table].values()))

    # --- the Data API ------------------------------------------------------------------------------

    def _role(self, request: Request) -> tuple[str, dict] | Response:
        """(role, claims) of the request; the gateway's or PostgREST's 401 otherwise."""
        apikey = request.headers.get("apikey") or request.query_params.get("apikey", "")
        if not apikey:
            return _gateway(
                401,
                "No API key found in request",
                "No `apikey` request header or url param was found.",
            )
        if verify(apikey, self.state["secret"]) is None:
            return _gateway(
                401,
                "Invalid API key",
                "Double check your Supabase `anon` or `service_role` API key.",
            )
        token = bearer_token(request) or apikey
        claims = verify(token, self.state["secret"])
        if claims is None:
            return Refused(401, "PGRST301", "JWT could not be decoded").response()
        return str(claims.get("role", "anon")), claims

    async def table_endpoint(self, request: Request) -> Response:
        who = self._role(request)
        if isinstance(who, Response):
            return who
        role, claims = who
        name = request.path_params["table"]
        try:
            table = TABLES.get(name)
            if table is None:
                raise Refused(
                    404,
                    "PGRST205",
                    f"Could not find the table 'public.{name}' in the schema cache",
                    None,
                    None,
                )
            query = Query.parse(table, request.query_params.multi_items())
            prefer = _prefer(request.headers.get("prefer", ""))
            access = Access(role, claims, self)
            query.embed = lambda target, relation, row: self._embedded(
                target, relation, row, access
            )
            if request.method in ("GET", "HEAD"):
                return self._read(table, query, prefer, access, head=request.method == "HEAD")
            if request.method == "POST":
                body = await _json_body(request)
                return self._insert(table, query, prefer, access, body)
            if request.method == "PATCH":
                body = await _json_body(request)
                return self._update(table, query, prefer, access, body)
            return self._delete(table, query, prefer, access)
        except Refused as refused:
            return refused.response()

    def rows(self, table: str) -> dict[str, dict]:
        return self.state["rows"][table]

    def _embedded(self, target, relation, row: dict, access) -> list[dict]:
        """The rows of `target` related to `row` that the role sees (RLS applies to an
        embedded table as to the top one)."""
        kind, column = relation
        if kind == "many-to-one":
            found = self.rows(target.name).get(row.get(column) or "")
            return [found] if found is not None and access.sees(target, found) else []
        return [
            child
            for child in self.rows(target.name).values()
            if child.get(column) == row.get("id") and access.sees(target, child)
        ]

    def _read(self, table, query, prefer, access, *, head: bool) -> Response:
        matched = [
            row
            for row in self.rows(table.name).values()
            if access.sees(table, row) and query.matches(row)
        ]
        total = len(matched)
        matched = query.sorted(matched)
        page = matched[
            query.offset : query.offset + query.limit if query.limit is not None else None
        ]
        headers = {"Content-Range": _content_range(query.offset, len(page), total, prefer)}
        if head:
            return Response(status_code=200, headers=headers)
        return JSONResponse([query.project(row) for row in page], headers=headers)

    def _insert(self, table, query, prefer, access, body) -> Response:
        if isinstance(body, dict):
            objects = [body]
        elif isinstance(body, list) and all(isinstance(item, dict) for item in body):
            objects = body
        else:
            raise Refused(400, "PGRST102", "Empty or invalid json")
        if query.columns is not None:
            listed = query.columns
        else:
            keys = [list(item) for item in objects]
            if any(set(k) != set(keys[0]) for k in keys[1:]):
                raise Refused(400, "PGRST102", "All object keys must match")
            listed = keys[0] if keys else []
        for key in listed:
            if key not in table.by_name:
                raise Refused(
                    400,
                    "PGRST204",
                    f"Could not find the '{key}' column of '{table.name}' in the schema cache",
                )
        upsert = prefer.get("resolution")
        target = query.on_conflict or ([table.primary_key] if upsert else None)
        if upsert and not (
            len(target) == 1 and target[0] in table.by_name and table.by_name[target[0]].unique
        ):
            raise Refused(
                400,
                "42P10",
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            )
        now = self.clock_stamp()
        staged: list[tuple[str | None, dict]] = []  # (id of the row it replaces, new row)
        batch: dict[tuple[str, object], int] = {}
        proposed: set = set()  # conflict keys this upsert already wrote
        for item in objects:
            row = {}
            for column in table.columns:
                if column.name in listed and (
                    column.name in item or prefer.get("missing") != "default"
                ):
                    row[column.name] = _coerce(column, item.get(column.name))
                else:
                    row[column.name] = default_of(column, now)
            existing_id = None
            if upsert:
                key = row[target[0]]
                if key is not None and key in proposed:
                    if upsert == "ignore-duplicates":
                        continue  # DO NOTHING: the row this command just wrote stays
                    # Reference: PostgreSQL's ExecOnConflictUpdate (nodeModifyTable.c) — an
                    # upsert meeting a row the same command already wrote is 21000 with this
                    # hint; PostgREST's status table has no row for 21: "other" → 400.
                    raise Refused(
                        400,
                        "21000",
                        "ON CONFLICT DO UPDATE command cannot affect row a second time",
                        None,
                        "Ensure that no rows proposed for insertion within the same command "
                        "have duplicate constrained values.",
                    )
                proposed.add(key)
                conflict = self._find(table, target[0], row[target[0]])
                if conflict is not None:
                    if upsert == "ignore-duplicates":
                        continue
                    existing = self.rows(table.name)[conflict]
                    if not access.sees(table, existing):
                        raise _rls(table, access, using=True)
                    merged = dict(existing)
                    merged.update({key: row[key] for key in listed})
                    row, existing_id = merged, conflict
            self._check(table, row, access, replacing=existing_id, batch=batch)
            staged.append((existing_id, row))
        written = []
        for replaced, row in staged:
            self._store(table, row, replaced)
            written.append(row)
        headers = {}
        if upsert:
            headers["Preference-Applied"] = f"resolution={upsert}"
        return self._written(201, written, query, prefer, headers)

    def _update(self, table, query, prefer, access, body) -> Response:
        if not isinstance(body, dict):
            raise Refused(400, "PGRST102", "Empty or invalid json")
        if not query.filters:
            # Supabase loads pg-safeupdate for API requests: an unfiltered UPDATE is refused.
            raise Refused(400, "21000", "UPDATE requires a WHERE clause")
        for key in body:
            if key not in table.by_name:
                raise Refused(
                    400,
                    "PGRST204",
                    f"Could not find the '{key}' column of '{table.name}' in the schema cache",
                )
        values = {key: _coerce(table.by_name[key], value) for key, value in body.items()}
        targets = [
            row
            for row in self.rows(table.name).values()
            if access.sees(table, row) and query.matches(row)
        ]
        staged, batch = [], {}
        for row in targets:
            new = {**row, **values}
            self._check(table, new, access, replacing=row["id"], batch=batch)
            staged.append((row["id"], new))
        for replaced, new in staged:
            self._store(table, new, replaced)
        return self._written(200, [new for _, new in staged], query, prefer, {})

    def _delete(self, table, query, prefer, access) -> Response:
        if not query.filters:
            raise Refused(400, "21000", "DELETE requires a WHERE clause")
        targets = [
            row
            for row in self.rows(table.name).values()
            if access.sees(table, row) and query.matches(row)
        ]
        for row in targets:
            self._remove(table, row)
        return self._written(200, targets, query, prefer, {})

    def _written(self, status, rows, query, prefer, headers) -> Response:
        if prefer.get("return") == "representation":
            headers["Content-Range"] = _content_range(0, len(rows), len(rows), {"count": "exact"})
            return JSONResponse(
                [query.project(row) for row in rows], status_code=status, headers=headers
            )
        # return=minimal (the default): no body; PostgREST says 201 for an insert, 204 otherwise.
        return Response(status_code=201 if status == 201 else 204, headers=headers)

    def clock_stamp(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(self.clock.time()))

    # --- constraints and indexes -------------------------------------------------------------

    def _index(self, table, column: str) -> dict:
        key = (table.name, column)
        if key not in self._indexes:
            self._indexes[key] = {
                row[column]: row_id
                for row_id, row in self.rows(table.name).items()
                if row.get(column) is not None
            }
        return self._indexes[key]

    def _find(self, table, column: str, value) -> str | None:
        return None if value is None else self._index(table, column).get(value)

    def _check(self, table, row: dict, access, *, replacing: str | None, batch: dict) -> None:
        for column in table.columns:
            value = row[column.name]
            if value is None and not column.nullable:
                raise Refused(
                    400,
                    "23502",
                    f'null value in column "{column.name}" of relation "{table.name}" violates not-null constraint',
                    _failing(table, row),
                )
            if column.check and value is not None and value not in column.check:
                raise Refused(
                    400,
                    "23514",
                    f'new row for relation "{table.name}" violates check constraint "{table.name}_{column.name}_check"',
                    _failing(table, row),
                )
        if not access.may_write(table, row):
            raise _rls(table, access)
        for column in table.columns:
            if not column.unique or row[column.name] is None:
                continue
            value = row[column.name]
            holder = self._find(table, column.name, value)
            clash = (holder is not None and holder != replacing) or (column.name, value) in batch
            if clash:
                constraint = (
                    f"{table.name}_pkey"
                    if column.name == "id"
                    else f"{table.name}_{column.name}_key"
                )
                raise Refused(
                    409,
                    "23505",
                    f'duplicate key value violates unique constraint "{constraint}"',
                    f"Key ({column.name})=({value}) already exists.",
                )
            batch[(column.name, value)] = 1

    def _store(self, table, row: dict, replaced: str | None) -> None:
        rows = self.rows(table.name)
        if replaced is not None:
            self._remove(table, rows[replaced])
        rows[row["id"]] = row
        for (name, column), index in self._indexes.items():
            if name == table.name and row.get(column) is not None:
                index[row[column]] = row["id"]

    def _remove(self, table, row: dict) -> None:
        self.rows(table.name).pop(row["id"], None)
        for (name, column), index in self._indexes.items():
            if name == table.name and index.get(row.get(column)) == row["id"]:
                del index[row[column]]

    def team_of(self, table, row: dict) -> str | None:
        if table.parent is None:
            return row.get("team_id")
        column, parent = table.parent
        found = self.rows(parent).get(row.get(column) or "")
        return found.get("team_id") if found else None


class Access:
    """What a request's role may see and write: everything for the service role (it bypasses
    RLS); rows of the token's team for `authenticated`; nothing for `anon` (no policy)."""

    def __init__(self, role: str, claims: dict, emulator: SupabaseEmulator):
        self.role, self.emulator = role, emulator
        self.team = str(claims.get("team_id") or "")

    @property
    def bypass(self) -> bool:
        return self.role == "service_role"

    def sees(self, table, row: dict) -> bool:
        if self.bypass:
            return True
        return (
            self.role == "authenticated"
            and bool(self.team)
            and (self.emulator.team_of(table, row) == self.team)
        )

    def may_write(self, table, row: dict) -> bool:
        return self.sees(table, row)


def _rls(table, access: Access, *, using: bool = False) -> Refused:
    # 42501: 403 when the request is authenticated, 401 for anon (the status table above).
    what = " (USING expression)" if using else ""
    return Refused(
        403 if access.role == "authenticated" else 401,
        "42501",
        f'new row violates row-level security policy{what} for table "{table.name}"',
    )


def _failing(table, row: dict) -> str:
    shown = ", ".join("null" if row[c.name] is None else str(row[c.name]) for c in table.columns)
    return f"Failing row contains ({shown})."


def _coerce(column: Column, value):
    try:
        return coerce(column, value)
    except InvalidValue as exc:
        raise Refused(400, exc.code, exc.message) from None


def _prefer(header: str) -> dict:
    prefer = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key:
            prefer[key] = value
    return prefer


def _content_range(offset: int, count: int, total: int, prefer: dict) -> str:
    whole = str(total) if prefer.get("count") == "exact" else "*"
    return f"{offset}-{offset + count - 1}/{whole}" if count else f"*/{whole}"


async def _json_body(request: Request):
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise Refused(400, "PGRST102", "Empty or invalid json") from None


# --- the query string ---------------------------------------------------------------------------

IN_LIST = re.compile(r"^\((.*)\)$")


class Query:
    def __init__(self, table):
        self.table = table
        self.select: list | None = None  # parse_select's items; None: every column
        self.embed = None  # (table, relation, parent row) -> rows, bound by the emulator
        self.filters: list = []  # (column, negate, operator, value)
        self.order: list[tuple[str, bool, bool | None]] = []  # (column, descending, nulls first)
        self.limit: int | None = None
        self.offset = 0
        self.on_conflict: list[str] | None = None
        self.columns: list[str] | None = None

    @classmethod
    def parse(cls, table, items) -> "Query":
        query = cls(table)
        for key, raw in items:
            if key == "apikey":
                continue
            if key == "select":
                query.select = query._select(raw)
            elif key == "order":
                query.order = [query._order_term(term) for term in raw.split(",") if term]
            elif key in ("limit", "offset"):
                if not raw.isdigit():
                    raise _parse_error(f"{key}={raw}")
                setattr(query, key, int(raw))
            elif key == "on_conflict":
                query.on_conflict = [part.strip() for part in raw.split(",") if part.strip()]
            elif key == "columns":
                query.columns = [part.strip().strip('"') for part in raw.split(",") if part.strip()]
            else:
                query.filters.append(query._filter(key, raw))
        return query

    def _column(self, name: str) -> Column:
        column = self.table.by_name.get(name)
        if column is None:
            raise Refused(400, "42703", f"column {self.table.name}.{name} does not exist")
        return column

    def _select(self, raw: str) -> list:
        return parse_select(self.table, raw)

    def _order_term(self, term: str):
        parts = term.split(".")
        column = self._column(parts[0])
        descending, nulls = False, None
        for modifier in parts[1:]:
            if modifier in ("asc", "desc"):
                descending = modifier == "desc"
            elif modifier in ("nullsfirst", "nullslast"):
                nulls = modifier == "nullsfirst"
            else:
                raise _parse_error(f"order={term}")
        return column.name, descending, nulls

    def _filter(self, key: str, raw: str):
        column = self._column(key)
        negate = raw.startswith("not.")
        text = raw[4:] if negate else raw
        operator, dot, value = text.partition(".")
        if not dot or operator not in OPERATORS:
            raise _parse_error(f"{key}={raw}")
        if operator == "is":
            if value not in ("null", "true", "false", "unknown"):
                raise _parse_error(f"{key}={raw}")
            return column.name, negate, operator, value
        if operator == "in":
            match = IN_LIST.match(value)
            if not match:
                raise _parse_error(f"{key}={raw}")
            items = [_unquote(item) for item in _split_list(match[1])]
            return column.name, negate, operator, [self._value(column, item) for item in items]
        if operator in ("like", "ilike"):
            pattern = re.escape(value).replace(r"\*", ".*").replace("%", ".*")
            flags = re.IGNORECASE | re.DOTALL if operator == "ilike" else re.DOTALL
            return column.name, negate, operator, re.compile(f"^{pattern}$", flags)
        return column.name, negate, operator, self._value(column, value)

    @staticmethod
    def _value(column: Column, text: str):
        if column.type.endswith("[]") or column.type == "jsonb":
            return text
        return _coerce(column, text)

    def matches(self, row: dict) -> bool:
        for name, negate, operator, value in self.filters:
            if _test(row.get(name), operator, value) == negate:
                return False
        return True

    def sorted(self, rows: list[dict]) -> list[dict]:
        for name, descending, nulls in reversed(self.order):
            # PostgreSQL: NULLS LAST for ascending, NULLS FIRST for descending by default.
            first = descending if nulls is None else nulls
            present = [row for row in rows if row.get(name) is not None]
            missing = [row for row in rows if row.get(name) is None]
            present.sort(key=lambda row, n=name: row[n], reverse=descending)
            rows = missing + present if first else present + missing
        return rows

    def project(self, row: dict) -> dict:
        if self.select is None:
            return dict(row)
        return project(self.table, self.select, row, self.embed)


def _test(actual, operator: str, value) -> bool:
    if operator == "is":
        if value in ("null", "unknown"):
            return actual is None
        return actual is (value == "true")
    if actual is None:
        return False  # SQL: a comparison with NULL is not true
    if operator == "eq":
        return actual == value
    if operator == "neq":
        return actual != value
    if operator == "in":
        return actual in value
    if operator in ("like", "ilike"):
        return bool(value.match(str(actual)))
    try:
        return {
            "gt": actual > value,
            "gte": actual >= value,
            "lt": actual < value,
            "lte": actual <= value,
        }[operator]
    except TypeError:
        return False


def _split_list(text: str) -> list[str]:
    items, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
            current += char
        elif char == "," and not quoted:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [item for item in items if item != ""]


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _parse_error(what: str) -> Refused:
    return Refused(400, "PGRST100", f'"failed to parse filter ({what})" (line 1, column 1)')


# --- `select`: columns, renames and embedded resources -------------------------------------------
# Reference: https://docs.postgrest.org/en/latest/references/api/resource_embedding.html —
# `select=*,child(*)` follows the foreign keys: a table whose column references the other is
# embedded as one object (many-to-one, null when none), the other way as an array (one-to-many);
# `alias:name(...)` renames it; embeddings nest.
# Reference: PostgREST/postgrest test/spec/Feature/Query/EmbedDisambiguationSpec.hs ("fails if
# the fk is not known") — no relationship: 400 PGRST200 "Could not find a relationship between
# 'a' and 'b' in the schema cache", details "Searched for a foreign key relationship between 'a'
# and 'b' in the schema 'public', but no matches were found.", hint null (PostgREST may suggest
# a near table name in `hint`: not emulated, FACTS.md §14).


def _split_top(raw: str) -> list[str]:
    """`raw` split at the commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in raw:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise _parse_error(f"select={raw}")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if depth != 0:
        raise _parse_error(f"select={raw}")
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def relationship(parent, name: str) -> tuple[object, tuple[str, str]]:
    """(table, (cardinality, column)) of the table `name` embedded in `parent`."""
    target = TABLES.get(name)
    found = []
    if target is not None:
        found += [("many-to-one", c.name) for c in parent.columns if c.references == target.name]
        found += [("one-to-many", c.name) for c in target.columns if c.references == parent.name]
    if not found:
        raise Refused(
            400,
            "PGRST200",
            f"Could not find a relationship between '{parent.name}' and '{name}' in the schema cache",
            f"Searched for a foreign key relationship between '{parent.name}' and '{name}' in the "
            "schema 'public', but no matches were found.",
            None,
        )
    return target, found[0]  # the schema has one foreign key between any two tables


def parse_select(table, raw: str) -> list:
    """Items: ("*",), ("column", key, name) or ("embed", key, table, relation, items)."""
    items = []
    for part in _split_top(raw):
        alias, name = "", part
        head = part.split("(", 1)[0]
        if ":" in head:
            alias, _, name = part.partition(":")
            alias, name = alias.strip(), name.strip()
        if "(" in name:
            if not name.endswith(")"):
                raise _parse_error(f"select={raw}")
            target_name, inner = name[:-1].split("(", 1)
            target, relation = relationship(table, target_name.strip())
            inner_items = parse_select(target, inner) if inner.strip() else []
            items.append(("embed", alias or target_name.strip(), target, relation, inner_items))
        elif name == "*":
            items.append(("*",))
        else:
            column = table.by_name.get(name)
            if column is None:
                raise Refused(400, "42703", f"column {table.name}.{name} does not exist")
            items.append(("column", alias or name, name))
    return items


def project(table, items: list, row: dict, embed) -> dict:
    out: dict = {}
    for item in items:
        if item[0] == "*":
            out.update(row)
        elif item[0] == "column":
            out[item[1]] = row.get(item[2])
        else:
            _, key, target, relation, inner = item
            if not inner:
                continue  # `child()`: related rows filter, no columns are shown
            related = [
                project(target, inner, child, embed) for child in embed(target, relation, row)
            ]
            out[key] = related if relation[0] == "one-to-many" else (related or [None])[0]
    return out
