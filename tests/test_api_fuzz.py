"""Schemathesis against the hub's own OpenAPI schema (/api/schema/): every operation, every
check, over real data of two workspaces, as a workspace admin with an API token.

The API must answer as its schema says: no server error, no undocumented status code, body or
content type, no valid request refused and no invalid one accepted. What we answer otherwise on
purpose is listed in KNOWN_DEVIATIONS, with the reason; nothing else is excused."""

import json
import re
import socket
import threading
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import schemathesis
from django.core.servers import basehttp
from rest_framework.throttling import UserRateThrottle
from schemathesis.engine import events
from schemathesis.engine import from_schema as engine_for

from config import endpoints
from config.celery import app
from crm import sync as crm_sync
from crm.models import Contact, CrmConfig, CrmLink, SyncConflict, SyncLog
from destinations import services as destination_services
from destinations.models import Destination
from integrations.accounts import services as accounts
from integrations.approvals.models import OutboundChange
from integrations.connections.models import Connection
from integrations.mapping import examples
from migration.runs import MigrationRun
from projects import services as projects
from projects.models import ProjectSyncRun, UnmappedRow
from tests.integrations.helpers import connect, connect_dataverse, connect_project_online
from tests.migration.helpers import finished_dry_run
from tests.projects.helpers import timeline
from timetracker.models import Employee, Job, JobSyncRun, Shift

