"""Admin of destinations: the service-role key is write-only (never on a page, kept when the
field is left empty), the test action, and the retry of failed writes."""

import pytest
from django.urls import reverse

from config import endpoints
from destinations import services
from destinations.models import Destination, RecordWrite

pytestmark = pytest.mark.django_db


def test_the_key_never_reaches_the_page_and_an_empty_field_keeps_it(client, superuser, destination):
    client.force_login(superuser)
    url = reverse("admin:destinations_destination_change", args=[destination.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert endpoints.SUPABASE_SERVICE_KEY not in page.content.decode()
    assert "set" in page.content.decode()  # the key's state, not its value
    form = {
        "workspace": destination.workspace_id,
        "name": "Renamed",
        "url": destination.url,
        "team_id": str(destination.team_id),
        "user_id": str(destination.user_id),
        "email_account_id": "",
        "service_key": "",
        "entities-TOTAL_FORMS": "0",
        "entities-INITIAL_FORMS": "0",
    }
    links = list(destination.entities.all())
    form["entities-TOTAL_FORMS"] = form["entities-INITIAL_FORMS"] = str(len(links))
    for index, link in enumerate(links):
        form[f"entities-{index}-id"] = str(link.pk)
        form[f"entities-{index}-destination"] = str(destination.pk)
        form[f"entities-{index}-conflict_key"] = link.conflict_key
    answer = client.post(url, form)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    destination.refresh_from_db()
    assert destination.name == "Renamed"
    assert destination.service_key == endpoints.SUPABASE_SERVICE_KEY


def test_the_test_action_records_the_outcome(client, superuser, sandbox, destination):
    client.force_login(superuser)
    client.post(
        reverse("admin:destinations_destination_changelist"),
        {"action": "test", "_selected_action": [destination.pk]},
    )
    destination.refresh_from_db()
    assert destination.status == Destination.Status.OK and destination.last_tested_at


def test_a_failed_write_is_retried_from_admin(client, superuser, sandbox, destination, admin):
    # The destination refuses to answer once (a 503 through every retry), then works again.
    sandbox.control(
        "supabase",
        "POST",
        "faults",
        {"kind": "error", "status": 503, "path": "/rest/v1/clients", "count": 6},
    )
    answer = services.records_receive(
        destination=destination,
        actor=admin,
        records=[{"entity": "clients", "data": {"name": "Anna"}}],
        key="retry",
    )
    assert answer["records"][0]["status"] == "failed"
    write = RecordWrite.objects.get()
    client.force_login(superuser)
    client.post(
        reverse("admin:destinations_recordwrite_changelist"),
        {"action": "retry", "_selected_action": [write.pk]},
    )
    write.refresh_from_db()
    assert write.status == RecordWrite.Status.WRITTEN and write.attempts == 2
    assert sandbox.control("supabase", "GET", "rows/clients")[0]["id"] == write.remote_id
    page = client.get(reverse("admin:destinations_recordwrite_change", args=[write.pk]))
    assert page.status_code == 200 and write.remote_id in page.content.decode()


def test_a_write_shows_what_was_sent_and_the_whole_row_the_destination_stored(
    client, superuser, sandbox, destination, admin
):
    services.records_receive(
        destination=destination,
        actor=admin,
        records=[{"entity": "clients", "data": {"name": "Anna", "organization": "Muster AG"}}],
        key="shown",
    )
    write = RecordWrite.objects.get()
    [stored] = sandbox.control("supabase", "GET", "rows/clients")
    assert "company" not in write.answer  # sent as it was stored: kept once, in `row`
    assert write.answer["created_at"] == stored["created_at"]  # filled by the destination
    assert write.stored_row == stored
    client.force_login(superuser)
    page = client.get(reverse("admin:destinations_recordwrite_change", args=[write.pk]))
    html = page.content.decode()
    assert "Muster AG" in html and stored["created_at"] in html and stored["id"] in html
