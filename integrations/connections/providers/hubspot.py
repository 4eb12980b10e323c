"""HubSpot OAuth with plain requests on our HTTP layer: the SDK (hubspot-api-client 12)
wraps only the OAuth v1 API, which HubSpot retires on 2027-02-16; we use v3.

# Reference: ../shared/providers/hubspot.md (OAuth, v1 deprecation, 30-minute tokens);
# HubSpot-public-api-spec-collection PublicApiSpecs/Auth/Oauth/Rollouts/279897/v3/oauth.json
# (POST /oauth/v3/token, /token/introspect, /token/revoke; the Error schema every failure
# answers: category, correlationId and message, read by `_error_of`).
"""

import json
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.utils.dateparse import parse_datetime

from integrations.connections import http
from integrations.connections.providers.base import (
    Identity,
    ProviderSpec,
    TokenSet,
    oauth_client,
    rate_key,
)

SPEC = ProviderSpec(
    name="hubspot",
    label="HubSpot",
    kind="oauth",
    per_user=False,
    scopes=(
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
    ),
    # The token endpoints accept code_verifier, but the authorize page does not document
    # code_challenge: unconfirmed, so we rely on `state` (providers/hubspot.md).
    pkce=False,
)


def app_base() -> str:
    return settings.PROVIDER_URLS["hubspot_app"]


def api_base() -> str:
    return settings.PROVIDER_URLS["hubspot_api"]


def authorize_url(
    *, state: str, redirect_uri: str, code_challenge: str = "", domain: str = ""
) -> str:
    client_id, _ = oauth_client("hubspot")
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(SPEC.scopes),
        "state": state,
    }
    return f"{app_base()}/oauth/authorize?{urlencode(params)}"


def _post(path: str, form: dict, *, key: str, action: str) -> dict:
    response = http.session("hubspot", key=key).post(f"{api_base()}{path}", data=form)
    if response.status_code >= 400:
        reason, category = _error_of(response)
        http.raise_for_status(
            response,
            provider="hubspot",
            message=f"HubSpot refused to {action}: {reason}",
            code=category,
        )
    return response.json() if response.content else {}