# What we answer otherwise than schemathesis expects, on purpose, and why: the one place.
# (operation, kind of failure as schemathesis titles it, a pattern its detail matches).
EVERY_OPERATION, NO_NUL = "every operation", "NUL characters in text"
NAME_NOT_TEXT = r"name: Incorrect type|/properties/name \(was string, became (number|integer)\)"
KNOWN_DEVIATIONS: dict[tuple[str, str, str], str] = {
    ("POST /api/integrations/connections/{id}/refresh", "Server error", "Received: 50[23]"): (
        "A provider refusing a refresh is a 502 (503 when it rate-limits us), documented (issue "
        "12, item 3); schemathesis counts every 5xx as a server error. Here the fuzzer's own "
        "POST /api/integrations/connections gave the Dataverse connection a made-up secret."
    ),
    (
        "GET /api/migration/connections/{connection_id}/projects",
        "Server error",
        "Received: 50[23]",
    ): (
        "Listing a Project Online connection's projects calls Project Online: a refusal is a "
        "502 (503 when it rate-limits us), documented; schemathesis counts every 5xx as a "
        "server error. The fuzzer's own POST /api/integrations/connections gave the "
        "connection a made-up secret, which Azure AD refuses."
    ),
    ("POST /api/workspaces", "Schema-violating request accepted", NAME_NOT_TEXT): (
        'DRF\'s CharField takes a JSON number for text as its text (0 becomes "0"), by design '
        "and in every text field; the value is kept as sent, so nothing is lost."
    ),
    ("PATCH /api/workspaces/{id}", "Schema-violating request accepted", NAME_NOT_TEXT): (
        "As POST /api/workspaces: DRF takes a number for text as its text."
    ),
    ("POST /api/integrations/mapping-sets/import", "Schema-valid request rejected", ""): (
        "The mapping engine checks an export beyond what OpenAPI can say (its format marker, "
        "transform names, each transform's parameters against its JSON Schema): a bad one is a "
        "400 mapping_invalid naming the field, and the file writes nothing."
    ),
    ("POST /api/timetracker/process-approved-jobs", "Schema-valid request rejected", ""): (
        "`workspace` may be left out by the admin of a single workspace (the jobs page's "
        "case); someone in several gets a 400 asking which. The fuzzer's own POST "
        "/api/workspaces makes the token's user a member of several."
    ),
    ("POST /api/timetracker/punch-out", "Schema-valid request rejected", ""): (
        "As process-approved-jobs: `workspace` is needed when you belong to several."
    ),
    ("POST /api/crm/connect", "Schema-valid request rejected", ""): (
        "As process-approved-jobs: `workspace` is needed when you belong to several. HubSpot, "
        "in the seed's provider list, answers 400 provider_not_supported until its sync "
        "exists; an authCode alone is refused: a code is trusted only with the state it was "
        "issued for (POST /api/crm/oauth/callback)."
    ),
    ("POST /api/crm/oauth/callback", "Schema-valid request rejected", ""): (
        "The state must be one the hub issued (single-use, unexpired, to this user): the "
        "platform's OAuth flow refuses any other with 400 oauth_rejected, as it must."
    ),
    ("POST /api/crm/{provider}/test-connection", "Schema-valid request rejected", ""): (
        "As process-approved-jobs: `workspace` is needed when you belong to several; HubSpot "
        "answers 400 provider_not_supported until its sync exists."
    ),
    ("GET /api/crm/{provider}/available-fields", "Schema-valid request rejected", ""): (
        "As test-connection: `workspace` when you belong to several; HubSpot not yet."
    ),
    ("DELETE /api/crm/disconnect/{provider}", "Schema-valid request rejected", ""): (
        "As test-connection: `workspace` when you belong to several; HubSpot not yet."
    ),
    ("PATCH /api/crm/configs/{config_id}", "Schema-valid request rejected", ""): (
        "Rules across fields the schema does not spell out: a daily syncFrequency needs its "
        "dailyAt, a filter rule's value must fit its operator (a list for `in`, true or false "
        "for `empty`), and rules are given per entity (account, contact)."
    ),
    ("POST /api/migration/runs", "Schema-valid request rejected", ""): (
        "As process-approved-jobs: `workspace` is needed when you belong to several; the "
        "connections must be the workspace's own, of the right provider and usable (a 400 "
        "naming the field), and a run takes at most MIGRATION_MAX_PROJECTS projects."
    ),
    ("POST /api/migration/file-runs", "Schema-valid request rejected", ""): (
        "As POST /api/migration/runs: `workspace` is needed when you belong to several, and the "
        "Smartsheet connection must be the workspace's own and usable (a 400 naming the field)."
    ),
    (
        "POST /api/migration/file-runs",
        "Schema-violating request accepted",
        r"(workspace|target_connection|dry_run|accept_errors): Incorrect type",
    ): (
        "A multipart body's fields are text: DRF reads a number or a boolean from its text "
        '("1", "true") as an HTML form sends it, so a value OpenAPI calls of another type is '
        "taken when its text reads as one (the files must be multipart)."
    ),
    ("POST /api/crm/sync/trigger", "Schema-valid request rejected", ""): (
        "A run follows its config: a syncDirection other than the config's, or entityTypes it "
        "does not sync, is a 400 naming the field (PATCH the config to change them)."
    ),
    ("POST /api/crm/configs/{config_id}/field-mappings", "Schema-valid request rejected", ""): (
        "crmField is checked against Salesforce's describe of the object, appField against "
        "the hub's model, transformParams against the transform's JSON Schema (as the "
        "mapping-set import): a 400 naming the field, and nothing is written."
    ),
    (EVERY_OPERATION, NO_NUL, ""): (
        "Not generated (generation allow-x00 = false): PostgreSQL stores no NUL character, so "
        "DRF's text fields, forms and our JSON parser refuse one with a 400 the schema does "
        "not spell out (it would take a pattern on every string)."
    ),
    ("DELETE /api/integrations/connections/{id}", "Deleted resource still available", ""): (
        "Disconnecting keeps the row (status revoked, tokens wiped) as history (README: "
        "Decisions), so the connection is still there to read."
    ),
}

# Examples per operation and phase: with the coverage phase's boundary values (two thirds of
# the ~4,000 requests, whatever this number) enough to reach the documented answers of the
# seeded data in about a minute, not an exhaustive search.
MAX_EXAMPLES = 15

