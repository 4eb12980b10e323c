"""The approval gate: a planned write waits; approved, its owner applies it (here, a row update
in the Smartsheet emulator through the SDK); rejected, it never is; every decision is audited."""

import pytest
from django.conf import settings

from integrations import approvals, tasks
from integrations.accounts.models import AuditEvent
from integrations.approvals.models import OutboundChange
from integrations.connections.providers import smartsheet
from integrations.connections.providers.base import rate_key
from integrations.connections.services import access_token
from integrations.mapping.models import MappingSet
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db

SHEET = settings.TIMETRACKER_SMARTSHEET_SHEET_ID
GC = settings.TIMETRACKER_SMARTSHEET_COLUMNS["general_contractor"]
ROW = SHEET + 1  # the emulator's first row of the TimeTracker Jobs sheet (24-0101)
OWNER = "test.smartsheet-jobs"


def sheet_value(connection) -> str:
    sdk = smartsheet.writer(access_token(connection), key=rate_key(connection))
    row = next(r for r in smartsheet.get_sheet(sdk, sheet_id=SHEET).rows if r.id == ROW)
    return next(c["value"] for c in row.cells if c["columnId"] == GC)


@pytest.fixture
def gate(sandbox, two_workspaces):
    """A Smartsheet connection that requires approval, and a sync that applies to it."""
    admin = two_workspaces["a_admin"]
    connection = connect(sandbox, user=admin, workspace=two_workspaces["a"], provider="smartsheet")
    connection.requires_approval = True
    connection.save()

    def apply_row(change):
        sdk = smartsheet.writer(access_token(change.connection), key=rate_key(change.connection))
        result = smartsheet.update_rows(
            sdk,
            sheet_id=SHEET,
            rows=[
                (
                    int(change.target_id),
                    [{"columnId": GC, "value": change.payload["general_contractor"]}],
                )
            ],
        )
        if result.failures:
            from integrations.errors import ApplicationError

            raise ApplicationError(result.failures[0].message)

    approvals.register_applier(OWNER, apply_row)
    yield connection
    approvals.APPLIERS.pop(OWNER, None)


def plan(connection, value="Skanska USA"):
    return approvals.plan(
        workspace=connection.workspace,
        owner=OWNER,
        connection=connection,
        target_entity="job row",
        target_id=str(ROW),
        target_label="24-0101",
        operation="update",
        before={"general_contractor": "Turner Construction", "im_number": "24-0101"},
        after={"general_contractor": value, "im_number": "24-0101"},
    )


def test_without_the_setting_nothing_waits(gate, two_workspaces):
    gate.requires_approval = False
    assert plan(gate) is None  # the caller writes at once
    mapping_set = MappingSet.objects.create(
        workspace=two_workspaces["a"], name="Jobs", target_entity="job row", requires_approval=True
    )
    assert approvals.requires_approval(connection=gate, mapping_set=mapping_set)


def test_a_change_is_applied_only_after_approval(
    gate, two_workspaces, django_capture_on_commit_callbacks
):
    change = plan(gate)
    assert change.status == "pending"
    assert change.changes == {
        "general_contractor": {"before": "Turner Construction", "after": "Skanska USA"}
    }
    tasks.apply_outbound_change(change.pk)  # a stray task before the decision does nothing
    assert sheet_value(gate) == "Turner Construction"

    with django_capture_on_commit_callbacks() as queued:
        decided, skipped = approvals.approve(
            changes=[change], actor=two_workspaces["a_admin"], note="ok"
        )
    assert ([c.pk for c in decided], skipped, len(queued)) == ([change.pk], [], 1)
    assert sheet_value(gate) == "Turner Construction"  # approved, not yet applied
    tasks.apply_outbound_change(change.pk)  # what the queued task does
    change.refresh_from_db()
    assert (change.status, change.decided_by, change.note) == (
        "applied",
        two_workspaces["a_admin"],
        "ok",
    )
    assert sheet_value(gate) == "Skanska USA"
    tasks.apply_outbound_change(change.pk)  # a redelivered task applies nothing twice
    assert AuditEvent.objects.filter(action="outbound_change.applied").count() == 1
    event = AuditEvent.objects.get(action="outbound_change.approve")
    assert (event.actor, event.target_id, event.details) == (
        two_workspaces["a_admin"],
        str(change.pk),
        {"note": "ok"},
    )


def test_a_rejected_change_is_never_applied(
    gate, two_workspaces, django_capture_on_commit_callbacks
):
    change = plan(gate)
    with django_capture_on_commit_callbacks() as queued:
        approvals.reject(changes=[change], actor=two_workspaces["a_admin"], note="wrong GC")
    assert queued == []
    tasks.apply_outbound_change(change.pk)
    change.refresh_from_db()
    assert change.status == "rejected" and change.applied_at is None
    assert sheet_value(gate) == "Turner Construction"
    # A decision is final: approving it afterwards is skipped.
    decided, skipped = approvals.approve(changes=[change], actor=two_workspaces["a_admin"])
    assert (decided, skipped) == ([], [change.pk])
    assert AuditEvent.objects.filter(
        action="outbound_change.reject", target_id=str(change.pk)
    ).exists()


