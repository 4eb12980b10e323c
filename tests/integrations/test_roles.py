"""Who may do what, wherever it is asked: every admin action and every state-changing service
has a row here. For each, a workspace *member* and a *view-only* staff user are refused and
nothing changes; a workspace *admin* is allowed. A new admin action or @audited service
without a row fails the completeness tests, so none can slip in unchecked."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib import admin as admin_site
from django.contrib.auth.models import Permission
from django.urls import reverse

from config import endpoints
from crm import services as crm_services
from crm import sync as crm_sync
from crm.models import Contact, CrmChange, CrmConfig, CrmLink, SyncConflict, SyncLog
from destinations import services as destination_services
from destinations.models import Destination, RecordWrite
from integrations import approvals, schedules
from integrations.accounts import audit as audit_log
from integrations.accounts import services as accounts
from integrations.accounts.models import AuditEvent, Membership
from integrations.approvals.models import OutboundChange
from integrations.connections import services as connections
from integrations.connections.models import Connection
from integrations.connections.providers.base import Identity, TokenSet
from integrations.errors import ApplicationError, PermissionDenied
from integrations.mapping.models import MappingSet
from migration import services as migration_services
from migration.files import MigrationFile
from migration.runs import MigrationRun
from projects import services as project_services
from projects.models import Comment, Project, ProjectSheetLink, UnmappedRow
from tests.factories import UserFactory
from tests.integrations.helpers import connect, connect_dataverse, planned
from tests.migration.helpers import connection_row, finished_dry_run
from timetracker import services as timetracker_services
from timetracker.models import Employee, JobSyncRun

pytestmark = pytest.mark.django_db


# --- the world each case acts on ------------------------------------------------------------


@pytest.fixture
def world(sandbox, two_workspaces):
    return {**two_workspaces, "sandbox": sandbox, "outsider": two_workspaces["b_admin"]}


def hubspot(w) -> Connection:
    # A workspace connection (HubSpot is not per user): its owner is the workspace, so only
    # the workspace's admins manage it.
    return connect(w["sandbox"], user=w["a_admin"], workspace=w["a"], provider="hubspot")


def paused(w) -> Connection:
    connection = hubspot(w)
    connections.connection_set_paused(connection=connection, paused=True, actor=None)
    return connection


def project(w) -> Project:
    return Project.objects.create(workspace=w["a"], number="7", name="Roles", created_by=None)


def sheet_link(w) -> ProjectSheetLink:
    return ProjectSheetLink.objects.create(
        workspace=w["a"], project=project(w), sheet_id=42, sheet_name="Roles", permalink=""
    )


def unmapped(w, **fields) -> UnmappedRow:
    link = sheet_link(w)
    comment = Comment.objects.create(
        workspace=w["a"], project=link.project, author=w["a_admin"], text="typed twice"
    )
    return UnmappedRow.objects.create(
        workspace=w["a"],
        link=link,
        row_id=1001,
        cells={"name": "typed twice", "type": "Comment", "text": "typed twice"},
        link_entity_type="comment",
        link_entity_id=comment.pk,
        **fields,
    )


def employee(w, *, removed: bool = False) -> Employee:
    person = Employee.objects.create(workspace=w["a"], email="pat@example.com", first_name="Pat")
    if removed:
        timetracker_services.employee_soft_delete(employee=person, actor=None)
    return person


def job_run(w) -> JobSyncRun:
    connection = connect_dataverse(user=w["a_admin"], workspace=w["a"])
    return JobSyncRun.objects.create(
        workspace=w["a"], connection=connection, source="dataverse", status="succeeded"
    )


def outbound_change(w) -> OutboundChange:
    return planned(w["a"])


def crm_run_queued(dry_run: bool):
    def done(row, response) -> bool:
        return SyncLog.objects.filter(config=row, dry_run=dry_run).exists()

    return done


def mapping_set(w) -> MappingSet:
    return MappingSet.objects.create(workspace=w["a"], name="Roles", target_entity="b")


def crm_config(w) -> CrmConfig:
    connection = connect(w["sandbox"], user=w["a_admin"], workspace=w["a"], provider="salesforce")
    return CrmConfig.objects.create(
        workspace=w["a"],
        provider="salesforce",
        connection=connection,
        entities=["account", "contact"],
    )


def crm_run_done(w) -> SyncLog:
    """A finished CRM run that changed one record: its undo has something to put back."""
    config = crm_config(w)
    run = SyncLog.objects.create(
        workspace=w["a"],
        config=config,
        entity="contact",
        direction="bidirectional",
        trigger="button",
        status="succeeded",
    )
    CrmChange.objects.create(
        workspace=w["a"],
        run=run,
        entity="contact",
        side="hub",
        operation="update",
        local_id=1,
        before={"title": ""},
        after={"title": "CTO"},
    )
    return run


def crm_title(w):
    config = crm_config(w)
    return config, crm_sync.mapping_set_for(config, "contact").fields.get(target_field="Title")


def crm_conflict(w) -> SyncConflict:
    config = crm_config(w)
    contact = Contact.objects.create(workspace=w["a"], last_name="Roles", title="CEO")
    CrmLink.objects.create(
        workspace=w["a"],
        config=config,
        entity="contact",
        local_id=contact.pk,
        remote_id="003000000000001AAA",
        synced_values={"Title": None},
    )
    return SyncConflict.objects.create(
        workspace=w["a"],
        config=config,
        entity="contact",
        local_id=contact.pk,
        remote_id="003000000000001AAA",
        app_data={"Title": "CEO"},
        crm_data={"Title": "CTO"},
        base_data={"Title": None},
        conflicting_fields=["Title"],
    )


def destination(w) -> Destination:
    return destination_services.destination_save(
        destination=Destination(
            workspace=w["a"],
            name="Roles",
            url="https://roles.supabase.co",
            team_id=endpoints.SUPABASE_TEAM_ID,
            user_id=endpoints.SUPABASE_SYSTEM_USER_ID,
        ),
        actor=None,
        service_key=endpoints.SUPABASE_SERVICE_KEY,
    )


def failed_write(w) -> RecordWrite:
    # A client whose id the destination refuses (not a UUID): its write failed.
    destination_services.records_receive(
        destination=destination(w),
        actor=None,
        records=[{"entity": "clients", "data": {"name": "Roles", "id": "not-a-uuid"}}],
        key="roles",
    )
    return RecordWrite.objects.get(status=RecordWrite.Status.FAILED)


def dry_run(w) -> MigrationRun:
    """A finished migration dry run of workspace A, with its plan."""
    return finished_dry_run(
        w["a"],
        connection_row(w["a"], "project_online"),
        connection_row(w["a"], "smartsheet", user=w["a_admin"]),
    )


def migration_file(w) -> MigrationFile:
    """An uploaded MS Project file of workspace A (its bytes are never read here)."""
    return MigrationFile.objects.create(
        workspace=w["a"], name="plan.mpp", size=4, sha256="0" * 64, content=b"plan"
    )


def failed_migration(w) -> MigrationRun:
    run = dry_run(w)
    MigrationRun.objects.filter(pk=run.pk).update(dry_run=False, status="failed")
    run.refresh_from_db()
    return run


# --- admin actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionCase:
    make: Callable  # world -> the selected row
    done: Callable  # (row, response) -> did the action take effect?
    members_may: bool = False  # a member may do it too (reading, testing)


def status_is(value):
    return lambda row, response: type(row).objects.get(pk=row.pk).status == value


def state_is(value):
    return lambda row, response: UnmappedRow.objects.get(pk=row.pk).state == value


ACTIONS: dict[tuple[str, str], ActionCase] = {
    ("integrations.connection", "test_connections"): ActionCase(
        hubspot,
        lambda row, r: Connection.objects.get(pk=row.pk).last_tested_at is not None,
        members_may=True,
    ),
    ("integrations.connection", "refresh_connections"): ActionCase(
        hubspot,
        lambda row, r: Connection.objects.get(pk=row.pk).access_token != row.access_token,
    ),
    ("integrations.connection", "pause_connections"): ActionCase(hubspot, status_is("paused")),
    ("integrations.connection", "resume_connections"): ActionCase(paused, status_is("connected")),
    ("integrations.connection", "disconnect_connections"): ActionCase(
        hubspot, status_is("revoked")
    ),
    ("integrations.mappingset", "export_as_json"): ActionCase(
        mapping_set,
        lambda row, r: r.get("Content-Type", "").startswith("application/json"),
        members_may=True,
    ),
    ("integrations.outboundchange", "approve_changes"): ActionCase(
        outbound_change, status_is("approved")
    ),
    ("integrations.outboundchange", "reject_changes"): ActionCase(
        outbound_change, status_is("rejected")
    ),
    ("projects.unmappedrow", "import_rows"): ActionCase(unmapped, state_is("imported")),
    ("projects.unmappedrow", "link_rows"): ActionCase(unmapped, state_is("linked")),
    ("projects.unmappedrow", "ignore_rows"): ActionCase(unmapped, state_is("ignored")),
    ("timetracker.employee", "remove"): ActionCase(
        employee, lambda row, r: Employee.objects.get(pk=row.pk).deleted_date is not None
    ),
    ("timetracker.employee", "restore"): ActionCase(
        lambda w: employee(w, removed=True),
        lambda row, r: Employee.objects.get(pk=row.pk).deleted_date is None,
    ),
    ("crm.crmconfig", "sync_now"): ActionCase(crm_config, crm_run_queued(dry_run=False)),
    ("crm.crmconfig", "dry_run"): ActionCase(crm_config, crm_run_queued(dry_run=True)),
    ("crm.synclog", "undo"): ActionCase(
        crm_run_done, lambda row, r: SyncLog.objects.filter(undoes=row).exists()
    ),
    ("destinations.destination", "test"): ActionCase(
        destination,
        lambda row, r: Destination.objects.get(pk=row.pk).last_tested_at is not None,
        members_may=True,
    ),
    ("destinations.recordwrite", "retry"): ActionCase(
        failed_write, lambda row, r: RecordWrite.objects.get(pk=row.pk).attempts == 2
    ),
    ("migration.migrationrun", "run_for_real"): ActionCase(
        dry_run, lambda row, r: MigrationRun.objects.filter(runs_plan=row).exists()
    ),
    ("migration.migrationrun", "run_again"): ActionCase(
        failed_migration, lambda row, r: MigrationRun.objects.filter(status="queued").exists()
    ),
    ("timetracker.jobsyncrun", "sync_again"): ActionCase(
        job_run, lambda row, r: JobSyncRun.objects.filter(status="queued").exists()
    ),
}


def our_actions():
    """(label, name, function) of every action of the hub's own admins (third-party admins,
    such as beat's periodic tasks, are superusers' business)."""
    for model, model_admin in admin_site.site._registry.items():
        if "site-packages" in model._meta.app_config.path:
            continue
        for func, name, _description in model_admin._get_base_actions():
            if name != "delete_selected":  # Django's own: has_delete_permission(request, obj)
                yield model._meta.label_lower, name, func


def test_every_admin_action_has_a_row_in_the_table():
    assert {(label, name) for label, name, _ in our_actions()} == set(ACTIONS)


def test_every_admin_action_declares_the_permission_it_needs():
    undeclared = [
        (label, name)
        for label, name, func in our_actions()
        if not getattr(func, "allowed_permissions", None)
    ]
    assert undeclared == []


def staff(user, label: str, *, view_only: bool):
    """`user` as staff holding the model's Django permissions: all of them, or view only."""
    app_label, model = label.split(".")
    verbs = ["view"] if view_only else ["view", "add", "change", "delete"]
    user.is_staff = True
    user.save()
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label=app_label, codename__in=[f"{v}_{model}" for v in verbs]
        )
    )
    return user


