"""HubSpot: the required fields of the operations the emulator serves, as explicit checks.

HubSpot publishes its OpenAPI documents in HubSpot/HubSpot-public-api-spec-collection, whose
licence forbids copying them here; each check below names the file (and the schema in it)
it encodes. Read them with the search tool's read_file; integrations/sandbox/FACTS.md §2
summarises the commits read.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl

from integrations.sandbox.contracts import (
    Exchange,
    Outcome,
    Violation,
    exceptions,
    is_json,
    media_type,
    shown,
)

REPO = "HubSpot/HubSpot-public-api-spec-collection"
V1 = "PublicApiSpecs/Auth/Oauth/Rollouts/155908/v1/oauth.json"
V3 = "PublicApiSpecs/Auth/Oauth/Rollouts/279897/v3/oauth.json"
V2026 = "PublicApiSpecs/Auth/Oauth/Rollouts/279897/2026-03/oauth.json"

# Reference: V3 (and V1) components/schemas/Error: required category, correlationId (uuid),
# message; ErrorDetail (errors[]) requires message.
ERROR_REQUIRED = ("category", "correlationId", "message")
# Reference: V2026 components/schemas/PublicAccessTokenInfoResponse (required).
INTROSPECT_ACCESS = (
    "active",
    "app_id",
    "client_id",
    "expires_in",
    "hub_id",
    "is_private_distribution",
    "scopes",
    "signed_access_token",
    "token",
    "token_type",
    "token_use",
    "user_id",
)
# Reference: V2026 components/schemas/PublicRefreshTokenInfoResponse (required).
INTROSPECT_REFRESH = (
    "active",
    "app_id",
    "client_id",
    "hub_id",
    "scopes",
    "token",
    "token_type",
    "token_use",
    "user_id",
)
# Reference: V1 components/schemas/SignedAccessToken (required).
SIGNED_ACCESS_TOKEN = (
    "appId",
    "expiresAt",
    "hubId",
    "hublet",
    "installingUserId",
    "isPrivateDistribution",
    "isServiceAccount",
    "isUserLevel",
    "newSignature",
    "scopeToScopeGroupPks",
    "scopes",
    "signature",
    "trialScopeToScopeGroupPks",
    "trialScopes",
    "userId",
)
# Reference: V1 components/schemas/AccessTokenInfoResponse (required).
ACCESS_TOKEN_INFO = ("app_id", "expires_in", "hub_id", "scopes", "token", "token_type", "user_id")
# Reference: V1 components/schemas/RefreshTokenInfoResponse (required).
REFRESH_TOKEN_INFO = ("client_id", "hub_id", "scopes", "token", "token_type", "user_id")
# Reference: V3 /oauth/v3/token requestBody: grant_type enum.
GRANT_TYPES = ("authorization_code", "refresh_token")
FORM = "application/x-www-form-urlencoded"


# The CRM data API (integrations/sandbox/hubspot_data.py).
CONTACTS = "PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json"
COMPANIES = "PublicApiSpecs/CRM/Companies/Rollouts/424/v3/companies.json"
OBJECTS = CONTACTS + " + " + COMPANIES
ASSOC = "PublicApiSpecs/CRM/Associations/Rollouts/130902/v4/associations.json"
PROPERTIES = "PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json"
# Reference: OBJECTS components/schemas/SimplePublicObject (and ...WithAssociations): required.
SIMPLE_OBJECT = ("createdAt", "id", "properties", "updatedAt")
# Reference: OBJECTS BatchResponseSimplePublicObject (and ASSOC's BatchResponse*): required.
BATCH_RESPONSE = ("completedAt", "results", "startedAt", "status")
BATCH_STATUS = ("PENDING", "PROCESSING", "CANCELED", "COMPLETE")
# Reference: OBJECTS components/schemas/StandardError (a batch's per-record errors): required.
STANDARD_ERROR = ("category", "context", "errors", "links", "message", "status")
# Reference: OBJECTS CollectionResponseWithTotalSimplePublicObjectForwardPaging: required.
SEARCH_RESPONSE = ("results", "total")
# Reference: ASSOC PublicDefaultAssociation, LabelsBetweenObjectPair,
# MultiAssociatedObjectWithLabel, AssociationSpecWithLabel, PublicAssociationMultiWithLabel.
DEFAULT_ASSOCIATION = ("associationSpec", "from", "to")
LABELS_BETWEEN = ("fromObjectId", "fromObjectTypeId", "labels", "toObjectId", "toObjectTypeId")
MULTI_ASSOCIATED = ("associationTypes", "toObjectId")
ASSOCIATION_TYPE = ("category", "typeId")
MULTI_WITH_LABEL = ("from", "to")
# Reference: OBJECTS components/schemas (requests): SimplePublicObjectInput(ForCreate) and
# SimplePublicObjectBatchInput(ForCreate) require `properties` (values strings), the batch
# ones `id` too (update); BatchInput* require `inputs`; BatchReadInputSimplePublicObjectId
# requires inputs, properties, propertiesWithHistory; Filter requires operator, propertyName.
BATCH_READ_INPUT = ("inputs", "properties", "propertiesWithHistory")
FILTER = ("operator", "propertyName")
FILTER_OPERATORS = (
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
)
# Reference: ASSOC AssociationSpec (associationCategory, associationTypeId) and
# PublicAssociationMultiPost (from, to, types): required.
ASSOCIATION_SPEC = ("associationCategory", "associationTypeId")
ASSOCIATION_POST = ("from", "to", "types")
# Reference: PROPERTIES components/schemas/Property: required.
PROPERTY = ("description", "fieldType", "groupName", "label", "name", "options", "type")
OPTION = ("hidden", "label", "value")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # as HubSpot's spec spells the path
    source: str  # the spec file it is encoded from
    form: bool = False  # the request is a form (every OAuth POST)
    no_content: bool = False  # the success answer has no body


OPERATIONS = (
    Operation("POST", "/oauth/v1/token", V1, form=True),
    Operation("POST", "/oauth/v3/token", V3, form=True),
    Operation("POST", "/oauth/v3/token/introspect", V3 + " + " + V2026, form=True),
    Operation("POST", "/oauth/v3/token/revoke", V3, form=True),
    Operation("GET", "/oauth/v1/access-tokens/{token}", V1),
    Operation("GET", "/oauth/v1/refresh-tokens/{token}", V1),
    Operation("DELETE", "/oauth/v1/refresh-tokens/{token}", V1, no_content=True),
    Operation("POST", "/crm/v3/objects/{objectType}/search", OBJECTS),
    Operation("POST", "/crm/v3/objects/{objectType}/batch/read", OBJECTS),
    Operation("POST", "/crm/v3/objects/{objectType}/batch/create", OBJECTS),
    Operation("POST", "/crm/v3/objects/{objectType}/batch/update", OBJECTS),
    Operation("POST", "/crm/v3/objects/{objectType}/batch/archive", OBJECTS, no_content=True),
    Operation("GET", "/crm/v3/objects/{objectType}", OBJECTS),
    Operation("POST", "/crm/v3/objects/{objectType}", OBJECTS),
    Operation("GET", "/crm/v3/objects/{objectType}/{objectId}", OBJECTS),
    Operation("PATCH", "/crm/v3/objects/{objectType}/{objectId}", OBJECTS),
    Operation("DELETE", "/crm/v3/objects/{objectType}/{objectId}", OBJECTS, no_content=True),
    Operation(
        "PUT",
        "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}",
        ASSOC,
    ),
    Operation(
        "PUT",
        "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}",
        ASSOC,
    ),
    Operation("GET", "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}", ASSOC),
    Operation("POST", "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create", ASSOC),
    Operation("POST", "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read", ASSOC),
    Operation(
        "POST",
        "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/archive",
        ASSOC,
        no_content=True,
    ),
    Operation("GET", "/crm/v3/properties/{objectType}", PROPERTIES),
)


# The consent page answers a person, with HTML pages, its refusals too; HubSpot publishes no
# JSON error for it, so its answers are not held to the API's Error.
# Reference: legacydocs.hubspot.com/docs/methods/oauth2/initiate-oauth-integration (users are
# sent to the authorization page on app.hubspot.com, a login and consent screen); FACTS.md §2.
PAGES = ("/oauth/authorize",)


def _matches(template: str, path: str) -> bool:
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    return len(want) == len(got) and all(
        w == g or (w.startswith("{") and g) for w, g in zip(want, got, strict=True)
    )


class HubSpotContract:
    provider = "hubspot"

    def check(self, exchange: Exchange) -> Outcome:
        operation = next(
            (
                op
                for op in OPERATIONS
                if op.method == exchange.method and _matches(op.template, exchange.path)
            ),
            None,
        )
        if operation is None:
            outcome = exceptions.unpublished(
                self.provider, exchange
            ) or exceptions.unknown_operation(self.provider, exchange)
            if (
                outcome.kind == "unpublished"
                and exchange.status >= 400
                and exchange.path not in PAGES
            ):
                name = outcome.operation
                outcome.violations += self._error(name, V3, exchange, self._body(exchange))
            return outcome
        name = f"{operation.method} {operation.template}"
        violations: list[Violation] = []
        if operation.form:
            violations += self._form(name, operation, exchange)
        elif operation.template.startswith("/crm/") and exchange.method in ("POST", "PATCH", "PUT"):
            violations += self._crm_request(name, operation.template, exchange)
        body = self._body(exchange)
        if exchange.status >= 400:
            violations += self._error(name, operation.source, exchange, body)
        elif operation.no_content:
            if exchange.response_body.strip():
                violations.append(
                    self._violation(
                        name, "response", "body", exchange.response_body, f"204, no body ({V1})"
                    )
                )
        else:
            violations += self._success(name, exchange, body)
        return Outcome("validated", name, violations)

    # --- the parts ------------------------------------------------------------------------------

    def _violation(self, name, direction, field, value, message) -> Violation:
        return Violation(self.provider, name, direction, field, shown(value), message)

    @staticmethod
    def _body(exchange: Exchange):
        if not is_json(exchange.response_type):
            return None
        try:
            return json.loads(exchange.response_body)
        except ValueError:
            return None

    def _form(self, name, operation, exchange) -> list[Violation]:
        if media_type(exchange.request_type) != FORM:
            return [
                self._violation(
                    name,
                    "request",
                    "content-type",
                    exchange.request_type,
                    f"the body is {FORM} ({operation.source})",
                )
            ]
        form = dict(parse_qsl(exchange.request_body.decode("latin-1"), keep_blank_values=True))
        grant = form.get("grant_type")
        if operation.template == "/oauth/v3/token" and grant not in GRANT_TYPES:
            return [
                self._violation(
                    name, "request", "form.grant_type", grant, f"one of {GRANT_TYPES} ({V3})"
                )
            ]
        return []

    def _required(self, name, body, required, source, path="$") -> list[Violation]:
        if not isinstance(body, dict):
            return [self._violation(name, "response", path, body, f"an object ({source})")]
        return [
            self._violation(name, "response", f"{path}.{key}", body, f"required ({source})")
            for key in required
            if key not in body
        ]

    def _error(self, name, source, exchange, body) -> list[Violation]:
        if exchange.status == 405 and not exchange.response_body.strip():
            return []  # HubSpot's 405 has no body (FACTS.md §4); nothing to hold to Error
        # The status is named: HubSpot's 429 is excepted from the Error shape (exceptions.py).
        found = self._required(
            name, body, ERROR_REQUIRED, f"{source} Error, answered {exchange.status}"
        )
        correlation = body.get("correlationId") if isinstance(body, dict) else None
        if isinstance(correlation, str):
            try:
                uuid.UUID(correlation)
            except ValueError:
                found.append(
                    self._violation(
                        name,
                        "response",
                        "$.correlationId",
                        correlation,
                        f"format uuid ({source} Error)",
                    )
                )
        for index, detail in enumerate((body or {}).get("errors") or ()):
            found += self._required(
                name, detail, ("message",), f"{source} ErrorDetail", f"$.errors[{index}]"
            )
        return found

    def _success(self, name, exchange, body) -> list[Violation]:
        template = name.split(" ", 1)[1]
        if template == "/oauth/v3/token/introspect":
            if not isinstance(body, dict) or not isinstance(body.get("active"), bool):
                return [
                    self._violation(
                        name, "response", "$.active", body, f"a boolean, required ({V3})"
                    )
                ]
            if not body["active"]:
                return []  # V3's TokenInfoResponseBaseIF: an inactive token has only `active`
            use = body.get("token_use")
            required = INTROSPECT_REFRESH if use == "refresh_token" else INTROSPECT_ACCESS
            found = self._required(name, body, required, V2026)
            if use not in ("access_token", "refresh_token"):
                found.append(
                    self._violation(
                        name,
                        "response",
                        "$.token_use",
                        use,
                        f"access_token or refresh_token ({V2026})",
                    )
                )
            signed = body.get("signed_access_token")
            if use == "access_token" and isinstance(signed, dict):
                found += self._required(
                    name, signed, SIGNED_ACCESS_TOKEN, V1, "$.signed_access_token"
                )
            return found
        if template == "/oauth/v1/access-tokens/{token}":
            return self._required(name, body, ACCESS_TOKEN_INFO, V1)
        if template == "/oauth/v1/refresh-tokens/{token}":
            return self._required(name, body, REFRESH_TOKEN_INFO, V1)
        if template.startswith("/crm/"):
            return self._crm(name, template, body)
        # The token endpoints: V3 lists only `default` (no success schema), and V1's
        # TokenResponseIF differs between the commits read (FACTS.md §2): nothing to hold.
        return []

    # --- the CRM data API -----------------------------------------------------------------------

    def _objects(self, name, rows, path) -> list[Violation]:
        found = []
        for index, row in enumerate(rows if isinstance(rows, list) else [rows]):
            here = f"{path}[{index}]" if isinstance(rows, list) else path
            found += self._required(name, row, SIMPLE_OBJECT, f"{OBJECTS} SimplePublicObject", here)
            props = row.get("properties") if isinstance(row, dict) else None
            for key, value in (props or {}).items():
                if value is not None and not isinstance(value, str):
                    found.append(
                        self._violation(
                            name,
                            "response",
                            f"{here}.properties.{key}",
                            value,
                            f"a string or null ({OBJECTS} SimplePublicObject.properties)",
                        )
                    )
        return found

    def _batch(self, name, body, source) -> list[Violation]:
        found = self._required(name, body, BATCH_RESPONSE, f"{source} BatchResponse")
        if not isinstance(body, dict):
            return found
        if body.get("status") not in BATCH_STATUS:
            found.append(
                self._violation(
                    name, "response", "$.status", body.get("status"), f"one of {BATCH_STATUS}"
                )
            )
        for index, error in enumerate(body.get("errors") or ()):
            found += self._required(
                name, error, STANDARD_ERROR, f"{source} StandardError", f"$.errors[{index}]"
            )
        return found

    def _each(self, name, rows, required, source, path) -> list[Violation]:
        if not isinstance(rows, list):
            return [self._violation(name, "response", path, rows, f"an array ({source})")]
        found = []
        for index, row in enumerate(rows):
            found += self._required(name, row, required, source, f"{path}[{index}]")
        return found

    def _association_batch(self, name, body, required, schema: str) -> list[Violation]:
        found = self._batch(name, body, ASSOC)
        if isinstance(body, dict):
            found += self._each(
                name, body.get("results"), required, f"{ASSOC} {schema}", "$.results"
            )
        return found

    def _next_page(self, name, body: dict) -> list[Violation]:
        nxt = (body.get("paging") or {}).get("next")
        if nxt is None:
            return []
        return self._required(name, nxt, ("after",), f"{OBJECTS} NextPage", "$.paging.next")

    def _crm(self, name, template, body) -> list[Violation]:
        if template.endswith("/search"):
            found = self._required(name, body, SEARCH_RESPONSE, f"{OBJECTS} search response")
            if isinstance(body, dict):
                found += self._objects(name, body.get("results", []), "$.results")
                found += self._next_page(name, body)
            return found
        if template.startswith("/crm/v3/objects/") and "/batch/" in template:
            found = self._batch(name, body, OBJECTS)
            if isinstance(body, dict):
                found += self._objects(name, body.get("results", []), "$.results")
            return found
        if template == "/crm/v3/objects/{objectType}" and name.startswith("GET"):
            found = self._required(name, body, ("results",), f"{OBJECTS} CollectionResponse")
            if isinstance(body, dict):
                found += self._objects(name, body.get("results", []), "$.results")
                found += self._next_page(name, body)
            return found
        if template.startswith("/crm/v3/objects/"):
            return self._objects(name, body, "$")
        if "/associations/default/" in template:
            return self._association_batch(
                name, body, DEFAULT_ASSOCIATION, "PublicDefaultAssociation"
            )
        if template.endswith("/batch/create"):
            return self._association_batch(name, body, LABELS_BETWEEN, "LabelsBetweenObjectPair")
        if template.endswith("/batch/read"):
            return self._association_batch(
                name, body, MULTI_WITH_LABEL, "PublicAssociationMultiWithLabel"
            )
        if template.endswith("/{toObjectId}"):
            return self._required(name, body, LABELS_BETWEEN, f"{ASSOC} LabelsBetweenObjectPair")
        if template.startswith("/crm/v4/objects/"):
            found = self._required(name, body, ("results",), f"{ASSOC} CollectionResponse")
            if isinstance(body, dict):
                found += self._each(
                    name,
                    body.get("results"),
                    MULTI_ASSOCIATED,
                    f"{ASSOC} MultiAssociatedObjectWithLabel",
                    "$.results",
                )
                for index, row in enumerate(body.get("results") or ()):
                    if isinstance(row, dict):
                        found += self._each(
                            name,
                            row.get("associationTypes"),
                            ASSOCIATION_TYPE,
                            f"{ASSOC} AssociationSpecWithLabel",
                            f"$.results[{index}].associationTypes",
                        )
            return found
        if template.startswith("/crm/v3/properties/"):
            found = self._required(name, body, ("results",), f"{PROPERTIES} CollectionResponse")
            if isinstance(body, dict):
                found += self._each(
                    name, body.get("results"), PROPERTY, f"{PROPERTIES} Property", "$.results"
                )
                for index, row in enumerate(body.get("results") or ()):
                    if isinstance(row, dict):
                        found += self._each(
                            name,
                            row.get("options"),
                            OPTION,
                            f"{PROPERTIES} Option",
                            f"$.results[{index}].options",
                        )
            return found
        return []

    def _needs(self, name, body, required, source, path="$") -> list[Violation]:
        """Request-side `_required`."""
        return [
            Violation(self.provider, v.operation, "request", v.field, v.value, v.message)
            for v in self._required(name, body, required, source, path)
        ]

    def _strings(self, name, props, path) -> list[Violation]:
        return [
            Violation(
                self.provider,
                name,
                "request",
                f"{path}.{key}",
                shown(value),
                f"a string ({OBJECTS} properties: additionalProperties string)",
            )
            for key, value in (props.items() if isinstance(props, dict) else ())
            if not isinstance(value, str)
        ]

    def _crm_request(self, name, template, exchange) -> list[Violation]:
        """The request bodies the published schemas require of the CRM operations."""
        if "/associations/default/" in template:
            return []  # no body
        try:
            body = json.loads(exchange.request_body or b"null")
        except ValueError:
            return [
                Violation(
                    self.provider, name, "request", "body", shown(exchange.request_body), "JSON"
                )
            ]
        found: list[Violation] = []
        source = OBJECTS if template.startswith("/crm/v3/") else ASSOC
        if template.endswith("/search"):
            for g, group in enumerate((body or {}).get("filterGroups") or ()):
                for f, item in enumerate((group or {}).get("filters") or ()):
                    path = f"$.filterGroups[{g}].filters[{f}]"
                    found += self._needs(name, item, FILTER, f"{OBJECTS} Filter", path)
                    operator = item.get("operator") if isinstance(item, dict) else None
                    if operator is not None and operator not in FILTER_OPERATORS:
                        found.append(
                            Violation(
                                self.provider,
                                name,
                                "request",
                                f"{path}.operator",
                                shown(operator),
                                f"one of the Filter operators ({OBJECTS})",
                            )
                        )
            return found
        if template.endswith("/{toObjectId}"):
            if not isinstance(body, list):
                return [
                    Violation(
                        self.provider, name, "request", "$", shown(body), f"an array ({ASSOC})"
                    )
                ]
            for index, spec in enumerate(body):
                found += self._needs(
                    name, spec, ASSOCIATION_SPEC, f"{ASSOC} AssociationSpec", f"$[{index}]"
                )
            return found
        if template.endswith("/batch/read"):
            required = BATCH_READ_INPUT if source == OBJECTS else ("inputs",)
            found += self._needs(name, body, required, f"{source} BatchReadInput")
            each = ("id",)
        elif "/batch/" in template:
            found += self._needs(name, body, ("inputs",), f"{source} BatchInput")
            each = {
                "create": ("properties",) if source == OBJECTS else ASSOCIATION_POST,
                "update": ("id", "properties"),
                # Reference: ASSOC PublicAssociationMultiArchive (required from, to).
                "archive": ("id",) if source == OBJECTS else ("from", "to"),
            }[template.rsplit("/", 1)[1]]
        else:  # a create or an update of one record
            found += self._needs(name, body, ("properties",), f"{OBJECTS} SimplePublicObjectInput")
            if isinstance(body, dict):
                found += self._strings(name, body.get("properties"), "$.properties")
            return found
        inputs = body.get("inputs") if isinstance(body, dict) else None
        for index, item in enumerate(inputs if isinstance(inputs, list) else ()):
            path = f"$.inputs[{index}]"
            found += self._needs(name, item, each, f"{source} batch input", path)
            if isinstance(item, dict) and "properties" in each:
                found += self._strings(name, item.get("properties"), f"{path}.properties")
        return found