# The operations are fuzzed in shards, one test each, so that pytest-xdist spreads the ~5,000
# requests over its processes (one test was the suite's longest, 140 s under -n 4). A shard is
# the operations whose path matches its pattern, fuzzed by every phase but the stateful one
# over its own seeded data; the stateful phase chains operations across apps, so it runs alone
# over the whole schema. Every operation belongs to exactly one shard (asserted: a new endpoint
# must be given one). Balanced by their time, each under ~25 s alone.
SHARDS: dict[str, str] = {
    "crm configs": r"^/api/crm/configs(/|$)",
    "crm": r"^/api/crm/(sync|conflicts|connect|oauth|disconnect|\{provider\})(/|$)",
    "integrations": r"^/(api/)?integrations/",
    "projects": r"^/api/projects(/|$)",
    "workspaces": r"^/api/(workspaces|memberships|me|destinations)(/|$)",
    "the rest": r"^/api/(migration|timetracker|audit-events)(/|$)",
}
STATEFUL = "stateful"
UNIT_PHASES = ("examples", "coverage", "fuzzing")


def seed(two_workspaces, sandbox) -> dict[str, list[int]]:
    """Something behind every endpoint in both workspaces; the ids the fuzzer should try."""
    a, b = two_workspaces["a"], two_workspaces["b"]
    admin, member, other = (two_workspaces[k] for k in ("a_admin", "a_member", "b_admin"))
    smartsheet = connect(sandbox, user=admin, workspace=a, provider="smartsheet")
    salesforce = connect(sandbox, user=admin, workspace=a, provider="salesforce", domain="test")
    connect(sandbox, user=admin, workspace=a, provider="hubspot")
    dataverse = connect_dataverse(user=admin, workspace=a)
    connect(sandbox, user=other, workspace=b, provider="smartsheet")

    linked = projects.project_create(workspace=a, actor=admin, number="1042", name="Riverside")
    projects.sheet_provision(project=linked, actor=admin)
    timeline(linked, admin, task_blocks=1, per_block={"purchaseorder": 1, "comment": 1})
    projects.project_create(workspace=a, actor=admin, number="1043", name="No sheet yet")
    foreign = projects.project_create(workspace=b, actor=other, number="2001", name="Bravo's")
    projects.sheet_provision(project=foreign, actor=other)
    ProjectSyncRun.objects.create(
        workspace=a,
        project=linked,
        direction="outbound",
        trigger="api",
        status="succeeded",
        requested_by=admin,
    )
    UnmappedRow.objects.create(
        workspace=a, link=linked.sheet_link, row_id=8_294_610_583_012_228, cells={"type": "Comment"}
    )

    mapping_sets = [examples.load(workspace=a), examples.load(workspace=b)]
    for workspace, mapping_set in zip((a, b), mapping_sets, strict=True):
        OutboundChange.objects.create(
            workspace=workspace,
            owner="crm",
            mapping_set=mapping_set,
            target_entity="clients",
            target_label="Acme AG",
            operation="update",
            changes={"status": {"before": "lead", "after": "won"}},
            payload={"status": "won"},
        )

    employee = Employee.objects.create(workspace=a, user=member, first_name="Mia", email="m@x.io")
    job = Job.objects.create(workspace=a, im_number="24-0101", general_contractor="Turner")
    Job.objects.create(workspace=a, im_number="24-0102", assigned_to=employee)
    Job.objects.create(workspace=b, im_number="25-0001", general_contractor="Skanska")
    Shift.objects.create(
        workspace=a, job=job, employee=employee, punched_in_at=datetime(2026, 1, 5, 7, tzinfo=UTC)
    )
    JobSyncRun.objects.create(workspace=a, source="dataverse", trigger="api", status="succeeded")
    assert dataverse.status == Connection.Status.CONNECTED
    crm = crm_seed(a, b, salesforce)
    migration = migration_seed(a, b, admin, other, smartsheet)
    destinations = destination_seed(a, b, admin, other)

    ids = sorted(
        {
            *two_workspaces["a"].__class__.objects.values_list("pk", flat=True),
            *Connection.objects.values_list("pk", flat=True),
            *OutboundChange.objects.values_list("pk", flat=True),
            *Job.objects.values_list("pk", flat=True),
            *ProjectSyncRun.objects.values_list("pk", flat=True),
            *crm,
            *destinations,
            *migration,
            linked.pk,
            foreign.pk,
        }
    )
    return {"ids": ids, "workspaces": [a.pk, b.pk]}


