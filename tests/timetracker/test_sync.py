"""Job import runs against the Dataverse emulator over TLS: paging to the end, 429s waited
out, the token reused until near expiry, the seed's rules, idempotence and no duplicates."""

import threading
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
import tenacity
from django.db import connections
from django.utils import timezone

from integrations.connections.models import Connection
from integrations.errors import Conflict
from tests.integrations.helpers import connect_dataverse
from tests.timetracker.conftest import load_jobs, run_import
from timetracker import services, sync
from timetracker.models import Job

APPROVED, NEEDED = 826130004, 826130000
JOBS_ENDPOINT = "GET /api/data/v9.2/imi_jobs"
TOKEN_ENDPOINT = "POST /{tenant}/oauth2/v2.0/token"


def record(
    number, *, status=APPROVED, state=0, gc="Turner Construction", scope="Casework", **extra
):
    return {
        "imi_jobid": str(uuid.uuid4()),
        "imi_imnumber": number,
        "imi_gc": gc,
        "imi_scopesummary": scope,
        "imi_submittalstatus": status,
        "statecode": state,
        **extra,
    }


def many(count: int) -> list[dict]:
    return [
        record(f"J-{n:05d}", createdon=f"2026-01-01T00:{n // 600:02d}:{n // 10 % 60:02d}Z")
        for n in range(count)
    ]


def token_calls(sandbox) -> int:
    return sum(
        n
        for endpoint, n in sandbox.calls("azure")["by_endpoint"].items()
        if endpoint.endswith("/token")
    )


def test_twelve_thousand_jobs_are_read_to_the_last_page(sandbox, dataverse, workspace, admin):
    load_jobs(sandbox, records=many(12_000))
    sandbox.clear_calls("dataverse")
    run = run_import(workspace, admin)
    assert (run.status, run.created, run.failed) == ("succeeded", 12_000, 0)
    assert Job.objects.filter(workspace=workspace).count() == 12_000
    assert sandbox.count("dataverse", JOBS_ENDPOINT) == 3  # 5,000 + 5,000 + 2,000
    assert run.message == "12000 added, 0 skipped"


def test_a_429_in_the_middle_of_paging_is_waited_out(
    sandbox, dataverse, workspace, admin, monkeypatch
):
    load_jobs(sandbox, records=many(12_000))
    sandbox.clear_calls("dataverse")
    store_page = sync.Importer.page

    def then_throttle(importer, page):
        store_page(importer, page)
        if importer.pages == 1:  # the next request (page 2) meets service protection
            sandbox.fault("dataverse", kind="storm", count=1, retry_after=1)

    monkeypatch.setattr(sync.Importer, "page", then_throttle)
    waits = []  # tenacity's sleeps, recorded instead of taken
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=waits.append))
    run = run_import(workspace, admin)
    log = [(c["status"], "skiptoken" in c["query"]) for c in sandbox.calls("dataverse")["log"]]
    assert log == [(200, False), (429, True), (200, True), (200, True)]
    assert (run.status, run.created, run.retries) == ("succeeded", 12_000, 1)
    assert len(waits) == 1 and waits[0] >= 1  # the Retry-After waited out
    assert Job.objects.filter(workspace=workspace).count() == 12_000


def test_the_token_is_reused_until_near_expiry_then_refreshed(sandbox, dataverse, workspace, admin):
    load_jobs(sandbox, records=[record("T-1")])
    before = token_calls(sandbox)
    run_import(workspace, admin)
    run_import(workspace, admin)
    assert token_calls(sandbox) - before == 1  # one token for both runs
    # Two minutes left: still good (we refresh 60 s before expiry).
    Connection.objects.filter(pk=dataverse.pk).update(
        expires_at=timezone.now() + timedelta(seconds=120)
    )
    run_import(workspace, admin)
    assert token_calls(sandbox) - before == 1
    # Thirty seconds left: a new one first.
    Connection.objects.filter(pk=dataverse.pk).update(
        expires_at=timezone.now() + timedelta(seconds=30)
    )
    run = run_import(workspace, admin)
    assert token_calls(sandbox) - before == 2
    assert run.status == "succeeded"
    dataverse.refresh_from_db()
    assert dataverse.expires_at > timezone.now() + timedelta(minutes=50)


def test_a_bad_client_secret_is_a_failed_run_that_says_why(sandbox, admin, workspace):
    connect_dataverse(user=admin, workspace=workspace, secret="not-the-secret-42")
    load_jobs(sandbox, records=[record("S-1")])
    run = run_import(workspace, admin)
    assert run.status == "failed"
    assert "Azure AD refused the client credentials (invalid_client)" in run.message
    assert "not-the-secret-42" not in run.message
    assert Job.objects.count() == 0
    assert sandbox.count("dataverse", JOBS_ENDPOINT) == 0


