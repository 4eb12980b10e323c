"""Checks against a published OpenAPI 3.0 document (Smartsheet, Salesforce sObjects).

The operation is found by path template and method (our own matcher: literal segments beat
templated ones, as OpenAPI says); then the path and query parameters, the request body (its
content type among the operation's, JSON against its schema), the status (listed, or
`default`), and the response (content type, JSON body against that status's schema).
Schemas are checked with openapi-schema-validator (OpenAPI 3.0's dialect of JSON Schema:
`nullable`, `readOnly` in requests); a validator is compiled once per schema and kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from urllib.parse import parse_qsl

from jsonschema import validators
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator

from integrations.sandbox.contracts import (
    Exchange,
    Outcome,
    Violation,
    exceptions,
    is_json,
    media_type,
    shown,
)

SPECS = Path(__file__).resolve().parent.parent / "specs"
ERRORS_PER_BODY = 10  # a body's first errors are enough to find the fault; a flood says nothing
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Spec:
    provider: str
    file: str
    # The part of the emulator's path that is the spec's server URL (Smartsheet's
    # https://api.smartsheet.com/2.0; Salesforce's instance + /services/data/vNN.N).
    prefix: str  # a regular expression
    label: str  # the prefix as operation names show it
    error_schema: str  # what an error answer is, where the operation lists no error status


SMARTSHEET = Spec(
    "smartsheet",
    "smartsheet-openapi-2025-ballerina-sanitized.json",
    r"/2\.0",
    "/2.0",
    "#/components/schemas/Error",
)
SALESFORCE = Spec(
    "salesforce",
    "salesforce-sobjects-openapi-v59-core.json",
    r"/services/data/v\d+\.\d+",
    "/services/data/v{version}",
    "",
)


def _pointer_token(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def _json_path(parts) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_REQUIRED = re.compile(r"^'(.+)' is a required property$")


_DECLARED: dict[int, frozenset] = {}  # by schema identity: the inlined schemas live as long


def _declared(schema, seen=()) -> frozenset:
    """The property names a schema declares, through `allOf` (its references are inlined)."""
    if not isinstance(schema, dict) or id(schema) in seen:
        return frozenset()
    if id(schema) not in _DECLARED:
        names = set(schema.get("properties", {}))
        for part in schema.get("allOf", ()):
            names |= _declared(part, (*seen, id(schema)))
        _DECLARED[id(schema)] = frozenset(names)
    return _DECLARED[id(schema)]


def _may_be(validator, schema, instance) -> bool:
    """Whether the instance is of the schema's declared type (an array is no Row)."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    return kind is None or validator.is_type(instance, kind)


def _closest_alternative(validator, alternatives, instance, schema):
    """oneOf / anyOf without a discriminator, as the Smartsheet spec writes them: its
    alternatives declare no required fields, so a body matches several (oneOf then always
    fails) or matches a trivial one (SheetVersion's lone `version` matches anything). The
    body is held to the alternative(s) declaring most of its fields, and must be valid under
    one of them (the "closest-alternative" rule of exceptions.EXCEPTIONS)."""
    candidates = [alt for alt in alternatives if _may_be(validator, alt, instance)] or list(
        alternatives
    )
    if isinstance(instance, dict) and len(candidates) > 1:
        keys = set(instance)
        scores = [len(keys & _declared(alt)) for alt in candidates]
        best = max(scores)
        candidates = [alt for alt, score in zip(candidates, scores, strict=True) if score == best]
    first_errors = None
    for index, alternative in enumerate(candidates):
        errors = list(validator.descend(instance, alternative, schema_path=index))
        if not errors:
            return
        first_errors = first_errors if first_errors is not None else errors
    yield from first_errors or ()


def _closest(base):
    return validators.extend(base, {"oneOf": _closest_alternative, "anyOf": _closest_alternative})


# (request, response) validator classes: OpenAPI's own, or with the closest-alternative rule.
STANDARD = (OAS30WriteValidator, OAS30ReadValidator)
CLOSEST = (_closest(OAS30WriteValidator), _closest(OAS30ReadValidator))


