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

import hashlib
import hmac
import re
import time

from faker import Faker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.core import Caller, Emulator, RateLimit, bearer_token, json_error
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


class SmartsheetEmulator(SheetsMixin, Emulator):
    name = "smartsheet"
    title = "Smartsheet"
    default_limit = RateLimit(limit=300, window=60)
    api_prefixes = ("/2.0/",)

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
            Route("/b/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/2.0/token", self.token, methods=["POST"]),
            Route("/2.0/token", self.revoke, methods=["DELETE"]),
            Route("/2.0/users/me", self.me, methods=["GET"]),
            *self.sheet_routes(),
        ]

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        app = self.state["apps"].get(query.get("client_id", ""))
        if app is None:
            return self.error_page("Invalid client_id: this application is not registered.")
        redirect_uri = query.get("redirect_uri") or (app["redirect_uris"] or [""])[0]
        if redirect_uri not in app["redirect_uris"]:
            return self.error_page(
                "The redirect_uri does not match the application's redirect URL."
            )
        state = query.get("state")
        if query.get("response_type") != "code":
            return self.redirect(
                redirect_uri, {"error": "unsupported_response_type", "state": state}
            )
        scopes = query.get("scope", "").split()
        if not scopes or not set(scopes) <= SCOPES:
            return self.redirect(redirect_uri, {"error": "invalid_scope", "state": state})
        if request.method == "GET":
            users = [
                {"id": u["id"], "name": f"{u['firstName']} {u['lastName']}", "email": u["email"]}
                for u in self.state["users"].values()
            ]
            return self.consent_page(
                request, app_name=query["client_id"], scopes=scopes, users=users
            )
        form = await request.form()
        if form.get("decision") != "approve":
            return self.redirect(redirect_uri, {"error": "access_denied", "state": state})
        code = self.issue_code(
            client_id=query["client_id"],
            user_id=str(form.get("user_id")),
            scopes=scopes,
            redirect_uri=redirect_uri,
            explicit_redirect=bool(query.get("redirect_uri")),
        )
        return self.redirect(
            redirect_uri, {"code": code, "expires_in": CODE_EXPIRES_IN_MS, "state": state}
        )

    def _client_ok(self, app: dict, form, secret_of: str) -> bool:
        # Either the plain client_secret or hash = sha256(app_secret + "|" + code-or-refresh).
        if form.get("hash"):
            expected = hashlib.sha256(f"{app['secret']}|{secret_of}".encode()).hexdigest()
            return hmac.compare_digest(form["hash"].lower(), expected)
        return bool(form.get("client_secret")) and hmac.compare_digest(
            form["client_secret"], app["secret"]
        )

    async def token(self, request: Request) -> Response:
        form = await request.form()
        grant = form.get("grant_type")
        if grant not in ("authorization_code", "refresh_token"):
            return self.oauth_error("unsupported_grant_type")
        app = self.state["apps"].get(form.get("client_id", ""))
        if app is None:
            return self.oauth_error("invalid_client", 401)
        if grant == "authorization_code":
            code = form.get("code", "")
            if not code:
                return self.oauth_error("invalid_request")
            if not self._client_ok(app, form, code):
                self.take_code(code)  # a guessed hash burns the code, as a real server would
                return self.oauth_error("invalid_grant", 403)
            record = self.take_code(code)
            if record is None or record["client_id"] != form["client_id"]:
                return self.oauth_error("invalid_grant")
            if record["explicit_redirect"] and form.get("redirect_uri") not in (
                None,
                record["redirect_uri"],
            ):
                return self.oauth_error("invalid_grant")
            info = {
                "client_id": record["client_id"],
                "user_id": record["user_id"],
                "scopes": record["scopes"],
            }
        else:
            refresh = form.get("refresh_token", "")
            if not refresh or not self._client_ok(app, form, refresh):
                return self.oauth_error("invalid_grant", 403 if refresh else 400)
            old = self.state["refresh_tokens"].get(refresh)
            if old is None or old["client_id"] != form["client_id"]:
                return self.oauth_error("invalid_grant")
            self.revoke_refresh(refresh)  # the old pair stops working
            info = {
                "client_id": old["client_id"],
                "user_id": old["user_id"],
                "scopes": old["scopes"],
            }
        tokens = self.issue_tokens(ttl=self.config.get("access_ttl", ACCESS_TTL), **info)
        return JSONResponse(
            {
                "access_token": tokens["access_token"],
                "token_type": "bearer",
                "refresh_token": tokens["refresh_token"],
                "expires_in": int(self.config.get("access_ttl", ACCESS_TTL)),
            }
        )

    def grant_tokens(self, *, client_id: str, user_id: str, scopes: list[str]) -> dict:
        if not scopes or not set(scopes) <= SCOPES:
            raise ValueError("invalid_scope")
        info = {"client_id": client_id, "user_id": user_id, "scopes": scopes}
        tokens = self.issue_tokens(ttl=self.config.get("access_ttl", ACCESS_TTL), **info)
        user = self.state["users"][user_id]
        return {
            **tokens,
            "expires_in": int(self.config.get("access_ttl", ACCESS_TTL)),
            "scopes": scopes,
            "user_id": str(user["id"]),
            "email": user["email"],
            "name": f"{user['firstName']} {user['lastName']}",
            "account_id": str(user["account"]["id"]),
            "account_name": user["account"]["name"],
            "instance_url": "",
            "identity_url": "",
        }

    async def revoke(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        token = bearer_token(request)
        if request.query_params.get("deleteAllForApiClient", "").lower() == "true":
            for access, other in list(self.state["tokens"].items()):
                if (other["client_id"], other["user_id"]) == (info["client_id"], info["user_id"]):
                    self.revoke_access(access)
            for refresh, other in list(self.state["refresh_tokens"].items()):
                if (other["client_id"], other["user_id"]) == (info["client_id"], info["user_id"]):
                    self.revoke_refresh(refresh)
        else:
            self.revoke_access(token)
            for refresh, other in list(self.state["refresh_tokens"].items()):
                if other.get("access_token") == token:
                    self.revoke_refresh(refresh)
        return JSONResponse({"message": "SUCCESS", "resultCode": 0})

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
                "lastLogin": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
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