# Reference: HubSpot/HubSpot-public-api-spec-collection
# PublicApiSpecs/Auth/Oauth/Rollouts/155908/v1/oauth.json and .../279897/v3/oauth.json
# (components/schemas/Error: required category, correlationId, message; no `status`).
def _error_of(response) -> tuple[str, str]:
    """(message, category) of a HubSpot error answer, by the spec's fields. The legacy
    `status` (BAD_REFRESH_TOKEN, ...) is not in the spec, so it is never read: HubSpot keeps
    it only for backward compatibility."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return str(response.status_code), ""
    reason = body.get("message") or body.get("error_description") or str(response.status_code)
    return reason, str(body.get("category") or "")


def _token_set(body: dict) -> TokenSet:
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token", ""),
        expires_in=int(body["expires_in"]) if body.get("expires_in") else None,
        scopes=tuple(body.get("scopes", ())),
        account_id=str(body.get("hub_id", "")),
    )


def exchange_code(
    *, code: str, redirect_uri: str, code_verifier: str = "", domain: str = ""
) -> TokenSet:
    client_id, secret = oauth_client("hubspot")
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    return _token_set(
        _post("/oauth/v3/token", form, key="oauth", action="exchange the authorization code")
    )


def refresh(connection) -> TokenSet:
    client_id, secret = oauth_client("hubspot")
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": secret,
        "refresh_token": connection.refresh_token,
    }
    return _token_set(
        _post("/oauth/v3/token", form, key=rate_key(connection), action="refresh the access token")
    )


def revoke(connection) -> None:
    client_id, secret = oauth_client("hubspot")
    form = {
        "client_id": client_id,
        "client_secret": secret,
        "token": connection.refresh_token,
        "token_type_hint": "refresh_token",
    }
    _post(
        "/oauth/v3/token/revoke", form, key=rate_key(connection), action="revoke the refresh token"
    )


def whoami(connection, access_token: str) -> Identity:
    return identify(access_token, key=rate_key(connection))


def identify(access_token: str, *, key: str) -> Identity:
    client_id, secret = oauth_client("hubspot")
    form = {
        "client_id": client_id,
        "client_secret": secret,
        "token": access_token,
        "token_type_hint": "access_token",
    }
    info = _post("/oauth/v3/token/introspect", form, key=key, action="say who is connected")
    if not info.get("active"):
        raise http.Unauthorized(
            "HubSpot: the access token is no longer active", provider="hubspot", status=401
        )
    return Identity(
        user_id=str(info.get("user_id", "")),
        email=info.get("user", ""),
        account_id=str(info.get("hub_id", "")),
        account_name=info.get("hub_domain", ""),
    )


# --- data: the CRM v3 objects, search, batches, associations v4, properties -------------------
# Reference: ../shared/providers/hubspot.md ("CRM v3 objects": batches of at most 100 answering
# 200/201, 207 {results, numErrors, errors} or 204; search at most 200 a page, 10,000 results a
# query, 5 requests a second, outside the ten-secondly limit; past the cap sort by hs_object_id
# and restart with `hs_object_id GT last`; contacts' `lastmodifieddate`, companies'
# `hs_lastmodifieddate`; "Associations v4": type ids 279 / 1; "hubspot-api-client 12.0.0":
# host and ssl_ca_cert set explicitly, `api_factory` builds each API, one ApiException class per
# package with .status/.body/.headers, no retry of POST/PATCH on 429, no default timeout);
# integrations/sandbox/FACTS.md §12; HubSpot-public-api-spec-collection CRM/Contacts,
# Companies (424/v3), Associations (130902/v4), Properties (145899/v3).

OBJECT_TYPES = ("contacts", "companies")
MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate"}
SEARCH_PAGE = 200
SEARCH_CAP = 10_000  # results one search query can page through (a page past it: 400)
BATCH_SIZE = 100
CONTACT_TO_COMPANY, CONTACT_TO_PRIMARY_COMPANY = 279, 1
SEARCH_LIMIT = "hubspot-search"  # settings.PROVIDER_RATE_LIMITS: 5 searches a second
RATE_HEADER = "X-HubSpot-RateLimit-"
LIST_PAGE = 100  # the list endpoint's largest `limit`


class _Answer:
    """A hub session's answer as the SDK's generated REST client reads a urllib3 response."""

    def __init__(self, response):
        self.status = response.status_code
        self.reason = response.reason
        self.data = response.content
        self.headers = response.headers

    def getheaders(self):
        return self.headers

    def getheader(self, name, default=None):
        return self.headers.get(name, default)


class _HubPool:
    """The SDK's urllib3.PoolManager replaced by the hub's HTTP layer: every request the SDK
    makes goes through `http.session` (token bucket, retries of 429 even for POST and PATCH,
    honouring Retry-After, default timeouts, call statistics). Searches use a session paced by
    their own budget (SEARCH_LIMIT); everything else the account's ten-secondly one."""

    def __init__(self, key: str):
        self.calls = http.session("hubspot", key=key)
        self.searches = http.session("hubspot", key=key, limit=SEARCH_LIMIT)
        self.limits: dict[str, str] = {}  # the last X-HubSpot-RateLimit-* headers seen

    def request(self, method, url, *, body=None, fields=None, headers=None, timeout=None, **rest):
        search = method == "POST" and urlsplit(url).path.endswith("/search")
        session = self.searches if search else self.calls
        kwargs = {"headers": dict(headers or {})}
        if method in ("GET", "HEAD"):
            kwargs["params"] = fields
        elif fields is not None:
            kwargs["data"] = fields  # a form; the CRM API sends JSON bodies
        else:
            kwargs["data"] = body
        connect = getattr(timeout, "_connect", None)
        read_ = getattr(timeout, "_read", None)
        if isinstance(connect, int | float) and isinstance(read_, int | float):
            kwargs["timeout"] = (connect, read_)
        response = session.request(method, url, **kwargs)
        limits = {
            name[len(RATE_HEADER) :].lower(): value
            for name, value in response.headers.items()
            if name.lower().startswith(RATE_HEADER.lower())
        }
        if limits:
            self.limits = limits
        return _Answer(response)


