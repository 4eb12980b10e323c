"""Steps shared by the platform's tests: connect through the real OAuth flow."""

from integrations import sandbox as sandbox_module
from integrations.connections import services as connections
from integrations.connections.oauth import flow


def connect(sandbox, *, user, workspace, provider: str, domain: str = ""):
    """Start, consent at the emulator, and finish through the callback service."""
    started = flow.oauth_start(user=user, workspace=workspace, provider=provider, domain=domain)
    params = sandbox.consent(started["authorize_url"])
    return flow.oauth_callback(user=user, provider=provider, params=params)


def connect_dataverse(*, user, workspace, secret: str = sandbox_module.DATAVERSE_CLIENT_SECRET):
    return connections.connection_create_client_credentials(
        workspace=workspace,
        actor=user,
        tenant_id=sandbox_module.DATAVERSE_TENANT_ID,
        client_id=sandbox_module.DATAVERSE_CLIENT_ID,
        client_secret=secret,
        instance_url=sandbox_module.api_url("dataverse"),
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
