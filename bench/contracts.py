"""Every route each emulator serves, driven with its normal and error cases through the
provider's official SDK where one exists, each exchange validated against the provider's
published contract (issue 14, "Tests and benchmark that must exist").

The routes come from the emulators themselves (`api_routes()`), so a route added without a
driver here is printed as "not driven" and counted, never skipped in silence; a driver whose
route the emulator's call counter never saw counts the same. SDKs: smartsheet-python-sdk,
simple-salesforce (its REST calls; it has no OAuth), hubspot-api-client (its OAuth v1 API; v3
and account-info, which it lacks, go by requests as the hub's provider does), msal (Azure AD);
Dataverse has no SDK, so requests as integrations/connections/providers/dataverse.py sends
them. Each SDK client gets a plain session on the sandbox CA with its own retries off: an
error case is answered once, as the emulator answers it.

An expected error that the SDK raises as its own error type with the expected status (or
provider error code) is a call that behaved; any other outcome of an SDK call is a failure,
printed with the operation and the exception. Plain HTTP calls (consent pages, OAuth v3,
Dataverse) are checked the same way and counted apart.

The contract checks are the emulators' own (integrations/sandbox/contracts, on with
`runner.build(checking=True)`), their findings read at `SandboxClient.contract`: exchanges,
validated (met a published operation; OAuth pages and the providers' unpublished operations
are counted but not validated) and each violation with its operation and field. In a sandbox
whose checks are off the bench says so and counts exchanges from the call counters.

No size to scale: it runs in seconds at any BENCH_SCALE.

# Reference: the answers expected are the emulators' own, each cited in its module and in
# integrations/sandbox/FACTS.md §1-4, §6-7, §9; what each SDK does with them (one attempt, its error
# types, msal's ValueError for a refused tenant, the SDKs' missing methods) in FACTS.md §10.

Last line: RESULT exchanges=<n> validated=<n> violations=<n> sdk_calls=<n> sdk_failures=<n>
http_calls=<n> http_failures=<n> not_driven=<n>
"""

import io
import logging
import re
import secrets
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlencode

from _setup import django_setup, start_sandbox

# The error cases that need a caller's identity use these; none of them is ever issued.
JUNK_TOKEN = "not-a-token"
UNKNOWN_ID = 1_234_567_890_123_456
UNKNOWN_GUID = "00000000-0000-0000-0000-000000000001"


# --- the routes -----------------------------------------------------------------------------------


def routes(emulators: dict) -> dict[str, list[str]]:
    """Every provider route of every emulator, as its call counter names it ("GET /path").
    HEAD comes with every GET route (Starlette's), not a route of its own; the control plane
    (/_sandbox/, also Smartsheet's event log) is the sandbox's, not the provider's."""
    found = {}
    for name, emulator in emulators.items():
        found[name] = [
            f"{method} {route.path}"
            for route in emulator.api_routes()
            if not route.path.startswith("/_sandbox/")
            for method in sorted(route.methods - {"HEAD"})
        ]
    return found


def not_driven(emulators: dict) -> list[str]:
    """Routes without a driver, as "<emulator> <endpoint>"."""
    return [
        f"{name} {endpoint}"
        for name, endpoints in routes(emulators).items()
        for endpoint in endpoints
        if endpoint not in DRIVERS.get(name, {})
    ]


# --- the ledger ------------------------------------------------------------------------------------


class Refused(Exception):
    """A refusal an SDK answers with a value instead of raising (msal's error dict)."""

    def __init__(self, code: str, description: str = ""):
        super().__init__(f"{code}: {description.splitlines()[0] if description else ''}")
        self.code = code


def refusal(exc: Exception) -> tuple:
    """(HTTP status, provider error code) of an SDK's error, as far as it tells them."""
    from hubspot.oauth.exceptions import ApiException as HubSpotError
    from simple_salesforce.exceptions import SalesforceError
    from smartsheet.exceptions import ApiError as SmartsheetError

    if isinstance(exc, SmartsheetError):
        result = exc.error.result
        return result.status_code, result.code
    if isinstance(exc, SalesforceError):
        content = exc.content if isinstance(exc.content, list) and exc.content else [{}]
        return exc.status, (content[0] or {}).get("errorCode")
    if isinstance(exc, HubSpotError):
        return exc.status, None
    if isinstance(exc, Refused):
        return None, exc.code
    from postgrest import APIError

    if isinstance(exc, APIError):
        return None, exc.code
    if isinstance(exc, ValueError) and exc.__context__ is not None:
        # msal refuses a tenant whose discovery document is refused ("Nonexist tenant would
        # hit this path", msal/authority.py tenant_discovery) with a ValueError raised over
        # the first one, which names the HTTP status.
        status = re.search(r"HTTP status: (\d+)", str(exc.__context__))
        return (int(status.group(1)) if status else None), None
    return None, None


@dataclass
class Ledger:
    sdk_calls: int = 0
    http_calls: int = 0
    sdk_failures: list[str] = field(default_factory=list)
    http_failures: list[str] = field(default_factory=list)

    def sdk(self, operation: str, call: Callable, *, refused=None):
        """One SDK call: it must succeed or, with `refused` (an HTTP status or the provider's
        error code), raise the SDK's own error carrying it. The result or the error."""
        self.sdk_calls += 1
        try:
            result = call()
        except Exception as exc:  # noqa: BLE001 - whatever an SDK raises is the finding
            if refused is not None and refused in refusal(exc):
                return exc
            self._fail(self.sdk_failures, operation, repr(exc)[:300])
            return None
        if refused is not None:
            self._fail(self.sdk_failures, operation, f"succeeded where {refused} was expected")
        return result

    def http(self, operation: str, response, status: int):
        """One plain HTTP exchange, which must answer `status`."""
        self.http_calls += 1
        if response.status_code != status:
            self._fail(
                self.http_failures,
                operation,
                f"answered {response.status_code} where {status} was expected: "
                f"{response.text[:200]}",
            )
        return response

    def expect(self, operation: str, happened: bool, what: str, *, sdk: bool = False) -> None:
        """A fact about an answer that its status alone does not show (a consent's redirect,
        a partial success's split)."""
        if not happened:
            self._fail(self.sdk_failures if sdk else self.http_failures, operation, what)

    def driver_crashed(self, driver: str, exc: Exception) -> None:
        # A driver stopped by what an earlier call gave it (None after a failure): one more
        # failure, so the bench goes on to the next driver.
        self._fail(self.http_failures, f"driver {driver}", repr(exc)[:300])

    @staticmethod
    def _fail(failures: list[str], operation: str, what: str) -> None:
        failures.append(f"{operation}: {what}")
        print(f"  FAILED {operation}: {what}")


# --- what the drivers share -----------------------------------------------------------------------


class Bench:
    """The running sandbox, the ledger, and what the drivers made there (made on first need)."""

    def __init__(self, sandbox, ledger: Ledger):
        from django.conf import settings

        from integrations import sandbox as sandbox_module

        self.sandbox, self.ledger, self.settings = sandbox, ledger, settings
        self.apps = sandbox_module.hub_registrations()
        self.ca = str(settings.SANDBOX_CA_BUNDLE)

    def session(self):
        import requests

        session = requests.Session()
        session.trust_env = False  # machines here export CA variables requests would prefer
        session.verify = self.ca
        return session

    @cached_property
    def http(self):
        return self.session()

    def url(self, name: str) -> str:
        return self.sandbox.url(name)

    def page(self, name: str) -> str:
        server = self.sandbox.server
        return f"http://{server.host}:{server.ports['browser']}/{name}"

    def sdk(self, operation: str, call: Callable, *, refused=None):
        return self.ledger.sdk(operation, call, refused=refused)

    def check(self, operation: str, response, status: int):
        return self.ledger.http(operation, response, status)

    @contextmanager
    def tiny_limit(self, name: str, limit: int = 1, window: float = 60):
        """The emulator's rate limit cut to `limit` requests, then put back as it was."""
        before = self.sandbox.control(name, "GET", "rate-limit")
        self.sandbox.set_limit(name, limit, window)
        try:
            yield
        finally:
            self.sandbox.set_limit(name, before["limit"], before["window"])

    def consent(self, name: str, path: str, params: dict, *, approve: bool = True) -> dict:
        """The consent page, read and answered (GET and POST of the authorize route)."""
        url = f"{self.page(name)}{path}?{urlencode(params)}"
        self.ledger.http_calls += 2
        return self.sandbox.consent(url, approve=approve)

    def refused_page(self, operation: str, name: str, path: str, params: dict) -> None:
        """An authorize request for an app nobody registered: an error page, no redirect."""
        bad = {**params, "client_id": "no-such-app"}
        self.check(operation, self.http.get(f"{self.page(name)}{path}?{urlencode(bad)}"), 400)

    # --- Smartsheet ---------------------------------------------------------------------------

    def smartsheet(self, token: str):
        import smartsheet

        client = smartsheet.Smartsheet(
            token, api_base=f"{self.url('smartsheet')}/2.0", max_retry_time=0
        )
        client._session = self.session()  # the SDK takes no CA option (as the hub's provider)
        client.errors_as_exceptions(True)
        return client

    @cached_property
    def ss(self):
        granted = self.sandbox.grant(
            "smartsheet",
            client_id=self.apps["smartsheet"]["client_id"],
            scope="READ_SHEETS WRITE_SHEETS CREATE_SHEETS ADMIN_WORKSPACES",
        )
        return self.smartsheet(granted["access_token"])

    def new_sheet(self, name: str):
        import smartsheet

        from integrations.sandbox.smartsheet_sheets import TARGET_WORKSPACE_ID

        created = self.sdk(
            "Workspaces.create_sheet_in_workspace",
            lambda: self.ss.Workspaces.create_sheet_in_workspace(
                TARGET_WORKSPACE_ID,
                smartsheet.models.Sheet(
                    {
                        "name": name,
                        "columns": [
                            {"title": "Name", "type": "TEXT_NUMBER", "primary": True},
                            {"title": "Status", "type": "PICKLIST", "options": ["Open", "Done"]},
                        ],
                    }
                ),
            ),
        )
        return self.sdk("Sheets.get_sheet", lambda: self.ss.Sheets.get_sheet(created.result.id))

    @cached_property
    def sheet(self):
        return self.new_sheet("Contracts bench")

    def add_rows(self, sheet, *names: str, **location) -> list[int]:
        import smartsheet

        primary = sheet.columns[0].id
        rows = [
            smartsheet.models.Row({"cells": [{"column_id": primary, "value": n}], **location})
            for n in names
        ]
        added = self.sdk("Sheets.add_rows", lambda: self.ss.Sheets.add_rows(sheet.id, rows))
        return [row.id for row in added.result]

    @cached_property
    def row(self) -> int:
        return self.add_rows(self.sheet, "First row")[0]

    @cached_property
    def discussion(self):
        import smartsheet

        return self.sdk(
            "Discussions.create_discussion_on_sheet",
            lambda: self.ss.Discussions.create_discussion_on_sheet(
                self.sheet.id,
                smartsheet.models.Discussion(
                    {"title": "Bench", "comment": smartsheet.models.Comment({"text": "First"})}
                ),
            ),
        ).result

    @cached_property
    def attachment(self):
        return self.sdk(
            "Attachments.attach_file_to_sheet",
            lambda: self.ss.Attachments.attach_file_to_sheet(
                self.sheet.id, ("bench.txt", io.BytesIO(b"contracts bench"), "text/plain")
            ),
        ).result

    # --- Salesforce, HubSpot, Azure AD ---------------------------------------------------------

    def salesforce_tokens(self, name: str) -> dict:
        return self.sandbox.grant(
            name, client_id=self.apps[name]["client_id"], scope="api refresh_token"
        )

    def salesforce(self, name: str, token: str):
        from simple_salesforce import Salesforce

        return Salesforce(
            instance_url=self.url(name),
            session_id=token,
            session=self.session(),
            version=self.settings.SALESFORCE_API_VERSION,
        )

    @cached_property
    def hubspot_tokens(self) -> dict:
        return self.sandbox.grant(
            "hubspot", client_id=self.apps["hubspot"]["client_id"], scope="oauth"
        )

    @cached_property
    def hubspot(self):
        from hubspot import Client

        # The SDK's urllib3 ignores the environment's CA variables: the bundle is named here.
        return Client.create(host=self.url("hubspot"), ssl_ca_cert=self.ca).oauth

    def msal(self, *, tenant: str, secret: str):
        import msal

        from integrations import sandbox

        return msal.ConfidentialClientApplication(
            sandbox.DATAVERSE_CLIENT_ID,
            client_credential=secret,
            authority=f"{self.url('azure')}/{tenant}",
            http_client=self.session(),
            instance_discovery=False,  # a host Microsoft does not know, as the hub's provider
        )

    @cached_property
    def dataverse_token(self) -> str:
        from integrations import sandbox

        app = self.msal(tenant=sandbox.DATAVERSE_TENANT_ID, secret=sandbox.DATAVERSE_CLIENT_SECRET)
        return app.acquire_token_for_client(scopes=[f"{self.url('dataverse')}/.default"])[
            "access_token"
        ]


