"""Smartsheet API 2.0 emulator: OAuth (consent, code, token with `hash`, refresh, revoke),
`GET /2.0/users/me`, the 300 requests/minute/token limit and Smartsheet's error bodies.
Later issues add sheets, rows, discussions and attachments to this same app.

# Reference: ../shared/providers/smartsheet.md §1–2, §6 (hash = sha256(secret|code), token
# body, revoke, 4003 rate-limit body, no Retry-After); error codes 1001–1004, 4001–4004 from
# https://smartsheet.redoc.ly (error list); token-endpoint error values from the C# SDK's
# OAuthFlowImpl (invalid_request, invalid_client, invalid_grant, unsupported_grant_type).
# The token endpoint's exact error envelope is not published: we answer Smartsheet's usual
# {errorCode, message, refId} plus the OAuth `error` the SDKs read.
"""

import re

from faker import Faker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.core import Caller, RateLimit, bearer_token, json_error
from integrations.sandbox.oauth import OAuthEmulator, OAuthProfile
from integrations.sandbox.smartsheet_sheets import SheetsMixin, overlap_message

SCOPES = {
    "ADMIN_SHEETS",
    "ADMIN_SIGHTS",
    "ADMIN_USERS",
    "ADMIN_WEBHOOKS",
    "ADMIN_WORKSPACES",
    "CREATE_SHEETS",
    "CREATE_SIGHTS",
    "DELETE_SHEETS",
    "DELETE_SIGHTS",
    "READ_CONTACTS",
    "READ_EVENTS",
    "READ_SHEETS",
    "READ_SIGHTS",
    "READ_USERS",
    "SHARE_SHEETS",
    "SHARE_SIGHTS",
    "WRITE_SHEETS",
}
SHEET_WRITE = re.compile(r"^/2\.0/sheets/(\d+)(/|$)")  # a path on one sheet
ACCESS_TTL = 604_799  # seconds (≈ 7 days), the documented `expires_in`
CODE_EXPIRES_IN_MS = 599_135  # what the authorize redirect reports

OAUTH_MESSAGES = {
    "invalid_request": "The request is missing a required parameter or is otherwise malformed.",
    "invalid_client": "The client information is invalid.",
    "invalid_grant": (
        "The authorization code or refresh token is invalid or expired, the redirect_uri does "
        "not match, or the hash value does not match the client secret and/or code."
    ),
    "unsupported_grant_type": "grant_type must be authorization_code or refresh_token.",
}
AUTH_ERRORS = {
    "missing": (1001, "An Access Token is required."),
    "invalid": (1002, "Your Access Token is invalid."),
    "expired": (1003, "Your Access Token has expired."),
}


