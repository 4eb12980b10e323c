"""HubSpot emulator: OAuth (consent, v1 and v3 token endpoints, v3 introspect and revoke, v1
access- and refresh-token metadata, v1 refresh-token delete), `GET /account-info/v3/details`,
the 100-per-10-seconds account limit with HubSpot's 429 body and X-HubSpot-RateLimit-*
headers, and HubSpot's error bodies, also for paths and methods it does not serve.

# Reference: ../shared/providers/hubspot.md (OAuth, 30-minute access tokens, error shape,
# 429 body, rate-limit headers). The published spec collection (public repository
# HubSpot/HubSpot-public-api-spec-collection; its licence keeps it out of this repository, so
# only the facts are encoded here):
# - PublicApiSpecs/Auth/Oauth/Rollouts/155908/v1/oauth.json: `Error` requires category,
#   correlationId, message (no `status`); GET /oauth/v1/access-tokens/{token} answers
#   AccessTokenInfoResponse (required app_id, expires_in, hub_id, scopes, token, token_type,
#   user_id; optional hub_domain, is_private_distribution, signed_access_token, user);
#   GET /oauth/v1/refresh-tokens/{token} answers RefreshTokenInfoResponse (required client_id,
#   hub_id, scopes, token, token_type, user_id; optional hub_domain, user); DELETE on it is
#   204 with no content; token_type is "typically bearer".
# - PublicApiSpecs/Auth/Oauth/Rollouts/279897/2026-03/oauth.json (the v3 API under another
#   prefix): introspection is PublicAccessTokenInfoResponse (required active, app_id,
#   client_id, expires_in, hub_id, is_private_distribution, scopes, signed_access_token, token,
#   token_type, token_use, user_id) or PublicRefreshTokenInfoResponse (the same without
#   expires_in, is_private_distribution, signed_access_token); SignedAccessToken requires
#   appId, appInstallId, audience, expiresAt, hubId, hublet, installingUserId,
#   isPrivateDistribution, isServiceAccount, isUserLevel, newSignature, scopeToScopeGroupPks,
#   scopes (a string), signature, trialScopeToScopeGroupPks, trialScopes, userId.
# - HubSpot changelog "New OAuth v3 API endpoints and standardized error responses"
#   (developers.hubspot.com/changelog): OAuth errors add RFC 6749 `error` and
#   `error_description`, while `status` and `message` remain for backward compatibility. So
#   OAuth errors carry the spec's fields, the RFC 6749 pair and the legacy `status` (BAD_*);
#   `category` for them is not published: VALIDATION_ERROR, the spec's own example.
# - Unknown paths: 404 {"status":"error","message":"resource not found","correlationId",...}
#   as observed (HGData/mk-node-hubspot#150), plus the spec's `category` (OBJECT_NOT_FOUND).
#   A wrong method was observed as 405 with an empty body (HubSpot/hubspot-php#203): we send
#   the spec's Error shape instead, with `Allow`, so clients meet one error shape.
# The denied-consent redirect is not documented: we answer the RFC 6749 form.
"""

import base64
import hashlib
import hmac
import uuid
import zlib
from collections import deque

from faker import Faker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.core import Caller, RateLimit, bearer_token, json_error
from integrations.sandbox.hubspot_data import SEARCH_PER_SECOND, HubSpotData
from integrations.sandbox.hubspot_webhooks import HubSpotWebhooks
from integrations.sandbox.oauth import OAuthEmulator, OAuthProfile

ACCESS_TTL = 1800
SEED_COMPANIES, SEED_CONTACTS = 40, 80  # the account's CRM rows after a reset