# --- Smartsheet drivers ---------------------------------------------------------------------------


def smartsheet_oauth(b: Bench, name: str) -> None:
    import hashlib

    app = b.apps[name]
    redirect = app["redirect_uris"][0]
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "scope": "READ_SHEETS WRITE_SHEETS",
        "state": "bench",
        "redirect_uri": redirect,
    }
    b.refused_page("smartsheet authorize, unknown app", name, "/b/authorize", params)
    denied = b.consent(name, "/b/authorize", params, approve=False)
    b.ledger.expect(
        "consent denied", denied.get("error") == "access_denied", f"redirected with {denied}"
    )
    code = b.consent(name, "/b/authorize", params)["code"]

    def proof(value: str) -> str:
        return hashlib.sha256(f"{app['client_secret']}|{value}".encode()).hexdigest()

    oauth = b.smartsheet("oauth-exchange")  # the SDK builds no client without some token
    token = b.sdk(
        "Token.get_access_token",
        lambda: oauth.Token.get_access_token(app["client_id"], code, proof(code), redirect),
    )
    b.sdk(
        "Token.get_access_token, wrong hash",
        lambda: oauth.Token.get_access_token(app["client_id"], code, proof("x"), redirect),
        refused=403,
    )
    fresh = b.sdk(
        "Token.refresh_access_token",
        lambda: oauth.Token.refresh_access_token(
            app["client_id"], token.refresh_token, proof(token.refresh_token)
        ),
    )
    b.sdk(
        "Token.refresh_access_token, a refresh token used up",
        lambda: oauth.Token.refresh_access_token(
            app["client_id"], token.refresh_token, proof(token.refresh_token)
        ),
        refused=400,
    )
    revoking = b.smartsheet(fresh.access_token)
    b.sdk("Token.revoke_access_token", revoking.Token.revoke_access_token)
    b.sdk("Token.revoke_access_token, revoked", revoking.Token.revoke_access_token, refused=401)


def smartsheet_me(b: Bench, name: str) -> None:
    b.sdk("Users.get_current_user", b.ss.Users.get_current_user)
    junk = b.smartsheet(JUNK_TOKEN)
    b.sdk("Users.get_current_user, junk token", junk.Users.get_current_user, refused=401)
    # A junk token on each family of routes: one check of the token guards them all, so a
    # family that skipped it would show here.
    sheet = b.sheet
    for operation, call in (
        ("Workspaces.list_workspaces", junk.Workspaces.list_workspaces),
        ("Sheets.list_sheets", junk.Sheets.list_sheets),
        ("Home.list_all_contents", lambda: junk.Home.list_all_contents.__wrapped__(junk.Home)),
        ("Sheets.get_sheet", lambda: junk.Sheets.get_sheet(sheet.id)),
        ("Sheets.get_columns", lambda: junk.Sheets.get_columns(sheet.id)),
        ("Sheets.get_row", lambda: junk.Sheets.get_row(sheet.id, b.row)),
        ("Sheets.delete_rows", lambda: junk.Sheets.delete_rows(sheet.id, [b.row])),
        ("Discussions.get_all_discussions", lambda: junk.Discussions.get_all_discussions(sheet.id)),
        (
            "Attachments.list_all_attachments",
            lambda: junk.Attachments.list_all_attachments(sheet.id),
        ),
    ):
        b.sdk(f"{operation}, junk token", call, refused=401)
    with b.tiny_limit(name):
        b.sdk("Users.get_current_user, within a limit of 1", b.ss.Users.get_current_user)
        b.sdk(
            "Users.get_current_user, over the limit",
            b.ss.Users.get_current_user,
            refused=4003,
        )


def smartsheet_workspaces(b: Bench, name: str) -> None:
    import smartsheet

    from integrations.sandbox.smartsheet_sheets import TARGET_WORKSPACE_ID

    ss = b.ss
    b.sdk("Workspaces.list_workspaces", ss.Workspaces.list_workspaces)
    made = b.sdk(
        "Workspaces.create_workspace",
        lambda: ss.Workspaces.create_workspace(smartsheet.models.Workspace({"name": "Bench"})),
    )
    b.sdk(
        "Workspaces.create_workspace, no name",
        lambda: ss.Workspaces.create_workspace(smartsheet.models.Workspace({})),
        refused=400,
    )
    b.sdk(
        "Workspaces.get_workspace_metadata",
        lambda: ss.Workspaces.get_workspace_metadata(made.result.id),
    )
    b.sdk(
        "Workspaces.get_workspace_metadata, unknown id",
        lambda: ss.Workspaces.get_workspace_metadata(UNKNOWN_ID),
        refused=404,
    )
    b.sdk(
        "Workspaces.get_workspace_children",
        lambda: ss.Workspaces.get_workspace_children(TARGET_WORKSPACE_ID),
    )
    b.sdk(
        "Workspaces.get_workspace_children, unknown id",
        lambda: ss.Workspaces.get_workspace_children(UNKNOWN_ID),
        refused=404,
    )
    # GET /workspaces/{id} (deprecated by Smartsheet) has no method in SDK 4.4: its own
    # request path, as the hub drives operations the SDK's helpers lack.
    b.sdk("get_workspace", lambda: sdk_get(ss, f"/workspaces/{TARGET_WORKSPACE_ID}", "Workspace"))
    b.sdk(
        "get_workspace, unknown id",
        lambda: sdk_get(ss, f"/workspaces/{UNKNOWN_ID}", "Workspace"),
        refused=404,
    )
    b.sdk(
        "Workspaces.create_sheet_in_workspace, unknown workspace",
        lambda: ss.Workspaces.create_sheet_in_workspace(
            UNKNOWN_ID, smartsheet.models.Sheet({"name": "Nowhere", "columns": []})
        ),
        refused=404,
    )
    b.sheet  # noqa: B018 - made through create_sheet_in_workspace


def sdk_get(ss, path: str, expected: str):
    from smartsheet.util import fresh_operation

    operation = fresh_operation("get")
    operation["method"], operation["path"] = "GET", path
    return ss.Workspaces._base.request(
        ss.Workspaces._base.prepare_request(operation), expected, operation
    )


def smartsheet_sheets(b: Bench, name: str) -> None:
    import smartsheet

    from integrations.sandbox.smartsheet_sheets import TARGET_WORKSPACE_ID

    ss, sheet = b.ss, b.sheet
    b.sdk("Sheets.list_sheets", lambda: ss.Sheets.list_sheets(include_all=True))
    # The SDK marks GET /home deprecated with a warning it forces on (its `deprecated` turns
    # every filter to "always"): the method beneath it, which the emulator still serves.
    b.sdk("Home.list_all_contents", lambda: ss.Home.list_all_contents.__wrapped__(ss.Home))
    b.sdk(
        "Sheets.get_sheet, include/exclude flags",
        lambda: ss.Sheets.get_sheet(
            sheet.id, include="writerInfo,rowPermalink", exclude="nonexistentCells"
        ),
    )
    b.sdk("Sheets.get_sheet, unknown id", lambda: ss.Sheets.get_sheet(UNKNOWN_ID), refused=404)
    b.sdk(
        "Sheets.update_sheet (rename)",
        lambda: ss.Sheets.update_sheet(sheet.id, smartsheet.models.Sheet({"name": "Renamed"})),
    )
    b.sdk(
        "Sheets.update_sheet, name too long",
        lambda: ss.Sheets.update_sheet(sheet.id, smartsheet.models.Sheet({"name": "x" * 51})),
        refused=400,
    )
    b.sdk("Sheets.get_sheet_version", lambda: ss.Sheets.get_sheet_version(sheet.id))
    b.sdk(
        "Sheets.get_sheet_version, unknown id",
        lambda: ss.Sheets.get_sheet_version(UNKNOWN_ID),
        refused=404,
    )
    destination = smartsheet.models.ContainerDestination(
        {"destination_type": "workspace", "destination_id": TARGET_WORKSPACE_ID, "new_name": "Copy"}
    )
    b.sdk("Sheets.copy_sheet", lambda: ss.Sheets.copy_sheet(sheet.id, destination))
    b.sdk(
        "Sheets.copy_sheet, unknown sheet",
        lambda: ss.Sheets.copy_sheet(UNKNOWN_ID, destination),
        refused=404,
    )


