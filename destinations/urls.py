"""Routes of the destinations app: its API under /api/destinations/."""

from django.urls import path

from destinations import api

urlpatterns = [
    path(
        "api/destinations/<int:destination_id>/records",
        api.RecordsView.as_view(),
        name="api-destination-records",
    ),
    path(
        "api/destinations/<int:destination_id>/records/<str:key>",
        api.RecordsStateView.as_view(),
        name="api-destination-request",
    ),
    path(
        "api/destinations/<int:destination_id>/test",
        api.DestinationTestView.as_view(),
        name="api-destination-test",
    ),
]
