"""Records into a Supabase destination through the official client and the emulator: each
entity stored in the frontend's format, required fields, approval, idempotency, offer numbers,
the destination's test, and its key kept out of logs and answers."""

import re
import socket
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from config import endpoints
from destinations import services
from destinations.models import Destination, RecordRequest, RecordWrite
from integrations import approvals
from integrations.approvals.models import OutboundChange
from integrations.connections.providers import supabase
from integrations.mapping.models import FieldMapping, MappingSet
from tests.destinations.conftest import room, rows

pytestmark = pytest.mark.django_db

TEAM, USER = endpoints.SUPABASE_TEAM_ID, endpoints.SUPABASE_SYSTEM_USER_ID
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
OFFER_NUMBER = re.compile(r"^OE-\d{4}-\d{2}-\d{4}$")

CLIENT = {"name": "Anna Muster", "email": "Anna.Muster@Example.com", "organization": "Muster AG"}
EVENT = {
    "title": "Summer party",
    "chosen_date": "2026-07-04T18:30:00+00:00",  # 20:30 in Zurich, still the 4th
    "start_time": "6:30 PM",
    "end_time": "23:00",
    "status": "Option",
    "number_of_participants": 80,
    "locked_room_id": "grand-hall",
    "client_email": "anna.muster@example.com",
}
TASK = {"title": "Approve the offer", "type": "offer_approval", "status": "Pending"}
EMAIL = {
    "from_email": "events@venue.ch",
    "to_email": "Anna.Muster@Example.com",
    "subject": "Your event",
    "body_text": "Dear Anna, ...",
}
OFFER = {
    "subject": "Offer for the summer party",
    "offer_date": "2026-06-01",
    "status": "Draft",
    "deposit_status": "Pending",
    "line_items": [
        {
            "name": "Lunch buffet",
            "product": "lunch-buffet",
            "quantity": 80,
            "unit_price": 42.5,
            "total": 3400,
        },
    ],
}


def send(destination, admin, *records, key=None):
    return services.records_receive(
        destination=destination,
        actor=admin,
        records=[{"entity": entity, "data": data} for entity, data in records],
        key=key or str(uuid.uuid4()),
    )


def approve(admin, change_id):
    change = OutboundChange.objects.get(pk=change_id)
    approvals.approve(changes=[change], actor=admin)
    return approvals.apply(change.pk)


def test_clients_events_and_tasks_are_stored_in_the_frontends_format(sandbox, destination, admin):
    answer = send(destination, admin, ("clients", CLIENT), ("events", EVENT), ("tasks", TASK))
    assert [r["status"] for r in answer["records"]] == ["written"] * 3
    [client] = rows(sandbox, "clients")
    assert client["id"] == answer["records"][0]["id"] and UUID.match(client["id"])
    assert (client["company"], client["email"]) == ("Muster AG", "anna.muster@example.com")
    assert (client["team_id"], client["user_id"]) == (TEAM, USER)
    [event] = rows(sandbox, "events")
    assert event["event_date"] == "2026-07-04"
    assert (event["start_time"], event["end_time"]) == ("18:30:00", "23:00:00")
    assert event["status"] == "option" and event["attendees"] == 80
    assert event["room_ids"] == [room(sandbox, "grand-hall")]  # this team's room, not the other's
    assert event["client_id"] == client["id"]  # looked up by email, from the destination
    [task] = rows(sandbox, "tasks")
    assert (task["category"], task["status"], task["team_id"]) == (
        "offer_approval",
        "pending",
        TEAM,
    )