def smartsheet_columns(b: Bench, name: str) -> None:
    import smartsheet

    ss, sheet = b.ss, b.sheet
    column = smartsheet.models.Column
    b.sdk("Sheets.get_columns", lambda: ss.Sheets.get_columns(sheet.id, include_all=True))
    b.sdk(
        "Sheets.get_columns, unknown sheet",
        lambda: ss.Sheets.get_columns(UNKNOWN_ID),
        refused=404,
    )
    added = b.sdk(
        "Sheets.add_columns",
        lambda: ss.Sheets.add_columns(
            sheet.id, [column({"title": "Cost", "type": "TEXT_NUMBER", "index": 1})]
        ),
    )
    b.sdk(
        "Sheets.add_columns, a title taken",
        lambda: ss.Sheets.add_columns(
            sheet.id, [column({"title": "cost", "type": "TEXT_NUMBER", "index": 1})]
        ),
        refused=400,
    )
    cost = added.result[0].id
    b.sdk("Sheets.get_column", lambda: ss.Sheets.get_column(sheet.id, cost))
    b.sdk(
        "Sheets.get_column, unknown id",
        lambda: ss.Sheets.get_column(sheet.id, UNKNOWN_ID),
        refused=404,
    )
    b.sdk(
        "Sheets.update_column",
        lambda: ss.Sheets.update_column(sheet.id, cost, column({"title": "Price"})),
    )
    b.sdk(
        "Sheets.update_column, unknown id",
        lambda: ss.Sheets.update_column(sheet.id, UNKNOWN_ID, column({"title": "Gone"})),
        refused=404,
    )
    b.sdk("Sheets.delete_column", lambda: ss.Sheets.delete_column(sheet.id, cost))
    b.sdk(
        "Sheets.delete_column, the primary column",
        lambda: ss.Sheets.delete_column(sheet.id, sheet.columns[0].id),
        refused=400,
    )


def smartsheet_rows(b: Bench, name: str) -> None:
    import smartsheet

    ss, sheet = b.ss, b.sheet
    Row = smartsheet.models.Row
    primary = sheet.columns[0].id
    parent = b.row
    children = b.add_rows(sheet, "Child A", "Child B", parent_id=parent)
    b.sdk(
        "Sheets.add_rows, unknown column",
        lambda: ss.Sheets.add_rows(sheet.id, [Row({"cells": [{"column_id": 1, "value": "x"}]})]),
        refused=400,
    )
    b.sdk(
        "Sheets.update_rows",
        lambda: ss.Sheets.update_rows(
            sheet.id,
            [Row({"id": children[0], "cells": [{"column_id": primary, "value": "Child A2"}]})],
        ),
    )
    # The hub's own row writes: partial success, one bad row refused alone.
    partial = b.sdk(
        "Sheets.add_rows_with_partial_success, one row with an unknown column",
        lambda: ss.Sheets.add_rows_with_partial_success(
            sheet.id,
            [
                Row({"cells": [{"column_id": primary, "value": "Good"}], "to_bottom": True}),
                Row({"cells": [{"column_id": 1, "value": "Bad"}], "to_bottom": True}),
            ],
        ),
    )
    b.ledger.expect(
        "Sheets.add_rows_with_partial_success",
        partial is not None and len(partial.result) == 1 and len(partial.failed_items) == 1,
        "one row written and one refused was expected",
        sdk=True,
    )
    b.sdk(
        "Sheets.update_rows_with_partial_success",
        lambda: ss.Sheets.update_rows_with_partial_success(
            sheet.id,
            [Row({"id": children[0], "cells": [{"column_id": primary, "value": "Child A1"}]})],
        ),
    )
    b.sdk(
        "Sheets.get_sheet, rows modified since",
        lambda: ss.Sheets.get_sheet(sheet.id, rows_modified_since="2020-01-01T00:00:00Z"),
    )
    b.sdk(
        "Sheets.update_rows, unknown row",
        lambda: ss.Sheets.update_rows(
            sheet.id, [Row({"id": UNKNOWN_ID, "cells": [{"column_id": primary, "value": "x"}]})]
        ),
        refused=404,
    )
    b.sdk("Sheets.get_row", lambda: ss.Sheets.get_row(sheet.id, parent))
    b.sdk(
        "Sheets.get_row, unknown id",
        lambda: ss.Sheets.get_row(sheet.id, UNKNOWN_ID),
        refused=404,
    )
    other = b.new_sheet("Contracts bench, rows moved here")
    move = smartsheet.models.CopyOrMoveRowDirective(
        {"row_ids": [children[1]], "to": {"sheet_id": other.id}}
    )
    b.sdk("Sheets.move_rows", lambda: ss.Sheets.move_rows(sheet.id, move))
    within = smartsheet.models.CopyOrMoveRowDirective(
        {"row_ids": [children[0]], "to": {"sheet_id": sheet.id}}
    )
    b.sdk(
        "Sheets.move_rows, within one sheet",
        lambda: ss.Sheets.move_rows(sheet.id, within),
        refused=400,
    )
    b.sdk("Sheets.delete_rows", lambda: ss.Sheets.delete_rows(sheet.id, [children[0]]))
    b.sdk(
        "Sheets.delete_rows, unknown row",
        lambda: ss.Sheets.delete_rows(sheet.id, [UNKNOWN_ID]),
        refused=404,
    )


def smartsheet_discussions(b: Bench, name: str) -> None:
    import smartsheet

    ss, sheet, row = b.ss, b.sheet, b.row
    Discussion, Comment = smartsheet.models.Discussion, smartsheet.models.Comment
    b.sdk(
        "Discussions.create_discussion_on_row",
        lambda: ss.Discussions.create_discussion_on_row(
            sheet.id, row, Discussion({"comment": Comment({"text": "On the row"})})
        ),
    )
    b.sdk(
        "Discussions.create_discussion_on_row, no comment",
        lambda: ss.Discussions.create_discussion_on_row(sheet.id, row, Discussion({})),
        refused=400,
    )
    b.sdk(
        "Discussions.get_row_discussions", lambda: ss.Discussions.get_row_discussions(sheet.id, row)
    )
    b.sdk(
        "Discussions.get_row_discussions, unknown row",
        lambda: ss.Discussions.get_row_discussions(sheet.id, UNKNOWN_ID),
        refused=404,
    )
    discussion = b.discussion
    b.sdk(
        "Discussions.create_discussion_on_sheet, no comment",
        lambda: ss.Discussions.create_discussion_on_sheet(sheet.id, Discussion({})),
        refused=400,
    )
    b.sdk(
        "Discussions.get_all_discussions",
        lambda: ss.Discussions.get_all_discussions(sheet.id, include_all=True),
    )
    b.sdk(
        "Discussions.get_discussion", lambda: ss.Discussions.get_discussion(sheet.id, discussion.id)
    )
    b.sdk(
        "Discussions.get_discussion, unknown id",
        lambda: ss.Discussions.get_discussion(sheet.id, UNKNOWN_ID),
        refused=404,
    )
    b.sdk(
        "Discussions.add_comment_to_discussion",
        lambda: ss.Discussions.add_comment_to_discussion(
            sheet.id, discussion.id, Comment({"text": "Reply"})
        ),
    )
    b.sdk(
        "Discussions.add_comment_to_discussion, unknown discussion",
        lambda: ss.Discussions.add_comment_to_discussion(
            sheet.id, UNKNOWN_ID, Comment({"text": "Reply"})
        ),
        refused=404,
    )


def smartsheet_attachments(b: Bench, name: str) -> None:
    import smartsheet

    from integrations.connections.providers import smartsheet as smartsheet_provider

    ss, sheet, row = b.ss, b.sheet, b.row
    link = smartsheet.models.Attachment(
        {"name": "Site", "url": "https://example.com/plan", "attachment_type": "LINK"}
    )
    b.sdk(
        "Attachments.attach_file_to_row",
        lambda: ss.Attachments.attach_file_to_row(
            sheet.id, row, ("row.txt", io.BytesIO(b"row file"), "text/plain")
        ),
    )
    b.sdk(
        "Attachments.attach_file_to_row, the hub's streamed simple upload",
        lambda: smartsheet_provider.attach_file(
            ss,
            sheet_id=sheet.id,
            row_id=row,
            name="streamed.txt",
            stream=io.BytesIO(b"streamed file"),
            size=len(b"streamed file"),
            content_type="text/plain",
        ),
    )
    b.sdk(
        "Attachments.attach_url_to_row",
        lambda: ss.Attachments.attach_url_to_row(sheet.id, row, link),
    )
    b.sdk(
        "Attachments.attach_url_to_row, a FILE by JSON",
        lambda: ss.Attachments.attach_url_to_row(
            sheet.id,
            row,
            smartsheet.models.Attachment(
                {"name": "x", "url": "https://example.com", "attachment_type": "FILE"}
            ),
        ),
        refused=400,
    )
    b.sdk(
        "Attachments.list_row_attachments",
        lambda: ss.Attachments.list_row_attachments(sheet.id, row),
    )
    b.sdk(
        "Attachments.list_row_attachments, unknown row",
        lambda: ss.Attachments.list_row_attachments(sheet.id, UNKNOWN_ID),
        refused=404,
    )
    attachment = b.attachment
    b.sdk(
        "Attachments.attach_url_to_sheet",
        lambda: ss.Attachments.attach_url_to_sheet(sheet.id, link),
    )
    b.sdk(
        "Attachments.attach_url_to_sheet, unknown sheet",
        lambda: ss.Attachments.attach_url_to_sheet(UNKNOWN_ID, link),
        refused=404,
    )
    b.sdk(
        "Attachments.list_all_attachments",
        lambda: ss.Attachments.list_all_attachments(sheet.id, include_all=True),
    )
    b.sdk(
        "Attachments.get_attachment", lambda: ss.Attachments.get_attachment(sheet.id, attachment.id)
    )
    b.sdk(
        "Attachments.get_attachment, unknown id",
        lambda: ss.Attachments.get_attachment(sheet.id, UNKNOWN_ID),
        refused=404,
    )


