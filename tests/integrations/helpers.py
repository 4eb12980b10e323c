"""Steps shared by the platform's tests: connect (through a granted token, or the whole
OAuth flow where the flow is what a test is about)."""

from integrations import sandbox as sandbox_module
from integrations.connections import providers
from integrations.connections import services as connections
from integrations.connections.oauth import flow
from integrations.connections.providers.base import Identity, TokenSet, oauth_client


def connect(sandbox, *, user, workspace, provider: str, domain: str = "", full_flow: bool = False):
    """A stored connection, as the OAuth callback stores it. By default the emulator's control
    plane grants the token pair in one call (the consent page, code exchange and who-am-i cost
    a third of the suite's time and are the OAuth tests' subject, not every test's); the row,
    its audit event and the emulator's tokens are the same. `full_flow=True`: start, consent
    at the emulator and finish through the callback."""
    if full_flow:
        return connect_through_consent(
            sandbox, user=user, workspace=workspace, provider=provider, domain=domain
        )
    spec = providers.get(provider).SPEC
    domain = (domain or spec.domains[0]) if spec.domains else ""
    emulator = provider if domain in ("", "login") else f"{provider}-{domain}"
    client_id, _ = oauth_client(provider)
    granted = sandbox.grant(emulator, client_id=client_id, scope=" ".join(spec.scopes))
    tokens = TokenSet(
        access_token=granted["access_token"],
        refresh_token=granted["refresh_token"],
        expires_in=granted["expires_in"],
        # What each provider module's token parsing keeps: Smartsheet's answer names no scopes.
        scopes=spec.scopes if provider == "smartsheet" else tuple(granted["scopes"]),
        instance_url=granted["instance_url"],
        identity_url=granted["identity_url"],
        account_id=granted["account_id"],
    )
    identity = Identity(
        user_id=granted["user_id"],
        email=granted["email"],
        name=granted["name"],
        account_id=granted["account_id"],
        account_name=granted["account_name"],
    )
    return connections.connection_connect(
        workspace=workspace,
        provider=provider,
        actor=user,
        tokens=tokens,
        identity=identity,
        domain=domain,
    )


def connect_through_consent(sandbox, *, user, workspace, provider: str, domain: str = ""):
    """Start, consent at the emulator, and finish through the callback service."""
    started = flow.oauth_start(user=user, workspace=workspace, provider=provider, domain=domain)
    params = sandbox.consent(started["authorize_url"])
    return flow.oauth_callback(user=user, provider=provider, params=params)


def connect_dataverse(
    *,
    user,
    workspace,
    secret: str = sandbox_module.DATAVERSE_CLIENT_SECRET,
    provider: str = "dataverse",
    instance_url: str | None = None,
):
    """A client-credentials connection through the demo Azure AD app: to the Dataverse
    emulator, or (`provider`, `instance_url`) another Microsoft service."""
    return connections.connection_create_client_credentials(
        workspace=workspace,
        actor=user,
        tenant_id=sandbox_module.DATAVERSE_TENANT_ID,
        client_id=sandbox_module.DATAVERSE_CLIENT_ID,
        client_secret=secret,
        instance_url=instance_url or sandbox_module.api_url("dataverse"),
        provider=provider,
    )


def grant(user, *codenames):
    """Make `user` staff with exactly these Django permissions (codenames) added."""
    from django.contrib.auth.models import Permission

    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


def planned(workspace, **fields):
    """A change waiting in the review queue (fields override the defaults)."""
    from integrations.approvals.models import OutboundChange

    return OutboundChange.objects.create(
        **{
            "workspace": workspace,
            "owner": "test",
            "target_entity": "clients",
            "target_label": "Acme AG",
            "operation": "update",
            "changes": {"status": {"before": "lead", "after": "won"}},
            "payload": {"status": "won"},
            **fields,
        }
    )


def connect_project_online(
    *, user, workspace, secret: str = sandbox_module.DATAVERSE_CLIENT_SECRET
):
    """A Project Online connection to the emulator's PWA site, through the demo Azure AD app."""
    return connect_dataverse(
        user=user,
        workspace=workspace,
        secret=secret,
        provider="project_online",
        instance_url=f"{sandbox_module.api_url('project-online')}/sites/pwa",
    )