def destination_seed(a, b, admin, other) -> list[int]:
    """A Supabase destination in each workspace (the emulator's project), A's with a request
    of records kept under the key "seeded"; their ids."""
    found = []
    for workspace, actor in ((a, admin), (b, other)):
        destination = destination_services.destination_save(
            destination=Destination(
                workspace=workspace,
                name=f"{workspace.name} frontend",
                url="https://fuzz.supabase.co",
                team_id=endpoints.SUPABASE_TEAM_ID,
                user_id=endpoints.SUPABASE_SYSTEM_USER_ID,
            ),
            actor=actor,
            service_key=endpoints.SUPABASE_SERVICE_KEY,
        )
        found.append(destination.pk)
    destination_services.records_receive(
        destination=Destination.objects.get(pk=found[0]),
        actor=admin,
        records=[{"entity": "clients", "data": {"name": "Ada Hub"}}],
        key="seeded",
    )
    return found


def migration_seed(a, b, admin, other, smartsheet) -> list[int]:
    """A Project Online connection and a finished dry run (plan and report) in each workspace;
    their ids."""
    found = []
    for workspace, actor, target in ((a, admin, smartsheet), (b, other, None)):
        source = connect_project_online(user=actor, workspace=workspace)
        dry = finished_dry_run(workspace, source, target, errors=1)
        found += [source.pk, dry.pk]
    assert MigrationRun.objects.count() == 2
    return found


def crm_seed(a, b, salesforce) -> list[int]:
    """A CRM config in each workspace (A's connected to Salesforce) with its mapping sets, a
    run and a conflict waiting on a linked contact; the ids of all of them."""
    configs = [
        CrmConfig.objects.create(
            workspace=a,
            provider="salesforce",
            connection=salesforce,
            entities=["account", "contact"],
        ),
        CrmConfig.objects.create(
            workspace=b, provider="salesforce", status="disconnected", entities=["contact"]
        ),
    ]
    ids = []
    for config in configs:
        contact = Contact.objects.create(
            workspace=config.workspace, first_name="Ada", last_name="Hub", title="CEO"
        )
        CrmLink.objects.create(
            workspace=config.workspace,
            config=config,
            entity="contact",
            local_id=contact.pk,
            remote_id="003Hb00000Ada0001",
            synced_values={"Title": None},
        )
        log = SyncLog.objects.create(
            workspace=config.workspace,
            config=config,
            entity="contact",
            direction="bidirectional",
            trigger="api",
            status="partial",
            failed=1,
            errors=[{"item": f"contact {contact.pk}", "message": "REQUIRED_FIELD_MISSING"}],
        )
        conflict = SyncConflict.objects.create(
            workspace=config.workspace,
            config=config,
            log=log,
            entity="contact",
            local_id=contact.pk,
            remote_id="003Hb00000Ada0001",
            app_data={"Title": "CEO"},
            crm_data={"Title": "CTO"},
            base_data={"Title": None},
            conflicting_fields=["Title"],
        )
        fields = [
            field.pk
            for entity in ("account", "contact")
            for field in crm_sync.mapping_set_for(config, entity).fields.all()
        ]
        ids += [config.pk, log.pk, conflict.pk, *fields[:3]]
    return ids