def test_an_offer_waits_for_approval_then_is_written_with_its_number_and_line_items(
    sandbox, destination, admin
):
    answer = send(destination, admin, ("offers", OFFER))
    [record] = answer["records"]
    assert record["status"] == "waiting" and rows(sandbox, "offers") == []
    approve(admin, record["change_id"])
    [offer] = rows(sandbox, "offers")
    assert OFFER_NUMBER.match(offer["offer_number"])
    assert (offer["status"], offer["payment_status"], offer["offer_date"]) == (
        "draft",
        "pending",
        "2026-06-01",
    )
    [item] = rows(sandbox, "offer_line_items")
    assert item["offer_id"] == offer["id"]
    assert item["product_id"] == next(
        p["id"]
        for p in rows(sandbox, "products")
        if p["slug"] == "lunch-buffet" and p["team_id"] == TEAM
    )
    write = RecordWrite.objects.get(change_id=record["change_id"])
    assert write.status == RecordWrite.Status.WRITTEN and write.remote_id == offer["id"]


def test_an_email_is_not_written_until_approved_and_never_after_rejection(
    sandbox, destination, admin
):
    first, second = send(
        destination, admin, ("emails", EMAIL), ("emails", EMAIL | {"subject": "Two"})
    )["records"]
    assert first["status"] == second["status"] == "waiting"
    assert rows(sandbox, "emails") == []
    approvals.reject(changes=[OutboundChange.objects.get(pk=second["change_id"])], actor=admin)
    assert approvals.apply(second["change_id"]).status == OutboundChange.Status.REJECTED
    assert rows(sandbox, "emails") == []
    approve(admin, first["change_id"])
    [email] = rows(sandbox, "emails")
    assert email["subject"] == "Your event" and email["to_email"] == "anna.muster@example.com"
    assert email["email_account_id"] == endpoints.SUPABASE_EMAIL_ACCOUNT_ID


def test_without_approval_required_an_email_is_written_at_once(sandbox, destination, admin):
    MappingSet.objects.filter(name="Events frontend · emails").update(requires_approval=False)
    [record] = send(destination, admin, ("emails", EMAIL))["records"]
    assert record["status"] == "written" and len(rows(sandbox, "emails")) == 1


def test_new_rows_get_ids_derived_from_their_requests_seed_by_uuid5(sandbox, destination, admin):
    # A request taken over by a process of another release must derive the same ids as the
    # process that died, to find by them what it had written.
    offer = OFFER | {"offer_number": "OE-2026-06-0001"}
    MappingSet.objects.filter(name="Events frontend · offers").update(requires_approval=False)
    answer = send(destination, admin, ("tasks", TASK), ("clients", CLIENT), ("offers", offer))
    seed = RecordRequest.objects.get(key=answer["key"]).id_seed
    assert answer["records"][0]["id"] == str(uuid.uuid5(seed, "0"))
    assert answer["records"][1]["id"] == str(uuid.uuid5(seed, "1"))
    [item] = rows(sandbox, "offer_line_items")
    assert item["id"] == str(uuid.uuid5(seed, "2.0"))


def test_a_mapping_field_edited_alone_is_used_by_the_next_request(sandbox, destination, admin):
    # The destination's field rows are kept between requests: an edited field must not be
    # answered from what an earlier request kept.
    send(destination, admin, ("clients", CLIENT))
    field = FieldMapping.objects.get(
        mapping_set__name="Events frontend · clients", source_field="organization"
    )
    field.source_field = "firm"
    field.save()
    send(
        destination, admin, ("clients", CLIENT | {"email": "second@example.com", "firm": "Firm AG"})
    )
    second = next(c for c in rows(sandbox, "clients") if c["email"] == "second@example.com")
    assert second["company"] == "Firm AG"
    field.delete()
    send(
        destination, admin, ("clients", CLIENT | {"email": "third@example.com", "firm": "Firm AG"})
    )
    third = next(c for c in rows(sandbox, "clients") if c["email"] == "third@example.com")
    assert third["company"] is None


