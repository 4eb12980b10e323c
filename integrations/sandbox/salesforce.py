"""Salesforce emulator: one org per login host (login.salesforce.com and test.salesforce.com
are two instances). OAuth web-server flow with PKCE, refresh (no new refresh token), revoke,
the identity URL, userinfo, `sobjects/User/{id}`, the org's daily API quota answered with
403 REQUEST_LIMIT_EXCEEDED, `Sforce-Limit-Info` on REST answers, and Salesforce's error
bodies (JSON arrays on the REST API, `{error, error_description}` on OAuth).

# Reference: ../shared/providers/salesforce.md (web-server flow, PKCE S256, token fields,
# signature = base64 HMAC-SHA256(id + issued_at, client secret), no expires_in, refresh,
# revoke, 403 REQUEST_LIMIT_EXCEEDED, INVALID_SESSION_ID); help.salesforce.com
# remoteaccess_oauth_flow_errors ("expired access/refresh token"); identity URL fields from
# help.salesforce.com remoteaccess_using_openid.htm.
"""

import base64
import hashlib
import hmac
import secrets

from faker import Faker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.core import Caller, RateLimit, bearer_token, json_error
from integrations.sandbox.oauth import OAuthEmulator, OAuthProfile

SESSION_SECONDS = 7200  # the org's session timeout: access tokens die silently after it
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def sf_id(rng, prefix: str) -> str:
    return prefix + "".join(rng.choice(ID_ALPHABET) for _ in range(15))