SMARTSHEET_SHEETS = "/2.0/sheets/{sheet_id:int}"
SMARTSHEET = {
    "GET /b/authorize": smartsheet_oauth,
    "POST /b/authorize": smartsheet_oauth,
    "POST /2.0/token": smartsheet_oauth,
    "DELETE /2.0/token": smartsheet_oauth,
    "GET /2.0/users/me": smartsheet_me,
    "GET /2.0/workspaces": smartsheet_workspaces,
    "POST /2.0/workspaces": smartsheet_workspaces,
    "GET /2.0/workspaces/{workspace_id:int}": smartsheet_workspaces,
    "GET /2.0/workspaces/{workspace_id:int}/metadata": smartsheet_workspaces,
    "GET /2.0/workspaces/{workspace_id:int}/children": smartsheet_workspaces,
    "POST /2.0/workspaces/{workspace_id:int}/sheets": smartsheet_workspaces,
    "GET /2.0/sheets": smartsheet_sheets,
    "GET /2.0/home": smartsheet_sheets,
    f"GET {SMARTSHEET_SHEETS}": smartsheet_sheets,
    f"PUT {SMARTSHEET_SHEETS}": smartsheet_sheets,
    f"GET {SMARTSHEET_SHEETS}/version": smartsheet_sheets,
    f"POST {SMARTSHEET_SHEETS}/copy": smartsheet_sheets,
    f"GET {SMARTSHEET_SHEETS}/columns": smartsheet_columns,
    f"POST {SMARTSHEET_SHEETS}/columns": smartsheet_columns,
    f"GET {SMARTSHEET_SHEETS}/columns/{{column_id:int}}": smartsheet_columns,
    f"PUT {SMARTSHEET_SHEETS}/columns/{{column_id:int}}": smartsheet_columns,
    f"DELETE {SMARTSHEET_SHEETS}/columns/{{column_id:int}}": smartsheet_columns,
    f"POST {SMARTSHEET_SHEETS}/rows": smartsheet_rows,
    f"PUT {SMARTSHEET_SHEETS}/rows": smartsheet_rows,
    f"DELETE {SMARTSHEET_SHEETS}/rows": smartsheet_rows,
    f"POST {SMARTSHEET_SHEETS}/rows/move": smartsheet_rows,
    f"GET {SMARTSHEET_SHEETS}/rows/{{row_id:int}}": smartsheet_rows,
    f"GET {SMARTSHEET_SHEETS}/rows/{{row_id:int}}/discussions": smartsheet_discussions,
    f"POST {SMARTSHEET_SHEETS}/rows/{{row_id:int}}/discussions": smartsheet_discussions,
    f"GET {SMARTSHEET_SHEETS}/discussions": smartsheet_discussions,
    f"POST {SMARTSHEET_SHEETS}/discussions": smartsheet_discussions,
    f"GET {SMARTSHEET_SHEETS}/discussions/{{discussion_id:int}}": smartsheet_discussions,
    f"POST {SMARTSHEET_SHEETS}/discussions/{{discussion_id:int}}/comments": smartsheet_discussions,
    f"GET {SMARTSHEET_SHEETS}/rows/{{row_id:int}}/attachments": smartsheet_attachments,
    f"POST {SMARTSHEET_SHEETS}/rows/{{row_id:int}}/attachments": smartsheet_attachments,
    f"GET {SMARTSHEET_SHEETS}/attachments": smartsheet_attachments,
    f"POST {SMARTSHEET_SHEETS}/attachments": smartsheet_attachments,
    f"GET {SMARTSHEET_SHEETS}/attachments/{{attachment_id:int}}": smartsheet_attachments,
}


# --- Salesforce drivers (a production and a sandbox org) -------------------------------------------


def salesforce_oauth(b: Bench, name: str) -> None:
    import base64
    import hashlib

    app = b.apps[name]
    redirect = app["redirect_uris"][0]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": redirect,
        "scope": "api refresh_token",
        "state": "bench",
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    path = "/services/oauth2/authorize"
    b.refused_page(f"{name} authorize, unknown app", name, path, params)
    denied = b.consent(name, path, params, approve=False)
    b.ledger.expect(
        "consent denied", denied.get("error") == "access_denied", f"redirected with {denied}"
    )
    code = b.consent(name, path, params)["code"]
    token_url = f"{b.url(name)}/services/oauth2/token"
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "redirect_uri": redirect,
        "code_verifier": verifier,
    }
    tokens = b.check(f"{name} token (code)", b.http.post(token_url, data=form), 200).json()
    b.check(f"{name} token, code used up", b.http.post(token_url, data=form), 400)
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens.get("refresh_token", ""),
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
    }
    b.check(f"{name} token (refresh)", b.http.post(token_url, data=refresh), 200)
    b.check(
        f"{name} token, wrong secret",
        b.http.post(token_url, data={**refresh, "client_secret": "wrong"}),
        400,
    )
    revoke_url = f"{b.url(name)}/services/oauth2/revoke"
    b.check(
        f"{name} revoke", b.http.post(revoke_url, data={"token": refresh["refresh_token"]}), 200
    )
    b.check(
        f"{name} revoke, revoked",
        b.http.post(revoke_url, data={"token": refresh["refresh_token"]}),
        400,
    )


def salesforce_identity(b: Bench, name: str) -> None:
    tokens = b.salesforce_tokens(name)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    junk = {"Authorization": f"Bearer {JUNK_TOKEN}"}
    userinfo = f"{b.url(name)}/services/oauth2/userinfo"
    b.check(f"{name} userinfo", b.http.get(userinfo, headers=bearer), 200)
    b.check(f"{name} userinfo, junk token", b.http.get(userinfo, headers=junk), 401)
    identity = tokens["identity_url"]
    b.check(f"{name} identity", b.http.get(identity, headers=bearer), 200)
    b.check(f"{name} identity, junk token", b.http.get(identity, headers=junk), 401)
    unknown = identity.rsplit("/", 1)[0] + "/005000000000000AAA"
    b.check(f"{name} identity, unknown user", b.http.get(unknown, headers=bearer), 404)


def salesforce_user(b: Bench, name: str) -> None:
    tokens = b.salesforce_tokens(name)
    sf = b.salesforce(name, tokens["access_token"])
    b.sdk(f"{name} User.get", lambda: sf.User.get(tokens["user_id"]))
    b.sdk(f"{name} User.get, unknown id", lambda: sf.User.get("005000000000000AAA"), refused=404)
    junk = b.salesforce(name, JUNK_TOKEN)
    b.sdk(f"{name} User.get, junk token", lambda: junk.User.get(tokens["user_id"]), refused=401)
    with b.tiny_limit(name, window=86_400):  # Salesforce's quota is per day
        b.sdk(f"{name} User.get, within a quota of 1", lambda: sf.User.get(tokens["user_id"]))
        b.sdk(
            f"{name} User.get, quota spent",
            lambda: sf.User.get(tokens["user_id"]),
            refused="REQUEST_LIMIT_EXCEEDED",
        )
        b.sdk(
            f"{name} User.get, junk token with the quota spent",
            lambda: junk.User.get(tokens["user_id"]),
            refused=401,
        )


