import pytest

from tests.migration.helpers import connection_row


@pytest.fixture
def world(two_workspaces):
    """Workspace A with a Project Online and a Smartsheet connection (rows only), B with its own."""
    a, b = two_workspaces["a"], two_workspaces["b"]
    return {
        **two_workspaces,
        "source": connection_row(a, "project_online"),
        "target": connection_row(a, "smartsheet", user=two_workspaces["a_admin"]),
        "b_source": connection_row(b, "project_online"),
        "b_target": connection_row(b, "smartsheet", user=two_workspaces["b_admin"]),
    }
