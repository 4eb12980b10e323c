import pytest

from tests.integrations.helpers import connect_dataverse
from timetracker import services, sync
from timetracker.models import JobSyncRun


@pytest.fixture
def admin(two_workspaces):
    return two_workspaces["a_admin"]


@pytest.fixture
def workspace(two_workspaces):
    return two_workspaces["a"]


@pytest.fixture
def dataverse(sandbox, admin, workspace):
    """Workspace A's Dataverse connection (client credentials against the Azure emulator)."""
    return connect_dataverse(user=admin, workspace=workspace)


def load_jobs(sandbox, *, count: int | None = None, records: list | None = None, **options):
    """Replace the emulator's imi_jobs: `count` generated ones or exactly `records`."""
    body = {"records": records} if records is not None else {"count": count, **options}
    return sandbox.control("dataverse", "POST", "dataverse/jobs", body)


def run_import(workspace, actor=None, trigger="api") -> JobSyncRun:
    """Request a run and execute it here (the task's body), as a worker would."""
    run = services.job_sync_request(workspace=workspace, actor=actor, trigger=trigger)
    sync.execute(run.pk)
    run.refresh_from_db()
    return run