class SmartsheetEmulator(SheetsMixin, OAuthEmulator):
    name = "smartsheet"
    title = "Smartsheet"
    default_limit = RateLimit(limit=300, window=60)
    api_prefixes = ("/2.0/",)
    # Reference: ../shared/providers/smartsheet.md §1 (the redirect's code, expires_in ~599135
    # ms and state; client_secret or hash = sha256(secret|code) and sha256(secret|refresh
    # token); a refresh returns a new pair and the old one stops working; expires_in 604799;
    # DELETE /2.0/token with the token as Bearer, deleteAllForApiClient=true for every token of
    # the client and user; no PKCE; the scopes) (FACTS.md §7).
    oauth = OAuthProfile(
        authorize_path="/b/authorize",
        token_paths=("/2.0/token",),
        revoke_path="/2.0/token",
        revoke_method="DELETE",
        client_auth="grant_hash",
        redirect_uri_optional=True,
        known_scopes=frozenset(SCOPES),
        scopes_required=True,
        code_redirect_extra={"expires_in": CODE_EXPIRES_IN_MS},
        page_messages={
            "unknown_client": "Invalid client_id: this application is not registered.",
            "bad_redirect": "The redirect_uri does not match the application's redirect URL.",
        },
        redirect_errors={
            "response_type": ("unsupported_response_type", None),
            "scope": ("invalid_scope", None),
            "denied": ("access_denied", None),
        },
        access_ttl=ACCESS_TTL,
        rotates_refresh=True,
        # DELETE /2.0/token revokes the caller's own access token and the refresh token that
        # came with it, or (deleteAllForApiClient=true) every token of its app and user.
        revoke_token_from="bearer",
        revoke_access_ends_refresh=True,
        revoke_all_param="deleteAllForApiClient",
        revoke_answer={"message": "SUCCESS", "resultCode": 0},
        errors={
            "grant_type": ("unsupported_grant_type",),
            "unknown_client": ("invalid_client", 401),
            "missing_code": ("invalid_request",),
            "bad_proof": ("invalid_grant", 403),
            "bad_code": ("invalid_grant",),
            "bad_redirect": ("invalid_grant",),
            "bad_refresh": ("invalid_grant",),
        },
    )

    def initial_state(self, seed: int) -> dict:
        fake = Faker()
        fake.seed_instance(seed)
        account = {"id": fake.random_number(digits=16, fix_len=True), "name": fake.company()}
        users = {}
        for _ in range(4):
            first, last = fake.first_name(), fake.last_name()
            user_id = fake.random_number(digits=16, fix_len=True)
            users[str(user_id)] = {
                "id": user_id,
                "email": f"{first}.{last}@{fake.domain_name()}".lower(),
                "firstName": first,
                "lastName": last,
                "account": account,
            }
        self.state = {**super().initial_state(seed), "users": users, "account": account}
        self.sheets_state(account)
        return self.state

    # --- helpers -------------------------------------------------------------------------------

    def ref_id(self) -> str:
        return "".join(
            self.runtime.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12)
        )

    def error(self, status: int, code: int, message: str, **extra) -> JSONResponse:
        return json_error(
            {"errorCode": code, "message": message, "refId": self.ref_id(), **extra}, status
        )

    def oauth_error(self, error: str, status: int = 400) -> JSONResponse:
        # The one observed real answer (a wrong hash) was 403 errorCode 1004.
        code = 1004 if status == 403 else 1008
        return self.error(status, code, OAUTH_MESSAGES[error], error=error)

    def caller(self, request: Request) -> Caller | None:
        token = bearer_token(request)
        return Caller(key=token[-16:]) if token else None  # the limit is per access token

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return self.error(429, 4003, "Rate limit exceeded.")

    def storm_response(self, request: Request, retry_after: float | None) -> Response:
        response = self.error(429, 4003, "Rate limit exceeded.")
        if retry_after is not None:
            response.headers["Retry-After"] = str(int(retry_after))
        return response

    def error_response(self, request: Request, status: int, code: int | None = None) -> Response:
        """An injected error: 503 is the maintenance 4001; `code` 4004 on a write to a sheet the
        overlapping-write answer (SPEC-SS 500 example 4004Example2); anything else the spec's
        4000 "unexpected error" (or the code asked for)."""
        if status == 503:
            return self.error(
                503,
                4001,
                "Smartsheet.com is currently offline for system maintenance. Please check back again shortly.",
            )
        sheet_write = SHEET_WRITE.match(request.url.path)
        if code == 4004 and request.method not in ("GET", "HEAD") and sheet_write:
            return self.error(status, 4004, overlap_message(int(sheet_write.group(1))))
        return self.error(
            status,
            code or 4000,
            "An unexpected error has occurred. Please retry your request. If you encounter this "
            "error repeatedly, please contact api@smartsheet.com for assistance.",
        )

    def authenticated(self, request: Request) -> tuple[dict | None, Response | None]:
        info, problem = self.token_info(bearer_token(request))
        if info is None:
            code, message = AUTH_ERRORS[problem]
            return None, self.error(401, code, message)
        return info, None

    # --- routes --------------------------------------------------------------------------------

    def api_routes(self) -> list[Route]:
        return [
            *self.oauth_routes(),
            Route("/2.0/users/me", self.me, methods=["GET"]),
            *self.sheet_routes(),
        ]

    def token_answer(self, request: Request, app: dict, info: dict, tokens: dict) -> dict:
        return {
            "access_token": tokens["access_token"],
            "token_type": "bearer",
            "refresh_token": tokens["refresh_token"],
            "expires_in": int(self.access_ttl),
        }

    def oauth_identity(self, user_id: str) -> dict:
        user = self.state["users"][user_id]
        return {
            "user_id": str(user["id"]),
            "email": user["email"],
            "name": f"{user['firstName']} {user['lastName']}",
            "account_id": str(user["account"]["id"]),
            "account_name": user["account"]["name"],
            "instance_url": "",
            "identity_url": "",
        }

    async def me(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        user = self.state["users"][info["user_id"]]
        return JSONResponse(
            {
                "id": user["id"],
                "email": user["email"],
                "firstName": user["firstName"],
                "lastName": user["lastName"],
                "locale": "en_US",
                "timeZone": "US/Eastern",
                "account": user["account"],
                "admin": False,
                "licensedSheetCreator": True,
                "groupAdmin": False,
                "resourceViewer": False,
                "sheetCount": -1,
                "lastLogin": self.clock.stamp(),
            }
        )

    # --- unknown paths and methods (issue 14, item 2; the core's route_error hook) -------------
    # Reference: ../shared/specs/smartsheet-openapi-2025-ballerina-sanitized.json
    # components/responses 404 (1006 "Not Found") and 405 (1122 "Requested URL does not support
    # this method: {0}."); the older 1010 "HTTP Method not supported." is not chosen.

    def route_error(self, request: Request, status: int, allowed: list[str]) -> Response:
        if status == 405:
            message = f"Requested URL does not support this method: {request.method}."
            return self.error(405, 1122, message)
        return self.error(404, 1006, "Not Found")
