"""Server-rendered pages of the TimeTracker: the punch-in dashboard, the jobs list with its
search and sync button, and a job's page with its shifts and total hours."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from integrations.accounts import selectors as account_selectors
from integrations.errors import ApplicationError, NotFound
from integrations.views import page_workspace
from timetracker import selectors, services


def _dashboard(workspace):
    return redirect(f"{reverse('timetracker-dashboard')}?workspace={workspace.pk}")


@login_required
def dashboard(request):
    workspace = page_workspace(request)
    employee = selectors.employee_of(user=request.user, workspace=workspace)
    shift = selectors.open_shift(employee=employee) if employee else None
    recent = employee.shifts.select_related("job")[:10] if employee else []
    return render(
        request,
        "timetracker/dashboard.html",
        {
            "workspace": workspace,
            "workspaces": account_selectors.workspace_list(user=request.user),
            "employee": employee,
            "shift": shift,
            "recent": recent,
            "jobs": selectors.open_jobs(workspace=workspace).order_by("im_number"),
        },
    )


@login_required
@require_POST
def punch_in(request):
    workspace = page_workspace(request)
    job_id = request.POST.get("job", "")
    try:
        job = (
            selectors.open_jobs(workspace=workspace).filter(pk=job_id).first()
            if job_id.isdigit()
            else None
        )
        if job is None:
            raise ApplicationError("Pick a job to punch in to.")
        shift = services.punch_in(user=request.user, job=job, note=request.POST.get("note", ""))
        messages.success(request, f"Punched in to {shift.job.im_number}.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return _dashboard(workspace)


@login_required
@require_POST
def punch_out(request):
    workspace = page_workspace(request)
    try:
        shift = services.punch_out(
            user=request.user, workspace=workspace, note=request.POST.get("note", "")
        )
        messages.success(
            request, f"Punched out of {shift.job.im_number} after {shift.hours:.2f} hours."
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return _dashboard(workspace)


@login_required
@ensure_csrf_cookie
def job_list(request):
    workspace = page_workspace(request)
    search = request.GET.get("q", "")
    jobs = selectors.job_list(user=request.user, search=search).filter(workspace=workspace)
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "timetracker/jobs.html",
        {
            "workspace": workspace,
            "workspaces": account_selectors.workspace_list(user=request.user),
            "page": page,
            "search": search,
            "is_admin": account_selectors.is_workspace_admin(
                user=request.user, workspace_id=workspace.pk
            ),
            "last_run": selectors.last_run(workspace=workspace),
            "config": {"workspace": workspace.pk},
        },
    )


@login_required
def job_detail(request, job_id: int):
    try:
        job = selectors.job_for(user=request.user, job_id=job_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(
        request,
        "timetracker/job.html",
        {
            "job": job,
            "shifts": selectors.shifts_of(job=job),
            "total_hours": selectors.total_hours(job=job),
        },
    )