def act(client, user, label: str, name: str, row):
    client.force_login(user)
    url = reverse(f"admin:{label.replace('.', '_')}_changelist")
    return client.post(url, {"action": name, "_selected_action": [row.pk]})


@pytest.mark.parametrize("key", sorted(ACTIONS), ids=lambda k: f"{k[0]}:{k[1]}")
@pytest.mark.parametrize("who", ["member", "view_only", "admin"])
def test_admin_actions_are_refused_to_members_and_view_only_staff(client, world, key, who):
    label, name = key
    case = ACTIONS[key]
    row = case.make(world)
    user = {
        "member": lambda: staff(world["a_member"], label, view_only=False),
        # An admin of the workspace whose Django permission is view only.
        "view_only": lambda: staff(world["a_admin"], label, view_only=True),
        "admin": lambda: staff(world["a_admin"], label, view_only=False),
    }[who]()
    # Signing in and the attempt itself are audited; what the action does must not be.
    effects = AuditEvent.objects.filter(actor=user).exclude(
        action__in=["auth.login", "admin.action"]
    )
    audit_before = effects.count()

    response = act(client, user, label, name, row)

    assert response.status_code in (200, 302)
    allowed = (
        who == "admin"
        or (case.members_may and who == "member")
        or (case.members_may and who == "view_only" and "view" in _permissions_of(label, name))
    )
    assert case.done(row, response) == allowed
    if not allowed:
        assert effects.count() == audit_before