def salesforce_data(b: Bench, name: str) -> None:
    """The data API: describe, SOQL with paging, CRUD, Collections, external ids, windows —
    through simple-salesforce where it has the call, plain HTTP for the rest (and for the
    path spellings it does not use: each route answers with and without its trailing slash)."""
    from datetime import UTC, datetime, timedelta

    tokens = b.salesforce_tokens(name)
    sf = b.salesforce(name, tokens["access_token"])
    junk = b.salesforce(name, JUNK_TOKEN)
    base = f"{b.url(name)}/services/data/v{b.settings.SALESFORCE_API_VERSION}"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    def get(path: str, *, headers: dict | None = None, **kw):
        return b.http.get(f"{base}/{path}", headers={**bearer, **(headers or {})}, **kw)

    b.sdk(f"{name} describe", sf.describe)
    b.check(f"{name} describe, slash", get("sobjects/"), 200)
    b.sdk(f"{name} describe, junk token", junk.describe, refused=401)
    b.sdk(f"{name} limits", sf.limits)
    b.check(f"{name} limits, no slash", get("limits"), 200)
    b.sdk(f"{name} Contact.describe", sf.Contact.describe)
    b.check(f"{name} Contact.describe, slash", get("sobjects/Contact/describe/"), 200)
    b.sdk(f"{name} Contact metadata", sf.Contact.metadata)
    b.check(f"{name} Contact metadata, slash", get("sobjects/Contact/"), 200)
    b.check(f"{name} Contact metadata, no slash", get("sobjects/Contact"), 200)
    # Queries: a page of 2,000, the next by its locator, and queryAll with the recycle bin.
    page = b.sdk(f"{name} query", lambda: sf.query("SELECT Id, LastName FROM Contact"))
    b.check(f"{name} query, no slash", get("query", params={"q": "SELECT Id FROM Account"}), 200)
    b.sdk(
        f"{name} query, malformed",
        lambda: sf.query("SELEKT Id FROM Contact"),
        refused="MALFORMED_QUERY",
    )
    b.sdk(f"{name} query_all", lambda: sf.query_all("SELECT Id FROM Contact", include_deleted=True))
    b.check(
        f"{name} queryAll, no slash", get("queryAll", params={"q": "SELECT Id FROM Contact"}), 200
    )
    many = get(
        "query/",
        params={"q": "SELECT Id FROM Contact"},
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    b.check(f"{name} query in pages of 200", many, 200)
    locator = (many.json().get("nextRecordsUrl") or "").rsplit("/", 1)[-1]
    b.check(f"{name} query, next page", get(f"query/{locator}"), 200)
    b.check(f"{name} query, unknown locator", get("query/01gD0000000nope-2000"), 400)
    all_page = get(
        "queryAll/",
        params={"q": "SELECT Id FROM Contact"},
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    b.check(f"{name} queryAll in pages of 200", all_page, 200)
    all_locator = (all_page.json().get("nextRecordsUrl") or "").rsplit("/", 1)[-1]
    b.check(f"{name} queryAll, next page", get(f"queryAll/{all_locator}"), 200)
    del page
    # One record: create, read, update, by external id, delete.
    made = b.sdk(
        f"{name} Contact.create",
        lambda: sf.Contact.create({"LastName": "Bench", "Hub_Id__c": "bench-1"}),
    )
    record_id = made["id"] if isinstance(made, dict) else ""
    b.check(
        f"{name} Contact.create, no slash",
        b.http.post(f"{base}/sobjects/Contact", headers=bearer, json={"LastName": "Bench 2"}),
        201,
    )
    b.sdk(
        f"{name} Contact.create, no last name",
        lambda: sf.Contact.create({"FirstName": "X"}),
        refused="REQUIRED_FIELD_MISSING",
    )
    b.sdk(f"{name} Contact.get", lambda: sf.Contact.get(record_id))
    b.sdk(f"{name} Contact.get, unknown", lambda: sf.Contact.get("003000000000000AAA"), refused=404)
    b.sdk(f"{name} Contact.update", lambda: sf.Contact.update(record_id, {"Title": "Bench"}))
    b.sdk(
        f"{name} Contact.get_by_custom_id",
        lambda: sf.Contact.get_by_custom_id("Hub_Id__c", "bench-1"),
    )
    b.sdk(
        f"{name} Contact.upsert",
        lambda: sf.Contact.upsert("Hub_Id__c/bench-2", {"LastName": "Upserted"}),
    )
    b.sdk(
        f"{name} Contact.get_by_custom_id, unknown",
        lambda: sf.Contact.get_by_custom_id("Hub_Id__c", "nope"),
        refused=404,
    )

    # Collections of up to 200, each record on its own.
    def collection(method, **kw):
        return b.http.request(method, f"{base}/composite/sobjects", headers=bearer, **kw)

    created = collection(
        "POST",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "Bench A"},
                {"attributes": {"type": "Account"}},
            ],
        },
    )
    b.check(f"{name} collections create (one refused)", created, 200)
    ids = [item.get("id") for item in created.json() if item.get("success")]
    b.check(
        f"{name} collections update",
        collection(
            "PATCH",
            json={
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": "Account"}, "id": ids[0] if ids else "", "Phone": "1"}
                ],
            },
        ),
        200,
    )
    b.check(
        f"{name} collections over 200",
        collection(
            "POST",
            json={
                "records": [{"attributes": {"type": "Account"}, "Name": str(n)} for n in range(201)]
            },
        ),
        400,
    )
    upsert = b.http.patch(
        f"{base}/composite/sobjects/Account/Hub_Id__c",
        headers=bearer,
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Hub_Id__c": "bench-a", "Name": "Bench U"}
            ],
        },
    )
    b.check(f"{name} collections upsert", upsert, 200)
    b.check(
        f"{name} collections upsert, unknown field",
        b.http.patch(
            f"{base}/composite/sobjects/Account/Nope__c", headers=bearer, json={"records": []}
        ),
        400,
    )
    b.check(
        f"{name} collections delete",
        collection("DELETE", params={"ids": ",".join(ids), "allOrNone": "false"}),
        200,
    )
    # Windows of changes (the last day) and the recycle bin.
    end = datetime.now(UTC)
    start = end - timedelta(days=1)
    b.sdk(f"{name} Contact.updated", lambda: sf.Contact.updated(start, end))
    b.sdk(f"{name} Contact.deleted", lambda: sf.Contact.deleted(start, end))
    window = {
        "start": start.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "end": end.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    }
    b.check(f"{name} updated, no slash", get("sobjects/Contact/updated", params=window), 200)
    b.check(f"{name} deleted, no slash", get("sobjects/Contact/deleted", params=window), 200)
    b.sdk(f"{name} Contact.delete", lambda: sf.Contact.delete(record_id))
    b.sdk(f"{name} Contact.delete, again", lambda: sf.Contact.delete(record_id), refused=404)
    b.check(
        f"{name} external id, unknown field",
        b.http.patch(f"{base}/sobjects/Contact/Nope__c/x", headers=bearer, json={"LastName": "X"}),
        404,
    )
    # Every data route refuses a junk token with Salesforce's 401 array.
    junk_bearer = {"Authorization": f"Bearer {JUNK_TOKEN}"}
    for route in SALESFORCE_DATA:  # each route, made concrete
        method, template = route.split(" ", 1)
        path = template.removeprefix("/services/data/v{version}/")
        for placeholder, value in (
            ("query/{locator}", f"query/{locator}"),
            ("queryAll/{locator}", f"queryAll/{all_locator}"),
            ("{sobject:sobject}", "Contact"),
            ("{record_id}", "003000000000000AAA"),
            ("{field}/{value}", "Hub_Id__c/x"),
            ("{field}", "Hub_Id__c"),
        ):
            path = path.replace(placeholder, value)
        if path.rstrip("/") in ("query", "queryAll"):
            path += "?q=SELECT+Id+FROM+Contact"
        elif method == "DELETE" and path == "composite/sobjects":
            path += "?ids=001000000000000AAA"
        body = {"json": {}} if method in ("POST", "PATCH") else {}  # GET and DELETE take none
        answer = b.http.request(method, f"{base}/{path}", headers=junk_bearer, **body)
        b.check(f"{name} {method} {path.split('?')[0]}, junk token", answer, 401)


SALESFORCE_DATA = [
    "GET /services/data/v{version}/sobjects",
    "GET /services/data/v{version}/sobjects/",
    "GET /services/data/v{version}/limits",
    "GET /services/data/v{version}/limits/",
    "GET /services/data/v{version}/query",
    "GET /services/data/v{version}/query/",
    "GET /services/data/v{version}/queryAll",
    "GET /services/data/v{version}/queryAll/",
    "GET /services/data/v{version}/query/{locator}",
    "GET /services/data/v{version}/queryAll/{locator}",
    "POST /services/data/v{version}/composite/sobjects",
    "PATCH /services/data/v{version}/composite/sobjects",
    "DELETE /services/data/v{version}/composite/sobjects",
    "PATCH /services/data/v{version}/composite/sobjects/{sobject:sobject}/{field}",
    "GET /services/data/v{version}/sobjects/{sobject:sobject}",
    "POST /services/data/v{version}/sobjects/{sobject:sobject}",
    "GET /services/data/v{version}/sobjects/{sobject:sobject}/",
    "POST /services/data/v{version}/sobjects/{sobject:sobject}/",
    "GET /services/data/v{version}/sobjects/{sobject:sobject}/describe",
    "GET /services/data/v{version}/sobjects/{sobject:sobject}/describe/",
    "GET /services/data/v{version}/sobjects/{sobject:sobject}/updated",
    "GET /services/data/v{version}/sobjects/{sobject:sobject}/updated/",
    "GET /services/data/v{version}/sobjects/{sobject:sobject}/deleted",
    "GET /services/data/v{version}/sobjects/{sobject:sobject}/deleted/",
    "GET /services/data/v{version}/sobjects/{sobject:sobject}/{record_id}",
    "PATCH /services/data/v{version}/sobjects/{sobject:sobject}/{record_id}",
    "DELETE /services/data/v{version}/sobjects/{sobject:sobject}/{record_id}",
    "GET /services/data/v{version}/sobjects/{sobject:sobject}/{field}/{value}",
    "PATCH /services/data/v{version}/sobjects/{sobject:sobject}/{field}/{value}",
]

SALESFORCE = {
    **dict.fromkeys(SALESFORCE_DATA, salesforce_data),
    "GET /services/oauth2/authorize": salesforce_oauth,
    "POST /services/oauth2/authorize": salesforce_oauth,
    "POST /services/oauth2/token": salesforce_oauth,
    "POST /services/oauth2/revoke": salesforce_oauth,
    "GET /services/oauth2/userinfo": salesforce_identity,
    "GET /id/{org_id}/{user_id}": salesforce_identity,
    "GET /services/data/v{version}/sobjects/User/{user_id}": salesforce_user,
}


# --- HubSpot drivers ---------------------------------------------------------------------------------


def hubspot_code(b: Bench) -> str:
    app = b.apps["hubspot"]
    params = {
        "client_id": app["client_id"],
        "redirect_uri": app["redirect_uris"][0],
        "scope": "oauth",
        "state": "bench",
    }
    return b.consent("hubspot", "/oauth/authorize", params)["code"]


def hubspot_oauth(b: Bench, name: str) -> None:
    app = b.apps[name]
    redirect = app["redirect_uris"][0]
    params = {"client_id": app["client_id"], "redirect_uri": redirect, "scope": "oauth"}
    b.refused_page("hubspot authorize, unknown app", name, "/oauth/authorize", params)
    denied = b.consent(name, "/oauth/authorize", params, approve=False)
    b.ledger.expect(
        "consent denied", denied.get("error") == "access_denied", f"redirected with {denied}"
    )
    tokens = b.hubspot.tokens_api
    client = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    code = hubspot_code(b)
    issued = b.sdk(
        "oauth.tokens_api.create (code, v1)",
        lambda: tokens.create(
            grant_type="authorization_code", code=code, redirect_uri=redirect, **client
        ),
    )
    b.sdk(
        "oauth.tokens_api.create, code used up",
        lambda: tokens.create(
            grant_type="authorization_code", code=code, redirect_uri=redirect, **client
        ),
        refused=400,
    )
    b.sdk(
        "oauth.tokens_api.create (refresh, v1)",
        lambda: tokens.create(
            grant_type="refresh_token", refresh_token=issued.refresh_token, **client
        ),
    )
    b.sdk(
        "oauth.tokens_api.create, wrong secret",
        lambda: tokens.create(
            grant_type="refresh_token",
            refresh_token=issued.refresh_token,
            client_id=app["client_id"],
            client_secret="wrong",
        ),
        refused=400,
    )
    # OAuth v3, which the SDK lacks: as integrations/connections/providers/hubspot.py sends it.
    v3 = f"{b.url(name)}/oauth/v3/token"
    form = {
        "grant_type": "authorization_code",
        "code": hubspot_code(b),
        "redirect_uri": redirect,
        **client,
    }
    body = b.check("hubspot v3 token (code)", b.http.post(v3, data=form), 200).json()
    b.check("hubspot v3 token, code used up", b.http.post(v3, data=form), 400)
    refresh = {"grant_type": "refresh_token", "refresh_token": body.get("refresh_token"), **client}
    b.check("hubspot v3 token (refresh)", b.http.post(v3, data=refresh), 200)
    introspect = f"{v3}/introspect"
    for kind in ("access_token", "refresh_token"):
        b.check(
            f"hubspot v3 introspect ({kind})",
            b.http.post(introspect, data={"token": body.get(kind), **client}),
            200,
        )
    b.check(
        "hubspot v3 introspect, wrong secret",
        b.http.post(
            introspect, data={"token": body.get("access_token"), **client, "client_secret": "x"}
        ),
        400,
    )
    revoke = {"token": body.get("refresh_token"), "token_type_hint": "refresh_token", **client}
    b.check("hubspot v3 revoke", b.http.post(f"{v3}/revoke", data=revoke), 200)
    b.check("hubspot v3 revoke, revoked", b.http.post(f"{v3}/revoke", data=revoke), 400)


