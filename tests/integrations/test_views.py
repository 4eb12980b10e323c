"""The platform's pages: the favicon address and the connections page's context."""

import pytest
from django.contrib.staticfiles import finders

from integrations.connections.models import Connection
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db


def test_favicon_ico_sends_browsers_to_the_static_icon_without_a_sign_in(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/hub/favicon.svg"
    assert "max-age=86400" in response["Cache-Control"]
    assert finders.find("hub/favicon.svg")  # collected with the other static files


def test_every_page_names_its_icon_and_the_stylesheet(client, two_workspaces):
    client.force_login(two_workspaces["a_admin"])
    page = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/hub/favicon.svg" type="image/svg+xml">' in page
    assert '<link rel="stylesheet" href="/static/hub/hub.css">' in page


def salesforce_row(client, workspace) -> dict:
    response = client.get(f"/integrations/connections/?workspace={workspace.pk}")
    return next(row for row in response.context["rows"] if row["name"] == "salesforce")


def test_the_connected_salesforce_org_is_named_and_its_login_chosen(
    client, two_workspaces, sandbox
):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    connection = connect(
        sandbox, user=admin, workspace=workspace, provider="salesforce", domain="test"
    )
    client.force_login(admin)
    row = salesforce_row(client, workspace)
    assert row["domains"] == [
        {"value": "login", "label": "Production org", "selected": False},
        {"value": "test", "label": "Sandbox org", "selected": True},
    ]
    assert row["status"]["org"] == f"Sandbox org, {connection.instance_url}"
    page = client.get(f"/integrations/connections/?workspace={workspace.pk}").content.decode()
    assert '<option value="test" selected>Sandbox org</option>' in page
    assert f'<span class="org muted">Sandbox org, {connection.instance_url}</span>' in page


def test_without_a_salesforce_connection_production_is_offered_first_and_no_org_named(
    client, two_workspaces
):
    client.force_login(two_workspaces["a_admin"])
    row = salesforce_row(client, two_workspaces["a"])
    assert [d["selected"] for d in row["domains"]] == [False, False]  # the browser's first
    assert row["domains"][0]["value"] == "login"
    assert row["status"]["org"] == ""


def test_a_revoked_salesforce_link_names_no_org_but_keeps_its_login(
    client, two_workspaces, sandbox
):
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    connect(sandbox, user=admin, workspace=workspace, provider="salesforce", domain="test")
    Connection.objects.update(status=Connection.Status.REVOKED)
    client.force_login(admin)
    row = salesforce_row(client, workspace)
    assert row["status"]["org"] == ""
    assert [d["value"] for d in row["domains"] if d["selected"]] == ["test"]
