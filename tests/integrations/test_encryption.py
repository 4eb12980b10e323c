"""Secrets at rest: AES-256-GCM, unreadable in the database, rotatable, masked in admin."""

import pytest
from django.core.management import call_command
from django.db import connection as db

from integrations.connections import encryption
from integrations.connections import services as connections
from integrations.connections.encryption import DecryptionError
from integrations.connections.models import Connection
from tests.integrations.helpers import connect, connect_dataverse

pytestmark = pytest.mark.django_db


def raw_rows(table: str) -> str:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - a fixed table name
        return repr(cursor.fetchall())


def test_values_round_trip_and_each_encryption_differs():
    first = encryption.encrypt("token-value", context="a.b.c")
    second = encryption.encrypt("token-value", context="a.b.c")
    assert first != second and "token-value" not in first
    assert first.startswith(f"aesgcm1:{encryption.current_key_id()}:")
    assert encryption.decrypt(first, context="a.b.c") == "token-value"


def test_a_value_moved_to_another_column_does_not_decrypt():
    stored = encryption.encrypt("secret", context="integrations.connection.access_token")
    with pytest.raises(DecryptionError):
        encryption.decrypt(stored, context="integrations.connection.refresh_token")


def test_a_tampered_value_does_not_decrypt_and_the_error_shows_no_ciphertext():
    stored = encryption.encrypt("secret", context="x")
    tampered = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
    with pytest.raises(DecryptionError) as raised:
        encryption.decrypt(tampered, context="x")
    assert stored.split(":")[2][:20] not in str(raised.value)


def test_keys_are_256_bit():
    assert len(encryption.decode_key(encryption.new_key())) == 32
    with pytest.raises(ValueError, match="16 bytes"):
        encryption.decode_key("A" * 22)


def test_a_raw_sql_read_shows_no_token_or_secret(sandbox, two_workspaces):
    oauth = connect(
        sandbox, user=two_workspaces["a_admin"], workspace=two_workspaces["a"], provider="hubspot"
    )
    client = connect_dataverse(user=two_workspaces["a_admin"], workspace=two_workspaces["a"])
    connections.connection_test(connection=client)
    client.refresh_from_db()
    rows = raw_rows("integrations_connection")
    for secret in (
        oauth.access_token,
        oauth.refresh_token,
        client.client_secret,
        client.access_token,
    ):
        assert secret and secret not in rows
    assert "aesgcm1:" in rows


def test_rotation_keeps_every_connection_working(sandbox, two_workspaces, settings, capsys):
    smartsheet = connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="smartsheet",
    )
    dataverse = connect_dataverse(user=two_workspaces["a_admin"], workspace=two_workspaces["a"])
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], encryption.new_key()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("rotate_encryption_key")

    assert "integrations.Connection: 2 row(s) re-encrypted" in capsys.readouterr().out
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is gone now
    assert "aesgcm1:" + encryption.key_id(encryption.decode_key(new_key)) in raw_rows(
        "integrations_connection"
    )
    assert (
        connections.connection_test(connection=Connection.objects.get(pk=smartsheet.pk))["ok"]
        is True
    )
    assert (
        connections.connection_test(connection=Connection.objects.get(pk=dataverse.pk))["ok"]
        is True
    )


def test_without_the_key_a_value_cannot_be_read_and_the_message_says_what_to_do(
    sandbox, two_workspaces, settings
):
    connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="smartsheet",
    )
    settings.FIELD_ENCRYPTION_KEYS = [encryption.new_key()]
    with pytest.raises(DecryptionError, match="rotate_encryption_key"):
        Connection.objects.get().access_token  # noqa: B018


def test_admin_shows_tokens_masked(client, superuser, sandbox, two_workspaces):
    connection = connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="smartsheet",
    )
    client.force_login(superuser)
    page = client.get(f"/admin/integrations/connection/{connection.pk}/change/").content.decode()
    assert connection.access_token not in page and connection.refresh_token not in page
    assert "set, stored encrypted" in page


def test_admin_adds_a_dataverse_connection_with_a_write_only_secret(
    client, superuser, sandbox, two_workspaces
):
    from integrations import sandbox as sandbox_module

    client.force_login(superuser)
    form = {
        "workspace": two_workspaces["a"].pk,
        "label": "Production environment",
        "tenant_id": sandbox_module.DATAVERSE_TENANT_ID,
        "client_id": sandbox_module.DATAVERSE_CLIENT_ID,
        "client_secret": sandbox_module.DATAVERSE_CLIENT_SECRET,
        "instance_url": sandbox_module.api_url("dataverse"),
    }
    assert (
        client.post(
            "/admin/integrations/connection/add/", {**form, "client_secret": ""}
        ).status_code
        == 200
    )  # required
    response = client.post("/admin/integrations/connection/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = Connection.objects.get(provider="dataverse")
    page = client.get(f"/admin/integrations/connection/{connection.pk}/change/").content.decode()
    assert sandbox_module.DATAVERSE_CLIENT_SECRET not in page
    # Saving again with the secret left empty keeps it.
    client.post(
        f"/admin/integrations/connection/{connection.pk}/change/", {**form, "client_secret": ""}
    )
    assert (
        connections.connection_test(connection=Connection.objects.get(pk=connection.pk))["ok"]
        is True
    )


def test_saving_an_oauth_connection_in_admin_changes_nothing(
    client, superuser, sandbox, two_workspaces
):
    connection = connect(
        sandbox, user=two_workspaces["a_admin"], workspace=two_workspaces["a"], provider="hubspot"
    )
    client.force_login(superuser)
    response = client.post(f"/admin/integrations/connection/{connection.pk}/change/", {})
    assert response.status_code == 302
    after = Connection.objects.get(pk=connection.pk)
    assert (after.access_token, after.refresh_token, after.status) == (
        connection.access_token,
        connection.refresh_token,
        "connected",
    )