def test_kept_mappers_find_a_client_written_after_an_earlier_request_missed_it(
    sandbox, destination, admin
):
    # The compiled mappers are kept from request to request; what their lookups remembered
    # (this client: not there) is not.
    email = "late.client@example.com"
    first = send(destination, admin, ("events", EVENT | {"client_email": email}))
    assert first["records"][0]["status"] == "written"
    [compiled] = services._setups[destination.pk][1].spare
    pg = supabase.client(services.project(destination))
    [client] = supabase.insert(
        pg, "clients", [{"name": "Late", "email": email, "team_id": TEAM, "user_id": USER}]
    )
    second = send(destination, admin, ("events", EVENT | {"client_email": email}))
    assert services._setups[destination.pk][1].spare == [compiled]  # the same mappers again
    by_id = {event["id"]: event for event in rows(sandbox, "events")}
    assert by_id[first["records"][0]["id"]]["client_id"] is None
    assert by_id[second["records"][0]["id"]]["client_id"] == client["id"]


def test_two_requests_at_once_never_share_compiled_mappers(destination):
    setup = services._entity_setup(destination)
    first, second = setup.take(), setup.take()  # two requests running at once
    assert first is not second
    setup.give_back(first)
    assert setup.take() is first and first.lookup is None  # nothing of the earlier request


def test_approval_switched_on_between_requests_holds_the_next_record(sandbox, destination, admin):
    emails = MappingSet.objects.filter(name="Events frontend · emails")
    emails.update(requires_approval=False)  # a queryset update: the set's updated_at stays
    assert send(destination, admin, ("emails", EMAIL))["records"][0]["status"] == "written"
    emails.update(requires_approval=True)
    assert send(destination, admin, ("emails", EMAIL))["records"][0]["status"] == "waiting"
    assert len(rows(sandbox, "emails")) == 1


def test_required_fields_changed_between_requests_refuse_the_next_record(
    sandbox, destination, admin
):
    # The version a kept setup is compared with is read by SQL compiled once per destination:
    # a queryset update of the set's required fields (no signal, updated_at kept) is in it.
    clients = MappingSet.objects.filter(name="Events frontend · clients")
    assert send(destination, admin, ("clients", CLIENT))["records"][0]["status"] == "written"
    clients.update(required_fields=["name", "phone"])
    answer = send(destination, admin, ("clients", CLIENT | {"email": "b@example.com"}))
    assert answer["records"][0]["status"] == "refused" and answer["records"][0]["code"] == "phone"


def test_a_request_taken_over_while_it_wrote_stores_no_answer(
    sandbox, destination, admin, monkeypatch
):
    write_batch = services._write_batch

    def then_taken_over(intake, plans, writes):
        write_batch(intake, plans, writes)
        RecordRequest.objects.update(owner="elsewhere:1:token")  # a retry took it for dead

    monkeypatch.setattr(services, "_write_batch", then_taken_over)
    with pytest.raises(services.LeaseLost):
        send(destination, admin, ("clients", CLIENT), key="taken")
    request = RecordRequest.objects.get(key="taken")
    assert (request.answer, request.owner) == (None, "elsewhere:1:token")
    assert not request.writes.exists()  # the taker records them


def test_a_record_missing_a_required_field_writes_nothing_and_names_it(sandbox, destination, admin):
    answer = send(destination, admin, ("events", EVENT | {"end_time": None}), ("clients", CLIENT))
    refused, written = answer["records"]
    assert refused["status"] == "refused" and "end_time" in refused["error"]
    assert refused["code"] == "end_time"
    assert written["status"] == "written"
    assert rows(sandbox, "events") == [] and len(rows(sandbox, "clients")) == 1


def test_a_record_the_destination_refuses_fails_alone_with_postgrests_message(
    sandbox, destination, admin
):
    answer = send(
        destination,
        admin,
        ("clients", CLIENT),
        ("clients", CLIENT | {"id": "not-a-uuid"}),
        ("clients", CLIENT),
    )
    statuses = [r["status"] for r in answer["records"]]
    assert statuses == ["written", "failed", "written"]
    assert "invalid input syntax for type uuid" in answer["records"][1]["error"]
    assert answer["records"][1]["code"] == "22P02"
    assert len(rows(sandbox, "clients")) == 2