class SalesforceEmulator(OAuthEmulator):
    name = "salesforce"
    title = "Salesforce"
    default_limit = RateLimit(limit=15_000, window=86_400)  # Developer Edition daily quota
    api_prefixes = ("/services/data/", "/id/", "/services/oauth2/userinfo")
    login_host = "https://login.salesforce.com"
    # Reference: ../shared/providers/salesforce.md "OAuth" (PKCE S256 only: a mismatch is
    # invalid_request, a missing verifier invalid_grant, PKCE can be required; a refresh token
    # only with the refresh_token scope; no expires_in, the session timeout decides; a refresh
    # answers no new refresh token unless rotation is on, and then the old one dies; revoke
    # takes an access or refresh token, a refresh token's access tokens die with it, else 400
    # invalid_token) (FACTS.md §7).
    oauth = OAuthProfile(
        authorize_path="/services/oauth2/authorize",
        token_paths=("/services/oauth2/token",),
        revoke_path="/services/oauth2/revoke",
        pkce=True,
        pkce_checks_method=True,
        default_scopes=("api", "refresh_token"),
        page_messages={
            "unknown_client": "error=invalid_client_id&error_description=client identifier invalid",
            "bad_redirect": (
                "error=redirect_uri_mismatch&error_description=redirect_uri must match "
                "configuration"
            ),
        },
        redirect_errors={
            "response_type": ("unsupported_response_type", "response type not supported"),
            "pkce_method": ("invalid_request", "code_challenge_method must be S256"),
            "pkce_missing": ("invalid_request", "missing required code challenge"),
            "denied": ("access_denied", "end-user denied authorization"),
        },
        # Access tokens die silently after the org's session timeout; the answer has no
        # expires_in. A refresh token only for the refresh_token / offline_access scope, and
        # no new one on refresh (rotation is off by default): the old one keeps working.
        ttl_setting="session_seconds",
        access_ttl=SESSION_SECONDS,
        answers_expires_in=False,
        refresh_scopes=frozenset({"refresh_token", "offline_access"}),
        errors={
            "grant_type": ("unsupported_grant_type", "grant type not supported"),
            "unknown_client": ("invalid_client_id", "client identifier invalid"),
            "bad_secret": ("invalid_client", "invalid client credentials"),
            "bad_code": ("invalid_grant", "expired authorization code"),
            "bad_redirect": ("invalid_grant", "redirect_uri must match configuration"),
            "missing_verifier": ("invalid_grant", "invalid code verifier"),
            "bad_verifier": ("invalid_request", "invalid code verifier"),
            "bad_refresh": ("invalid_grant", "expired access/refresh token"),
            "revoke_unknown": ("invalid_token", "invalid token"),
        },
    )

    def initial_state(self, seed: int) -> dict:
        fake = Faker()
        fake.seed_instance(seed + (1 if self.name.endswith("test") else 0))
        rng = fake.random
        org = {"id": sf_id(rng, "00D"), "name": fake.company()}
        domain = fake.domain_name()
        users = {}
        for _ in range(3):
            first, last = fake.first_name(), fake.last_name()
            user_id = sf_id(rng, "005")
            users[user_id] = {
                "id": user_id,
                "email": f"{first}.{last}@{domain}".lower(),
                "username": f"{first}.{last}@{domain}".lower(),
                "first_name": first,
                "last_name": last,
            }
        return {**super().initial_state(seed), "org": org, "users": users}

    # --- helpers -------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return self.config.get("base_url", "https://127.0.0.1")

    def identity_url(self, user_id: str) -> str:
        return f"{self.base}/id/{self.state['org']['id']}/{user_id}"

    def make_access_token(self, info: dict) -> str:
        return f"{self.state['org']['id']}!AR" + secrets.token_urlsafe(72)[:96]

    def make_refresh_token(self) -> str:
        return "5Aep" + secrets.token_urlsafe(64)[:83]

    def oauth_error(self, error: str, description: str, status: int = 400) -> JSONResponse:
        return json_error({"error": error, "error_description": description}, status)

    def rest_error(self, status: int, code: str, message: str) -> JSONResponse:
        return json_error([{"message": message, "errorCode": code}], status)

    def caller(self, request: Request) -> Caller | None:
        # Authentication comes before the quota: only a live session counts against the org's
        # daily limit, so a junk or expired token gets 401 INVALID_SESSION_ID even once the
        # quota is spent (salesforce.md: 401 for a bad session, 403 for the quota).
        info, _ = self.token_info(bearer_token(request))
        return Caller(key=self.state["org"]["id"]) if info else None  # the quota is per org

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return self.rest_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")

    def storm_response(self, request: Request, retry_after: float | None) -> Response:
        return self.rate_limited(request, retry_after or 0)

    def error_response(self, request: Request, status: int, code: int | None = None) -> Response:
        if status == 503:
            return self.rest_error(503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable.")
        return self.rest_error(
            status,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support.",
        )

    def route_error(self, request: Request, status: int, allowed: list[str]) -> Response:
        # Reference: ../shared/specs/salesforce-sobjects-openapi-v59-core.json (404 and 405 are
        # arrays of RestApiError {errorCode, message}); the texts as the REST API sends them
        # (ballerina-platform/module-ballerinax-salesforce#4; simple-salesforce#157). The OAuth
        # paths share the host and, undocumented, get the same REST shape.
        if status == 405:
            return self.rest_error(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{request.method}' not allowed. Allowed are {','.join(allowed)}",
            )
        return self.rest_error(404, "NOT_FOUND", "The requested resource does not exist")

    def extra_headers(self, request: Request, status: int) -> dict[str, str]:
        if not request.url.path.startswith("/services/data/"):
            return {}
        used = len(self.runtime.windows.get(self.state["org"]["id"], ()))
        return {"Sforce-Limit-Info": f"api-usage={used}/{self.limit.limit}"}

    def authenticated(self, request: Request) -> tuple[dict | None, Response | None]:
        info, _ = self.token_info(bearer_token(request))
        if info is None:
            return None, self.rest_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        return info, None

    # --- routes --------------------------------------------------------------------------------

    def api_routes(self) -> list[Route]:
        return [
            *self.oauth_routes(),
            Route("/services/oauth2/userinfo", self.userinfo, methods=["GET"]),
            Route("/id/{org_id}/{user_id}", self.identity, methods=["GET"]),
            Route(
                "/services/data/v{version}/sobjects/User/{user_id}",
                self.user_record,
                methods=["GET"],
            ),
        ]

    def token_answer(self, request: Request, app: dict, info: dict, tokens: dict) -> dict:
        issued_at = str(int(self.clock.time() * 1000))
        identity = self.identity_url(info["user_id"])
        signature = base64.b64encode(
            hmac.new(
                app["secret"].encode(), (identity + issued_at).encode(), hashlib.sha256
            ).digest()
        ).decode()
        body = {
            "access_token": tokens["access_token"],
            "signature": signature,
            "scope": " ".join(info["scopes"]),
            "instance_url": self.base,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
        if tokens.get("refresh_token"):
            body["refresh_token"] = tokens["refresh_token"]
        return body

    def oauth_identity(self, user_id: str) -> dict:
        # Salesforce's answer carries no expiry (the org's session timeout decides) and the
        # User record no account: the org id is the identity URL's second-to-last part.
        user = self.state["users"][user_id]
        return {
            "user_id": user["id"],
            "email": user["email"],
            "name": f"{user['first_name']} {user['last_name']}",
            "account_id": self.state["org"]["id"],
            "account_name": "",
            "instance_url": self.base,
            "identity_url": self.identity_url(user_id),
        }

    async def identity(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        user = self.state["users"].get(request.path_params["user_id"])
        if user is None or request.path_params["org_id"] != self.state["org"]["id"]:
            return json_error("Bad_Id", 404)
        return JSONResponse(
            {
                "id": self.identity_url(user["id"]),
                "asserted_user": user["id"] == info["user_id"],
                "user_id": user["id"],
                "organization_id": self.state["org"]["id"],
                "username": user["username"],
                "nick_name": user["first_name"].lower(),
                "display_name": f"{user['first_name']} {user['last_name']}",
                "email": user["email"],
                "email_verified": True,
                "first_name": user["first_name"],
                "last_name": user["last_name"],
                "timezone": "America/New_York",
                "active": True,
                "user_type": "STANDARD",
                "language": "en_US",
                "locale": "en_US",
                "utcOffset": -18_000_000,
                "urls": {
                    "rest": f"{self.base}/services/data/v{{version}}/",
                    "sobjects": f"{self.base}/services/data/v{{version}}/sobjects/",
                    "query": f"{self.base}/services/data/v{{version}}/query/",
                },
            }
        )

    async def userinfo(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        user = self.state["users"][info["user_id"]]
        return JSONResponse(
            {
                "sub": self.identity_url(user["id"]),
                "user_id": user["id"],
                "organization_id": self.state["org"]["id"],
                "preferred_username": user["username"],
                "name": f"{user['first_name']} {user['last_name']}",
                "given_name": user["first_name"],
                "family_name": user["last_name"],
                "email": user["email"],
                "email_verified": True,
                "active": True,
                "user_type": "STANDARD",
                "locale": "en_US",
            }
        )

    async def user_record(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        user = self.state["users"].get(request.path_params["user_id"])
        if user is None:
            return self.rest_error(404, "NOT_FOUND", "The requested resource does not exist")
        version = request.path_params["version"]
        return JSONResponse(
            {
                "attributes": {
                    "type": "User",
                    "url": f"/services/data/v{version}/sobjects/User/{user['id']}",
                },
                "Id": user["id"],
                "Username": user["username"],
                "Email": user["email"],
                "FirstName": user["first_name"],
                "LastName": user["last_name"],
                "Name": f"{user['first_name']} {user['last_name']}",
                "IsActive": True,
            }
        )


class SalesforceTestEmulator(SalesforceEmulator):
    """The sandbox-org login host (test.salesforce.com): its own org, users and tokens."""

    name = "salesforce-test"
    title = "Salesforce (sandbox org)"
    login_host = "https://test.salesforce.com"