def hubspot_token_metadata(b: Bench, name: str) -> None:
    api, tokens = b.hubspot, b.hubspot_tokens
    b.sdk(
        "oauth.access_tokens_api.get",
        lambda: api.access_tokens_api.get(tokens["access_token"]),
    )
    b.sdk(
        "oauth.access_tokens_api.get, unknown token",
        lambda: api.access_tokens_api.get(JUNK_TOKEN),
        refused=404,
    )
    b.sdk(
        "oauth.refresh_tokens_api.get",
        lambda: api.refresh_tokens_api.get(tokens["refresh_token"]),
    )
    b.sdk(
        "oauth.refresh_tokens_api.get, unknown token",
        lambda: api.refresh_tokens_api.get(JUNK_TOKEN),
        refused=404,
    )
    b.sdk(
        "oauth.refresh_tokens_api.archive",
        lambda: api.refresh_tokens_api.archive(tokens["refresh_token"]),
    )
    b.sdk(
        "oauth.refresh_tokens_api.archive, deleted",
        lambda: api.refresh_tokens_api.archive(tokens["refresh_token"]),
        refused=404,
    )


def hubspot_account(b: Bench, name: str) -> None:
    # hubspot-api-client 12 has no account-info API: requests, with the bearer token.
    url = f"{b.url(name)}/account-info/v3/details"
    bearer = {"Authorization": f"Bearer {b.hubspot_tokens['access_token']}"}
    b.check("hubspot account details", b.http.get(url, headers=bearer), 200)
    junk = {"Authorization": f"Bearer {JUNK_TOKEN}"}
    b.check("hubspot account details, junk token", b.http.get(url, headers=junk), 401)
    with b.tiny_limit(name, window=10):
        b.check(
            "hubspot account details, within a limit of 1", b.http.get(url, headers=bearer), 200
        )
        b.check("hubspot account details, over the limit", b.http.get(url, headers=bearer), 429)


def hubspot_crm(b: Bench, name: str) -> None:
    """The CRM data API: plain HTTP with the bearer token (each route a normal case and an
    error case: a junk token's 401, or HubSpot's 400 / 404)."""
    base = b.url(name)
    bearer = {"Authorization": f"Bearer {b.hubspot_tokens['access_token']}"}
    junk = {"Authorization": f"Bearer {JUNK_TOKEN}"}

    def call(label, method, path, status, *, headers=bearer, **kw):
        return b.check(
            f"hubspot {label}", b.http.request(method, base + path, headers=headers, **kw), status
        )

    o = "/crm/v3/objects"
    call("list contacts", "GET", f"{o}/contacts?limit=2&properties=email", 200)
    call("list contacts, junk token", "GET", f"{o}/contacts", 401, headers=junk)
    company = call(
        "create company", "POST", f"{o}/companies", 201, json={"properties": {"name": "Bench Co"}}
    ).json()
    call(
        "create, unknown property",
        "POST",
        f"{o}/companies",
        400,
        json={"properties": {"nope": "x"}},
    )
    contact = call(
        "create contact",
        "POST",
        f"{o}/contacts",
        201,
        json={"properties": {"email": f"bench-{secrets.token_hex(4)}@example.com"}},
    ).json()
    cid, kid = contact["id"], company["id"]
    call("get contact", "GET", f"{o}/contacts/{cid}", 200)
    call("get contact, unknown", "GET", f"{o}/contacts/{UNKNOWN_ID}", 404)
    call(
        "update contact",
        "PATCH",
        f"{o}/contacts/{cid}",
        200,
        json={"properties": {"firstname": "B"}},
    )
    call(
        "update contact, unknown",
        "PATCH",
        f"{o}/contacts/{UNKNOWN_ID}",
        404,
        json={"properties": {}},
    )
    call(
        "batch read",
        "POST",
        f"{o}/contacts/batch/read",
        200,
        json={"inputs": [{"id": cid}], "properties": [], "propertiesWithHistory": []},
    )
    call(
        "batch read, junk token",
        "POST",
        f"{o}/contacts/batch/read",
        401,
        headers=junk,
        json={"inputs": [], "properties": [], "propertiesWithHistory": []},
    )
    made = call(
        "batch create",
        "POST",
        f"{o}/contacts/batch/create",
        201,
        json={"inputs": [{"properties": {"firstname": "Batch"}}]},
    ).json()
    too_many = {"inputs": [{"properties": {}}] * 101}
    call("batch create, 101 inputs", "POST", f"{o}/contacts/batch/create", 400, json=too_many)
    call(
        "batch update",
        "POST",
        f"{o}/contacts/batch/update",
        200,
        json={"inputs": [{"id": cid, "properties": {"lastname": "C"}}]},
    )
    call(
        "batch update, 101 inputs",
        "POST",
        f"{o}/contacts/batch/update",
        400,
        json={"inputs": [{"id": cid, "properties": {}}] * 101},
    )
    call(
        "batch archive",
        "POST",
        f"{o}/contacts/batch/archive",
        204,
        json={"inputs": [{"id": made["results"][0]["id"]}]},
    )
    call(
        "batch archive, junk token",
        "POST",
        f"{o}/contacts/batch/archive",
        401,
        headers=junk,
        json={"inputs": []},
    )
    call(
        "search",
        "POST",
        f"{o}/contacts/search",
        200,
        json={
            "filterGroups": [
                {"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": cid}]}
            ]
        },
    )
    call("search, limit 201", "POST", f"{o}/contacts/search", 400, json={"limit": 201})
    call("properties", "GET", "/crm/v3/properties/contacts", 200)
    call("properties, junk token", "GET", "/crm/v3/properties/contacts", 401, headers=junk)
    a = f"/crm/v4/objects/contact/{cid}/associations"
    call("associate (default)", "PUT", f"{a}/default/company/{kid}", 200)
    call("associate (default), unknown company", "PUT", f"{a}/default/company/{UNKNOWN_ID}", 404)
    primary = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]
    call("associate (typed)", "PUT", f"{a}/company/{kid}", 201, json=primary)
    call(
        "associate (typed), bad type",
        "PUT",
        f"{a}/company/{kid}",
        400,
        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
    )
    call("associations read", "GET", f"{a}/company", 200)
    call(
        "associations read, unknown contact",
        "GET",
        f"/crm/v4/objects/contact/{UNKNOWN_ID}/associations/company",
        404,
    )
    v4 = "/crm/v4/associations/contacts/companies/batch"
    pair = {"from": {"id": cid}, "to": {"id": kid}, "types": primary}
    call("associations batch create", "POST", f"{v4}/create", 201, json={"inputs": [pair]})
    call(
        "associations batch create, 101 inputs",
        "POST",
        f"{v4}/create",
        400,
        json={"inputs": [pair] * 101},
    )
    call("associations batch read", "POST", f"{v4}/read", 200, json={"inputs": [{"id": cid}]})
    call(
        "associations batch read, junk token",
        "POST",
        f"{v4}/read",
        401,
        headers=junk,
        json={"inputs": []},
    )
    gone = {"from": {"id": cid}, "to": [{"id": kid}]}
    call("associations batch archive", "POST", f"{v4}/archive", 204, json={"inputs": [gone]})
    call(
        "associations batch archive, 101 inputs",
        "POST",
        f"{v4}/archive",
        400,
        json={"inputs": [gone] * 101},
    )
    call("delete contact", "DELETE", f"{o}/contacts/{cid}", 204)
    call("delete contact, junk token", "DELETE", f"{o}/contacts/{cid}", 401, headers=junk)


HUBSPOT_CRM = (
    "GET /crm/v3/objects/{object_type:hsobject}",
    "POST /crm/v3/objects/{object_type:hsobject}",
    "POST /crm/v3/objects/{object_type:hsobject}/search",
    "POST /crm/v3/objects/{object_type:hsobject}/batch/read",
    "POST /crm/v3/objects/{object_type:hsobject}/batch/create",
    "POST /crm/v3/objects/{object_type:hsobject}/batch/update",
    "POST /crm/v3/objects/{object_type:hsobject}/batch/archive",
    "GET /crm/v3/objects/{object_type:hsobject}/{object_id}",
    "PATCH /crm/v3/objects/{object_type:hsobject}/{object_id}",
    "DELETE /crm/v3/objects/{object_type:hsobject}/{object_id}",
    "PUT /crm/v4/objects/{from_type:hsassoc}/{from_id}/associations/default/{to_type:hsassoc}/{to_id}",
    "PUT /crm/v4/objects/{from_type:hsassoc}/{from_id}/associations/{to_type:hsassoc}/{to_id}",
    "GET /crm/v4/objects/{from_type:hsassoc}/{from_id}/associations/{to_type:hsassoc}",
    "POST /crm/v4/associations/{from_type:hsassoc}/{to_type:hsassoc}/batch/create",
    "POST /crm/v4/associations/{from_type:hsassoc}/{to_type:hsassoc}/batch/read",
    "POST /crm/v4/associations/{from_type:hsassoc}/{to_type:hsassoc}/batch/archive",
    "GET /crm/v3/properties/{object_type:hsobject}",
)


