"""The error answers of the API in its OpenAPI schema, documented once for every operation.

Every API error has one shape (integrations.errors); a view documents its success answer and
this postprocessing hook adds the errors any operation may give, so the schema tells the truth
without each view repeating it (checked by tests/test_api_fuzz.py)."""

import re

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the API.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs."},
                "message": {"type": "string", "description": "For people."},
                "details": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Per field for invalid input; request_id for a 500.",
                },
            },
            "required": ["code", "message", "details"],
        }
    },
    "required": ["error"],
}

# Any operation: bad input, no or bad credentials, no right, not found (also another
# workspace's object), a method it does not have, a body over the size limit, throttled.
EVERY_OPERATION = {
    400: "Invalid input.",
    401: "No credentials, or invalid or expired ones.",
    403: "Not allowed for your role in this workspace.",
    404: "Not found (or not yours).",
    405: "Method not allowed.",
    413: "The request body is too large.",
    429: "Throttled: retry after the Retry-After header's seconds.",
}
# Operations that send a body: one that is not JSON (or multipart, where files are taken).
WITH_BODY = {415: "Unsupported media type."}
# Operations that change state: it conflicts with the current state, or the provider a change
# goes through failed (502) or is rate-limiting us (503 with Retry-After).
CHANGES = {
    409: "Conflicts with the current state (a run going, a duplicate, …).",
    502: "The provider failed or refused our call.",
    503: "The provider is rate-limiting us: retry after the Retry-After header's seconds.",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the shared errors on every operation, and two
    truths of every parameter."""
    _every_integer_is_int64(result)
    _every_decimal_has_a_digit(result)
    _required_text_is_not_only_spaces(result)
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            statuses = dict(EVERY_OPERATION)
            if "requestBody" in operation:
                statuses.update(WITH_BODY)
            if method in ("post", "put", "patch", "delete"):
                statuses.update(CHANGES)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    # Given empty, a query parameter counts as not given (django-filter's rule,
                    # and integrations.runs.api.QuerySerializer's): `?status=` lists everything.
                    parameter["allowEmptyValue"] = True
            responses = operation.setdefault("responses", {})
            for status, description in statuses.items():
                responses.setdefault(str(status), {"description": description, "content": error})
    return result


def _schemas(node):
    """Every mapping in the schema document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas(value)


def _every_integer_is_int64(result) -> None:
    """Ids and numbers are 64-bit columns: beyond that, PostgreSQL finds no row and SQLite's
    driver refuses the number (400). Integers with no width of their own say so."""
    for node in _schemas(result):
        if node.get("type") == "integer" and "format" not in node:
            node["format"] = "int64"


# drf-spectacular's decimal pattern, ^-?\d{0,W}(?:\.\d{0,P})?$, allows "", "-" and ".", which
# DRF's DecimalField refuses ("A valid number is required."): the schema would promise what the
# API refuses (the fuzzer's find). The same digits, with at least one of them.
_DECIMAL = re.compile(r"^\^-\?\\d\{0,(\d+)\}\(\?:\\\.\\d\{0,(\d+)\}\)\?\$$")


def _every_decimal_has_a_digit(result) -> None:
    for node in _schemas(result):
        found = node.get("format") == "decimal" and _DECIMAL.match(node.get("pattern", ""))
        if found:
            whole, places = found.groups()
            node["pattern"] = rf"^-?(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"


# Request fields kept exactly as sent (trim_whitespace=False): spaces are their text.
KEPT_AS_SENT = frozenset({"client_secret"})


def _required_text_is_not_only_spaces(result) -> None:
    """DRF's CharField trims the text it is given, so a non-blank field (minLength 1) refuses
    one of spaces only ("This field may not be blank."), a non-breaking space too: the request
    schemas say so, with a pattern that wants a character that is not a space (the fuzzer's
    find: "\\u00a0" as a project's name)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for field, node in component.get("properties", {}).items():
            if (
                field not in KEPT_AS_SENT
                and node.get("type") == "string"
                and node.get("minLength", 0) >= 1
                and not {"pattern", "format", "enum"} & node.keys()
            ):
                node["pattern"] = r"\S"
