"""What every provider module shares: the registry entry (ProviderSpec), the small typed
values that leave a provider module (TokenSet, Identity), and the OAuth client settings."""

from dataclasses import dataclass, field

from django.conf import settings

from integrations.errors import ApplicationError


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    label: str
    kind: str  # "oauth" or "client_credentials"
    per_user: bool  # personal connections (one per hub user) instead of one per workspace
    scopes: tuple[str, ...]
    pkce: bool  # the provider accepts PKCE S256 on its authorize and token endpoints
    domains: tuple[str, ...] = ()  # Salesforce: ("login", "test")


@dataclass(frozen=True)
class TokenSet:
    """Tokens as a provider returned them. `expires_in` is None where the provider does not
    say (Salesforce: the session lives until the org's timeout; we refresh on 401)."""

    access_token: str
    refresh_token: str = ""
    expires_in: int | None = None
    scopes: tuple[str, ...] = ()
    instance_url: str = ""
    identity_url: str = ""
    account_id: str = ""


@dataclass(frozen=True)
class Identity:
    user_id: str
    email: str = ""
    name: str = ""
    account_id: str = ""
    account_name: str = ""
    extra: dict = field(default_factory=dict)


class NotConfigured(ApplicationError):
    status_code = 503
    code = "provider_not_configured"


def oauth_client(provider: str) -> tuple[str, str]:
    """(client id, client secret) of our OAuth app at `provider`, or NotConfigured."""
    prefix = provider.upper()
    client_id = getattr(settings, f"{prefix}_CLIENT_ID", "")
    secret = getattr(settings, f"{prefix}_CLIENT_SECRET", "")
    if not (client_id and secret):
        raise NotConfigured(
            f"{provider.title()} is not configured: set {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET."
        )
    return client_id, secret


def sandbox_mode() -> bool:
    return settings.INTEGRATIONS_MODE == "sandbox"


def rate_key(connection) -> str:
    """The token-bucket key of a connection (its id: one token, org or account each); calls
    made before a connection exists (the OAuth exchange) share the key "oauth"."""
    return f"connection-{connection.pk}" if connection.pk else "oauth"