def test_the_seeds_rules_and_a_second_run_that_adds_nothing(sandbox, dataverse, workspace, admin):
    known = Job.objects.create(workspace=workspace, im_number="K-1", general_contractor="Hand made")
    long_scope = "Lab casework with epoxy tops " * 10
    records = [
        record(
            "A-1",
            gc=None,
            scope=long_scope,
            imi_productionphase=826130002,
            createdon="2026-06-01T00:00:00Z",
        ),
        record("A-2", scope=""),
        record("A-3", scope="x" * 255),
        record(None),  # no IM number
        record(""),
        record("I-1", state=1),  # inactive: not approved-and-active
        record("N-1", status=NEEDED),
        record("K-1"),  # already here, by hand: gets its Dataverse id
        # The same IM number twice in Dataverse: the newest (first read) wins.
        record("A-1", gc="Someone else", createdon="2025-01-01T00:00:00Z"),
    ]
    load_jobs(sandbox, records=records)
    run = run_import(workspace, admin)
    assert (run.status, run.created, run.updated, run.unchanged, run.unmapped, run.failed) == (
        "succeeded",
        3,
        1,
        1,
        2,
        0,
    )
    jobs = {job.im_number: job for job in Job.objects.filter(workspace=workspace)}
    assert set(jobs) == {"A-1", "A-2", "A-3", "K-1"}
    assert jobs["A-1"].general_contractor == "Unknown"
    assert jobs["A-1"].job_scope == "See Work Order"
    assert jobs["A-1"].production_phase == 826130002 and jobs["A-1"].production_phase_label
    assert jobs["A-1"].submittal_status_label == "Approved"
    assert jobs["A-2"].job_scope == "See Work Order"
    assert jobs["A-3"].job_scope == "x" * 255
    assert str(jobs["K-1"].dataverse_id) == records[7]["imi_jobid"]
    assert jobs["K-1"].general_contractor == "Hand made"  # matched, not overwritten
    assert known.pk == jobs["K-1"].pk

    again = run_import(workspace, admin)
    assert (again.created, again.updated, again.unchanged, again.unmapped) == (0, 0, 5, 2)
    assert Job.objects.filter(workspace=workspace).count() == 4


def test_a_dataverse_id_already_on_another_job_is_a_per_item_failure(
    sandbox, dataverse, workspace, admin
):
    first = record("D-1")
    load_jobs(sandbox, records=[first])
    run_import(workspace, admin)
    # The IM number was corrected in Dataverse: same row, new number.
    load_jobs(sandbox, records=[{**first, "imi_imnumber": "D-2"}])
    run = run_import(workspace, admin)
    assert (run.status, run.failed) == ("partial", 1)
    assert (
        run.errors[0]["item"] == "D-2" and "already linked to job D-1" in run.errors[0]["message"]
    )


@pytest.mark.django_db(transaction=True)
def test_two_runs_started_at_once_create_no_duplicate_jobs(sandbox, dataverse, workspace, admin):
    load_jobs(sandbox, records=many(3_000))
    barrier = threading.Barrier(2)
    outcomes = []

    def start():
        try:
            barrier.wait()
            run = services.job_sync_request(workspace=workspace, actor=admin, trigger="api")
            sync.execute(run.pk)
            outcomes.append("ran")
        except Conflict:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(outcomes) in (["ran", "refused"], ["ran", "ran"])
    numbers = list(Job.objects.filter(workspace=workspace).values_list("im_number", flat=True))
    assert len(numbers) == len(set(numbers)) == 3_000


def test_a_stale_run_is_replaced_and_a_broken_page_fails_the_run(
    sandbox, dataverse, workspace, admin
):
    load_jobs(sandbox, records=many(10))
    sandbox.fault("dataverse", kind="error", status=400, path="/api/data/v9.2/imi_jobs")
    run = run_import(workspace, admin)
    assert run.status == "failed" and "Dataverse refused the query (400)" in run.message
    assert Job.objects.count() == 0


def test_all_active_jobs_carry_their_status_labels(sandbox, dataverse):
    from timetracker.sources import DataverseJobs, get_all_active_jobs

    load_jobs(
        sandbox,
        records=[
            record("B-1", status=NEEDED),
            record("B-3", status=APPROVED),
            record("B-2", status=826130002),
            record("B-4", status=APPROVED, state=1),  # inactive: left out
            record(None, status=NEEDED),  # no IM number: left out
        ],
    )
    jobs = list(get_all_active_jobs(DataverseJobs(dataverse)))
    assert [(j["im_number"], j["submittal_status_label"]) for j in jobs] == [
        ("B-3", "Approved"),  # newest IM number first, as the seed orders them
        ("B-2", "AWT Approval"),
        ("B-1", "Needed"),
    ]


def test_the_import_reads_through_the_workspaces_mapping_set(sandbox, dataverse, workspace, admin):
    # The seed's rules are a mapping set, made on the first import and edited in admin: an
    # edit shows in the next import's jobs.
    from integrations.mapping.models import FieldMapping, MappingSet

    load_jobs(sandbox, records=[record("24017", gc=None)])
    run_import(workspace, admin)
    assert Job.objects.get(im_number="24017").general_contractor == "Unknown"
    mapping_set = MappingSet.objects.get(workspace=workspace, name="TimeTracker: Dataverse jobs")
    assert mapping_set.required_fields == ["im_number"]

    FieldMapping.objects.filter(mapping_set=mapping_set, target_field="general_contractor").update(
        params={"value": "To be assigned"}
    )
    load_jobs(sandbox, records=[record("24018", gc=None)])
    run_import(workspace, admin)
    assert Job.objects.get(im_number="24018").general_contractor == "To be assigned"
