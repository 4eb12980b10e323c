"""Routes of TimeTracker: pages and their /api/ endpoints."""

from django.urls import path

from timetracker import api, views

urlpatterns = [
    path("timetracker/", views.dashboard, name="timetracker-dashboard"),
    path("timetracker/punch-in", views.punch_in, name="timetracker-punch-in"),
    path("timetracker/punch-out", views.punch_out, name="timetracker-punch-out"),
    path("timetracker/jobs/", views.job_list, name="timetracker-jobs"),
    path("timetracker/jobs/<int:job_id>/", views.job_detail, name="timetracker-job"),
    path("api/timetracker/jobs", api.JobsView.as_view(), name="api-timetracker-jobs"),
    path("api/timetracker/jobs/<int:job_id>", api.JobView.as_view(), name="api-timetracker-job"),
    path("api/timetracker/punch-in", api.PunchInView.as_view(), name="api-timetracker-punch-in"),
    path("api/timetracker/punch-out", api.PunchOutView.as_view(), name="api-timetracker-punch-out"),
    path(
        "api/timetracker/process-approved-jobs",
        api.ProcessApprovedJobsView.as_view(),
        name="api-timetracker-process",
    ),
    path("api/timetracker/runs", api.RunsView.as_view(), name="api-timetracker-runs"),
    path("api/timetracker/runs/<int:run_id>", api.RunView.as_view(), name="api-timetracker-run"),
]
