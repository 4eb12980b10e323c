"""Every departure from the published contracts, listed once with its reason.

- `EXCEPTIONS`: where a published spec is known to be wrong, the violation it would report
  is excepted (provider, operation, direction and field, matched as globs; `message` a
  substring of the violation's message when the field alone is too wide).
- `UNPUBLISHED`: what the emulators serve that the provider publishes no operation for
  (OAuth token endpoints and consent pages, Salesforce's identity URL, ...). Such an
  exchange counts as `unpublished`; where the provider documents an error shape for it,
  that shape is checked (`error_shape`).
- `NO_SPEC`: providers that publish no OpenAPI at all (Dataverse is OData: its `$metadata`
  CSDL describes it; Azure AD's token endpoint is documented in prose).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache

from integrations.sandbox.contracts import Exchange, Outcome, Violation, shown


@cache
def _pattern(glob: str) -> re.Pattern:
    # Only `*` is special: fields hold brackets ("$.rows[0]") and operations braces.
    return re.compile(".*".join(re.escape(part) for part in glob.split("*")) + r"\Z", re.DOTALL)


def fnmatchcase(text: str, glob: str) -> bool:
    return _pattern(glob).match(text) is not None


@dataclass(frozen=True)
class SpecException:
    provider: str
    operation: str
    direction: str
    field: str
    reason: str
    message: str = ""
    # "suppress": the violation is not reported. "closest-alternative": the provider's oneOf /
    # anyOf are checked by the closest alternative (openapi._closest_alternative) instead.
    # "comma-list": a string-enum query parameter takes a comma-separated list, each item
    # checked against the enum. "form-as-query": the operation's query parameters come as a
    # form body, and are checked there.
    rule: str = "suppress"

    def covers(self, violation: Violation) -> bool:
        return (
            self.rule == "suppress"
            and fnmatchcase(violation.provider, self.provider)
            and fnmatchcase(violation.operation, self.operation)
            and fnmatchcase(violation.direction, self.direction)
            and fnmatchcase(violation.field, self.field)
            and self.message in violation.message
        )


EXCEPTIONS: tuple[SpecException, ...] = (
    SpecException(
        "salesforce",
        "*",
        "*",
        "*",
        "The sObjects spec is generated from one org's describe and marks no property "
        "nullable, while Salesforce sends and takes null for every empty field (REST API "
        "guide: 'null values are returned'; a field is cleared by sending null) (FACTS.md §11).",
        message="for not nullable",
    ),
    SpecException(
        "salesforce",
        "*",
        "*",
        "*",
        "As above: the null that clears or reports an empty field, seen by the type check.",
        message="None is not of type",
    ),
    SpecException(
        "salesforce",
        "*",
        "response",
        "*",
        "Salesforce writes datetimes as 2024-01-15T10:30:00.000+0000 (offset without a colon), "
        "which RFC 3339's date-time the spec names does not allow; every client parses it "
        "(FACTS.md §11).",
        message="date-time",
    ),
    SpecException(
        "smartsheet",
        "*",
        "response",
        "status",
        "69 of the spec's operations list only 200 (no error status, no `default`), yet the "
        "same spec's components/responses give every error's body (1006 Not Found, 1122, "
        "4003, 4004, ...) and the error-codes page lists them for every call. An unlisted "
        "error status is accepted and its body checked against components/schemas/Error "
        "(FACTS.md §1.0).",
        message="error status not listed",
    ),
    SpecException(
        "smartsheet",
        "*",
        "*",
        "*",
        "oneOf without a discriminator: the spec's alternatives declare no required fields, "
        "so every body is valid under several (GET /sheets/{sheetId}: oneOf(Sheet, "
        "SheetVersion); create sheet: oneOf(SheetCreated, SheetCreatedFromTemplate)) and "
        "oneOf always fails. The checker holds a body to the alternative declaring most of "
        "its fields instead, and must be valid under it (FACTS.md §1.2, §1.5).",
        rule="closest-alternative",
    ),
    SpecException(
        "smartsheet",
        "*",
        "request",
        "query.*",
        "`include` / `exclude` are typed as one string of an enum while their descriptions "
        '(and the SDKs) send "a comma-separated list" of those values: each item is checked '
        "against the enum.",
        rule="comma-list",
    ),
    SpecException(
        "smartsheet",
        "POST /2.0/token",
        "request",
        "*",
        "the spec lists the token call's parameters (grant_type, client_id, code, hash, "
        "refresh_token, redirect_uri) as query parameters and no body; Smartsheet's OAuth "
        "guide takes them form-urlencoded, as RFC 6749 §4.1.3 and the SDK's token.py send "
        "them (../shared/providers/smartsheet.md:7, :17). The form's fields are checked as "
        "those parameters.",
        rule="form-as-query",
    ),
    SpecException(
        "smartsheet",
        "POST /2.0/sheets/{sheetId}/columns",
        "request",
        "$",
        "the body schema is one ColumnObjectAttributes while the operation's description says "
        '"a Column object or an array of Column objects" and smartsheet-python-sdk\'s '
        "add_columns always sends an array (FACTS.md §1.1).",
        message="is not of type 'object'",
    ),
    SpecException(
        "smartsheet",
        "GET /2.0/sheets/{sheetId}*",
        "response",
        "$.rows[*].cells[*].objectValue",
        "Cell.objectValue is a oneOf of nine object types with a required objectType, yet "
        "a text or number cell's objectValue is the primitive itself (the SDK reads it as "
        "String/Number/BooleanObjectValue: object_value.py:65-70; FACTS.md §1.2).",
        message="is not of type 'object'",
    ),
    SpecException(
        "smartsheet",
        "*/2.0/sheets/{sheetId}*",
        "*",
        "*.objectValue*",
        "the spec's MultiContactObjectValue names its contacts `value`, while Smartsheet's "
        "multi-contact objectValue is {objectType: MULTI_CONTACT, values: [CONTACT...]} as "
        "smartsheet-python-sdk's models/multi_contact_object_value.py reads and writes it "
        "(and as MultiPicklistObjectValue spells it): with no discriminator the closest "
        "alternative is then MULTI_PICKLIST's (FACTS.md §1.7).",
        message="is not one of ['MULTI_PICKLIST']",
    ),
    SpecException(
        "smartsheet",
        "*/2.0/sheets/{sheetId}*",
        "*",
        "*.objectValue.values[*]",
        "As above: a multi-contact's contacts, checked as MULTI_PICKLIST's strings.",
        message="'objectType': 'CONTACT'",
    ),
    SpecException(
        "smartsheet",
        "POST /2.0/sheets/{sheetId}*/attachments",
        "request",
        "content-type",
        "a simple upload's Content-Type is the file's own (\"Smartsheet makes its best guess "
        "based on the extension\"; the spec's attachments tag, Simple Uploads, example "
        "application/msword), where the operation lists only application/octet-stream for "
        "a raw body.",
    ),
    SpecException(
        "hubspot",
        "*",
        "response",
        "$.category",
        "HubSpot's rate limiter answers 429 with {status, message, errorType: RATE_LIMIT, "
        "correlationId, policyName}, without the `category` the spec's Error requires "
        "(observed: HubSpot/hubspot-api-python#117; ../shared/providers/hubspot.md:47).",
        message="answered 429",
    ),
)

# (provider, method, path glob, reason). Paths are the emulator's, as requested.
UNPUBLISHED: tuple[tuple[str, str, str, str], ...] = (
    (
        "smartsheet",
        "*",
        "/b/authorize",
        "the consent page is app.smartsheet.com's, not the API's (HTML, not in the spec)",
    ),
    (
        "smartsheet",
        "GET",
        "/2.0/home",
        "GET /home is deprecated and absent from the 2025 spec (its successor is "
        "GET /folders/personal); smartsheet-python-sdk 4.4 still calls it (FACTS.md §1.1)",
    ),
    (
        "smartsheet",
        "GET",
        "/2.0/workspaces/*/metadata",
        "newer than the 2025 spec; smartsheet-python-sdk 4.4 calls it (FACTS.md §5)",
    ),
    (
        "smartsheet",
        "GET",
        "/2.0/workspaces/*/children",
        "newer than the 2025 spec; smartsheet-python-sdk 4.4 calls it (FACTS.md §5)",
    ),
    (
        "salesforce*",
        "*",
        "/services/oauth2/*",
        "OAuth (authorize, token, revoke, userinfo) is documented in prose, not in the "
        "sObjects OpenAPI",
    ),
    ("salesforce*", "GET", "/id/*", "the identity URL is documented in prose only"),
    (
        "salesforce*",
        "*",
        "/services/data/*",
        "outside the published sObjects extract (`/query`, limits, versions): only the REST "
        "error shape is checked",
    ),
    (
        "hubspot",
        "*",
        "/oauth/authorize",
        "the consent page is app.hubspot.com's (HTML), not an API operation",
    ),
    (
        "hubspot",
        "GET",
        "/account-info/v3/details",
        "the account-info spec's required fields are not encoded yet; only the error shape "
        "is checked",
    ),
)

NO_SPEC = {
    "dataverse": "OData: described by its $metadata CSDL, no OpenAPI is published",
    "azure": "Azure AD's token endpoint is documented in prose, no OpenAPI is published",
}


def has_rule(provider: str, rule: str, operation: str = "") -> bool:
    return any(
        row.rule == rule
        and fnmatchcase(provider, row.provider)
        and (not operation or fnmatchcase(operation, row.operation))
        for row in EXCEPTIONS
    )


def excepted(violation: Violation) -> bool:
    return any(row.covers(violation) for row in EXCEPTIONS)


def unpublished(provider: str, exchange: Exchange) -> Outcome | None:
    """The outcome of an exchange on a listed unpublished path, or None if it is not listed."""
    for listed, method, pattern, _ in UNPUBLISHED:
        if (
            fnmatchcase(provider, listed)
            and method in ("*", exchange.method)
            and fnmatchcase(exchange.path, pattern)
        ):
            operation = f"{exchange.method} {exchange.path}"
            return Outcome("unpublished", operation, error_shape(provider, operation, exchange))
    return None


def unknown_operation(provider: str, exchange: Exchange) -> Outcome:
    operation = f"{exchange.method} {exchange.path}"
    return Outcome(
        "unknown",
        operation,
        [
            Violation(
                provider,
                operation,
                "request",
                "operation",
                operation,
                "no published operation has this path and method (and it is not listed in "
                "contracts.exceptions.UNPUBLISHED)",
            )
        ],
    )


def error_shape(provider: str, operation: str, exchange: Exchange) -> list[Violation]:
    """Salesforce's REST errors, published or not, are a JSON array of {errorCode, message}.
    # Reference: ../shared/providers/salesforce.md ("Errors: the body is a JSON array
    # [{"message","errorCode","fields"?}]"); the sObjects spec's RestApiError."""
    if not (
        provider.startswith("salesforce")
        and exchange.path.startswith("/services/data/")
        and exchange.status >= 400
    ):
        return []
    try:
        body = json.loads(exchange.response_body)
    except ValueError:
        body = None
    if isinstance(body, list) and all(
        isinstance(item, dict)
        and isinstance(item.get("errorCode"), str)
        and isinstance(item.get("message"), str)
        for item in body
    ):
        return []
    return [
        Violation(
            provider,
            operation,
            "response",
            "$",
            shown(exchange.response_body),
            "a Salesforce REST error is a JSON array of {errorCode, message}",
        )
    ]


class NoSpec:
    """Dataverse and Azure AD: nothing published to check against."""

    def __init__(self, provider: str):
        self.provider = provider

    def check(self, exchange: Exchange) -> Outcome:
        return Outcome("unpublished", f"{exchange.method} {exchange.path}")