def test_a_retried_request_with_the_same_key_writes_once(sandbox, destination, admin):
    first = send(destination, admin, ("clients", CLIENT), ("emails", EMAIL), key="req-1")
    again = send(destination, admin, ("clients", CLIENT), ("emails", EMAIL), key="req-1")
    assert again["records"] == first["records"] and again["replayed"] is True
    assert len(rows(sandbox, "clients")) == 1
    assert OutboundChange.objects.count() == 1
    with pytest.raises(services.KeyReused):
        send(destination, admin, ("clients", CLIENT | {"name": "Other"}), key="req-1")


def test_an_offer_with_a_number_is_upserted_on_it(sandbox, destination, admin):
    MappingSet.objects.filter(name="Events frontend · offers").update(requires_approval=False)
    first = send(destination, admin, ("offers", OFFER | {"offer_number": "OE-2026-06-0042"}))
    again = send(
        destination, admin, ("offers", OFFER | {"offer_number": "OE-2026-06-0042", "subject": "v2"})
    )
    assert first["records"][0]["id"] == again["records"][0]["id"]
    [offer] = rows(sandbox, "offers")
    assert offer["subject"] == "v2"


def test_a_test_reports_the_key_role_and_every_table(sandbox, destination, admin):
    outcome = services.destination_test(destination=destination, actor=admin)
    assert outcome["ok"] and outcome["role"] == "service_role"
    assert set(outcome["tables"]) == {
        "clients",
        "events",
        "offers",
        "offer_line_items",
        "tasks",
        "emails",
        "rooms",
        "products",
    }
    destination.refresh_from_db()
    assert destination.status == Destination.Status.OK


def test_a_test_refuses_a_key_that_is_not_the_service_roles(sandbox, destination, admin):
    anon = sandbox.control("supabase", "POST", "keys", {"role": "anon"})["key"]
    services.destination_save(destination=destination, actor=admin, service_key=anon)
    outcome = services.destination_test(destination=destination, actor=admin)
    assert not outcome["ok"] and "acts as anon" in outcome["error"]
    assert anon not in str(outcome)


def test_missing_settings_are_reported_by_the_test_and_refuse_records(sandbox, destination, admin):
    Destination.objects.filter(pk=destination.pk).update(team_id=None)
    outcome = services.destination_test(destination=destination, actor=admin)
    assert outcome["error"] == "Not configured: set the team id."
    destination.refresh_from_db()
    with pytest.raises(services.NotConfigured, match="team id"):
        send(destination, admin, ("clients", CLIENT))


def test_the_service_key_never_reaches_logs_or_audit(sandbox, destination, admin, log_output):
    from django.core.cache import cache

    from integrations.accounts.models import AuditEvent

    send(destination, admin, ("clients", CLIENT), ("clients", CLIENT | {"id": "bad"}))
    cache.clear()  # the event's client is then looked up by email in the destination
    assert send(destination, admin, ("events", EVENT))["records"][0]["status"] == "written"
    services.destination_test(destination=destination, actor=admin)
    key = endpoints.SUPABASE_SERVICE_KEY
    assert key not in log_output.getvalue()
    assert all(
        key not in str(event.details) + str(event.changes) for event in AuditEvent.objects.all()
    )
    assert "anna.muster" not in log_output.getvalue()  # nor the lookups' filter values (PII)


@pytest.mark.heavy
def test_a_hundred_concurrent_offers_get_a_hundred_distinct_numbers(
    transactional_db, sandbox, two_workspaces
):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    admin = two_workspaces["a_admin"]
    destination = services.destination_save(
        destination=Destination(
            workspace=two_workspaces["a"],
            name="Concurrent",
            url="https://abcdefgh.supabase.co",
            team_id=TEAM,
            user_id=USER,
        ),
        actor=admin,
        service_key=endpoints.SUPABASE_SERVICE_KEY,
    )
    MappingSet.objects.filter(name="Concurrent · offers").update(requires_approval=False)

    def one(index: int) -> str:
        try:
            [record] = send(destination, admin, ("offers", OFFER | {"subject": f"Offer {index}"}))[
                "records"
            ]
            return record["status"]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, range(100)))
    assert statuses == ["written"] * 100
    numbers = [offer["offer_number"] for offer in rows(sandbox, "offers")]
    assert len(numbers) == 100 and len(set(numbers)) == 100
    assert all(OFFER_NUMBER.match(number) for number in numbers)