def test_a_failed_application_is_recorded(gate, two_workspaces, sandbox):
    change = approvals.plan(
        workspace=gate.workspace,
        owner=OWNER,
        connection=gate,
        target_entity="job row",
        target_id="1",  # no such row
        operation="update",
        after={"general_contractor": "X"},
    )
    approvals.approve(changes=[change], actor=two_workspaces["a_admin"])
    tasks.apply_outbound_change(change.pk)
    change.refresh_from_db()
    assert change.status == "failed" and change.error
    assert AuditEvent.objects.filter(action="outbound_change.failed").exists()


def test_the_api_lists_and_decides_many(api, gate, two_workspaces):
    changes = [plan(gate, value=f"GC {n}") for n in range(3)]
    api.force_authenticate(two_workspaces["a_member"])
    listed = api.get("/api/integrations/outbound-changes", {"status": "pending"}).json()
    assert listed["count"] == 3
    refused = api.post(
        "/api/integrations/outbound-changes/approve", {"ids": [changes[0].pk]}, format="json"
    )
    assert refused.status_code == 403
    assert OutboundChange.objects.filter(status="pending").count() == 3

    api.force_authenticate(two_workspaces["a_admin"])
    answer = api.post(
        "/api/integrations/outbound-changes/approve",
        {"ids": [c.pk for c in changes[:2]]},
        format="json",
    )
    assert answer.json() == {"decided": [changes[0].pk, changes[1].pk], "skipped": []}
    answer = api.post(
        "/api/integrations/outbound-changes/reject",
        {"ids": [changes[1].pk, changes[2].pk], "note": "no"},
        format="json",
    )
    assert answer.json() == {"decided": [changes[2].pk], "skipped": [changes[1].pk]}
    assert api.get("/api/integrations/outbound-changes", {"status": "pending"}).json()["count"] == 0

    api.force_authenticate(two_workspaces["b_admin"])  # another workspace sees none of them
    assert api.get("/api/integrations/outbound-changes").json()["count"] == 0
    missing = api.post(
        "/api/integrations/outbound-changes/approve", {"ids": [changes[0].pk]}, format="json"
    )
    assert missing.status_code == 404 and missing.json()["error"]["details"] == {
        "ids": [changes[0].pk]
    }


def test_the_api_previews_exports_and_imports(api, two_workspaces):
    from integrations.mapping.models import FieldMapping

    mapping_set = MappingSet.objects.create(
        workspace=two_workspaces["a"],
        name="Clients",
        target_entity="clients",
        required_fields=["name", "team_id"],
    )
    FieldMapping.objects.create(
        mapping_set=mapping_set, source_field="organization", target_field="name"
    )
    FieldMapping.objects.create(
        mapping_set=mapping_set, source_field="mail", target_field="email", transform="email"
    )
    api.force_authenticate(two_workspaces["a_admin"])
    preview = api.post(
        f"/api/integrations/mapping-sets/{mapping_set.pk}/preview",
        {"record": {"organization": "Acme", "mail": "nope"}},
        format="json",
    ).json()
    assert preview["output"] == {"name": "Acme"}
    assert preview["errors"] == {"email": "'nope' is not an email address."}
    assert preview["missing_required"] == ["team_id"]

    exported = api.get(f"/api/integrations/mapping-sets/{mapping_set.pk}/export").json()
    copy = api.post(
        "/api/integrations/mapping-sets/import",
        {"workspace": two_workspaces["a"].pk, "data": exported, "name": "Clients (copy)"},
        format="json",
    )
    assert copy.status_code == 201
    assert [f["transform"] for f in copy.json()["fields"]] == ["rename", "email"]

    broken = {
        **exported,
        "fields": [{"source": "a", "target": "b", "transform": "truncate", "params": {}}],
    }
    refused = api.post(
        "/api/integrations/mapping-sets/import",
        {"workspace": two_workspaces["a"].pk, "data": broken, "name": "Broken"},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == {
        "max_length": ["Field 1 (b): truncate: the parameter 'max_length' is required."]
    }
    assert not MappingSet.objects.filter(name="Broken").exists()
    api.force_authenticate(two_workspaces["a_member"])
    member = api.post(
        "/api/integrations/mapping-sets/import",
        {"workspace": two_workspaces["a"].pk, "data": exported, "name": "Other"},
        format="json",
    )
    assert member.status_code == 403
    assert len(api.get("/api/integrations/transforms").json()) >= 15


def test_an_admin_turns_approval_on_and_off_for_a_connection(client, superuser, gate):
    client.force_login(superuser)
    url = f"/admin/integrations/connection/{gate.pk}/change/"
    assert (
        'name="requires_approval" aria-describedby="id_requires_approval_helptext" id="id_requires_approval" checked'
        in client.get(url).content.decode()
    )
    response = client.post(url, {})  # the box unticked: every other field is read-only
    assert response.status_code == 302, response.content.decode()[:2000]
    gate.refresh_from_db()
    assert gate.requires_approval is False
    assert plan(gate) is None
    assert AuditEvent.objects.filter(
        action="connection.requires_approval", actor=superuser
    ).exists()