class HubSpotData:
    """hubspot-api-client for one connection's token, every API object built by the SDK's own
    factory and then handed the hub's pool (`api_factory`, the SDK's hook for building its API
    clients), and kept: the SDK builds a new ApiClient on every `.basic_api` access."""

    def __init__(self, *, access_token: str, key: str):
        # The SDK is imported here, not with the module: its ~60 ms of imports would otherwise
        # be paid by every process that starts Django, most of which never call HubSpot.
        from hubspot import Client

        self.pool = _HubPool(key)
        self._apis: dict[tuple[str, str], object] = {}
        sandbox = settings.INTEGRATIONS_MODE == "sandbox"
        self.client = Client.create(
            access_token=access_token,
            # The SDK ignores the environment (REQUESTS_CA_BUNDLE...): both set explicitly,
            # though with the hub's pool the host is all it uses.
            host=api_base(),
            ssl_ca_cert=str(settings.SANDBOX_CA_BUNDLE) if sandbox else None,
            api_factory=self._factory,
        )

    def _factory(self, package, api_name, config):
        found = self._apis.get((package.__name__, api_name))
        if found is None:
            from hubspot.discovery.discovery_base import DiscoveryBase

            found = DiscoveryBase._default_api_factory(package, api_name, config)
            found.api_client.rest_client.pool_manager = self.pool
            self._apis[(package.__name__, api_name)] = found
        return found

    @property
    def objects(self):
        return self.client.crm.objects

    @property
    def associations(self):
        return self.client.crm.associations.v4

    @property
    def properties(self):
        return self.client.crm.properties


def sdk(connection, access_token: str) -> HubSpotData:
    """The connection's HubSpot client (the platform's one client makes it, and a new one after
    each refresh)."""
    return HubSpotData(access_token=access_token, key=rate_key(connection))


def _body(exc) -> dict:
    raw = getattr(exc, "body", None)
    try:
        body = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _error(exc, action: str) -> http.ProviderError:
    """One of the SDK's ApiException classes (60 of them, no common base: read by duck type) as
    the platform's typed error, with HubSpot's category and message."""
    status = int(getattr(exc, "status", 0) or 0)
    body = _body(exc)
    category = str(body.get("category") or body.get("errorType") or "")
    detail = str(body.get("message") or getattr(exc, "reason", "") or status)
    message = f"HubSpot refused to {action} ({category or status}): {detail}"
    if status == 401:
        return http.Unauthorized(message, provider="hubspot", status=401, code=category)
    if status == 429:
        headers = getattr(exc, "headers", None) or {}
        wait = headers.get("Retry-After") if hasattr(headers, "get") else None
        return http.RateLimited(  # the HTTP layer's retries ran out
            f"HubSpot: over the {body.get('policyName') or 'rate'} limit, still after retries",
            provider="hubspot",
            status=429,
            code=str(body.get("policyName") or category),
            retry_after=float(wait) if wait and str(wait).isdigit() else None,
        )
    if status >= 500:
        failed = f"HubSpot could not {action} ({category or status}): {detail}"
        return http.Unavailable(failed, provider="hubspot", status=status, code=category)
    refused = http.Permanent(message, provider="hubspot", status=status or None, code=category)
    # Where in the request HubSpot found the problem ("inputs[3]"): no values, only places.
    refused.places = [str(e.get("in", "")) for e in body.get("errors") or [] if isinstance(e, dict)]
    return refused


def _call(action: str, function, *args, **kwargs):
    """`function` (an SDK method) with the raw answer kept (`_preload_content=False`: HubSpot's
    JSON as plain dicts, no model objects for 10,000 rows), its failures as typed errors."""
    try:
        answer = function(*args, _preload_content=False, **kwargs)
    except http.ProviderError:
        raise
    except Exception as exc:
        if not hasattr(exc, "status") or not hasattr(exc, "body"):
            raise
        raise _error(exc, action) from None
    if answer.status == 204 or not answer.data:
        return {}
    return json.loads(answer.data)


