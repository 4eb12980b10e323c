"""Routes of the destinations app: its API under /api/destinations/ and its pages."""

from django.urls import path

from destinations import api, views

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

urlpatterns += [
    path("destinations/", views.destination_list, name="destination-list"),
    path("destinations/<int:destination_id>/", views.destination_page, name="destination-page"),
    path(
        "destinations/<int:destination_id>/writes/<int:write_id>/retry",
        views.write_retry,
        name="destination-write-retry",
    ),
]