def test_an_offer_whose_line_items_are_refused_is_taken_back_whole(sandbox, destination, admin):
    MappingSet.objects.filter(name="Events frontend · offers").update(requires_approval=False)
    bad = OFFER | {"line_items": [OFFER["line_items"][0] | {"quantity": "eighty"}]}
    answer = send(destination, admin, ("offers", OFFER), ("offers", bad), ("offers", OFFER))
    assert [r["status"] for r in answer["records"]] == ["written", "failed", "written"]
    assert "invalid input syntax for type numeric" in answer["records"][1]["error"]
    offers = rows(sandbox, "offers")
    assert {o["id"] for o in offers} == {answer["records"][0]["id"], answer["records"][2]["id"]}
    assert len(rows(sandbox, "offer_line_items")) == 2


def test_a_request_that_breaks_midway_keeps_its_answer_and_writes_nothing_twice(
    sandbox, destination, admin, monkeypatch
):
    def broken(intake, plan):
        raise RuntimeError("the review queue is down")

    monkeypatch.setattr(services, "_hold", broken)
    records = (("clients", CLIENT), ("emails", EMAIL), ("clients", CLIENT | {"name": "Later"}))
    with pytest.raises(RuntimeError):
        send(destination, admin, *records, key="broken")
    again = send(destination, admin, *records, key="broken")
    assert again["replayed"] is True
    assert [r["status"] for r in again["records"]] == ["written", "failed", "failed"]
    assert "send it again under a new key" in again["records"][2]["error"]
    assert len(rows(sandbox, "clients")) == 1
    assert RecordWrite.objects.count() == 3


class Killed(BaseException):
    """The process dying mid-request: no `except Exception` sees it, nothing is cleaned up."""


def _kill_at(monkeypatch, where: str) -> None:
    if where == "before our commit":
        # Every batch is in the destination; our records of them and the answer are not.
        def finish(*args, **kwargs):
            raise Killed

        monkeypatch.setattr(services, "_finish", finish)
        return
    real = services._write_batch
    calls = []

    def write_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # after the clients and the offer: the last client not written
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_write_batch", write_batch)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    child.wait()
    return child.pid


@pytest.mark.parametrize("where", ["before our commit", "between two batches"])
@pytest.mark.parametrize("how", ["its lease ran out", "its process is gone"])
def test_a_request_killed_midway_is_finished_by_its_retry_and_writes_each_record_once(
    sandbox, destination, admin, monkeypatch, where, how
):
    MappingSet.objects.filter(name="Events frontend · offers").update(requires_approval=False)
    records = (
        ("clients", CLIENT),
        ("offers", OFFER),
        ("emails", EMAIL),  # held for approval
        ("clients", CLIENT | {"name": "Ben", "email": "ben@example.com"}),
    )
    with monkeypatch.context() as patch:
        _kill_at(patch, where)
        with pytest.raises(Killed):
            send(destination, admin, *records, key="killed")
    assert RecordRequest.objects.get(key="killed").answer is None
    written_before = len(rows(sandbox, "clients"))
    assert written_before == (2 if where == "before our commit" else 1)

    # The owner may still be writing: the same key is told so, and nothing is written.
    with pytest.raises(services.InProgress):
        send(destination, admin, *records, key="killed")
    if how == "its lease ran out":
        RecordRequest.objects.filter(key="killed").update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
    else:
        RecordRequest.objects.filter(key="killed").update(
            owner=f"{socket.gethostname()}:{_dead_pid()}:gone"
        )
    answer = send(destination, admin, *records, key="killed")

    assert "replayed" not in answer
    assert [r["status"] for r in answer["records"]] == ["written", "written", "waiting", "written"]
    clients, offers = rows(sandbox, "clients"), rows(sandbox, "offers")
    assert sorted(c["email"] for c in clients) == ["anna.muster@example.com", "ben@example.com"]
    assert len(offers) == 1 and len(rows(sandbox, "offer_line_items")) == 1
    assert {c["id"] for c in clients} | {offers[0]["id"]} == {
        answer["records"][i]["id"] for i in (0, 1, 3)
    }
    assert OutboundChange.objects.count() == 1
    assert RecordWrite.objects.filter(request__key="killed").count() == 4
    again = send(destination, admin, *records, key="killed")
    assert again["replayed"] is True and again["records"] == answer["records"]


