"""Punching in and out, the jobs list and a job's hours: API and pages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.errors import Conflict, PermissionDenied
from tests.factories import MembershipFactory
from timetracker import services
from timetracker.models import Employee, Job, Shift

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(workspace):
    return [
        Job.objects.create(workspace=workspace, im_number="24-0101", general_contractor="Turner"),
        Job.objects.create(
            workspace=workspace,
            im_number="24-0102",
            general_contractor="Skanska",
            job_scope="Lobby panels",
        ),
        Job.objects.create(
            workspace=workspace,
            im_number="24-0103",
            general_contractor="Gilbane",
            status=Job.Status.CLOSED,
        ),
    ]


def test_punch_in_and_out_through_the_api(api, admin, jobs):
    api.force_authenticate(admin)
    response = api.post(
        "/api/timetracker/punch-in", {"job": jobs[0].pk, "note": "Level 2"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["job"] == "24-0101"
    employee = Employee.objects.get(user=admin)
    assert employee.email == admin.email

    twice = api.post("/api/timetracker/punch-in", {"job": jobs[1].pk}, format="json")
    assert twice.status_code == 409
    assert (
        twice.json()["error"]["message"]
        == "You are already punched in to 24-0101; punch out first."
    )

    out = api.post("/api/timetracker/punch-out", {"note": "done"}, format="json")
    assert out.status_code == 200
    shift = Shift.objects.get()
    assert shift.punched_out_at is not None and shift.note == "Level 2\ndone"
    assert api.post("/api/timetracker/punch-out", {}, format="json").status_code == 409


def test_the_database_allows_one_open_shift_per_person(admin, workspace, jobs):
    services.punch_in(user=admin, job=jobs[0])
    employee = Employee.objects.get(user=admin)
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Shift.objects.create(workspace=workspace, job=jobs[1], employee=employee)


def test_closed_jobs_and_removed_people_cannot_punch_in(admin, jobs):
    with pytest.raises(Conflict, match="closed"):
        services.punch_in(user=admin, job=jobs[2])
    services.punch_in(user=admin, job=jobs[0])
    employee = Employee.objects.get(user=admin)
    services.employee_soft_delete(employee=employee, actor=None)
    assert Shift.objects.get().punched_out_at is not None  # closed, kept
    with pytest.raises(PermissionDenied, match="removed"):
        services.punch_in(user=admin, job=jobs[1])


def test_the_jobs_api_searches_and_is_scoped(api, two_workspaces, jobs):
    api.force_authenticate(two_workspaces["a_member"])
    found = api.get("/api/timetracker/jobs", {"search": "lobby"}).json()["results"]
    assert [job["im_number"] for job in found] == ["24-0102"]
    assert api.get("/api/timetracker/jobs").json()["count"] == 3
    api.force_authenticate(two_workspaces["b_admin"])
    assert api.get("/api/timetracker/jobs").json()["count"] == 0
    assert api.get(f"/api/timetracker/jobs/{jobs[0].pk}").status_code == 404


def test_a_jobs_total_hours_count_closed_shifts_and_the_open_one(api, admin, workspace, jobs):
    other = MembershipFactory(workspace=workspace).user
    now = timezone.now()
    for user, hours_ago, length in ((admin, 10, 2.5), (other, 6, 1.25)):
        employee = services.employee_for(user=user, workspace=workspace)
        Shift.objects.create(
            workspace=workspace,
            job=jobs[0],
            employee=employee,
            punched_in_at=now - timedelta(hours=hours_ago),
            punched_out_at=now - timedelta(hours=hours_ago) + timedelta(hours=length),
        )
    Shift.objects.create(
        workspace=workspace,
        job=jobs[0],
        employee=services.employee_for(user=admin, workspace=workspace),
        punched_in_at=now - timedelta(minutes=30),
    )
    api.force_authenticate(admin)
    total = api.get(f"/api/timetracker/jobs/{jobs[0].pk}").json()["total_hours"]
    assert 4.24 <= total <= 4.3  # 2.5 + 1.25 + the open half hour (and a few seconds)


def test_pages_dashboard_jobs_and_job(client, admin, workspace, jobs):
    client.force_login(admin)
    page = client.get("/timetracker/").content.decode()
    assert "Punch in" in page and "24-0101" in page and "24-0103" not in page  # closed: not offered
    response = client.post("/timetracker/punch-in", {"workspace": workspace.pk, "job": jobs[1].pk})
    assert response.status_code == 302
    page = client.get("/timetracker/").content.decode()
    assert 'id="running-time"' in page and "Punch out" in page
    page = client.get("/timetracker/jobs/", {"q": "skanska"}).content.decode()
    assert "24-0102" in page and "24-0101" not in page and "Sync jobs now" in page
    page = client.get(f"/timetracker/jobs/{jobs[1].pk}/").content.decode()
    assert 'id="total-hours"' in page and "open" in page
    client.post("/timetracker/punch-out", {"workspace": workspace.pk})
    assert Shift.objects.get().punched_out_at is not None


def test_members_see_no_sync_button_and_strangers_get_404(client, two_workspaces, jobs):
    client.force_login(two_workspaces["a_member"])
    assert "Sync jobs now" not in client.get("/timetracker/jobs/").content.decode()
    client.force_login(two_workspaces["b_admin"])
    assert client.get(f"/timetracker/jobs/{jobs[0].pk}/").status_code == 404
    assert client.get(f"/timetracker/?workspace={jobs[0].workspace_id}").status_code == 404


def test_admin_lists_and_run_detail(client, superuser, workspace, jobs):
    from timetracker.models import JobSyncRun

    run = JobSyncRun.objects.create(
        workspace=workspace,
        source="dataverse",
        direction="inbound",
        trigger="api",
        status="partial",
        failed=1,
        errors=[{"item": "24-0109", "message": "already linked to job 24-0101"}],
    )
    client.force_login(superuser)
    for url in (
        "/admin/timetracker/job/",
        "/admin/timetracker/employee/",
        "/admin/timetracker/shift/",
        "/admin/timetracker/jobsyncrun/",
    ):
        assert client.get(url).status_code == 200, url
    page = client.get(f"/admin/timetracker/jobsyncrun/{run.pk}/change/").content.decode()
    assert "<li>24-0109: already linked to job 24-0101</li>" in page


def test_the_runs_api_gives_a_workspaces_active_run_for_the_page_to_ask_first(api, two_workspaces):
    from timetracker.models import JobSyncRun

    a, b = two_workspaces["a"], two_workspaces["b"]

    def run(workspace, status):
        return JobSyncRun.objects.create(
            workspace=workspace,
            source="dataverse",
            direction="inbound",
            trigger="api",
            status=status,
        )

    run(a, "succeeded")
    going = run(a, "running")
    run(b, "queued")  # another workspace's, not the caller's
    api.force_authenticate(two_workspaces["a_admin"])

    active = api.get(f"/api/timetracker/runs?workspace={a.pk}&active=true").json()["results"]
    assert [r["id"] for r in active] == [going.pk]
    assert len(api.get(f"/api/timetracker/runs?workspace={a.pk}").json()["results"]) == 2
    assert api.get(f"/api/timetracker/runs?workspace={b.pk}&active=true").json()["results"] == []
    refused = api.get("/api/timetracker/runs?workspace=abc")
    assert refused.status_code == 400
    assert "workspace" in refused.json()["error"]["details"]
