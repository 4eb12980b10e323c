"""Supabase (PostgREST): the shapes its documentation gives, as explicit checks. PostgREST
publishes an OpenAPI description per database (generated from the schema, not a fixed
document), so the checks encode the protocol instead:

- a request body of a write is a JSON object or an array of objects, and the columns it
  names exist in the table (what PGRST204 refuses);
- the query string uses the documented operators and parameters (what PGRST100 refuses);
- an error answer carries PostgREST's four fields code, message, details and hint (the gateway's
  own 401 / 404 answers carry message and hint);
- a successful read is a JSON array with a Content-Range header shape `a-b/n`, `*/n`, or `/*`.

# Reference: https://docs.postgrest.org/en/v14/references/errors.html (the error fields);
# https://docs.postgrest.org/en/v14/references/api/tables_views.html (operators, Content-Range).
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from integrations.sandbox.contracts import Exchange, Outcome, Violation, is_json, shown
from integrations.sandbox.supabase_schema import TABLES

TABLE_PATH = re.compile(r"^/rest/v1/([A-Za-z_][A-Za-z0-9_]*)$")
OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is")
PARAMETERS = ("select", "order", "limit", "offset", "on_conflict", "columns", "apikey")
ERROR_FIELDS = ("code", "details", "hint", "message")
GATEWAY_FIELDS = ("hint", "message")
FILTER = re.compile(r"^(not\.)?([a-z]+)\.")


class SupabaseContract:
    provider = "supabase"

    def check(self, exchange: Exchange) -> Outcome:
        match = TABLE_PATH.match(exchange.path)
        if match is None:
            return Outcome("unpublished", f"{exchange.method} {exchange.path}")
        operation = f"{exchange.method} /rest/v1/{{table}}"
        table = TABLES.get(match[1])
        violations: list[Violation] = []
        violations += self._query(operation, exchange)
        if exchange.method in ("POST", "PATCH") and table is not None:
            violations += self._body(operation, exchange, table)
        violations += self._answer(operation, exchange)
        return Outcome("validated", operation, violations)

    def _violation(self, operation, direction, field, value, message) -> Violation:
        return Violation(self.provider, operation, direction, field, shown(value), message)

    def _query(self, operation: str, exchange: Exchange) -> list[Violation]:
        found = []
        for key, value in parse_qsl(exchange.query, keep_blank_values=True):
            if key in PARAMETERS:
                continue
            match = FILTER.match(value)
            if not match or match[2] not in OPERATORS:
                found.append(
                    self._violation(
                        operation, "request", f"query.{key}", value, "not a documented filter"
                    )
                )
        return found

    def _body(self, operation: str, exchange: Exchange, table) -> list[Violation]:
        try:
            body = json.loads(exchange.request_body or b"null")
        except ValueError:
            return [
                self._violation(operation, "request", "body", exchange.request_body, "not JSON")
            ]
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(item, dict) for item in items):
            return [
                self._violation(
                    operation, "request", "body", body, "an object or an array of objects"
                )
            ]
        return [
            self._violation(
                operation, "request", f"body.{key}", key, f"no column {key} in {table.name}"
            )
            for key in sorted({key for item in items for key in item})
            if key not in table.by_name
        ]

    def _answer(self, operation: str, exchange: Exchange) -> list[Violation]:
        if exchange.status == 204 or not exchange.response_body:
            return []
        if not is_json(exchange.response_type):
            return [
                self._violation(
                    operation, "response", "content-type", exchange.response_type, "JSON expected"
                )
            ]
        try:
            body = json.loads(exchange.response_body)
        except ValueError:
            return [
                self._violation(operation, "response", "body", exchange.response_body, "not JSON")
            ]
        if exchange.status >= 400:
            if not isinstance(body, dict):
                return [self._violation(operation, "response", "body", body, "an error object")]
            fields = tuple(sorted(body))
            if fields not in (ERROR_FIELDS, GATEWAY_FIELDS) or not isinstance(
                body.get("message"), str
            ):
                return [
                    self._violation(
                        operation,
                        "response",
                        "body",
                        body,
                        "PostgREST errors carry code, details, hint and message",
                    )
                ]
            return []
        if not isinstance(body, list):
            return [self._violation(operation, "response", "body", body, "a JSON array of rows")]
        return []
