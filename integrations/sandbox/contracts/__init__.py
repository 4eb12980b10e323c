"""Contract checks: every exchange with an emulator held against what the provider publishes.

An `Exchange` (method, path, query, request content type and body, status, response content
type and body) goes to the checker of the emulator that served it (`check`): Smartsheet and
Salesforce against their published OpenAPI documents (`specs/`, see `specs/SOURCES.md`),
HubSpot against explicit checks of the required fields its published specs give (its spec
collection may not be copied here), Supabase against PostgREST's documented protocol (its
OpenAPI is generated per database), Dataverse and Azure AD not at all (they publish no
OpenAPI). Each answer is an `Outcome`: whether the exchange met a published operation
(`validated`), one the provider does not publish (`unpublished`: OAuth token endpoints,
Salesforce's `/query`, ...), and the `Violation`s found. Known spec defects are excepted in
one table, `exceptions.EXCEPTIONS`, each with its reason.

The emulators run these checks when their checking is on (the test suite's sandbox, and
`manage.py sandbox --strict`); `ContractLog` keeps the counts and violations an emulator's
control plane reports at `GET /_sandbox/contract`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache

VALUE_CHARS = 120  # a violation shows this much of the offending value
KEPT_VIOLATIONS = 1000  # a long-running strict sandbox keeps the first ones, counts all


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: str = ""
    request_type: str = ""
    request_body: bytes = b""
    status: int = 200
    response_type: str = ""
    response_body: bytes = b""


@dataclass(frozen=True)
class Violation:
    provider: str
    operation: str  # "POST /2.0/sheets/{sheetId}/rows"
    direction: str  # request | response
    field: str  # a JSON path ("$.result[0].id"), "query.include", "status", "content-type"
    value: str  # the offending value, truncated
    message: str

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.provider} {self.operation} {self.direction} {self.field}={self.value}: "
            f"{self.message}"
        )


@dataclass
class Outcome:
    kind: str  # validated | unpublished | unknown
    operation: str
    violations: list[Violation] = field(default_factory=list)


def shown(value) -> str:
    """A value as a violation shows it: JSON, cut to VALUE_CHARS."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    kind = media_type(content_type)
    return kind == "application/json" or kind.endswith("+json")


@cache
def checker(provider: str):
    """The checker of an emulator (by its name), built once per process: the OpenAPI ones
    load and index their spec, and keep their compiled validators."""
    from integrations.sandbox.contracts import exceptions, hubspot, openapi, supabase

    if provider in ("salesforce", "salesforce-test"):
        return openapi.OpenApiContract(openapi.SALESFORCE)
    if provider == "smartsheet":
        return openapi.OpenApiContract(openapi.SMARTSHEET)
    if provider == "hubspot":
        return hubspot.HubSpotContract()
    if provider == "supabase":
        return supabase.SupabaseContract()
    return exceptions.NoSpec(provider)


def check(provider: str, exchange: Exchange) -> Outcome:
    """The outcome of one exchange with the emulator `provider`, spec exceptions applied. A
    checker that fails on an odd exchange reports that as a violation rather than raising:
    the emulator it runs in must keep answering."""
    from integrations.sandbox.contracts.exceptions import excepted

    try:
        outcome = checker(provider).check(exchange)
    except Exception as exc:  # noqa: BLE001 - reported, never raised into the emulator
        operation = f"{exchange.method} {exchange.path}"
        error = Violation(provider, operation, "response", "-", "-", f"checker failed: {exc!r}")
        return Outcome("unknown", operation, [error])
    outcome.violations = [v for v in outcome.violations if not excepted(v)]
    return outcome


@dataclass
class ContractLog:
    """What an emulator's checks found since its last reset."""

    exchanges: int = 0
    validated: int = 0
    unpublished: int = 0
    violation_count: int = 0
    violations: list[Violation] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.exchanges += 1
        self.validated += outcome.kind == "validated"
        self.unpublished += outcome.kind == "unpublished"
        self.violation_count += len(outcome.violations)
        room = KEPT_VIOLATIONS - len(self.violations)
        self.violations.extend(outcome.violations[: max(0, room)])

    def as_dict(self) -> dict:
        return {
            "exchanges": self.exchanges,
            "validated": self.validated,
            "unpublished": self.unpublished,
            "violation_count": self.violation_count,
            "violations": [v.as_dict() for v in self.violations],
        }