def hubspot_webhooks(b: Bench, name: str) -> None:
    """The Webhooks API with the developer key (hubspot-api-client's webhooks client where it
    has the call; plain HTTP for the error cases): each route a normal and an error case."""
    from hubspot import Client
    from hubspot.webhooks import (
        BatchInputSubscriptionBatchUpdateRequest,
        SettingsChangeRequest,
        SubscriptionBatchUpdateRequest,
        SubscriptionCreateRequest,
        SubscriptionPatchRequest,
        ThrottlingSettings,
    )

    key = b.sandbox.control(
        name, "POST", "webhooks/developer-key", {"client_id": b.apps["hubspot"]["client_id"]}
    )
    app, hooks = (
        key["appId"],
        Client.create(api_key=key["hapikey"], host=b.url(name), ssl_ca_cert=b.ca).webhooks,
    )
    base = f"{b.url(name)}/webhooks/v3/{app}"
    junk = {"hapikey": "junk"}
    ledger = b.ledger
    # The sandbox points the hub's app at the hub when it starts (register_hub): cleared first.
    ledger.sdk("hubspot webhook settings clear", lambda: hooks.settings_api.clear(app))
    b.check(
        "hubspot webhook settings, none yet",
        b.http.get(f"{base}/settings", params={"hapikey": key["hapikey"]}),
        404,
    )
    ledger.sdk(
        "hubspot webhook settings configure",
        lambda: hooks.settings_api.configure(
            app,
            SettingsChangeRequest(
                target_url="https://hub.example.com/hooks/hubspot/",
                throttling=ThrottlingSettings(max_concurrent_requests=10),
            ),
        ),
    )
    ledger.sdk("hubspot webhook settings read", lambda: hooks.settings_api.get_all(app))
    body = {"targetUrl": "https://x.example/", "throttling": {"maxConcurrentRequests": 1}}
    b.check(
        "hubspot webhook settings, 1 request",
        b.http.put(f"{base}/settings", params={"hapikey": key["hapikey"]}, json=body),
        400,
    )
    b.check("hubspot webhook settings, junk key", b.http.get(f"{base}/settings", params=junk), 401)
    made = ledger.sdk(
        "hubspot webhook subscription create",
        lambda: hooks.subscriptions_api.create(
            app, SubscriptionCreateRequest(event_type="contact.creation", active=True)
        ),
    )
    b.check(
        "hubspot webhook subscription, bad type",
        b.http.post(
            f"{base}/subscriptions", params={"hapikey": key["hapikey"]}, json={"eventType": "nope"}
        ),
        400,
    )
    ledger.sdk("hubspot webhook subscriptions list", lambda: hooks.subscriptions_api.get_all(app))
    b.check(
        "hubspot webhook subscriptions, junk key",
        b.http.get(f"{base}/subscriptions", params=junk),
        401,
    )
    ledger.sdk(
        "hubspot webhook subscription read", lambda: hooks.subscriptions_api.get_by_id(made.id, app)
    )
    ledger.sdk(
        "hubspot webhook subscription pause",
        lambda: hooks.subscriptions_api.update(
            made.id, app, SubscriptionPatchRequest(active=False)
        ),
    )
    b.check(
        "hubspot webhook subscription, unknown",
        b.http.get(f"{base}/subscriptions/999999", params={"hapikey": key["hapikey"]}),
        404,
    )
    b.check(
        "hubspot webhook subscription patch, unknown",
        b.http.patch(
            f"{base}/subscriptions/999999",
            params={"hapikey": key["hapikey"]},
            json={"active": True},
        ),
        404,
    )
    ledger.sdk(
        "hubspot webhook subscriptions batch update",
        lambda: hooks.subscriptions_api.update_batch(
            app,
            BatchInputSubscriptionBatchUpdateRequest(
                inputs=[SubscriptionBatchUpdateRequest(id=int(made.id), active=True)]
            ),
        ),
    )
    b.check(
        "hubspot webhook batch update, junk key",
        b.http.post(f"{base}/subscriptions/batch/update", params=junk, json={"inputs": []}),
        401,
    )
    ledger.sdk(
        "hubspot webhook subscription delete", lambda: hooks.subscriptions_api.archive(made.id, app)
    )
    b.check(
        "hubspot webhook subscription delete, gone",
        b.http.delete(f"{base}/subscriptions/{made.id}", params={"hapikey": key["hapikey"]}),
        404,
    )
    ledger.sdk("hubspot webhook settings delete", lambda: hooks.settings_api.clear(app))
    b.check(
        "hubspot webhook settings delete, junk key",
        b.http.delete(f"{base}/settings", params=junk),
        401,
    )


HUBSPOT_WEBHOOKS = (
    "GET /webhooks/v3/{app_id}/settings",
    "PUT /webhooks/v3/{app_id}/settings",
    "DELETE /webhooks/v3/{app_id}/settings",
    "GET /webhooks/v3/{app_id}/subscriptions",
    "POST /webhooks/v3/{app_id}/subscriptions",
    "POST /webhooks/v3/{app_id}/subscriptions/batch/update",
    "GET /webhooks/v3/{app_id}/subscriptions/{subscription_id}",
    "PATCH /webhooks/v3/{app_id}/subscriptions/{subscription_id}",
    "DELETE /webhooks/v3/{app_id}/subscriptions/{subscription_id}",
)

HUBSPOT = {
    **dict.fromkeys(HUBSPOT_WEBHOOKS, hubspot_webhooks),
    "GET /oauth/authorize": hubspot_oauth,
    "POST /oauth/authorize": hubspot_oauth,
    "POST /oauth/v1/token": hubspot_oauth,
    "POST /oauth/v3/token": hubspot_oauth,
    "POST /oauth/v3/token/introspect": hubspot_oauth,
    "POST /oauth/v3/token/revoke": hubspot_oauth,
    "GET /oauth/v1/access-tokens/{token}": hubspot_token_metadata,
    "GET /oauth/v1/refresh-tokens/{token}": hubspot_token_metadata,
    "DELETE /oauth/v1/refresh-tokens/{token}": hubspot_token_metadata,
    "GET /account-info/v3/details": hubspot_account,
    **dict.fromkeys(HUBSPOT_CRM, hubspot_crm),
}


# --- Azure AD and Dataverse drivers ---------------------------------------------------------------


def azure_client_credentials(b: Bench, name: str) -> None:
    from integrations import sandbox

    tenant, secret = sandbox.DATAVERSE_TENANT_ID, sandbox.DATAVERSE_CLIENT_SECRET
    scope = [f"{b.url('dataverse')}/.default"]

    def token(app, scopes):
        result = app.acquire_token_for_client(scopes=scopes)
        if "access_token" not in result:
            raise Refused(result.get("error", ""), result.get("error_description", ""))
        return result

    # msal reads the tenant's discovery document when the application is made.
    app = b.sdk("msal ConfidentialClientApplication", lambda: b.msal(tenant=tenant, secret=secret))
    b.sdk(
        "msal ConfidentialClientApplication, unknown tenant",
        lambda: b.msal(tenant=UNKNOWN_GUID, secret=secret),
        refused=400,
    )
    b.sdk("msal acquire_token_for_client", lambda: token(app, scope))
    wrong = b.msal(tenant=tenant, secret="wrong")
    b.sdk(
        "msal acquire_token_for_client, wrong secret",
        lambda: token(wrong, scope),
        refused="invalid_client",
    )
    b.sdk(
        "msal acquire_token_for_client, a scope without /.default",
        lambda: token(app, [f"{b.url('dataverse')}/user_impersonation"]),
        refused="invalid_scope",
    )


def dataverse_headers(token: str) -> dict:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "OData-MaxVersion": "4.0",
        "OData-Version": "4.0",
    }


def dataverse_whoami(b: Bench, name: str) -> None:
    url = f"{b.url(name)}/api/data/v9.2/WhoAmI"
    b.check("dataverse WhoAmI", b.http.get(url, headers=dataverse_headers(b.dataverse_token)), 200)
    b.check(
        "dataverse WhoAmI, junk token", b.http.get(url, headers=dataverse_headers(JUNK_TOKEN)), 401
    )


def dataverse_metadata(b: Bench, name: str) -> None:
    import xml.etree.ElementTree as ElementTree

    url = f"{b.url(name)}/api/data/v9.2/$metadata"
    answer = b.check(
        "dataverse $metadata", b.http.get(url, headers=dataverse_headers(b.dataverse_token)), 200
    )
    try:
        sets = [
            e.get("Name")
            for e in ElementTree.fromstring(answer.content).iter()
            if e.tag.endswith("EntitySet")
        ]
    except ElementTree.ParseError:
        sets = []
    b.ledger.expect(
        "dataverse $metadata",
        "imi_jobs" in sets,
        f"a CSDL naming the imi_jobs set, not {answer.text[:120]!r}",
    )
    b.check(
        "dataverse $metadata, junk token",
        b.http.get(url, headers=dataverse_headers(JUNK_TOKEN)),
        401,
    )


def dataverse_jobs(b: Bench, name: str) -> None:
    base = f"{b.url(name)}/api/data/v9.2"
    headers = dataverse_headers(b.dataverse_token)
    query = {"$select": "imi_imnumber,imi_submittalstatus", "$filter": "statecode eq 0"}
    page = b.check(
        "dataverse imi_jobs",
        b.http.get(
            f"{base}/imi_jobs",
            params=query,
            headers={**headers, "Prefer": "odata.maxpagesize=50"},
        ),
        200,
    ).json()
    if page.get("@odata.nextLink"):
        b.check(
            "dataverse imi_jobs, next page",
            b.http.get(page["@odata.nextLink"], headers=headers),
            200,
        )
    b.check(
        "dataverse imi_jobs, a bad $filter",
        b.http.get(f"{base}/imi_jobs", params={"$filter": "statecode eq"}, headers=headers),
        400,
    )
    with b.tiny_limit(name):
        b.check(
            "dataverse imi_jobs, within a limit of 1",
            b.http.get(f"{base}/imi_jobs?$top=1", headers=headers),
            200,
        )
        b.check(
            "dataverse imi_jobs, over the limit",
            b.http.get(f"{base}/imi_jobs?$top=1", headers=headers),
            429,
        )
    key = (page.get("value") or [{}])[0].get("imi_jobid", UNKNOWN_GUID)
    b.check("dataverse imi_jobs(id)", b.http.get(f"{base}/imi_jobs({key})", headers=headers), 200)
    b.check(
        "dataverse imi_jobs(id), unknown id",
        b.http.get(f"{base}/imi_jobs({UNKNOWN_GUID})", headers=headers),
        404,
    )
    b.check(
        "dataverse imi_jobs(id), not a GUID",
        b.http.get(f"{base}/imi_jobs(42)", headers=headers),
        400,
    )
    b.check(
        "dataverse, an entity set that does not exist",
        b.http.get(f"{base}/imi_job", headers=headers),
        404,
    )
    b.check(
        "dataverse, an entity set that does not exist, junk token",
        b.http.get(f"{base}/imi_job", headers=dataverse_headers(JUNK_TOKEN)),
        401,
    )


AZURE = {
    "GET /{tenant}/v2.0/.well-known/openid-configuration": azure_client_credentials,
    "POST /{tenant}/oauth2/v2.0/token": azure_client_credentials,
}
DATAVERSE = {
    "GET /api/data/v9.2/WhoAmI": dataverse_whoami,
    "GET /api/data/v9.2/$metadata": dataverse_metadata,
    "GET /api/data/v9.2/imi_jobs": dataverse_jobs,
    "GET /api/data/v9.2/imi_jobs({key})": dataverse_jobs,
    "GET /api/data/v9.2/{segments:path}": dataverse_jobs,
}

# --- Project Online drivers (ProjectData OData v3, ProjectServer REST) ---------------------------


def project_online_headers(token: str) -> dict:
    # As integrations/connections/providers/project_online.py sends them.
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json;odata=minimalmetadata",
        "MaxDataServiceVersion": "3.0",
    }


def project_online_token(b: Bench, name: str) -> str:
    """An app token for the PWA site's SharePoint host, from the Azure AD emulator."""
    from integrations import sandbox

    app = b.msal(tenant=sandbox.DATAVERSE_TENANT_ID, secret=sandbox.DATAVERSE_CLIENT_SECRET)
    return app.acquire_token_for_client(scopes=[f"{b.url(name)}/.default"])["access_token"]