def _permissions_of(label: str, name: str) -> tuple[str, ...]:
    func = next(f for lab, n, f in our_actions() if (lab, n) == (label, name))
    return tuple(func.allowed_permissions)


# --- services ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceCase:
    call: Callable  # (world, actor) -> call the service as `actor` on workspace A's rows
    refused: tuple[str, ...] = ("member", "outsider")  # who gets PermissionDenied


ANYONE: tuple[str, ...] = ()
NOT_A_MEMBER = ("outsider",)


def _membership(w, role="member"):
    return Membership.objects.get(workspace=w["a"], user=w[f"a_{role}"])


SERVICES: dict[str, ServiceCase] = {
    "integrations.accounts.services.workspace_create": ServiceCase(
        lambda w, actor: accounts.workspace_create(name="New", creator=actor), ANYONE
    ),
    "integrations.accounts.services.workspace_update": ServiceCase(
        lambda w, actor: accounts.workspace_update(workspace=w["a"], actor=actor, name="Renamed")
    ),
    "integrations.accounts.services.membership_add": ServiceCase(
        lambda w, actor: accounts.membership_add(
            workspace=w["a"], user=UserFactory(), role="member", actor=actor
        )
    ),
    "integrations.accounts.services.membership_change_role": ServiceCase(
        lambda w, actor: accounts.membership_change_role(
            membership=_membership(w), role="admin", actor=actor
        )
    ),
    "integrations.accounts.services.membership_remove": ServiceCase(
        # Anyone may leave; removing someone else is an admin's: the member removes the admin.
        lambda w, actor: accounts.membership_remove(
            membership=_membership(w, "admin" if actor == w["a_member"] else "member"),
            actor=actor,
        )
    ),
    "integrations.accounts.services.api_token_create": ServiceCase(
        # A token for workspace A's admin, made by someone else than its user.
        lambda w, actor: accounts.api_token_create(
            user=w["a_admin"] if actor != w["a_admin"] else actor, name="t", actor=actor
        ),
        ("member", "outsider"),
    ),
    "integrations.schedules.periodic_tasks_sync": ServiceCase(
        lambda w, actor: schedules.periodic_tasks_sync(),
        ANYONE,  # no actor: the system's own
    ),
    "integrations.connections.services.connection_connect": ServiceCase(
        lambda w, actor: connections.connection_connect(
            workspace=w["a"],
            provider="hubspot",
            actor=actor,
            tokens=TokenSet(access_token="x", refresh_token="y", expires_in=1800),
            identity=Identity(user_id="1", email="a@example.com"),
        )
    ),
    "integrations.connections.services.connection_create_client_credentials": ServiceCase(
        lambda w, actor: connect_dataverse(user=actor, workspace=w["a"])
    ),
    "integrations.connections.services.connection_set_requires_approval": ServiceCase(
        lambda w, actor: connections.connection_set_requires_approval(
            connection=hubspot(w), actor=actor, required=True
        )
    ),
    "integrations.connections.services.connection_test": ServiceCase(
        lambda w, actor: connections.connection_test(connection=hubspot(w), actor=actor),
        NOT_A_MEMBER,
    ),
    "integrations.connections.services.connection_disconnect": ServiceCase(
        lambda w, actor: connections.connection_disconnect(connection=hubspot(w), actor=actor)
    ),
    "integrations.connections.services.connection_set_paused": ServiceCase(
        lambda w, actor: connections.connection_set_paused(
            connection=hubspot(w), paused=True, actor=actor
        )
    ),
    "integrations.approvals.plan": ServiceCase(
        # The system's: a sync plans its writes; nobody calls it as someone.
        lambda w, actor: approvals.plan(
            workspace=w["a"],
            owner="roles-test",
            target_entity="contact",
            operation="create",
            after={"email": "pat@example.com"},
            connection=hubspot(w),
        ),
        ANYONE,
    ),
    "integrations.approvals.approve": ServiceCase(
        lambda w, actor: approvals.approve(changes=[outbound_change(w)], actor=actor)
    ),
    "integrations.approvals.reject": ServiceCase(
        lambda w, actor: approvals.reject(changes=[outbound_change(w)], actor=actor)
    ),
    "projects.services.project_create": ServiceCase(
        lambda w, actor: project_services.project_create(
            workspace=w["a"], actor=actor, number="9", name="Nine"
        ),
        NOT_A_MEMBER,
    ),
    "projects.services.timeline_add": ServiceCase(
        lambda w, actor: project_services.timeline_add(
            project=project(w), actor=actor, kind="comment", text="hello"
        ),
        NOT_A_MEMBER,
    ),
    "projects.services.sheet_provision": ServiceCase(
        lambda w, actor: project_services.sheet_provision(project=project(w), actor=actor),
        NOT_A_MEMBER,
    ),
    "projects.services.sheet_attach": ServiceCase(
        lambda w, actor: project_services.sheet_attach(
            project=project(w), actor=actor, sheet_id=42, force=True
        )
    ),
    "projects.services.sync_request": ServiceCase(
        lambda w, actor: project_services.sync_request(
            project=sheet_link(w).project, actor=actor, direction="outbound"
        ),
        NOT_A_MEMBER,
    ),
    "projects.services.unmapped_ignore": ServiceCase(
        lambda w, actor: project_services.unmapped_ignore(row=unmapped(w), actor=actor)
    ),
    "projects.services.unmapped_link": ServiceCase(
        lambda w, actor: project_services.unmapped_link(
            row=(row := unmapped(w)),
            actor=actor,
            entity_type="comment",
            entity_id=row.link_entity_id,
        )
    ),
    "projects.services.unmapped_import": ServiceCase(
        lambda w, actor: project_services.unmapped_import(row=unmapped(w), actor=actor)
    ),
    "timetracker.services.employee_soft_delete": ServiceCase(
        lambda w, actor: timetracker_services.employee_soft_delete(
            employee=employee(w), actor=actor
        )
    ),
    "timetracker.services.employee_restore": ServiceCase(
        lambda w, actor: timetracker_services.employee_restore(
            employee=employee(w, removed=True), actor=actor
        )
    ),
    "timetracker.services.job_sync_request": ServiceCase(
        lambda w, actor: timetracker_services.job_sync_request(
            workspace=(job_run(w).workspace), actor=actor, trigger="admin"
        )
    ),
    "crm.services.config_connect": ServiceCase(
        lambda w, actor: crm_services.config_connect(
            workspace=w["a"], provider="salesforce", actor=actor
        )
    ),
    "crm.services.config_link": ServiceCase(
        lambda w, actor: crm_services.config_link(
            connection=connect(
                w["sandbox"], user=w["a_admin"], workspace=w["a"], provider="salesforce"
            ),
            actor=actor,
        )
    ),
    "crm.services.config_disconnect": ServiceCase(
        lambda w, actor: crm_services.config_disconnect(config=crm_config(w), actor=actor)
    ),
    "crm.services.config_update": ServiceCase(
        lambda w, actor: crm_services.config_update(
            config=crm_config(w), actor=actor, sync_direction="push"
        )
    ),
    "crm.services.config_set_paused": ServiceCase(
        lambda w, actor: crm_services.config_set_paused(
            config=crm_config(w), actor=actor, paused=True
        )
    ),
    "crm.services.mapping_add": ServiceCase(
        lambda w, actor: crm_services.mapping_add(
            config=crm_config(w),
            entity="contact",
            actor=actor,
            crm_field="Department",
            app_field="title",
        )
    ),
    "crm.services.mapping_add_many": ServiceCase(
        lambda w, actor: crm_services.mapping_add_many(
            config=crm_config(w),
            entity="contact",
            actor=actor,
            rows=[{"crm_field": "Department", "app_field": "title", "direction": "push"}],
        )
    ),
    "crm.services.mapping_update": ServiceCase(
        lambda w, actor: crm_services.mapping_update(
            config=(found := crm_title(w))[0],
            entity="contact",
            field=found[1],
            actor=actor,
            direction="pull",
        )
    ),
    "crm.services.mapping_remove": ServiceCase(
        lambda w, actor: crm_services.mapping_remove(
            config=(found := crm_title(w))[0], entity="contact", field=found[1], actor=actor
        )
    ),
    "crm.services.conflict_resolve": ServiceCase(
        lambda w, actor: crm_services.conflict_resolve(
            conflict=crm_conflict(w), actor=actor, strategy="use_app"
        )
    ),
    "crm.services.conflict_ignore": ServiceCase(
        lambda w, actor: crm_services.conflict_ignore(conflict=crm_conflict(w), actor=actor)
    ),
    "crm.services.config_field_policy_set": ServiceCase(
        lambda w, actor: crm_services.config_field_policy_set(
            config=crm_config(w),
            entity="contact",
            crm_field="Title",
            policy="crm_wins",
            actor=actor,
        )
    ),
    "crm.services.conflict_resolve_always": ServiceCase(
        lambda w, actor: crm_services.conflict_resolve_always(
            conflict=crm_conflict(w),
            actor=actor,
            crm_field="Title",
            policy="app_wins",
            strategy="use_app",
        )
    ),
    "migration.services.migration_start": ServiceCase(
        lambda w, actor: migration_services.migration_start(
            hub_workspace=w["a"],
            user=actor,
            source_connection=connection_row(w["a"], "project_online"),
            target_connection=connection_row(w["a"], "smartsheet", user=w["a_admin"]),
            project_ids=["p-1"],
            dry_run=True,
        )
    ),
    "migration.services.migration_file_add": ServiceCase(
        lambda w, actor: migration_services.migration_file_add(
            hub_workspace=w["a"], user=actor, name="plan.mpp", content=b"plan"
        )
    ),
    "migration.services.migration_start_files": ServiceCase(
        lambda w, actor: migration_services.migration_start_files(
            hub_workspace=w["a"],
            user=actor,
            files=[migration_file(w)],
            target_connection=connection_row(w["a"], "smartsheet", user=w["a_admin"]),
            dry_run=True,
        )
    ),
    "migration.services.migration_run_from_plan": ServiceCase(
        lambda w, actor: migration_services.migration_run_from_plan(run=dry_run(w), user=actor)
    ),
    "migration.services.migration_resume": ServiceCase(
        lambda w, actor: migration_services.migration_resume(run=failed_migration(w), user=actor)
    ),
    "destinations.services.destination_save": ServiceCase(
        lambda w, actor: destination_services.destination_save(
            destination=Destination(workspace=w["a"], name="New", url="https://n.supabase.co"),
            actor=actor,
        )
    ),
    "destinations.services.destination_test": ServiceCase(
        lambda w, actor: destination_services.destination_test(
            destination=destination(w), actor=actor
        ),
        NOT_A_MEMBER,
    ),
    "destinations.services.records_receive": ServiceCase(
        lambda w, actor: destination_services.records_receive(
            destination=destination(w),
            actor=actor,
            records=[{"entity": "clients", "data": {"name": "Roles"}}],
            key="roles-receive",
        ),
        NOT_A_MEMBER,
    ),
    "destinations.services.write_retry": ServiceCase(
        lambda w, actor: destination_services.write_retry(write=failed_write(w), actor=actor)
    ),
}
# State-changing services that record no audit event of their own, checked all the same.
UNAUDITED = {
    "crm.services.sync_undo": ServiceCase(
        # The undo run it queues is audited by the run log (crm.sync.undo).
        lambda w, actor: crm_services.sync_undo(log=crm_run_done(w), actor=actor)
    ),
    "crm.services.sync_trigger": ServiceCase(
        # Each run it queues is audited by the run log (integrations.runs.request_run).
        lambda w, actor: crm_services.sync_trigger(config=crm_config(w), actor=actor)
    ),
    "integrations.connections.services.connection_refresh": ServiceCase(
        lambda w, actor: connections.connection_refresh(connection=hubspot(w), actor=actor)
    ),
    "integrations.accounts.services.membership_invite": ServiceCase(
        lambda w, actor: accounts.membership_invite(
            workspace=w["a"], email=UserFactory().email, role="member", actor=actor
        )
    ),
}


def test_every_audited_service_has_a_row_in_the_table():
    assert set(audit_log.AUDITED_SERVICES) == set(SERVICES)


@pytest.mark.parametrize("name", sorted({**SERVICES, **UNAUDITED}))
@pytest.mark.parametrize("who", ["member", "outsider", "admin"])
def test_services_check_the_callers_workspace_role(world, name, who):
    case = {**SERVICES, **UNAUDITED}[name]
    actor = world[{"member": "a_member", "outsider": "outsider", "admin": "a_admin"}[who]]
    if who in case.refused:
        with pytest.raises(PermissionDenied):
            case.call(world, actor)
    else:
        try:
            case.call(world, actor)
        except PermissionDenied as exc:
            pytest.fail(f"{who} was refused: {exc.message}")
        except ApplicationError:  # a later refusal (no Smartsheet connection yet): past the role
            pass