class OpenApiContract:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.document = json.loads((SPECS / spec.file).read_text())
        self.prefix = re.compile(spec.prefix)
        self.classes = (
            CLOSEST if exceptions.has_rule(spec.provider, "closest-alternative") else STANDARD
        )
        self.comma_lists = exceptions.has_rule(spec.provider, "comma-list")
        self._validators: dict[tuple[str, bool], object] = {}
        self._inline_cache: dict[str, dict] = {}

    # --- the spec's operations ------------------------------------------------------------------

    @cached_property
    def templates(self) -> list[tuple[re.Pattern, str, list[str]]]:
        """(regex, template, parameter names) of every path, literal segments first (OpenAPI:
        "concrete paths are matched before templated ones")."""
        compiled = []
        for template in self.document["paths"]:
            names = re.findall(r"\{([^/]+?)\}", template)
            regex = re.sub(r"\\\{[^/]+?\\\}", "([^/]+)", re.escape(template))
            compiled.append((re.compile(f"^{regex}$"), template, names))
        compiled.sort(key=lambda item: (len(item[2]), -len(item[1])))
        return compiled

    def find(self, method: str, path: str) -> tuple[str, dict, dict] | None:
        """(template, operation, path parameters) of a request, or None."""
        prefix = self.prefix.match(path)
        if prefix is None:
            return None
        rest = path[prefix.end() :] or "/"
        for regex, template, names in self.templates:
            match = regex.match(rest)
            if match is None:
                continue
            operation = self.document["paths"][template].get(method.lower())
            if operation is not None:
                return template, operation, dict(zip(names, match.groups(), strict=True))
        return None

    def resolve(self, node: dict, pointer: str) -> tuple[dict, str]:
        """A `$ref`'d object (parameter, response, request body) and its JSON pointer."""
        while isinstance(node, dict) and "$ref" in node:
            pointer = node["$ref"]
            node = self.document
            for token in pointer.lstrip("#/").split("/"):
                token = token.replace("~1", "/").replace("~0", "~")
                node = node[int(token) if isinstance(node, list) else token]
        return node, pointer

    def validator(self, pointer: str, *, request: bool):
        key = (pointer, request)
        if key not in self._validators:
            cls = self.classes[0] if request else self.classes[1]
            schema = self._inlined({"$ref": pointer})
            self._validators[key] = cls(schema, format_checker=None)
        return self._validators[key]

    def _inlined(self, node):
        """The schema with every `$ref` replaced by what it points to (shared, so recursive
        schemas stay finite): following references at each instance node would take most of
        the checking time."""
        if isinstance(node, list):
            return [self._inlined(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            pointer = node["$ref"]
            if pointer not in self._inline_cache:
                target = self._inline_cache[pointer] = {}
                target.update(self._inlined(self.resolve(node, pointer)[0]))
            return self._inline_cache[pointer]
        return {key: self._inlined(value) for key, value in node.items()}

    # --- checking -------------------------------------------------------------------------------

    def check(self, exchange: Exchange) -> Outcome:
        provider = self.spec.provider
        found = self.find(exchange.method, exchange.path)
        if found is None:
            return exceptions.unpublished(provider, exchange) or exceptions.unknown_operation(
                provider, exchange
            )
        template, operation, path_params = found
        name = f"{exchange.method} {self.spec.label}{template}"
        base = f"#/paths/{_pointer_token(template)}/{exchange.method.lower()}"
        violations: list[Violation] = []

        def violation(direction, field, value, message):
            violations.append(Violation(provider, name, direction, field, shown(value), message))

        form_query = media_type(exchange.request_type) == FORM and exceptions.has_rule(
            self.spec.provider, "form-as-query", name
        )
        if form_query:
            body = exchange.request_body.decode("latin-1")
            exchange = replace(exchange, query=f"{exchange.query}&{body}", request_body=b"")
        self._check_parameters(template, operation, base, path_params, exchange, violation)
        self._check_request_body(operation, base, exchange, violation)
        self._check_response(operation, base, exchange, violation)
        return Outcome("validated", name, violations)

    def _parameters(self, template: str, operation: dict, base: str) -> list[tuple[dict, str]]:
        item_base = f"#/paths/{_pointer_token(template)}"
        shared = self.document["paths"][template].get("parameters", [])
        found = {}
        for where, params in ((item_base, shared), (base, operation.get("parameters", []))):
            for index, param in enumerate(params):
                param, pointer = self.resolve(param, f"{where}/parameters/{index}")
                found[(param["name"], param["in"])] = (param, pointer)
        return list(found.values())

    def _check_parameters(self, template, operation, base, path_params, exchange, violation):
        query: dict[str, list[str]] = {}
        for key, value in parse_qsl(exchange.query, keep_blank_values=True):
            query.setdefault(key, []).append(value)
        for param, pointer in self._parameters(template, operation, base):
            where, name = param["in"], param["name"]
            if where == "path":
                raw = [path_params.get(name, "")]
            elif where == "query":
                raw = query.get(name)
            else:
                continue  # headers and cookies: the SDKs' own (auth, agent) are not the hub's
            if raw is None:
                if param.get("required"):
                    violation("request", f"{where}.{name}", "", "a required parameter is missing")
                continue
            schema = param.get("schema")
            if schema is None:
                continue
            schema = self.resolve(schema, "")[0]
            values = [_parameter_value(schema, raw)]
            if self.comma_lists and schema.get("type") == "string" and "enum" in schema:
                values = [item for value in raw for item in value.split(",")]
            for value in values:
                # As a value, not a property of a body: `readOnly` (the spec's shared
                # Timestamp has it) means nothing here.
                for error in self._errors(f"{pointer}/schema", value, request=False):
                    violation("request", f"{where}.{name}", ",".join(raw), error[1])

    def _check_request_body(self, operation, base, exchange, violation):
        spec_body = operation.get("requestBody")
        sent = exchange.request_body.strip() or (
            exchange.request_type and media_type(exchange.request_type) != FORM
        )
        if spec_body is None:
            if exchange.request_body.strip():
                violation("request", "body", exchange.request_body, "the operation takes no body")
            return
        spec_body, pointer = self.resolve(spec_body, f"{base}/requestBody")
        if not sent:
            if spec_body.get("required"):
                violation("request", "body", "", "the operation requires a body")
            return
        content = spec_body.get("content", {})
        kind = _matching_media_type(content, exchange.request_type)
        if kind is None:
            violation(
                "request",
                "content-type",
                exchange.request_type,
                f"not among the operation's {sorted(content)}",
            )
            return
        if not is_json(kind) or "schema" not in content[kind]:
            return
        body = _json(exchange.request_body)
        if body is _INVALID:
            violation("request", "body", exchange.request_body, "not JSON")
            return
        schema_pointer = f"{pointer}/content/{_pointer_token(kind)}/schema"
        for field, message in self._errors(schema_pointer, body, request=True):
            violation("request", field, _at(body, field), message)

    def _check_response(self, operation, base, exchange, violation):
        responses = operation.get("responses", {})
        status = str(exchange.status)
        key = status if status in responses else f"{status[0]}XX"
        key = key if key in responses else "default" if "default" in responses else None
        if key is None:
            listed = ", ".join(sorted(responses))
            kind = "error status" if exchange.status >= 400 else "status"
            violation("response", "status", status, f"{kind} not listed (the spec lists {listed})")
            if exchange.status >= 400 and self.spec.error_schema:
                self._check_body(self.spec.error_schema, exchange, violation)
            return
        response, pointer = self.resolve(responses[key], f"{base}/responses/{key}")
        content = response.get("content")
        if not content:
            if exchange.response_body.strip():
                violation("response", "body", exchange.response_body, "the spec gives no body")
            return
        if not exchange.response_body.strip() and exchange.method == "HEAD":
            return
        kind = _matching_media_type(content, exchange.response_type)
        if kind is None:
            violation(
                "response",
                "content-type",
                exchange.response_type,
                f"not among the status's {sorted(content)}",
            )
            return
        if is_json(exchange.response_type) and "schema" in content[kind]:
            self._check_body(
                f"{pointer}/content/{_pointer_token(kind)}/schema", exchange, violation
            )

    def _check_body(self, schema_pointer, exchange, violation):
        body = _json(exchange.response_body)
        if body is _INVALID:
            violation("response", "body", exchange.response_body, "not JSON")
            return
        for field, message in self._errors(schema_pointer, body, request=False):
            violation("response", field, _at(body, field), message)

    def _errors(self, pointer: str, instance, *, request: bool) -> list[tuple[str, str]]:
        found = []
        for error in self.validator(pointer, request=request).iter_errors(instance):
            parts = list(error.absolute_path)
            missing = _REQUIRED.match(error.message) if error.validator == "required" else None
            if missing:
                parts.append(missing.group(1))
            message = error.message
            if len(message) > 300:  # a long value cut, its verdict ("is not of type ...") kept
                message = f"{message[:200]}…{message[-99:]}"
            found.append((_json_path(parts), message))
            if len(found) >= ERRORS_PER_BODY:
                break
        return found


_INVALID = object()


def _json(raw: bytes):
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return _INVALID


def _at(body, field: str):
    """The value at a `$.a[0].b` path (the parent's when the field is missing)."""
    node = body
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", field):
        key = part[0] if part[0] else int(part[1])
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return node
    return node


def _matching_media_type(content: dict, sent: str) -> str | None:
    kind = media_type(sent)
    for declared in content:
        pattern = media_type(declared)
        if pattern in ("*/*", kind) or (pattern.endswith("/*") and kind.startswith(pattern[:-1])):
            return declared
    return None


def _parameter_value(schema: dict, raw: list[str]):
    """A query or path parameter as its schema types it. Arrays come as one comma-separated
    value (Smartsheet's `include=a,b`, OpenAPI's form style without explode) or repeated."""
    kind = schema.get("type")
    if kind == "array":
        items = [part for value in raw for part in value.split(",")]
        return [_scalar(schema.get("items", {}), item) for item in items]
    return _scalar(schema, raw[-1])


def _scalar(schema: dict, value: str):
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value  # the validator then says what was wrong with it
    if kind == "boolean":
        return {"true": True, "false": False}.get(value.lower(), value)
    return value