def test_an_approval_applied_again_after_its_write_landed_unrecorded_writes_once(
    sandbox, destination, admin, monkeypatch
):
    answer = send(destination, admin, ("emails", EMAIL))
    change = OutboundChange.objects.get(pk=answer["records"][0]["change_id"])
    approvals.approve(changes=[change], actor=admin)
    write = RecordWrite.objects.get()
    with monkeypatch.context() as patch:
        # The write lands; the process dies before saving that it did.
        patch.setattr(RecordWrite, "save", lambda self, *a, **k: (_ for _ in ()).throw(Killed))
        with pytest.raises(Killed):
            services.apply_change(change)
    assert len(rows(sandbox, "emails")) == 1
    services.apply_change(change)
    [email] = rows(sandbox, "emails")
    write.refresh_from_db()
    assert write.status == RecordWrite.Status.WRITTEN and write.remote_id == email["id"]


def test_line_items_tasks_and_emails_keep_the_frontends_numbers_dates_and_moments(
    sandbox, destination, admin
):
    MappingSet.objects.filter(workspace=destination.workspace).update(requires_approval=False)
    answer = send(
        destination,
        admin,
        ("clients", CLIENT),
        ("offers", OFFER),
        (
            "tasks",
            TASK
            | {
                "due_date": "2026-07-04T23:30:00+00:00",  # 01:30 on the 5th in Zurich
                "resolved_at": "2026-07-04T18:30:00+02:00",
                "client_email": "anna.muster@example.com",
            },
        ),
        ("emails", EMAIL | {"sent_at": "2026-07-04T09:15:00+02:00"}),
    )
    assert [r["status"] for r in answer["records"]] == ["written"] * 4
    [item] = rows(sandbox, "offer_line_items")
    assert (item["quantity"], item["unit_price"], item["total"]) == (80, 42.5, 3400)
    assert item["name"] == "Lunch buffet" and UUID.match(item["id"])
    [task] = rows(sandbox, "tasks")
    assert task["due_date"] == "2026-07-05"
    assert task["completed_at"] == "2026-07-04T16:30:00+00:00"
    assert task["client_id"] == answer["records"][0]["id"]
    [email] = rows(sandbox, "emails")
    assert email["sent_at"] == "2026-07-04T07:15:00+00:00"
    assert email["client_id"] is None  # none named: the lookup is the record's choice


def test_an_upserted_offer_killed_before_our_commit_gets_its_line_items_once(
    sandbox, destination, admin, monkeypatch
):
    MappingSet.objects.filter(name="Events frontend · offers").update(requires_approval=False)
    offer = ("offers", OFFER | {"offer_number": "OE-2026-06-0042"})
    with monkeypatch.context() as patch:
        _kill_at(patch, "before our commit")
        with pytest.raises(Killed):
            send(destination, admin, offer, key="upsert-killed")
    RecordRequest.objects.filter(key="upsert-killed").update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    answer = send(destination, admin, offer, key="upsert-killed")
    assert [r["status"] for r in answer["records"]] == ["written"]
    [stored] = rows(sandbox, "offers")
    assert stored["offer_number"] == "OE-2026-06-0042"
    assert [i["offer_id"] for i in rows(sandbox, "offer_line_items")] == [stored["id"]]