class HubSpotEmulator(HubSpotData, HubSpotWebhooks, OAuthEmulator):
    name = "hubspot"
    title = "HubSpot"
    default_limit = RateLimit(limit=100, window=10)  # the seed's default for a fresh account
    api_prefixes = ("/crm/", "/account-info/")
    # Reference: ../shared/providers/hubspot.md "OAuth 2.0" (v1 and v3 token endpoints with
    # client_id + client_secret; 30-minute access tokens, long-lived refresh tokens; v3
    # introspect and revoke; code_verifier accepted, code_challenge undocumented; 400
    # BAD_REFRESH_TOKEN); the v3 error fields as in this module's doc (FACTS.md §2, §7).
    oauth = OAuthProfile(
        authorize_path="/oauth/authorize",
        token_paths=("/oauth/v1/token", "/oauth/v3/token"),
        introspect_path="/oauth/v3/token/introspect",
        revoke_path="/oauth/v3/token/revoke",
        grant_type_first=False,
        checks_response_type=False,
        # code_verifier is documented at the token endpoints, code_challenge nowhere: a
        # challenge sent is kept and checked as S256, its method is not read.
        pkce=True,
        scopes_required=True,
        page_messages={
            "unknown_client": "Couldn't complete the connection: the app's client ID is not valid.",
            "bad_redirect": (
                "Couldn't complete the connection: the redirect URL does not match the app's "
                "settings."
            ),
            "scope": "Couldn't complete the connection: no scopes were requested.",
        },
        redirect_errors={"denied": ("access_denied", "The user denied the request.")},
        access_ttl=ACCESS_TTL,
        # Refresh tokens are long-lived: the same one comes back with a new access token.
        refresh_answer_repeats=True,
        # Revocation takes the refresh token only; access tokens already issued live on.
        revoke_needs_client=True,
        revoke_accepts=("refresh",),
        revoke_refresh_ends_access=False,
        errors={
            "grant_type": (
                "BAD_GRANT_TYPE",
                "grant_type must be authorization_code or refresh_token",
                "unsupported_grant_type",
            ),
            "unknown_client": ("BAD_CLIENT_ID", "missing or unknown client id", "invalid_client"),
            "bad_secret": (
                "BAD_CLIENT_SECRET",
                "missing or invalid client secret",
                "invalid_client",
            ),
            "bad_code": ("BAD_AUTH_CODE", "missing or unknown auth code", "invalid_grant"),
            "bad_redirect": (
                "BAD_REDIRECT_URI",
                "redirect_uri does not match the one used for the auth code",
                "invalid_grant",
            ),
            "bad_verifier": (
                "BAD_CODE_VERIFIER",
                "code_verifier does not match the code challenge",
                "invalid_grant",
            ),
            "bad_refresh": (
                "BAD_REFRESH_TOKEN",
                "refresh token is invalid, expired or revoked",
                "invalid_grant",
            ),
            "revoke_unknown": (
                "BAD_REFRESH_TOKEN",
                "missing or unknown refresh token",
                "invalid_grant",
            ),
        },
    )

    def initial_state(self, seed: int) -> dict:
        fake = Faker()
        fake.seed_instance(seed + 7)
        hub_id = fake.random_number(digits=8, fix_len=True)
        portal = {
            "hub_id": hub_id,
            "domain": f"{fake.domain_word()}.hubspot.com",
            "name": fake.company(),
        }
        users = {}
        for _ in range(3):
            first, last = fake.first_name(), fake.last_name()
            user_id = fake.random_number(digits=8, fix_len=True)
            users[str(user_id)] = {
                "id": user_id,
                "email": f"{first}.{last}@{fake.domain_name()}".lower(),
                "name": f"{first} {last}",
                "hub_id": hub_id,
            }
        crm = self.crm_state(seed, SEED_COMPANIES, SEED_CONTACTS)
        return {
            **super().initial_state(seed),
            "portal": portal,
            "users": users,
            **crm,
            "webhooks": self.webhook_state(),
        }

    def reset(self, seed: int | None = None) -> None:
        self.webhooks_reset()  # events of the old state never go out
        super().reset(seed)

    # --- helpers -------------------------------------------------------------------------------

    def correlation_id(self) -> str:
        return str(uuid.UUID(int=self.runtime.rng.getrandbits(128), version=4))

    def make_access_token(self, info: dict) -> str:
        return "CN" + super().make_access_token(info) + super().make_access_token(info)[:40]

    def make_refresh_token(self) -> str:
        raw = super().make_refresh_token()
        return "na1-" + "-".join(raw[i : i + 4] for i in range(0, 20, 4))

    def oauth_error(
        self, status_code: str, message: str, error: str, status: int = 400
    ) -> JSONResponse:
        """An OAuth endpoint's error: the spec's Error (category, correlationId, message), the
        RFC 6749 pair and the legacy `status` code. Config `oauth_error_status: false` leaves
        `status` out, as the spec's shape does: tests prove the hub does not need it."""
        body = {
            "status": status_code,
            "message": message,
            "correlationId": self.correlation_id(),
            "category": "VALIDATION_ERROR",
            "error": error,
            "error_description": message,
        }
        if not self.config.get("oauth_error_status", True):
            del body["status"]
        return json_error(body, status)

    def api_error(self, status: int, category: str, message: str, **extra) -> JSONResponse:
        return json_error(
            {
                "status": "error",
                "message": message,
                "correlationId": self.correlation_id(),
                "category": category,
                **extra,
            },
            status,
        )

    def caller(self, request: Request) -> Caller | None:
        info, _ = self.token_info(bearer_token(request))
        if not info:
            return None
        # The limit is per account; searches have their own (5 a second) and do not count
        # against the ten-secondly one (../shared/providers/hubspot.md "Search").
        prefix = "search:" if _is_search(request) else ""
        return Caller(key=f"{prefix}{info['hub_id']}")

    def take(self, key: str, now: float, weight: int = 1) -> float:
        if not key.startswith("search:"):
            return super().take(key, now, weight)
        window = self.runtime.windows.setdefault(key, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) + weight > int(self.config.get("search_per_second", SEARCH_PER_SECOND)):
            return max(0.001, window[0] + 1.0 - now)
        window.extend([now] * weight)
        return 0.0

    def _limit_headers(self, remaining: int) -> dict:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.limit.window * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.limit.limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
        }

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        if _is_search(request):
            # Reference: ../shared/providers/hubspot.md "Rate limits" (policyName SECONDLY);
            # search answers carry no X-HubSpot-RateLimit-* headers.
            return json_error(
                {
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": self.correlation_id(),
                    "policyName": "SECONDLY",
                },
                429,
            )
        return json_error(
            {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": self.correlation_id(),
                "policyName": "TEN_SECONDLY_ROLLING",
            },
            429,
            self._limit_headers(0),
        )

    def storm_response(self, request: Request, retry_after: float | None) -> Response:
        response = self.rate_limited(request, retry_after or 0)
        if retry_after is not None:
            response.headers["Retry-After"] = str(int(retry_after))
        return response

    def error_response(self, request: Request, status: int, code: int | None = None) -> Response:
        return self.api_error(
            status,
            "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
            "Internal error, please try again.",
        )

    def route_error(self, request: Request, status: int, allowed: list[str]) -> Response:
        if status == 405:
            return self.api_error(
                405,
                "VALIDATION_ERROR",
                f"Method {request.method} is not allowed for this resource; allowed: "
                + ", ".join(allowed),
            )
        return self.api_error(404, "OBJECT_NOT_FOUND", "resource not found")

    def extra_headers(self, request: Request, status: int) -> dict[str, str]:
        caller = self.caller(request) if request.url.path.startswith(self.api_prefixes) else None
        if caller is None or caller.key.startswith("search:"):
            return {}
        return self._limit_headers(self.limit.limit - len(self.runtime.windows.get(caller.key, ())))

    def authenticated(self, request: Request) -> tuple[dict | None, Response | None]:
        token = bearer_token(request)
        info, problem = self.token_info(token)
        if info is None:
            if problem == "expired":
                ago = int(self.clock.time() - self.state["tokens"][token]["expires_at"])
                return None, self.api_error(
                    401,
                    "EXPIRED_AUTHENTICATION",
                    f"The OAuth token used to make this call expired {ago} second(s) ago.",
                )
            return None, self.api_error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        return info, None

    # --- routes --------------------------------------------------------------------------------

    def api_routes(self) -> list[Route]:
        return [
            *self.oauth_routes(),
            Route("/oauth/v1/access-tokens/{token}", self.access_token_info, methods=["GET"]),
            Route("/oauth/v1/refresh-tokens/{token}", self.refresh_token_info, methods=["GET"]),
            Route(
                "/oauth/v1/refresh-tokens/{token}", self.refresh_token_delete, methods=["DELETE"]
            ),
            Route("/account-info/v3/details", self.account_details, methods=["GET"]),
            *self.crm_routes(),
            *self.webhook_routes(),
        ]

    def control_routes(self) -> list[Route]:
        return [
            *super().control_routes(),
            *self.crm_control_routes(),
            *self.webhook_control_routes(),
        ]

    def oauth_claims(self, user_id: str) -> dict:
        return {"hub_id": self.state["users"][user_id]["hub_id"]}

    def token_answer(self, request: Request, app: dict, info: dict, tokens: dict) -> dict:
        body = {
            "token_type": "bearer",
            "refresh_token": tokens["refresh_token"],
            "access_token": tokens["access_token"],
            "expires_in": int(self.access_ttl),
            "hub_id": info["hub_id"],
            "scopes": info["scopes"],
            "user_id": int(info["user_id"]),
        }
        if "/v3/" in request.url.path:
            body["token_use"] = "access_token"
        return body

    def oauth_identity(self, user_id: str) -> dict:
        user = self.state["users"][user_id]
        return {
            "user_id": str(user["id"]),
            "email": user["email"],
            "name": user["name"],
            "account_id": str(user["hub_id"]),
            "account_name": self.state["portal"]["domain"],
            "instance_url": "",
            "identity_url": "",
        }

    def app_id(self, client_id: str) -> int:
        return zlib.crc32(client_id.encode()) % 10_000_000

    def _signed_access_token(self, token: str, info: dict) -> dict:
        """The decoded access token as HubSpot describes it (SignedAccessToken). Values HubSpot
        does not explain (scope-group keys, the signatures) are stable stand-ins."""
        app = self.state["apps"].get(info["client_id"], {})
        signature = base64.b64encode(
            hmac.new(app.get("secret", "").encode(), token.encode(), hashlib.sha256).digest()
        ).decode()
        scope_groups = ",".join(
            str(zlib.crc32(scope.encode()) % 100_000) for scope in info["scopes"]
        )
        return {
            "appId": self.app_id(info["client_id"]),
            "appInstallId": f"{self.app_id(info['client_id'])}-{info['hub_id']}",
            "audience": self.config.get("base_url", "https://api.hubapi.com"),
            "expiresAt": int(info["expires_at"] * 1000),  # epoch milliseconds (choice)
            "hubId": info["hub_id"],
            "hublet": "na1",
            "installingUserId": int(info["user_id"]),
            "isPrivateDistribution": False,
            "isServiceAccount": False,
            "isUserLevel": False,
            "newSignature": signature,
            "scopeToScopeGroupPks": scope_groups,
            "scopes": ",".join(info["scopes"]),
            "signature": signature,
            "trialScopeToScopeGroupPks": "",
            "trialScopes": "",
            "userId": int(info["user_id"]),
        }

    def access_metadata(self, token: str, info: dict) -> dict:
        """AccessTokenInfoResponse (v1), which the v3 introspection extends."""
        return {
            "token": token,
            "user": self.state["users"][info["user_id"]]["email"],
            "hub_domain": self.state["portal"]["domain"],
            "scopes": info["scopes"],
            "signed_access_token": self._signed_access_token(token, info),
            "hub_id": info["hub_id"],
            "app_id": self.app_id(info["client_id"]),
            "expires_in": max(0, int(info["expires_at"] - self.clock.time())),
            "user_id": int(info["user_id"]),
            "token_type": "bearer",
            "is_private_distribution": False,
        }

    def refresh_metadata(self, token: str, info: dict) -> dict:
        """RefreshTokenInfoResponse (v1)."""
        return {
            "token": token,
            "user": self.state["users"][info["user_id"]]["email"],
            "hub_domain": self.state["portal"]["domain"],
            "scopes": info["scopes"],
            "hub_id": info["hub_id"],
            "client_id": info["client_id"],
            "user_id": int(info["user_id"]),
            "token_type": "bearer",
        }

    def introspection(self, token: str, info: dict, kind: str) -> dict:
        if kind == "access":
            return {
                "token_use": "access_token",
                "client_id": info["client_id"],
                **self.access_metadata(token, info),
            }
        return {
            "token_use": "refresh_token",
            "app_id": self.app_id(info["client_id"]),
            **self.refresh_metadata(token, info),
        }

    async def access_token_info(self, request: Request) -> Response:
        token = request.path_params["token"]
        info, _ = self.token_info(token)
        if info is None:
            return self.api_error(404, "OBJECT_NOT_FOUND", "Token not found")
        return JSONResponse(self.access_metadata(token, info))

    async def refresh_token_info(self, request: Request) -> Response:
        token = request.path_params["token"]
        info = self.state["refresh_tokens"].get(token)
        if info is None:
            return self.api_error(404, "OBJECT_NOT_FOUND", "Token not found")
        return JSONResponse(self.refresh_metadata(token, info))

    async def refresh_token_delete(self, request: Request) -> Response:
        if not self.state["refresh_tokens"].pop(request.path_params["token"], None):
            return self.api_error(404, "OBJECT_NOT_FOUND", "Token not found")
        self.dirty = True
        return Response(status_code=204)

    async def account_details(self, request: Request) -> Response:
        info, failure = self.authenticated(request)
        if failure:
            return failure
        return JSONResponse(
            {
                "portalId": info["hub_id"],
                "accountType": "STANDARD",
                "timeZone": "US/Eastern",
                "companyCurrency": "USD",
                "additionalCurrencies": [],
                "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18_000_000,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1",
            }
        )


def _is_search(request: Request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/search")
