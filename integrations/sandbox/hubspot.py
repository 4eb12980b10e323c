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
import time
import uuid
import zlib

from faker import Faker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.core import Caller, Emulator, RateLimit, bearer_token, json_error, s256

ACCESS_TTL = 1800


class HubSpotEmulator(Emulator):
    name = "hubspot"
    title = "HubSpot"
    default_limit = RateLimit(limit=100, window=10)  # the seed's default for a fresh account
    api_prefixes = ("/crm/", "/account-info/")

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
        return {**super().initial_state(seed), "portal": portal, "users": users}

    # --- helpers -------------------------------------------------------------------------------

    def correlation_id(self) -> str:
        return str(uuid.UUID(int=self.runtime.rng.getrandbits(128), version=4))

    def make_access_token(self) -> str:
        return "CN" + super().make_access_token() + super().make_access_token()[:40]

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
        return Caller(key=str(info["hub_id"])) if info else None  # the limit is per account

    def _limit_headers(self, remaining: int) -> dict:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.limit.window * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.limit.limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
        }

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        # Reference: ../shared/providers/hubspot.md (429: status, message, errorType
        # RATE_LIMIT, correlationId, policyName; hubspot-api-python#117); the published specs'
        # Error requires `category` too (FACTS.md §2), and HubSpot's rate-limit answers carry
        # "category":"RATE_LIMITS" as clients record them (Pobble/hubspot_v3
        # lib/hubspot_v3.rb: {"status":"error","message":"You have reached your secondly
        # limit.","category":"RATE_LIMITS"}); the older observed body lacks it.
        return json_error(
            {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": self.correlation_id(),
                "category": "RATE_LIMITS",
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
        if caller is None:
            return {}
        return self._limit_headers(self.limit.limit - len(self.runtime.windows.get(caller.key, ())))

    def authenticated(self, request: Request) -> tuple[dict | None, Response | None]:
        token = bearer_token(request)
        info, problem = self.token_info(token)
        if info is None:
            if problem == "expired":
                ago = int(time.time() - self.state["tokens"][token]["expires_at"])
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
            Route("/oauth/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/oauth/v1/token", self.token, methods=["POST"]),
            Route("/oauth/v3/token", self.token, methods=["POST"]),
            Route("/oauth/v3/token/introspect", self.introspect, methods=["POST"]),
            Route("/oauth/v3/token/revoke", self.revoke, methods=["POST"]),
            Route("/oauth/v1/access-tokens/{token}", self.access_token_info, methods=["GET"]),
            Route("/oauth/v1/refresh-tokens/{token}", self.refresh_token_info, methods=["GET"]),
            Route(
                "/oauth/v1/refresh-tokens/{token}", self.refresh_token_delete, methods=["DELETE"]
            ),
            Route("/account-info/v3/details", self.account_details, methods=["GET"]),
        ]

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        app = self.state["apps"].get(query.get("client_id", ""))
        if app is None:
            return self.error_page(
                "Couldn't complete the connection: the app's client ID is not valid."
            )
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in app["redirect_uris"]:
            return self.error_page(
                "Couldn't complete the connection: the redirect URL does not match the app's settings."
            )
        state = query.get("state")
        scopes = query.get("scope", "").split()
        if not scopes:
            return self.error_page("Couldn't complete the connection: no scopes were requested.")
        if request.method == "GET":
            users = [
                {"id": u["id"], "name": u["name"], "email": u["email"]}
                for u in self.state["users"].values()
            ]
            return self.consent_page(
                request, app_name=query["client_id"], scopes=scopes, users=users
            )
        form = await request.form()
        if form.get("decision") != "approve":
            return self.redirect(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "The user denied the request.",
                    "state": state,
                },
            )
        code = self.issue_code(
            client_id=query["client_id"],
            user_id=str(form.get("user_id")),
            scopes=scopes,
            redirect_uri=redirect_uri,
            challenge=query.get("code_challenge"),
        )
        return self.redirect(redirect_uri, {"code": code, "state": state})

    def _token_body(self, info: dict, tokens: dict, version3: bool) -> dict:
        body = {
            "token_type": "bearer",
            "refresh_token": tokens["refresh_token"],
            "access_token": tokens["access_token"],
            "expires_in": int(self.config.get("access_ttl", ACCESS_TTL)),
            "hub_id": info["hub_id"],
            "scopes": info["scopes"],
            "user_id": int(info["user_id"]),
        }
        if version3:
            body["token_use"] = "access_token"
        return body

    async def token(self, request: Request) -> Response:
        form = await request.form()
        version3 = "/v3/" in request.url.path
        app = self.state["apps"].get(form.get("client_id", ""))
        if app is None:
            return self.oauth_error(
                "BAD_CLIENT_ID", "missing or unknown client id", "invalid_client"
            )
        if form.get("client_secret") != app["secret"]:
            return self.oauth_error(
                "BAD_CLIENT_SECRET", "missing or invalid client secret", "invalid_client"
            )
        grant = form.get("grant_type")
        ttl = self.config.get("access_ttl", ACCESS_TTL)
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            old = self.state["refresh_tokens"].get(refresh)
            if old is None or old["client_id"] != form["client_id"]:
                return self.oauth_error(
                    "BAD_REFRESH_TOKEN",
                    "refresh token is invalid, expired or revoked",
                    "invalid_grant",
                )
            # HubSpot refresh tokens are long-lived: the same one comes back with a new access token.
            tokens = self.issue_tokens(
                ttl=ttl,
                refresh=False,
                **{k: old[k] for k in ("client_id", "user_id", "scopes", "hub_id")},
            )
            old["access_token"] = tokens["access_token"]
            return JSONResponse(
                self._token_body(old, {**tokens, "refresh_token": refresh}, version3)
            )
        if grant != "authorization_code":
            return self.oauth_error(
                "BAD_GRANT_TYPE",
                "grant_type must be authorization_code or refresh_token",
                "unsupported_grant_type",
            )
        record = self.take_code(form.get("code", ""))
        if record is None or record["client_id"] != form["client_id"]:
            return self.oauth_error(
                "BAD_AUTH_CODE", "missing or unknown auth code", "invalid_grant"
            )
        if form.get("redirect_uri") != record["redirect_uri"]:
            return self.oauth_error(
                "BAD_REDIRECT_URI",
                "redirect_uri does not match the one used for the auth code",
                "invalid_grant",
            )
        if record.get("challenge") and s256(form.get("code_verifier", "")) != record["challenge"]:
            return self.oauth_error(
                "BAD_CODE_VERIFIER",
                "code_verifier does not match the code challenge",
                "invalid_grant",
            )
        user = self.state["users"][record["user_id"]]
        info = {
            "client_id": record["client_id"],
            "user_id": record["user_id"],
            "scopes": record["scopes"],
            "hub_id": user["hub_id"],
        }
        tokens = self.issue_tokens(ttl=ttl, **info)
        return JSONResponse(self._token_body(info, tokens, version3))

    def grant_tokens(self, *, client_id: str, user_id: str, scopes: list[str]) -> dict:
        if not scopes:
            raise ValueError("no scopes were requested")
        user = self.state["users"][user_id]
        info = {
            "client_id": client_id,
            "user_id": user_id,
            "scopes": scopes,
            "hub_id": user["hub_id"],
        }
        tokens = self.issue_tokens(ttl=self.config.get("access_ttl", ACCESS_TTL), **info)
        return {
            **tokens,
            "expires_in": int(self.config.get("access_ttl", ACCESS_TTL)),
            "scopes": scopes,
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
            "expires_in": max(0, int(info["expires_at"] - time.time())),
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

    async def introspect(self, request: Request) -> Response:
        form = await request.form()
        app = self.state["apps"].get(form.get("client_id", ""))
        if app is None or form.get("client_secret") != app["secret"]:
            return self.oauth_error(
                "BAD_CLIENT_ID", "missing or unknown client id", "invalid_client"
            )
        token = form.get("token", "")
        info, _ = self.token_info(token)
        if info is not None:
            return JSONResponse(
                {
                    "active": True,
                    "token_use": "access_token",
                    "client_id": info["client_id"],
                    **self.access_metadata(token, info),
                }
            )
        refresh = self.state["refresh_tokens"].get(token)
        if refresh is not None:
            return JSONResponse(
                {
                    "active": True,
                    "token_use": "refresh_token",
                    "app_id": self.app_id(refresh["client_id"]),
                    **self.refresh_metadata(token, refresh),
                }
            )
        return JSONResponse({"active": False})

    async def revoke(self, request: Request) -> Response:
        form = await request.form()
        app = self.state["apps"].get(form.get("client_id", ""))
        if app is None or form.get("client_secret") != app["secret"]:
            return self.oauth_error(
                "BAD_CLIENT_ID", "missing or unknown client id", "invalid_client"
            )
        # Only the refresh token is revoked; access tokens already issued live on.
        if not self.state["refresh_tokens"].pop(form.get("token", ""), None):
            return self.oauth_error(
                "BAD_REFRESH_TOKEN", "missing or unknown refresh token", "invalid_grant"
            )
        self.dirty = True
        return Response(status_code=200)

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
