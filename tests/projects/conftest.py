import pytest

from projects import services
from projects.models import ProjectSyncRun
from tests.integrations.helpers import connect


@pytest.fixture
def author(sandbox, two_workspaces):
    """A workspace admin with their own Smartsheet connection."""
    user = two_workspaces["a_admin"]
    connection = connect(sandbox, user=user, workspace=two_workspaces["a"], provider="smartsheet")
    user.smartsheet = connection
    return user


@pytest.fixture
def project(author, two_workspaces):
    return services.project_create(
        workspace=two_workspaces["a"], actor=author, number="1042", name="Riverside Lofts"
    )


@pytest.fixture
def linked(project, author):
    services.sheet_provision(project=project, actor=author)
    project.refresh_from_db()
    return project


def run_sync(project, author, direction: str) -> ProjectSyncRun:
    """Request a run and execute it here (the task's body), as a worker would."""
    from projects import sync

    run = services.sync_request(project=project, actor=author, direction=direction)
    sync.execute(run.pk)
    run.refresh_from_db()
    return run