def _kind(object_type: str) -> str:
    if object_type not in OBJECT_TYPES:
        raise http.Permanent(f"not a HubSpot object type the hub syncs: {object_type!r}")
    return object_type


def epoch_ms(moment) -> str:
    """A HubSpot search date value: epoch milliseconds as a string."""
    return str(int(moment.timestamp() * 1000))


def search(sdk: HubSpotData, object_type: str, body: dict) -> dict:
    """One search request (a page)."""
    return _call(
        f"search {object_type}",
        sdk.objects.search_api.do_search,
        _kind(object_type),
        body,
    )


def read(sdk: HubSpotData, object_type: str, properties, since=None) -> list[dict]:
    """The records of `object_type` (every one, or those whose last-modified property is at
    or after `since`), in hs_object_id order, each as HubSpot answers it ({id, properties,
    createdAt, updatedAt, archived}) with hs_object_id and the last-modified property among
    its properties. Pages of 200; a query stops at 10,000 results, so the read goes on in
    windows: a new search for `hs_object_id > the last id` (no gap, no repeat). Every page or
    an error: a read that fails half-way returns nothing. A write reaches search only "a few
    moments" after it is made: an incremental caller starts `since` that much before its last
    cursor (and drops the repeats), or misses changes made just before its previous read."""
    kind = _kind(object_type)
    names = list(dict.fromkeys(["hs_object_id", MODIFIED[kind], *properties]))
    base = []
    if since is not None:
        base.append({"propertyName": MODIFIED[kind], "operator": "GTE", "value": epoch_ms(since)})
    rows: list[dict] = []
    last_id = None
    while True:
        filters = list(base)
        if last_id is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": last_id})
        after = None
        while True:
            body = {
                "filterGroups": [{"filters": filters}] if filters else [],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": names,
                "limit": SEARCH_PAGE,
            }
            if after is not None:
                body["after"] = after
            page = search(sdk, kind, body)
            rows.extend(page.get("results") or [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if after is None:
                return rows
            if int(after) >= SEARCH_CAP:
                last_id = rows[-1]["id"]  # the window is full: the next starts after it
                break


def count(sdk: HubSpotData, object_type: str) -> int:
    """How many records of `object_type` the account holds (a search's total)."""
    return int(search(sdk, object_type, {"limit": 1, "properties": ["hs_object_id"]})["total"])


@dataclass(frozen=True)
class Result:
    """One record's outcome in a batch call: its id, or HubSpot's error."""

    id: str
    ok: bool
    code: str = ""
    message: str = ""


def _string(value) -> str:
    """A property value as HubSpot takes it: a string ("" clears the property)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strings(properties: dict) -> dict:
    return {name: _string(value) for name, value in properties.items()}


def _failed_ids(answer: dict) -> dict[str, tuple[str, str]]:
    """{id: (category, message)} of a 207 answer's per-record errors."""
    failed = {}
    for error in answer.get("errors") or []:
        for record_id in (error.get("context") or {}).get("ids") or []:
            failed[str(record_id)] = (str(error.get("category", "")), str(error.get("message", "")))
    return failed


INPUT_INDEX = re.compile(r"^inputs\[(\d+)\]")


def _refused_input(refused: http.Permanent, sent: int) -> int | None:
    """The index of the input a whole-batch refusal names (errors[].in "inputs[i]")."""
    for place in getattr(refused, "places", ()):
        found = INPUT_INDEX.match(place)
        if found and int(found[1]) < sent:
            return int(found[1])
    return None


def _batch(sdk: HubSpotData, operation: str, object_type: str, inputs: list[dict]) -> dict:
    api = sdk.objects.batch_api
    return _call(
        f"{operation} {object_type} records",
        getattr(api, operation),
        object_type,
        {"inputs": inputs},
    )


def _each_alone(sdk, operation: str, object_type: str, inputs: list[dict], key) -> list[Result]:
    """One batch call (at most 100 inputs), each input succeeding or failing alone: HubSpot
    refuses a whole batch for one bad input (400 naming `inputs[i]`, or 409 for a duplicate
    email) and writes nothing, so that input fails with HubSpot's error and the others are
    sent again; a 207 answer's per-record errors fail their ids. Results in the inputs'
    order. `key(input, index)`: how a result is matched to its input (id, or trace id)."""
    if len(inputs) > BATCH_SIZE:
        raise http.Permanent(f"at most {BATCH_SIZE} HubSpot records a call, got {len(inputs)}")
    outcome: dict[int, Result] = {}
    pending = list(range(len(inputs)))
    while pending:
        sent = [inputs[i] for i in pending]
        try:
            answer = _batch(sdk, operation, object_type, sent)
        except http.Permanent as refused:
            index = _refused_input(refused, len(sent))
            if index is None:
                raise
            outcome[pending[index]] = Result(
                id=str(sent[index].get("id", "")),
                ok=False,
                code=refused.code,
                message=refused.message,
            )
            pending.pop(index)
            continue
        failed = _failed_ids(answer)
        by_key = {}
        for position, row in enumerate(answer.get("results") or []):
            by_key[str(row.get("objectWriteTraceId") or row["id"])] = row
            by_key.setdefault(f"#{position}", row)
        for position, index in enumerate(pending):
            item = inputs[index]
            wanted = key(item, index)
            if wanted in failed:
                code, message = failed[wanted]
                outcome[index] = Result(id=wanted, ok=False, code=code, message=message)
                continue
            row = by_key.get(wanted) or by_key.get(f"#{position}")
            outcome[index] = (
                Result(id=str(row["id"]), ok=True)
                if row
                else Result(id=wanted, ok=False, code="MISSING", message="no result for it")
            )
        pending = []
    return [outcome[i] for i in range(len(inputs))]


def create(sdk: HubSpotData, object_type: str, records: list[dict], companies=None) -> list[Result]:
    """Create up to 100 records (property dicts) in one call; results in the records' order.
    `companies` (contacts): each record's primary company id or None, associated in the same
    call (types 279 and 1), so a contact never exists without the company it was made with."""
    # Reference: HubSpot-public-api-spec-collection PublicApiSpecs/CRM/Contacts/Rollouts/424/
    # v3/contacts.json, SimplePublicObjectInputForCreate: properties and associations
    # ([{to: {id}, types: [AssociationSpec]}]), the input of POST .../batch/create.
    companies = companies or [None] * len(records)
    inputs = []
    for index, (record, company) in enumerate(zip(records, companies, strict=True)):
        item = {"properties": _strings(record), "objectWriteTraceId": str(index)}
        if company:
            item["associations"] = [{"to": {"id": str(company)}, "types": _primary_types()}]
        inputs.append(item)
    return _each_alone(
        sdk, "create", _kind(object_type), inputs, lambda item, index: item["objectWriteTraceId"]
    )


def update(sdk: HubSpotData, object_type: str, records: list[dict]) -> list[Result]:
    """Update up to 100 records ({"id": ..., property: value}) in one call."""
    inputs = [
        {
            "id": str(record["id"]),
            "properties": _strings({k: v for k, v in record.items() if k != "id"}),
        }
        for record in records
    ]
    return _each_alone(sdk, "update", _kind(object_type), inputs, lambda item, _: item["id"])


def archive(sdk: HubSpotData, object_type: str, ids: list[str]) -> list[Result]:
    """Archive up to 100 records in one call (HubSpot answers 204, an unknown id included)."""
    if len(ids) > BATCH_SIZE:
        raise http.Permanent(f"at most {BATCH_SIZE} HubSpot records a call, got {len(ids)}")
    _batch(sdk, "archive", _kind(object_type), [{"id": str(i)} for i in ids])
    return [Result(id=str(i), ok=True) for i in ids]


def read_ids(sdk: HubSpotData, object_type: str, properties, ids) -> list[dict]:
    """The records with these ids (batch read, 100 a call); ids HubSpot does not have are
    simply not in the answer."""
    kind = _kind(object_type)
    names = list(dict.fromkeys(["hs_object_id", MODIFIED[kind], *properties]))
    ids = sorted({str(i) for i in ids}, key=lambda i: (len(i), i))
    rows = []
    for start in range(0, len(ids), BATCH_SIZE):
        body = {
            "inputs": [{"id": i} for i in ids[start : start + BATCH_SIZE]],
            "properties": names,
            "propertiesWithHistory": [],
        }
        answer = _call(f"read {kind} records", sdk.objects.batch_api.read, kind, body)
        rows.extend(answer.get("results") or [])
    return rows


def associate(
    sdk: HubSpotData, pairs: list[tuple[str, str]], *, primary: bool = False
) -> list[Result]:
    """Associate contacts with companies ((contact id, company id) pairs, 100 a call), typed:
    279 (unlabeled), and 1 (the primary company) too with `primary`. Results by pair, ok or
    HubSpot's error; the result's id is the contact's."""
    types = _primary_types() if primary else _primary_types()[:1]
    results = []
    for start in range(0, len(pairs), BATCH_SIZE):
        chunk = pairs[start : start + BATCH_SIZE]
        body = {
            "inputs": [
                {"from": {"id": str(contact)}, "to": {"id": str(company)}, "types": types}
                for contact, company in chunk
            ]
        }
        answer = _call(
            "associate contacts with companies",
            sdk.associations.batch_api.create,
            "contacts",
            "companies",
            body,
        )
        failed = _failed_ids(answer)
        for contact, company in chunk:
            problem = failed.get(str(contact)) or failed.get(str(company))
            results.append(
                Result(id=str(contact), ok=False, code=problem[0], message=problem[1])
                if problem
                else Result(id=str(contact), ok=True)
            )
    return results


def _primary_types() -> list[dict]:
    """The association specs of a contact's primary company: unlabeled (279) and primary (1)."""
    return [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
        for type_id in (CONTACT_TO_COMPANY, CONTACT_TO_PRIMARY_COMPANY)
    ]


def companies_of(sdk: HubSpotData, contact_ids) -> dict[str, list[dict]]:
    """{contact id: [{"id": company id, "types": [type ids], "primary": bool}]} by the v4 batch
    read, 100 contacts a call; contacts HubSpot does not have are left out."""
    ids = sorted({str(i) for i in contact_ids}, key=lambda i: (len(i), i))
    found: dict[str, list[dict]] = {}
    for start in range(0, len(ids), BATCH_SIZE):
        body = {"inputs": [{"id": i} for i in ids[start : start + BATCH_SIZE]]}
        answer = _call(
            "read contacts' companies",
            sdk.associations.batch_api.get_page,
            "contacts",
            "companies",
            body,
        )
        for row in answer.get("results") or []:
            links = []
            for to in row.get("to") or []:
                types = sorted(int(t["typeId"]) for t in to.get("associationTypes") or [])
                links.append(
                    {
                        "id": str(to["toObjectId"]),
                        "types": types,
                        "primary": CONTACT_TO_PRIMARY_COMPANY in types,
                    }
                )
            found[str(row["from"]["id"])] = links
    return found


def properties(sdk: HubSpotData, object_type: str) -> list[dict]:
    """The object's properties as the hub offers them for mapping: name, label, type (HubSpot's
    type and fieldType), required (HubSpot's API requires none: False), read-only (HubSpot's
    own values: hs_object_id, createdate, the last-modified property...), options."""
    kind = _kind(object_type)
    answer = _call(f"list the {kind} properties", sdk.properties.core_api.get_all, kind)
    fields = []
    for prop in answer.get("results") or []:
        if prop.get("hidden") or prop.get("archived"):
            continue
        read_only = bool((prop.get("modificationMetadata") or {}).get("readOnlyValue"))
        fields.append(
            {
                "name": prop["name"],
                "label": prop.get("label") or prop["name"],
                "type": prop.get("type", ""),
                "field_type": prop.get("fieldType", ""),
                "required": False,
                "read_only": read_only,
                "createable": not read_only,
                "updateable": not read_only,
                "picklist": [o["value"] for o in prop.get("options") or [] if not o.get("hidden")],
            }
        )
    return fields


def dissociate(sdk: HubSpotData, pairs: list[tuple[str, str]]) -> list[Result]:
    """Remove every association between each (contact id, company id) pair (v4 batch archive,
    100 a call; HubSpot answers 204). Results by pair; the result's id is the contact's."""
    # Reference: HubSpot-public-api-spec-collection PublicApiSpecs/CRM/Associations/Rollouts/
    # 130902/v4/associations.json, POST /crm/v4/associations/{fromObjectType}/{toObjectType}/
    # batch/archive (BatchInputPublicAssociationMultiArchive: inputs [{from: {id}, to: [{id}]}],
    # 204 No Content).
    for start in range(0, len(pairs), BATCH_SIZE):
        chunk = pairs[start : start + BATCH_SIZE]
        body = {"inputs": [{"from": {"id": str(c)}, "to": [{"id": str(o)}]} for c, o in chunk]}
        _call(
            "remove contacts' companies",
            sdk.associations.batch_api.archive,
            "contacts",
            "companies",
            body,
        )
    return [Result(id=str(contact), ok=True) for contact, _ in pairs]


def archived(sdk: HubSpotData, object_type: str, since=None) -> list[dict]:
    """The archived records of `object_type` (those archived at or after `since`, when
    given), each {id, properties, archived: true, archivedAt}: the list endpoint with
    `archived=true`, 100 a page, every page. Search never answers archived records, so this is
    how a reader learns of deletes; HubSpot keeps an archived record 90 days before it purges
    it (restorable meanwhile)."""
    # Reference: HubSpot-public-api-spec-collection PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/
    # contacts.json and .../Companies/Rollouts/424/v3/companies.json: GET /crm/v3/objects/
    # {type} takes `archived` ("Whether to return only results that have been archived") and
    # `limit` (at most 100); SimplePublicObjectWithAssociations has archived and archivedAt.
    # developers.hubspot.com/docs/api-reference/crm-contacts-v3/guide ("Delete contacts":
    # restorable for 90 days).
    kind = _kind(object_type)
    rows: list[dict] = []
    after = None
    while True:
        options = {"limit": LIST_PAGE, "archived": True, "properties": ["hs_object_id"]}
        if after is not None:
            options["after"] = after
        page = _call(f"list archived {kind}", sdk.objects.basic_api.get_page, kind, **options)
        rows.extend(page.get("results") or [])
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if after is None:
            break
    if since is None:
        return rows
    return [r for r in rows if (_when(r.get("archivedAt")) or since) >= since]


def _when(text):
    return parse_datetime(text) if text else None


def recent(sdk: HubSpotData, object_type: str, properties, n: int) -> list[dict]:
    """The `n` records changed last (one search, newest first): the mapping preview's sample."""
    kind = _kind(object_type)
    body = {
        "sorts": [{"propertyName": MODIFIED[kind], "direction": "DESCENDING"}],
        "properties": list(dict.fromkeys(["hs_object_id", *properties])),
        "limit": max(1, min(n, SEARCH_PAGE)),
    }
    return search(sdk, kind, body).get("results") or []


def usage(sdk: HubSpotData) -> dict:
    """The account's API use as the last answer's X-HubSpot-RateLimit-* headers said it:
    {used, limit, window}: the daily quota where HubSpot sends it (private apps), else the
    rolling ten-second one (OAuth apps have no daily cap). Search answers carry none."""
    # Reference: ../shared/providers/hubspot.md "Rate limits" (the headers; -Daily and
    # -Daily-Remaining are not sent on OAuth calls; search is exempt and sends none).
    limits = sdk.pool.limits
    for total, left, window in (
        ("daily", "daily-remaining", "day"),
        ("max", "remaining", "interval"),
    ):
        if str(limits.get(total, "")).isdigit() and str(limits.get(left, "")).isdigit():
            found = {"used": int(limits[total]) - int(limits[left]), "limit": int(limits[total])}
            if window == "interval" and str(limits.get("interval-milliseconds", "")).isdigit():
                found["window_s"] = int(limits["interval-milliseconds"]) / 1000
            return {**found, "window": window}
    return {}
