"""The Project Online provider on the HTTP layer: a client-credentials connection to a PWA
site, its token for the SharePoint host, typed records, next links followed, throttling
waited out and errors typed."""

import pytest

from integrations.connections import http
from integrations.connections import services as connection_services
from integrations.connections.providers import project_online as provider
from tests.integrations.helpers import connect_project_online

pytestmark = pytest.mark.django_db
EMULATOR = "project-online"


@pytest.fixture
def connection(sandbox, two_workspaces):
    return connect_project_online(user=two_workspaces["a_admin"], workspace=two_workspaces["a"])


def call(connection, function):
    return connection_services.client(connection).call(lambda c: function(c.sdk))


def test_the_connection_tests_ok_with_a_token_for_the_sharepoint_host(sandbox, connection):
    assert connection.provider == "project_online"
    assert provider.site_host(connection) == sandbox.url(EMULATOR)
    assert connection_services.connection_test(connection=connection)["ok"] is True
    token = sandbox.calls("azure")["log"][-1]
    assert token["endpoint"] == "POST /{tenant}/oauth2/v2.0/token"


def test_a_wrong_secret_is_a_clear_failure(two_workspaces, sandbox):
    bad = connect_project_online(
        user=two_workspaces["a_admin"], workspace=two_workspaces["a"], secret="wrong"
    )
    result = connection_services.connection_test(connection=bad)
    assert result["ok"] is False and "AADSTS7000215" in result["error"]


def test_the_project_list_follows_next_links_and_is_typed(sandbox, connection):
    sandbox.configure(EMULATOR, page_sizes={"Projects": 2})
    try:
        projects = call(connection, provider.list_projects)
    finally:
        sandbox.configure(EMULATOR, page_sizes={})
    assert len(projects) == 5
    assert all(isinstance(p, provider.ProjectSummary) for p in projects)
    assert [p.name for p in projects] == sorted(p.name for p in projects)
    assert sandbox.count(EMULATOR, "GET /sites/pwa/_api/ProjectData/{name}") >= 3


def test_custom_field_definitions_carry_entity_kind_formula_and_lookup_values(connection):
    fields = {f.name: f for f in call(connection, provider.custom_fields)}
    assert fields["Story Points"].kind == "number" and fields["Story Points"].entity == "Task"
    assert fields["Approved Budget"].kind == "cost"
    assert fields["Work Days Left"].formula == "[Remaining Duration]/480"
    assert fields["Department"].lookup_table == "Department"
    assert fields["Department"].lookup_values[0] == "Engineering"
    properties = call(connection, provider.feed_properties)
    assert properties["Task"]["StoryPoints"] == "Edm.Decimal"


def test_throttling_is_waited_out(sandbox, connection):
    sandbox.fault(
        EMULATOR, kind="storm", path="/sites/pwa/_api/ProjectData/", count=1, retry_after=1
    )
    projects = call(connection, provider.list_projects)
    assert len(projects) == 5
    assert sandbox.calls(EMULATOR)["by_status"]["429"] == 1


def test_a_missing_project_is_a_permanent_error(connection):
    with pytest.raises(http.Permanent, match="404"):
        call(
            connection,
            lambda api: list(provider.task_links(api, "00000000-0000-0000-0000-000000000001")),
        )


def test_the_api_adds_a_project_online_connection(api, sandbox, two_workspaces):
    from integrations import sandbox as sandbox_module

    api.force_authenticate(two_workspaces["a_admin"])
    response = api.post(
        "/api/integrations/connections",
        {
            "workspace": two_workspaces["a"].pk,
            "provider": "project_online",
            "tenant_id": sandbox_module.DATAVERSE_TENANT_ID,
            "client_id": sandbox_module.DATAVERSE_CLIENT_ID,
            "client_secret": sandbox_module.DATAVERSE_CLIENT_SECRET,
            "instance_url": f"{sandbox_module.api_url(EMULATOR)}/sites/pwa",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["provider"] == "project_online"
    tested = api.post(f"/api/integrations/connections/{response.json()['id']}/test")
    assert tested.json()["ok"] is True
