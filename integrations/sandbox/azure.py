"""Azure AD (Microsoft identity platform v2.0) emulator for the client-credentials flow, as
msal's ConfidentialClientApplication uses it: OpenID discovery per tenant and the token
endpoint, with AADSTS error bodies. Tokens it issues are read by the Dataverse emulator.

# Reference: ../shared/providers/dataverse.md ("MSAL discovery and emulator setup": discovery
# document keys, token POST fields, errors as {"error", ...}); AADSTS7000215 / 700016 /
# 90002 bodies (error, error_description, error_codes, timestamp, trace_id, correlation_id,
# error_uri) as Azure AD returns them; success body token_type/expires_in/ext_expires_in.
# A wrong method on the token endpoint: AADSTS900561 "The endpoint only accepts POST, OPTIONS
# requests. Received a GET request.", also seen without OPTIONS (GoogleCloudPlatform/
# database-assessment#331, BitySA/oauth2-auth-code-pkce#30; koskila.net resolving-error-
# aadsts90056); the HTTP status is not published: 405 here. An unknown
# path has no documented JSON answer (the real host serves HTML pages): we answer 404 in the
# same error shape, with no AADSTS code.
"""

import base64
import json
import time
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.core import RateLimit, json_error
from integrations.sandbox.oauth import CLIENT_CREDENTIALS, OAuthEmulator, OAuthFailure, OAuthProfile

TOKEN_TTL = 3599


def _b64(data: dict) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
        .rstrip(b"=")
        .decode()
    )


class AzureEmulator(OAuthEmulator):
    name = "azure"
    title = "Microsoft Entra ID"
    default_limit = RateLimit(limit=10_000, window=60)
    # Reference: ../shared/providers/dataverse.md "MSAL discovery and emulator setup"
    # (client credentials at /{tenant}/oauth2/v2.0/token, 3599-second tokens); the AADSTS
    # texts as in this module's doc.
    oauth = OAuthProfile(
        token_paths=("/{tenant}/oauth2/v2.0/token",),
        grants=(CLIENT_CREDENTIALS,),
        ttl_setting="token_ttl",
        access_ttl=TOKEN_TTL,
        errors={
            "grant_type": (
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            ),
            "unknown_client": (
                400,
                "unauthorized_client",
                700016,
                "Application with identifier '{client_id}' was not found in the directory "
                "'{tenant}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You may "
                "have sent your authentication request to the wrong tenant.",
            ),
            "bad_secret": (
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                "'{client_id}'.",
            ),
            "bad_scope": (
                400,
                "invalid_scope",
                1002012,
                "The provided value for scope {scope} is not valid. Client credential flows must "
                "have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            ),
        },
    )

    def initial_state(self, seed: int) -> dict:
        return {**super().initial_state(seed), "tenants": {}}

    def register_client(self, tenant_id: str, client_id: str, secret: str) -> None:
        tenant = self.state["tenants"].setdefault(tenant_id, {"apps": {}})
        tenant["apps"][client_id] = {"secret": secret}
        self.dirty = True

    def register_from(self, body: dict) -> dict:
        # Azure AD apps live in a tenant: {"tenant_id", "client_id", "client_secret"}.
        self.register_client(body["tenant_id"], body["client_id"], body["client_secret"])
        return {"tenant_id": body["tenant_id"], "client_id": body["client_id"]}

    @property
    def base(self) -> str:
        return self.config.get("base_url", "https://127.0.0.1")

    def oauth_error(self, status: int, error: str, code: int | None, text: str) -> JSONResponse:
        return self.aad_error(status, error, code, text)

    def aad_error(self, status: int, error: str, code: int | None, text: str) -> JSONResponse:
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(self.clock.time()))
        prefix = f"AADSTS{code}: " if code is not None else ""
        return json_error(
            {
                "error": error,
                "error_description": f"{prefix}{text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {stamp}",
                "error_codes": [code] if code is not None else [],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": f"{self.base}/error?code={code}",
            },
            status,
        )

    def route_error(self, request: Request, status: int, allowed: list[str]) -> Response:
        if status == 405:
            # The variant without OPTIONS: this emulator does not answer preflight requests.
            accepted = ", ".join(m for m in allowed if m != "HEAD")
            return self.aad_error(
                405,
                "invalid_request",
                900561,
                f"The endpoint only accepts {accepted} requests. Received a {request.method} request.",
            )
        return self.aad_error(
            404, "invalid_request", None, "The requested endpoint does not exist."
        )

    def unknown_tenant(self, tenant: str) -> JSONResponse:
        return self.aad_error(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud. Check with your subscription administrator, this may "
            "happen if there are no active subscriptions for the tenant.",
        )

    def api_routes(self) -> list[Route]:
        return [
            Route(
                "/{tenant}/v2.0/.well-known/openid-configuration", self.discovery, methods=["GET"]
            ),
            *self.oauth_routes(),
        ]

    async def discovery(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if tenant not in self.state["tenants"]:
            return self.unknown_tenant(tenant)
        base = f"{self.base}/{tenant}"
        return JSONResponse(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "tenant_region_scope": "NA",
                "cloud_instance_name": "microsoftonline.com",
            }
        )

    async def token(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if tenant not in self.state["tenants"]:
            return self.unknown_tenant(tenant)
        return await super().token(request)

    def oauth_app(self, request: Request, client_id: str) -> dict | None:
        return self.state["tenants"][request.path_params["tenant"]]["apps"].get(client_id)

    def client_credentials_check(self, request: Request, form) -> dict:
        scope = form.get("scope", "")
        if not scope.endswith("/.default") or " " in scope.strip():
            raise OAuthFailure("bad_scope", scope=scope)
        return {
            "tenant_id": request.path_params["tenant"],
            "audience": scope.removesuffix("/.default"),
        }

    def make_access_token(self, info: dict) -> str:
        now = int(self.clock.time())
        claims = {
            "aud": info["audience"],
            "iss": f"{self.base}/{info['tenant_id']}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + int(self.access_ttl),
            "appid": info["client_id"],
            "tid": info["tenant_id"],
            "oid": str(uuid.uuid4()),
            "jti": str(uuid.uuid4()),
        }
        # JWT-shaped (header.claims.signature); the signature part is random, not a real one.
        return f"{_b64({'typ': 'JWT', 'alg': 'RS256'})}.{_b64(claims)}.{_b64({'sig': uuid.uuid4().hex})}"

    def token_answer(self, request: Request, app: dict, info: dict, tokens: dict) -> dict:
        ttl = int(self.access_ttl)
        return {
            "token_type": "Bearer",
            "expires_in": ttl,
            "ext_expires_in": ttl,
            "access_token": tokens["access_token"],
        }
