"""One OAuth 2.0 authorization server for every emulator, driven by a per-provider profile.

The flows (RFC 6749 authorization code with its consent page, RFC 7636 PKCE S256, refresh,
RFC 7009 revocation, RFC 7662-style introspection, client credentials, and the control
plane's grant) are written once here. What the providers document differently is data in
each emulator's `OAuthProfile`: paths, how a client proves itself, which checks run in which
order, token lifetimes, refresh-token rotation, and the provider's own error answer for each
failure (`errors`: failure kind -> the arguments of the emulator's `oauth_error`). The facts
behind each profile, with their `# Reference:` lines, stay in the provider's module.

An emulator supplies, beside its profile: `oauth_error(*args)` (its error body),
`oauth_identity(user_id)` (who a seeded user is: user_id, email, name, account_id,
account_name, instance_url, identity_url; the consent page lists these),
`token_answer(request, app, info, tokens)` (the success body), where the token records
carry more than client, user and scopes `oauth_claims(user_id)`, and where a client revokes
its own token by presenting it (Smartsheet) the `authenticated(request)` its API uses.

Failure kinds (`errors` keys): grant_type, unknown_client, bad_secret, missing_code,
bad_proof (Smartsheet's hash), bad_code, bad_redirect, missing_verifier, bad_verifier,
missing_refresh, bad_refresh, bad_scope (client credentials), bad_client and
revoke_unknown (revocation and introspection). A provider that does not tell a missing
value from a wrong one leaves out the missing_* kind (and bad_client: unknown_client). A message may name `{client_id}`, `{scope}`
or a path parameter of the endpoint (Azure AD's `{tenant}`).

# Reference: RFC 6749 §4.1 (code grant; errors to the redirect URI only once it is known to be
# registered, §4.1.2.1), §4.4 (client credentials), §6 (refresh; rotation optional), §10.5
# (codes short-lived, 10 minutes at most, used once); RFC 7636 §4.6 (S256); RFC 7009
# (revocation); RFC 7662 (introspection's `active`).
"""

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.core import Emulator, bearer_token, s256

AUTHORIZATION_CODE, REFRESH_TOKEN = "authorization_code", "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"
# The answer of a failure kind a profile leaves out.
FALLBACK_KINDS = {
    "missing_code": "bad_code",
    "missing_verifier": "bad_verifier",
    "missing_refresh": "bad_refresh",
    "bad_client": "unknown_client",
}


def _same(sent: str, expected: str) -> bool:
    """A constant-time comparison of what a client sent: as bytes, since compare_digest
    refuses str with non-ASCII characters (a TypeError, a 500 where the provider says 401)."""
    return hmac.compare_digest(sent.encode(), expected.encode())


@dataclass(frozen=True, kw_only=True)
class OAuthProfile:
    """What one provider's authorization server does differently (see the module doc)."""

    authorize_path: str = ""  # "": no authorization-code flow (client credentials only)
    token_paths: tuple[str, ...] = ()
    revoke_path: str = ""
    revoke_method: str = "POST"
    introspect_path: str = ""
    grants: tuple[str, ...] = (AUTHORIZATION_CODE, REFRESH_TOKEN)
    # "secret": client_secret in the form, checked before the grant. "grant_hash"
    # (Smartsheet): hash = sha256(secret|code or refresh token), or the plain secret, checked
    # with the grant; a wrong one burns the code.
    client_auth: str = "secret"
    grant_type_first: bool = True  # an unknown grant_type is refused before the client is known
    # --- the consent page
    redirect_uri_optional: bool = False  # absent: the first registered one, not checked at /token
    checks_response_type: bool = True
    pkce: bool = False
    pkce_checks_method: bool = False  # a code_challenge_method other than S256 is refused
    known_scopes: frozenset[str] | None = None  # None: any scope
    scopes_required: bool = False
    default_scopes: tuple[str, ...] = ()
    code_redirect_extra: dict[str, Any] = field(default_factory=dict)
    # Refusals shown on the provider's page (no redirect can be trusted yet), by kind:
    # unknown_client, bad_redirect, scope (when "scope" is not among redirect_errors).
    page_messages: dict[str, str] = field(default_factory=dict)
    # Refusals sent back to the redirect URI, kind -> (error, error_description or None):
    # response_type, pkce_method, pkce_missing, scope, denied.
    redirect_errors: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # --- tokens
    ttl_setting: str = "access_ttl"  # the emulator config key that overrides access_ttl
    access_ttl: int = 3600
    answers_expires_in: bool = True  # the control plane's grant reports the lifetime
    refresh_scopes: frozenset[str] | None = None  # a refresh token only with one of these
    rotates_refresh: bool = False  # a refresh ends the old pair and answers a new one
    refresh_answer_repeats: bool = False  # without rotation, the answer repeats the token
    # --- revocation
    revoke_token_from: str = "form"  # "form": the `token` field; "bearer": the caller's own
    revoke_needs_client: bool = False
    revoke_accepts: tuple[str, ...] = ("refresh", "access")
    revoke_refresh_ends_access: bool = True
    revoke_access_ends_refresh: bool = False
    revoke_all_param: str = ""  # a query flag revoking every token of the caller's client+user
    revoke_answer: dict | None = None  # None: an empty 200
    errors: dict[str, tuple] = field(default_factory=dict)


