"""How people and programs prove who they are: allauth's adapter for sign-in pages and the
API token authentication for DRF."""

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from integrations.accounts import selectors, services


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Sign-up is off unless ACCOUNT_ALLOW_SIGNUP=true: accounts are made by an admin.
        return settings.ACCOUNT_ALLOW_SIGNUP


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` (or `Bearer <key>`) with a key created in admin."""

    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Token <key>'."
            )
        key = header[1].decode(errors="replace")
        token = selectors.api_token_for_key(digest=services.api_token_digest(key))
        if token is None or token.is_expired or not token.user.is_active:
            # One message for all three: do not tell a guesser which keys once existed.
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        services.api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Token"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes the token scheme in /api/schema/ (registered by being defined)."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, with a key created under API tokens in admin.",
        }