def fuzz_config(
    *, phases: tuple[str, ...], key: str, ids: list[int], workspaces: list[int]
) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            # One seed for every shard.
            "seed": 12,
            "phases": {phase: {"enabled": phase in phases} for phase in (*UNIT_PHASES, STATEFUL)},
            # Each run alike: no failures replayed from an earlier run's cache or database.
            "cache": {"enabled": False},
            "dictionaries": {
                "ids": {"values": ids},
                "workspaces": {"values": workspaces},
                "crm_providers": {"values": ["salesforce", "hubspot"]},
                "record_keys": {"values": ["seeded"]},
            },
            "auth": {"openapi": {"tokenAuth": {"api_key": f"Token {key}"}}},
            # The test server serves each kept-alive connection from a thread of its own that
            # holds a database connection until the client hangs up; the fuzzer's last one
            # outlived the suite and kept PostgreSQL from dropping the test database.
            "headers": {"Connection": "close"},
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "allow-x00": (EVERY_OPERATION, NO_NUL, "") not in KNOWN_DEVIATIONS,
            },
            "parameters": {
                name: {"dictionary": dictionary, "probability": 0.5}
                for name, dictionary in (
                    ("path.id", "ids"),
                    ("path.project_id", "ids"),
                    ("path.run_id", "ids"),
                    ("path.job_id", "ids"),
                    ("path.row_id", "ids"),
                    ("path.config_id", "ids"),
                    ("path.mapping_id", "ids"),
                    ("path.log_id", "ids"),
                    ("path.conflict_id", "ids"),
                    ("path.destination_id", "ids"),
                    ("path.connection_id", "ids"),
                    ("path.key", "record_keys"),
                    ("path.provider", "crm_providers"),
                    ("query.configId", "ids"),
                    ("body.configId", "ids"),
                    ("query.workspace", "workspaces"),
                    ("body.workspace", "workspaces"),
                )
            },
        }
    )


class OneThreadServer(basehttp.WSGIServer):
    """The hub's WSGI app served by one thread, which keeps one database connection for all
    the fuzzer's requests (they come one at a time). The live server starts a thread, and so a
    database connection, per request: on PostgreSQL a new backend for each of ~5,000 requests.
    Its sockets send at once (TCP_NODELAY): the handler writes an answer's headers and body
    apart, and the second write waited for the client's delayed ACK, 40 ms a request."""

    def get_request(self):
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class QuietRequestHandler(basehttp.WSGIRequestHandler):
    """runserver's access log line (logger django.server) for each of the fuzzer's requests:
    a twentieth of the serving thread's CPU, formatted twice (our JSON and pytest's capture), and
    nothing the hub logs in production (gunicorn serves it). The hub's own logs stay (a 4xx
    warning, a 5xx error with its traceback from django.request)."""

    def log_message(self, format, *args):
        pass


