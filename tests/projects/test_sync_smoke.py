import pytest

from projects.models import RowMapping
from tests.projects.conftest import run_sync
from tests.projects.helpers import timeline

pytestmark = pytest.mark.django_db


def test_outbound_then_inbound(linked, author, sandbox):
    made = timeline(
        linked,
        author,
        task_blocks=2,
        per_block={"purchaseorder": 2, "comment": 1, "attachment": 1},
        top_level={"workorder": 1},
    )
    run = run_sync(linked, author, "outbound")
    print(run.status, run.message, run.errors)
    assert run.status == "succeeded", (run.message, run.errors)
    assert RowMapping.objects.count() == len(made)
    run = run_sync(linked, author, "inbound")
    print(run.status, run.message, run.errors)
    assert run.status == "succeeded"