class OAuthFailure(Exception):
    """A refusal: `kind` picks the profile's error answer, `context` fills its message."""

    def __init__(self, kind: str, **context):
        super().__init__(kind)
        self.kind, self.context = kind, context


class OAuthEmulator(Emulator):
    """An emulator whose provider runs an OAuth 2.0 authorization server (see module doc)."""

    oauth = OAuthProfile()

    # --- to override ------------------------------------------------------------------------

    def oauth_error(self, *args) -> Response:
        raise NotImplementedError

    def oauth_identity(self, user_id: str) -> dict:
        raise NotImplementedError

    def token_answer(self, request: Request, app: dict, info: dict, tokens: dict) -> dict:
        raise NotImplementedError

    def oauth_claims(self, user_id: str) -> dict:
        return {}

    def oauth_app(self, request: Request, client_id: str) -> dict | None:
        return self.state["apps"].get(client_id)

    def client_credentials_check(self, request: Request, form) -> dict:
        """Refuse (raise OAuthFailure) what the provider refuses in a client-credentials
        request once the client is known; return the claims of the token otherwise."""
        raise OAuthFailure("grant_type")

    def introspection(self, token: str, info: dict, kind: str) -> dict:
        raise NotImplementedError

    # --- routes ----------------------------------------------------------------------------

    def oauth_routes(self) -> list[Route]:
        profile, routes = self.oauth, []
        if profile.authorize_path:
            routes.append(Route(profile.authorize_path, self.authorize, methods=["GET", "POST"]))
        routes += [Route(path, self.token, methods=["POST"]) for path in profile.token_paths]
        if profile.introspect_path:
            routes.append(Route(profile.introspect_path, self.introspect, methods=["POST"]))
        if profile.revoke_path:
            routes.append(Route(profile.revoke_path, self.revoke, methods=[profile.revoke_method]))
        return routes

    def fail(self, failure: OAuthFailure, request: Request) -> Response:
        context = {**request.path_params, **failure.context}
        errors, kind = self.oauth.errors, failure.kind
        args = errors[kind] if kind in errors else errors[FALLBACK_KINDS[kind]]
        return self.oauth_error(
            *(arg.format(**context) if isinstance(arg, str) else arg for arg in args)
        )

    @property
    def access_ttl(self) -> float:
        return self.config.get(self.oauth.ttl_setting, self.oauth.access_ttl)

    # --- the consent page ----------------------------------------------------------------------

    def scope_refused(self, scopes: list[str]) -> bool:
        known = self.oauth.known_scopes
        return (self.oauth.scopes_required and not scopes) or (
            known is not None and not set(scopes) <= known
        )

    async def authorize(self, request: Request) -> Response:
        profile, query = self.oauth, request.query_params
        client_id = query.get("client_id", "")
        app = self.oauth_app(request, client_id)
        if app is None:
            return self.error_page(profile.page_messages["unknown_client"])
        redirect_uri = query.get("redirect_uri", "")
        if profile.redirect_uri_optional:
            redirect_uri = redirect_uri or (app["redirect_uris"] or [""])[0]
        if redirect_uri not in app["redirect_uris"]:
            return self.error_page(profile.page_messages["bad_redirect"])
        state = query.get("state")

        def refuse(kind: str) -> Response:
            error, description = profile.redirect_errors[kind]
            return self.redirect(
                redirect_uri, {"error": error, "error_description": description, "state": state}
            )

        if profile.checks_response_type and query.get("response_type") != "code":
            return refuse("response_type")
        challenge = query.get("code_challenge") if profile.pkce else None
        method = query.get("code_challenge_method", "S256")
        if profile.pkce_checks_method and challenge and method != "S256":
            return refuse("pkce_method")
        if profile.pkce and self.config.get("require_pkce") and not challenge:
            return refuse("pkce_missing")
        scopes = query.get("scope", " ".join(profile.default_scopes)).split()
        if self.scope_refused(scopes):
            if "scope" in profile.redirect_errors:
                return refuse("scope")
            return self.error_page(profile.page_messages["scope"])
        if request.method == "GET":
            users = [self.oauth_identity(user_id) for user_id in self.state["users"]]
            choices = [{"id": u["user_id"], "name": u["name"], "email": u["email"]} for u in users]
            return self.consent_page(request, app_name=client_id, scopes=scopes, users=choices)
        form = await request.form()
        if form.get("decision") != "approve":
            return refuse("denied")
        code = self.issue_code(
            client_id=client_id,
            user_id=str(form.get("user_id")),
            scopes=scopes,
            redirect_uri=redirect_uri,
            explicit_redirect=bool(query.get("redirect_uri")),
            challenge=challenge,
        )
        return self.redirect(
            redirect_uri, {"code": code, **profile.code_redirect_extra, "state": state}
        )

    # --- the token endpoint ------------------------------------------------------------------

    def proof_ok(self, app: dict, form, grant_value: str) -> bool:
        """The client's proof: its secret, or (grant_hash) sha256(secret|code-or-refresh)."""
        if self.oauth.client_auth == "grant_hash" and form.get("hash"):
            expected = hashlib.sha256(f"{app['secret']}|{grant_value}".encode()).hexdigest()
            return _same(form["hash"].lower(), expected)
        return bool(form.get("client_secret")) and _same(form["client_secret"], app["secret"])

    async def token(self, request: Request) -> Response:
        form = await request.form()
        try:
            app, info, tokens = self.grant(request, form)
        except OAuthFailure as failure:
            return self.fail(failure, request)
        return JSONResponse(self.token_answer(request, app, info, tokens))

    def grant(self, request: Request, form) -> tuple[dict, dict, dict]:
        profile, grant = self.oauth, form.get("grant_type")
        client_id = form.get("client_id", "")
        if profile.grant_type_first and grant not in profile.grants:
            raise OAuthFailure("grant_type")
        app = self.oauth_app(request, client_id)
        if app is None:
            raise OAuthFailure("unknown_client", client_id=client_id)
        if profile.client_auth == "secret" and not self.proof_ok(app, form, ""):
            raise OAuthFailure("bad_secret", client_id=client_id)
        if grant == REFRESH_TOKEN and grant in profile.grants:
            return app, *self.refresh(app, form)
        if grant == CLIENT_CREDENTIALS and grant in profile.grants:
            info = {"client_id": client_id, **self.client_credentials_check(request, form)}
            return app, info, self.issue_tokens(ttl=self.access_ttl, refresh=False, **info)
        if grant != AUTHORIZATION_CODE or grant not in profile.grants:
            raise OAuthFailure("grant_type")
        return app, *self.exchange_code(app, form)

    def exchange_code(self, app: dict, form) -> tuple[dict, dict]:
        profile, client_id = self.oauth, form.get("client_id", "")
        code = form.get("code", "")
        if not code:
            raise OAuthFailure("missing_code")
        if profile.client_auth == "grant_hash" and not self.proof_ok(app, form, code):
            self.take_code(code)  # a guessed hash burns the code, as a real server would
            raise OAuthFailure("bad_proof")
        record = self.take_code(code)
        if record is None or record["client_id"] != client_id:
            raise OAuthFailure("bad_code")
        sent = form.get("redirect_uri")
        if profile.redirect_uri_optional:
            if record["explicit_redirect"] and sent not in (None, record["redirect_uri"]):
                raise OAuthFailure("bad_redirect")
        elif sent != record["redirect_uri"]:
            raise OAuthFailure("bad_redirect")
        if record.get("challenge"):
            verifier = form.get("code_verifier")
            if not verifier:
                raise OAuthFailure("missing_verifier")
            if not _same(s256(verifier), record["challenge"]):
                raise OAuthFailure("bad_verifier")
        return self.first_tokens(client_id, record["user_id"], record["scopes"])

    def first_tokens(self, client_id: str, user_id: str, scopes: list[str]) -> tuple[dict, dict]:
        """The pair an authorization-code grant issues (the control plane's grant too)."""
        info = {
            "client_id": client_id,
            "user_id": user_id,
            "scopes": scopes,
            **self.oauth_claims(user_id),
        }
        wanted = self.oauth.refresh_scopes
        refresh = wanted is None or bool(wanted & set(scopes))
        return info, self.issue_tokens(ttl=self.access_ttl, refresh=refresh, **info)

    def refresh(self, app: dict, form) -> tuple[dict, dict]:
        profile = self.oauth
        refresh = form.get("refresh_token", "")
        if not refresh:
            raise OAuthFailure("missing_refresh")
        if profile.client_auth == "grant_hash" and not self.proof_ok(app, form, refresh):
            raise OAuthFailure("bad_proof")
        old = self.state["refresh_tokens"].get(refresh)
        if old is None or old["client_id"] != form.get("client_id"):
            raise OAuthFailure("bad_refresh")
        info = {key: value for key, value in old.items() if key != "access_token"}
        # Salesforce orgs may turn rotation on (config `rotate_refresh`).
        if self.config.get("rotate_refresh", profile.rotates_refresh):
            self.revoke_refresh(refresh)  # the old pair stops working
            return info, self.issue_tokens(ttl=self.access_ttl, **info)
        tokens = self.issue_tokens(ttl=self.access_ttl, refresh=False, **info)
        old["access_token"] = tokens["access_token"]
        if profile.refresh_answer_repeats:
            tokens["refresh_token"] = refresh
        return info, tokens

    # --- the control plane's grant -----------------------------------------------------------

    def grant_tokens(self, *, client_id: str, user_id: str, scopes: list[str]) -> dict:
        scopes = scopes or list(self.oauth.default_scopes)
        if self.scope_refused(scopes):
            raise ValueError("invalid_scope")
        _, tokens = self.first_tokens(client_id, user_id, scopes)
        return {
            **tokens,
            "expires_in": int(self.access_ttl) if self.oauth.answers_expires_in else None,
            "scopes": scopes,
            **self.oauth_identity(user_id),
        }

    # --- revocation and introspection ------------------------------------------------------------

    def client_known(self, request: Request, form) -> bool:
        app = self.oauth_app(request, form.get("client_id", ""))
        return app is not None and form.get("client_secret") == app["secret"]

    def revoked(self) -> Response:
        answer = self.oauth.revoke_answer
        return JSONResponse(answer) if answer is not None else Response(status_code=200)

    async def revoke(self, request: Request) -> Response:
        profile = self.oauth
        if profile.revoke_token_from == "bearer":
            info, failure = self.authenticated(request)
            if failure:
                return failure
            everything = request.query_params.get(profile.revoke_all_param, "").lower() == "true"
            self.revoke_held(bearer_token(request), info, everything=everything)
            return self.revoked()
        form = await request.form()
        if profile.revoke_needs_client and not self.client_known(request, form):
            return self.fail(OAuthFailure("bad_client"), request)
        token = form.get("token", "")
        if not (
            ("refresh" in profile.revoke_accepts and self.end_refresh(token))
            or ("access" in profile.revoke_accepts and self.revoke_access(token))
        ):
            return self.fail(OAuthFailure("revoke_unknown"), request)
        return self.revoked()

    def end_refresh(self, token: str) -> bool:
        if self.oauth.revoke_refresh_ends_access:
            return self.revoke_refresh(token)
        # Only the refresh token ends: the access tokens it gave live on.
        self.dirty = True
        return self.state["refresh_tokens"].pop(token, None) is not None

    def revoke_held(self, token: str, info: dict, *, everything: bool) -> None:
        """Revoke the caller's own access token (and the refresh tokens that gave it, where the
        provider links them), or every token of its client and user."""
        owner = (info["client_id"], info["user_id"])
        if everything:
            for access, other in list(self.state["tokens"].items()):
                if (other["client_id"], other["user_id"]) == owner:
                    self.revoke_access(access)
            for refresh, other in list(self.state["refresh_tokens"].items()):
                if (other["client_id"], other["user_id"]) == owner:
                    self.revoke_refresh(refresh)
            return
        self.revoke_access(token)
        if self.oauth.revoke_access_ends_refresh:
            for refresh, other in list(self.state["refresh_tokens"].items()):
                if other.get("access_token") == token:
                    self.revoke_refresh(refresh)

    async def introspect(self, request: Request) -> Response:
        form = await request.form()
        if not self.client_known(request, form):
            return self.fail(OAuthFailure("bad_client"), request)
        token = form.get("token", "")
        info, _ = self.token_info(token)
        if info is not None:
            return JSONResponse({"active": True, **self.introspection(token, info, "access")})
        refresh = self.state["refresh_tokens"].get(token)
        if refresh is not None:
            return JSONResponse({"active": True, **self.introspection(token, refresh, "refresh")})
        return JSONResponse({"active": False})