@contextmanager
def hub_server(settings):
    from django.core.wsgi import get_wsgi_application
    from django.db import connections

    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    server = OneThreadServer(("127.0.0.1", 0), QuietRequestHandler)
    server.set_app(get_wsgi_application())
    # Kept between requests (request_finished closes a connection past its age), and closed
    # by the serving thread when it stops: a connection belongs to the thread that made it.
    # Not health-checked (a `SELECT 1` before each request's first query, there for a
    # connection the network dropped while idle): this one is local and in use all along.
    database = connections["default"].settings_dict
    kept = {key: database.get(key) for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS")}
    database.update(CONN_MAX_AGE=None, CONN_HEALTH_CHECKS=False)

    def serve():
        try:
            server.serve_forever(poll_interval=0.05)
        finally:
            connections.close_all()

    thread = threading.Thread(target=serve, name="fuzzed hub", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(30)
        server.server_close()
        database.update(kept)


def detail(message: str) -> str:
    """The line of a failure's message that tells it from another of its kind: the received
    status, the invalid part of the request, or the first line (a schema violation's)."""
    lines = message.splitlines() or [""]
    for line in lines:
        if line.startswith(("Received:", "Invalid component:")):
            return line
    return lines[0]


def excused(operation: str, kind: str, text: str) -> bool:
    return any(
        where == operation and kind == what and re.search(words, text)
        for where, what, words in KNOWN_DEVIATIONS
    )


def run(schema) -> dict:
    """Every phase of the engine; the figures and the distinct failures."""
    operations, requests, failures, errors = set(), 0, {}, []
    seconds, per_phase, phase_operations = Counter(), Counter(), defaultdict(set)
    for event in engine_for(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            requests += len(recorder.interactions)
            operations.add(recorder.label)
            seconds[recorder.label] += event.elapsed_time
            per_phase[event.phase.value] += len(recorder.interactions)
            phase_operations[event.phase.value].add(recorder.label)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        where = failure.operation or recorder.label
                        response = recorder.find_response(case_id=case_id)
                        answer = (
                            f"{response.status_code} {response.content[:300]!r}" if response else ""
                        )
                        # A server error's message is empty: its status tells 500 from 502.
                        text = detail(failure.message) or (
                            f"Received: {response.status_code}" if response else ""
                        )
                        failures.setdefault(
                            (where, failure.kind_title, text),
                            f"{check.failure_info.code_sample[:600]}\n    -> {answer}",
                        )
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            errors.append(repr(event.exception))
    return {
        "operations": operations,
        "requests": requests,
        "failures": failures,
        "errors": errors,
        "slowest": seconds.most_common(5),
        "requests per phase": dict(per_phase),
        "operations per phase": phase_operations,
    }


def operations_by_shard(schema) -> dict[str, set[str]]:
    """The schema's operations by shard, each in exactly one."""
    found = {name: set() for name in SHARDS}
    for result in schema.get_all_operations():
        operation = result.ok()
        homes = [name for name, pattern in SHARDS.items() if re.search(pattern, operation.path)]
        assert len(homes) == 1, f"{operation.label} is in {homes or 'no shard'}: give it one"
        found[homes[0]].add(operation.label)
    return found


@pytest.mark.slow
# Ids from 1 whichever shards ran before in the process: the same seed then makes the same
# requests (the stateful phase's length follows the answers).
@pytest.mark.django_db(transaction=True, reset_sequences=True)
@pytest.mark.parametrize("shard", [*SHARDS, STATEFUL])
def test_the_api_answers_as_its_schema_says(
    shard, two_workspaces, sandbox, capsys, monkeypatch, settings, request
):
    # Up to ~1,200 requests of one user in ten seconds: at the production rate (1000/minute) the
    # fuzzer would spend most of its time waiting out 429s (documented, and tested elsewhere).
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "100000/minute")
    seeded = seed(two_workspaces, sandbox)
    _, key = accounts.api_token_create(user=two_workspaces["a_admin"], name="fuzz")
    with hub_server(settings) as url:
        phases = (STATEFUL,) if shard == STATEFUL else UNIT_PHASES
        # As JSON: YAML (the default) cost the hub more to write and schemathesis to read.
        schema = schemathesis.openapi.from_url(
            f"{url}/api/schema/?format=json", config=fuzz_config(phases=phases, key=key, **seeded)
        )
        shards = operations_by_shard(schema)
        if shard != STATEFUL:
            schema = schema.include(path_regex=SHARDS[shard])
        try:
            result = run(schema)
        finally:
            # Sync runs the fuzzer started are still queued: no later test's worker should get
            # them.
            app.control.purge()

    unexcused = sorted(key for key in result["failures"] if not excused(*key))
    figures = {
        "shard": shard,
        "operations": len(result["operations"]),
        "requests": result["requests"],
        "failures": dict(Counter(kind for _, kind, _ in result["failures"])),
        "unexcused": len(unexcused),
    }
    lines = [f"schemathesis: {json.dumps(figures)}"]
    for key, info in sorted(result["failures"].items()):
        mark = "excused" if key not in unexcused else "FAILED"
        lines.append(f"  {mark}: {' | '.join(key)}\n    {info}")
    lines.append(f"  slowest operations (s): {result['slowest']}")
    lines.append(f"  requests per phase: {result['requests per phase']}")
    with capsys.disabled():  # the figures go into the log of a run without xdist
        print("\n" + "\n".join(lines))
    # and into the report, where xdist's processes keep them too: shown for a failed shard
    # (and with -rP for a passed one)
    request.node.add_report_section("call", "schemathesis figures", "\n".join(lines))
    assert result["errors"] == [], "schemathesis could not test every operation"
    if shard != STATEFUL:
        for phase in ("coverage", "fuzzing"):
            missed = shards[shard] - result["operations per phase"][phase]
            assert not missed, f"the {phase} phase skipped {sorted(missed)}"
    assert unexcused == []
