"""Through connect, refresh, a failure and disconnect, at DEBUG, the logs carry no token and
no secret — whatever library wrote the line."""

import pytest
from django.conf import settings

from integrations import sandbox as sandbox_module
from integrations.connections import http
from integrations.connections import services as connection_services
from integrations.connections.models import Connection
from tests.integrations.helpers import connect, connect_dataverse

pytestmark = pytest.mark.django_db


def test_no_token_or_secret_reaches_the_logs(log_output, sandbox, two_workspaces):
    seen: set[str] = set()

    def remember(connection):
        connection = Connection.objects.get(pk=connection.pk)
        seen.update(
            value
            for value in (
                connection.access_token,
                connection.refresh_token,
                connection.client_secret,
            )
            if value
        )
        return connection

    user, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    connections = [  # the whole consent flow: the code, the exchange and who-am-i log too
        remember(
            connect(
                sandbox,
                user=user,
                workspace=workspace,
                provider=provider,
                domain=domain,
                full_flow=True,
            )
        )
        for provider, domain in [("smartsheet", ""), ("salesforce", "login"), ("hubspot", "")]
    ]
    dataverse = connect_dataverse(user=user, workspace=workspace)
    connection_services.connection_test(connection=dataverse)
    remember(dataverse)

    for connection in connections:  # refresh, and refresh again after the provider expired it
        remember(connection_services.connection_refresh(connection=connection))
        sandbox.expire_tokens(connection.provider)
        connection_services.connection_test(connection=connection)
        remember(connection)

    broken = Connection.objects.get(pk=connections[0].pk)
    Connection.objects.filter(pk=broken.pk).update(refresh_token="definitely-not-valid-0123456789")
    with pytest.raises(http.ProviderError):
        connection_services.connection_refresh(connection=Connection.objects.get(pk=broken.pk))
    bad = connect_dataverse(user=user, workspace=workspace, secret="wrong-secret-0123456789")
    connection_services.connection_test(connection=bad)

    for connection in Connection.objects.all():
        connection_services.connection_disconnect(connection=connection, actor=user)

    secrets = seen | {
        settings.SMARTSHEET_CLIENT_SECRET,
        settings.SALESFORCE_CLIENT_SECRET,
        settings.HUBSPOT_CLIENT_SECRET,
        sandbox_module.DATAVERSE_CLIENT_SECRET,
        "definitely-not-valid-0123456789",
        "wrong-secret-0123456789",
    }
    output = log_output.getvalue()
    assert output.count("\n") > 20  # the flows did log (requests, retries, refreshes, failures)
    leaked = sorted(secret for secret in secrets if secret in output)
    assert leaked == []
