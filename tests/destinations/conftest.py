import pytest

from config import endpoints
from destinations import services
from destinations.models import Destination


@pytest.fixture
def admin(two_workspaces):
    return two_workspaces["a_admin"]


@pytest.fixture
def destination(two_workspaces, admin):
    """Workspace A's Supabase project (the emulator in sandbox mode), with the seed's team and
    system user and the emulator's service-role key; its entities' mapping sets made."""
    return services.destination_save(
        destination=Destination(
            workspace=two_workspaces["a"],
            name="Events frontend",
            url="https://abcdefgh.supabase.co",
            team_id=endpoints.SUPABASE_TEAM_ID,
            user_id=endpoints.SUPABASE_SYSTEM_USER_ID,
            email_account_id=endpoints.SUPABASE_EMAIL_ACCOUNT_ID,
        ),
        actor=admin,
        service_key=endpoints.SUPABASE_SERVICE_KEY,
    )


def rows(sandbox, table: str) -> list[dict]:
    """What the emulator holds, read through its control plane (no RLS)."""
    return sandbox.control("supabase", "GET", f"rows/{table}")


def room(sandbox, slug: str) -> str:
    return next(
        r["id"]
        for r in rows(sandbox, "rooms")
        if r["slug"] == slug and r["team_id"] == endpoints.SUPABASE_TEAM_ID
    )