def project_online_feed(b: Bench, name: str) -> None:
    """The ProjectData feed: $metadata, each entity set by project with $select and every next
    link, a bad $filter, an unknown set, a junk token; and the ProjectServer routes the source
    reads (projects, one project, its published tasks and task links, custom fields, lookup
    tables), with an unknown project."""
    site = f"{b.url(name)}/sites/pwa/_api"
    headers = project_online_headers(project_online_token(b, name))
    junk = project_online_headers(JUNK_TOKEN)
    metadata = f"{site}/ProjectData/$metadata"
    b.check(
        "projectdata $metadata",
        b.http.get(metadata, headers={**headers, "Accept": "application/xml"}),
        200,
    )
    b.check("projectdata $metadata, junk token", b.http.get(metadata, headers=junk), 401)
    projects = b.check(
        "projectdata Projects", b.http.get(f"{site}/ProjectData/Projects", headers=headers), 200
    ).json()
    project = (projects.get("value") or [{}])[0].get("ProjectId", UNKNOWN_GUID)
    for entity_set in ("Tasks", "Assignments", "Resources"):
        query = {"$filter": f"ProjectId eq guid'{project}'"} if entity_set != "Resources" else {}
        page = b.check(
            f"projectdata {entity_set}",
            b.http.get(f"{site}/ProjectData/{entity_set}", params=query, headers=headers),
            200,
        ).json()
        if page.get("odata.nextLink"):
            b.check(
                f"projectdata {entity_set}, next page",
                b.http.get(page["odata.nextLink"], headers=headers),
                200,
            )
    b.check(
        "projectdata Tasks, a bad $filter",
        b.http.get(
            f"{site}/ProjectData/Tasks", params={"$filter": "ProjectId eq"}, headers=headers
        ),
        400,
    )
    b.check(
        "projectdata, an unknown set", b.http.get(f"{site}/ProjectData/Taskz", headers=headers), 404
    )
    b.check(
        "projectdata Tasks, junk token", b.http.get(f"{site}/ProjectData/Tasks", headers=junk), 401
    )
    server = f"{site}/ProjectServer"
    b.check("projectserver Projects", b.http.get(f"{server}/Projects", headers=headers), 200)
    b.check(
        "projectserver Projects, junk token", b.http.get(f"{server}/Projects", headers=junk), 401
    )
    for path in ("", "/Tasks", "/TaskLinks"):
        b.check(
            f"projectserver Projects('id'){path}",
            b.http.get(f"{server}/Projects('{project}'){path}", headers=headers),
            200,
        )
        b.check(
            f"projectserver Projects('id'){path}, unknown project",
            b.http.get(f"{server}/Projects('{UNKNOWN_GUID}'){path}", headers=headers),
            404,
        )
    for path in ("CustomFields", "LookupTables"):
        b.check(f"projectserver {path}", b.http.get(f"{server}/{path}", headers=headers), 200)
        b.check(
            f"projectserver {path}, junk token", b.http.get(f"{server}/{path}", headers=junk), 401
        )


PROJECT_ONLINE = {
    f"GET /sites/pwa/_api/{route}": project_online_feed
    for route in (
        "ProjectData/$metadata",
        "ProjectData/{name}",
        "ProjectServer/Projects",
        "ProjectServer/Projects('{project}')",
        "ProjectServer/Projects('{project}')/Tasks",
        "ProjectServer/Projects('{project}')/TaskLinks",
        "ProjectServer/CustomFields",
        "ProjectServer/LookupTables",
    )
}

# --- Supabase (PostgREST) driver -------------------------------------------------------------------


def supabase_data(b: Bench, name: str) -> None:
    """Each verb of the Data API once as the hub sends it and once refused, through
    postgrest-py (the official client) on a plain httpx client with the sandbox CA."""
    import ssl

    import httpx
    from postgrest import SyncPostgrestClient

    from config import endpoints

    key = endpoints.SUPABASE_SERVICE_KEY
    base = f"{b.url(name)}/rest/v1"
    session = httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=b.ca))
    pg = SyncPostgrestClient(
        base,
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
        http_client=session,
        retry_enabled=False,
    )
    owner = {"team_id": endpoints.SUPABASE_TEAM_ID, "user_id": endpoints.SUPABASE_SYSTEM_USER_ID}
    clients = pg.from_("clients")
    created = b.sdk("POST clients", lambda: clients.insert({"name": "Bench", **owner}).execute())
    b.sdk(
        "POST clients (no name)",
        lambda: clients.insert({"name": None, **owner}).execute(),
        refused="23502",
    )
    b.sdk("GET clients", lambda: pg.from_("clients").select("*").eq("name", "Bench").execute())
    b.sdk(
        "GET clients (bad uuid)",
        lambda: pg.from_("clients").select("*").eq("id", "x").execute(),
        refused="22P02",
    )
    row_id = created.data[0]["id"] if created is not None else UNKNOWN_GUID
    b.sdk(
        "PATCH clients",
        lambda: pg.from_("clients").update({"phone": "1"}).eq("id", row_id).execute(),
    )
    b.sdk(
        "PATCH clients (no filter)",
        lambda: pg.from_("clients").update({"phone": "1"}).execute(),
        refused="21000",
    )
    b.sdk("DELETE clients", lambda: pg.from_("clients").delete().eq("id", row_id).execute())
    b.sdk(
        "DELETE clients (no filter)",
        lambda: pg.from_("clients").delete().execute(),
        refused="21000",
    )
    session.close()


SUPABASE = {
    f"{verb} /rest/v1/{{table}}": supabase_data for verb in ("GET", "POST", "PATCH", "DELETE")
}


DRIVERS: dict[str, dict[str, Callable[[Bench, str], None]]] = {
    "smartsheet": SMARTSHEET,
    "salesforce": SALESFORCE,
    "salesforce-test": SALESFORCE,
    "hubspot": HUBSPOT,
    "azure": AZURE,
    "dataverse": DATAVERSE,
    "supabase": SUPABASE,
    "project-online": PROJECT_ONLINE,
}


# --- the drive ----------------------------------------------------------------------------------


@dataclass
class Report:
    ledger: Ledger
    exchanges: int
    validated: int
    violation_count: int
    violations: list[dict]
    missing: list[str]  # routes not driven, or driven but never reached
    checks: bool  # whether the emulators checked the exchanges against the contracts
    # emulator -> route -> answered status -> how often: normal and error cases per route
    statuses: dict[str, dict[str, Counter]]


def drive(sandbox) -> Report:
    """Every route of every running emulator, driven; what the emulators counted and checked."""
    names = list(sandbox.server.emulators)
    for name in names:
        sandbox.clear_calls(name)
    ledger = Ledger()
    bench = Bench(sandbox, ledger)
    missing = not_driven(sandbox.server.emulators)
    for line in missing:
        print(f"  not driven: {line}")
    every = routes(sandbox.server.emulators)
    for name in names:
        drivers = list(dict.fromkeys(DRIVERS.get(name, {}).values()))
        print(f"{name}: {len(every[name])} routes, {len(drivers)} drivers")
        for driver in drivers:
            try:
                driver(bench, name)
            except Exception as exc:  # noqa: BLE001 - reported, and the next driver runs
                ledger.driver_crashed(f"{name} {driver.__name__}", exc)
    statuses: dict[str, dict[str, Counter]] = {}
    for name in names:
        calls = sandbox.calls(name)
        statuses[name] = {endpoint: Counter() for endpoint in every[name]}
        for call in calls["log"]:
            statuses[name].setdefault(call["endpoint"], Counter())[call["status"]] += 1
        for endpoint in every[name]:
            if endpoint in DRIVERS.get(name, {}) and not calls["by_endpoint"].get(endpoint):
                missing.append(f"{name} {endpoint}")
                print(f"  not driven: {name} {endpoint} (its driver never reached it)")
    checks, *figures = contract_figures(sandbox, names)
    return Report(ledger, *figures, missing, checks, statuses)


def contract_figures(sandbox, names: list[str]) -> tuple[bool, int, int, int, list[dict]]:
    """(checked, exchanges, validated, violation count, violations) of the emulators named
    since their last reset: their contract checks' own figures, or, in a sandbox whose checks
    are off (runner.build's default), the exchanges their call counters saw, none validated."""
    contracts = [sandbox.contract(name) for name in names]
    if not all(contract["checking"] for contract in contracts):
        return False, sum(sandbox.calls(name)["total"] for name in names), 0, 0, []
    exchanges = sum(contract["exchanges"] for contract in contracts)
    validated = sum(contract["validated"] for contract in contracts)
    # A long-running sandbox keeps only its first violations; violation_count counts all.
    count = sum(contract["violation_count"] for contract in contracts)
    violations = [v for contract in contracts for v in contract["violations"]]
    return True, exchanges, validated, count, violations


def main() -> None:
    django_setup()
    # The Smartsheet SDK logs every refusal as an error; here most are the cases asked for.
    logging.getLogger("smartsheet").setLevel(logging.CRITICAL)
    from integrations.sandbox.client import SandboxClient

    server = start_sandbox(checking=True)
    report = drive(SandboxClient(server))
    server.stop()
    ledger = report.ledger
    print("Answers per route (status x count):")
    for name, answered in report.statuses.items():
        print(f"  {name}")
        for endpoint, counts in answered.items():
            spread = " ".join(f"{status}x{n}" for status, n in sorted(counts.items(), key=str))
            print(f"    {endpoint:<72} {spread or '-'}")
    if not report.checks:
        print("contract checks are off in this sandbox: exchanges are the emulators' call counts")
    for violation in report.violations:
        print(
            f"  violation: {violation['provider']} {violation['operation']} "
            f"{violation['direction']} {violation['field']}={violation['value']!r}: "
            f"{violation['message']}"
        )
    print(
        f"SDK calls {ledger.sdk_calls} ({len(ledger.sdk_failures)} failed), "
        f"plain HTTP checks {ledger.http_calls} ({len(ledger.http_failures)} failed), "
        f"routes not driven {len(report.missing)}"
    )
    print(
        f"RESULT exchanges={report.exchanges} validated={report.validated} "
        f"violations={report.violation_count} sdk_calls={ledger.sdk_calls} "
        f"sdk_failures={len(ledger.sdk_failures)} http_calls={ledger.http_calls} "
        f"http_failures={len(ledger.http_failures)} not_driven={len(report.missing)}"
    )


if __name__ == "__main__":
    main()
