"""POST /api/destinations/<id>/records and /test: token or session auth, one record or a
batch, per-record answers, the Idempotency-Key header, other workspaces' destinations unseen."""

import pytest
from django.urls import reverse

from tests.destinations.conftest import rows

pytestmark = pytest.mark.django_db

CLIENT = {"name": "Anna Muster", "email": "anna@example.com", "organization": "Muster AG"}


def url(destination, what="records"):
    return reverse(f"api-destination-{what}", args=[destination.pk])


def test_one_record_is_written_and_answered_with_the_destinations_id(
    api, sandbox, destination, admin
):
    api.force_authenticate(admin)
    answer = api.post(url(destination), {"entity": "clients", "data": CLIENT}, format="json")
    assert answer.status_code == 200
    [record] = answer.json()["records"]
    assert record["status"] == "written" and record["id"] == rows(sandbox, "clients")[0]["id"]
    assert answer.json()["counts"] == {"written": 1}


def test_a_batch_answers_per_record(api, sandbox, destination, admin):
    api.force_authenticate(admin)
    body = {
        "records": [
            {"entity": "clients", "data": CLIENT},
            {"entity": "clients", "data": {"email": "nameless@example.com"}},
            {
                "entity": "emails",
                "data": {
                    "from_email": "a@b.ch",
                    "to_email": "c@d.ch",
                    "subject": "s",
                    "body_text": "t",
                },
            },
        ]
    }
    answer = api.post(url(destination), body, format="json").json()
    assert [r["status"] for r in answer["records"]] == ["written", "refused", "waiting"]
    assert "name" in answer["records"][1]["error"] and answer["records"][2]["change_id"]


def test_the_idempotency_key_makes_a_retry_write_nothing(api, sandbox, destination, admin):
    api.force_authenticate(admin)
    body = {"entity": "clients", "data": CLIENT}
    first = api.post(url(destination), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").json()
    again = api.post(url(destination), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").json()
    assert again["records"] == first["records"] and again["replayed"] is True
    assert len(rows(sandbox, "clients")) == 1
    other = api.post(
        url(destination),
        {"entity": "clients", "data": {"name": "B"}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"entity": "rooms", "data": {}},
        {"records": []},
        {"entity": "clients"},
        {"records": [{"entity": "clients", "data": []}]},
    ],
)
def test_malformed_requests_are_refused_whole(api, sandbox, destination, admin, body):
    api.force_authenticate(admin)
    assert api.post(url(destination), body, format="json").status_code == 400
    assert rows(sandbox, "clients") == []


def test_another_workspaces_destination_is_not_found(api, destination, two_workspaces):
    api.force_authenticate(two_workspaces["b_admin"])
    assert (
        api.post(url(destination), {"entity": "clients", "data": CLIENT}, format="json").status_code
        == 404
    )
    assert api.post(url(destination, "test")).status_code == 404


def test_the_test_endpoint_answers_without_the_key(api, sandbox, destination, admin):
    from config import endpoints

    api.force_authenticate(admin)
    answer = api.post(url(destination, "test"))
    assert answer.status_code == 200 and answer.json()["ok"] is True
    assert endpoints.SUPABASE_SERVICE_KEY not in answer.content.decode()


def test_a_request_is_read_back_by_its_key_as_it_stands_now(api, sandbox, destination, admin):
    from integrations import approvals
    from integrations.approvals.models import OutboundChange

    api.force_authenticate(admin)
    email = {"from_email": "a@b.ch", "to_email": "c@d.ch", "subject": "s", "body_text": "t"}
    body = {"records": [{"entity": "emails", "data": email}, {"entity": "emails", "data": email}]}
    first = api.post(url(destination), body, format="json", HTTP_IDEMPOTENCY_KEY="mail-1").json()
    approved, rejected = (OutboundChange.objects.get(pk=r["change_id"]) for r in first["records"])
    approvals.approve(changes=[approved], actor=admin)
    approvals.apply(approved.pk)
    approvals.reject(changes=[rejected], actor=admin)
    now = api.get(reverse("api-destination-request", args=[destination.pk, "mail-1"])).json()
    assert [r["status"] for r in now["records"]] == ["written", "rejected"]
    assert now["records"][0]["id"] == rows(sandbox, "emails")[0]["id"]
    missing = api.get(reverse("api-destination-request", args=[destination.pk, "nope"]))
    assert missing.status_code == 404
