import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import freezegun
import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from integrations.accounts.models import Membership
from integrations.sandbox.client import SandboxClient
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory


def pytest_configure(config):
    from django.conf import settings

    # Production serves collected, hashed files (README: collectstatic); tests collect nothing,
    # so templates resolve static paths without the manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # A deliberately slow hash (PBKDF2, 1M rounds) would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    _own_broker_per_test_process(settings)
    _flush_by_delete_on_postgresql()
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A test database outlives no crash: a commit need not wait for its WAL on disk.
        options = settings.DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = "-c synchronous_commit=off"
    # DRF's throttles keep `timer = time.time` from their import: imported first inside a test's
    # freeze_time, every throttle of the process would call freezegun's fake (a 500 on every
    # API call after it). Import them before any test runs.
    import rest_framework.throttling  # noqa: F401

    # freezegun fakes time.monotonic for every thread, the emulators' event loop too (a thread
    # of this process): a timer it set during a frozen test was due at the frozen clock's
    # epoch seconds, so on the real clock it never fired again. uvicorn's tick is such a
    # timer: the servers never saw their stop, and the session's end waited out the 10 s join.
    # The event loop keeps the real clock; the hub's code under test still sees the frozen one.
    freezegun.configure(extend_ignore_list=["asyncio"])


def _flush_by_delete_on_postgresql() -> None:
    """A transactional test (live server, several connections, killed workers) ends with
    Django's flush, which on PostgreSQL is one TRUNCATE of every table: 1.4-2.6 s for the
    hub's 66 tables on this machine, because TRUNCATE gives each table new files, empty or
    not. Most tests leave a few hundred rows (the content types and permissions among them):
    DELETE FROM the tables that hold any takes ~15 ms (the foreign keys Django makes are
    checked at commit, when all is gone). A test that left thousands (a 12,000-job sync)
    would pay more for DELETE's per-row work than for TRUNCATE: those tables are truncated,
    with what refers to them. TRUNCATE of everything stays where Django needs it: resetting
    sequences, or a partial flush that must cascade (`available_apps`)."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush
    rows_deleted_faster = 1000  # measured: DELETE beats TRUNCATE's fixed cost below this

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade or not tables:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        counted = " UNION ALL ".join(
            f"SELECT {n}, count(*) FROM (SELECT 1 FROM {self.quote_name(t)}"
            f" LIMIT {rows_deleted_faster + 1}) AS head"
            for n, t in enumerate(tables)
        )
        with self.connection.cursor() as cursor:
            cursor.execute(counted)
            rows = {tables[n]: count for n, count in cursor.fetchall()}
        held = [t for t in tables if rows[t]] or tables
        if sum(rows.values()) > rows_deleted_faster:
            return truncate(self, style, held, allow_cascade=True)
        return [f"{style.SQL_KEYWORD('DELETE FROM')} {self.quote_name(t)};" for t in held]

    DatabaseOperations.sql_flush = sql_flush


def _own_broker_per_test_process(settings) -> None:
    """Parallel test processes (pytest-xdist) must not take each other's tasks or answer each
    other's pings: on Redis each uses the next database after the one CI gives (the embedded
    broker is already apart: it lives in the process's own VAR_DIR)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = urlsplit(settings.CELERY_BROKER_URL)
    if not worker or url.scheme not in ("redis", "rediss"):
        return
    from config.celery import app

    database = int(url.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    own = urlunsplit(url._replace(path=f"/{database}"))
    # Celery takes CELERY_BROKER_URL from the environment before its configuration: both.
    os.environ["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL = app.conf.broker_url = own


def pytest_collection_modifyitems(config, items):
    """The minutes-long tests first, one at the head of each process's share: xdist's
    worksteal splits the list into contiguous shares, so sorted to the front together they all
    queued on one process (the fuzzer, then the soak, then the README's: 235 s for the
    non-browser suite, the other processes idle after 190 s)."""
    workers = max(1, getattr(config, "workerinput", {}).get("workercount", 1))
    # A slow test that mostly waits (the soak) leads the first share: it then runs beside the
    # CPU-bound ones (the fuzzer's shards). Dealt after them, it met the README's start-ups,
    # which wait too, and for half a minute a core stood idle.
    slow = sorted(
        (item for item in items if item.get_closest_marker("slow")),
        key=lambda item: not item.get_closest_marker("waits"),
    )
    heavy = [i for i in items if i.get_closest_marker("heavy") and not i.get_closest_marker("slow")]
    rest = [item for item in items if item not in slow and item not in heavy]
    # Dealt like cards, the slow ones first and then the heavy ones (seconds each, in
    # processes of their own): one such test left for the end held a run up by 20 s.
    first = slow + heavy
    shares = [first[n::workers] for n in range(workers)]
    size = -(-len(rest) // workers)
    for n, share in enumerate(shares):
        share.extend(rest[n * size : (n + 1) * size])
    items[:] = [item for share in shares for item in share]


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """The test database, and at its end a check for sessions left open.

    Each test process works on a copy of a migrated template (PostgreSQL's CREATE DATABASE
    ... TEMPLATE, a file copy for SQLite). The template is named by the migrations'
    fingerprint and kept between runs: migrating from scratch costs some 12 s of CPU, during
    which every other process waited for it; a run after a change of the migrations makes a
    new one (and drops the old), and a run after that copies it at once.

    The check: PostgreSQL refuses to drop a test database another session still holds ("is
    being accessed by other users"), so any session left open is named, with its last query
    and this process's live threads, so the code that leaked it can be found. (A session
    fixture pytest-django's `db` asks for: a run whose tests need no database creates none.)"""
    from django.db import connection

    original = connection.settings_dict["NAME"]
    with django_db_blocker.unblock():
        _clone_the_template(connection, os.environ.get("PYTEST_XDIST_WORKER", "solo"))
    yield
    _name_sessions_left_open(connection, django_db_blocker)
    with django_db_blocker.unblock():
        connection.creation.destroy_test_db(original, verbosity=0)


def _clone_the_template(connection, worker: str) -> None:
    from django.conf import settings

    if connection.vendor == "sqlite":  # the stacks' and benches' template (tests/stack.py)
        from tests.stack import migrated_sqlite

        clone = connection.creation._get_test_db_name()  # in this process's own VAR_DIR
        migrated_sqlite(Path(clone))
    else:
        _postgresql_template_copied(connection, worker)
        clone = connection.creation.get_test_db_clone_settings(worker)["NAME"]
    connection.settings_dict["NAME"] = settings.DATABASES[connection.alias]["NAME"] = clone


@dataclass(frozen=True)
class PostgresTemplate:
    """The migrated template database on the server, named by the migrations' fingerprint,
    and the lock under which it is made and copied."""

    name: str

    @contextmanager
    def locked(self):
        import fcntl
        import tempfile

        with open(Path(tempfile.gettempdir()) / f"hub-test-db-{self.name}.lock", "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            yield self


_templates: dict[str, PostgresTemplate] = {}


def _postgresql_template_copied(connection, worker: str) -> None:
    """This process's database, a copy of the migrated template on the server: the template
    made by the first process to need it while the others wait."""
    from config.fingerprint import migrations_fingerprint

    base = connection.creation._get_test_db_name().removesuffix(f"_{worker}")
    template = PostgresTemplate(f"{base}_template_{migrations_fingerprint()}")
    with template.locked():
        with connection._nodb_cursor() as cursor:
            cursor.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{base}_template_%"]
            )
            made = [name for (name,) in cursor.fetchall()]
            if template.name not in made:
                for old in made:  # earlier migrations': never copied again
                    cursor.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
        if template.name not in made:
            connection.settings_dict["TEST"]["NAME"] = template.name
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        connection.close()  # PostgreSQL copies no database a session is connected to
        connection.settings_dict["NAME"] = template.name
        # The copy under the lock too: another process's CREATE DATABASE from the same
        # template is refused while this one is connected to it.
        connection.creation.clone_test_db(suffix=worker, verbosity=0)
    _templates["postgresql"] = template


@pytest.fixture(scope="session")
def postgresql_template(django_db_setup) -> PostgresTemplate | None:
    """The migrated template the test databases copy, when they are PostgreSQL's: a test
    that needs a new migrated database of its own copies it too."""
    return _templates.get("postgresql")


def _name_sessions_left_open(connection, django_db_blocker) -> None:
    import threading
    import warnings

    if connection.vendor != "postgresql":
        return
    # A fresh connection: this process's may have been closed under it (a test that restarts
    # the database's sessions, a server-side idle timeout).
    connection.close()
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name, state, backend_start, left(query, 300)"
            " FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        others = cursor.fetchall()
    if others:
        threads = [t.name for t in threading.enumerate()]
        warnings.warn(
            f"database sessions left open: {others}; live threads: {threads}", stacklevel=1
        )


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters and allauth's rate limits live in the cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def log_output():
    """The project's console handler (formatter and filters from settings.LOGGING), writing
    to a buffer, on the root logger as in production, at DEBUG so every line shows up."""
    import io
    import logging
    import logging.config

    from django.conf import settings

    config = {**settings.LOGGING, "handlers": {**settings.LOGGING["handlers"]}}
    config["handlers"]["console"] = {**config["handlers"]["console"], "stream": io.StringIO()}
    config["root"] = {**config["root"], "level": "DEBUG"}
    logging.config.dictConfig(config)
    stream = next(
        h for h in logging.getLogger().handlers if not type(h).__module__.startswith("_pytest")
    ).stream
    yield stream
    logging.config.dictConfig(settings.LOGGING)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def two_workspaces(db):
    """Workspace A with an admin and a member, workspace B with its own admin."""
    a, b = WorkspaceFactory(name="Alpha"), WorkspaceFactory(name="Bravo")
    a_admin = MembershipFactory(workspace=a, role=Membership.Role.ADMIN).user
    a_member = MembershipFactory(workspace=a, role=Membership.Role.MEMBER).user
    b_admin = MembershipFactory(workspace=b, role=Membership.Role.ADMIN).user
    return {"a": a, "b": b, "a_admin": a_admin, "a_member": a_member, "b_admin": b_admin}


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker, in a thread of this process, consuming from the configured broker
    (the filesystem broker locally, Redis in CI). Tasks go through the broker to reach it."""
    from celery import signals
    from celery.contrib.testing.worker import start_worker
    from django.db import connections

    from config.celery import app

    def close_connections(**kwargs):
        # The worker thread's own database connection would otherwise outlive the test and
        # block PostgreSQL from dropping the test database.
        connections.close_all()

    signals.task_postrun.connect(close_connections, weak=False)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker
    signals.task_postrun.disconnect(close_connections)


@pytest.fixture(scope="session")
def _sandbox_server(tmp_path_factory):
    """All emulators over TLS on free ports, for the whole session."""
    from django.conf import settings

    from integrations import sandbox as sandbox_module
    from integrations.sandbox import runner
    from integrations.sandbox.tls import ensure_ca

    files = ensure_ca(settings.SANDBOX_DIR)
    # Every exchange is held to the provider's published contract (the `sandbox` fixture's
    # tests fail on a violation: _contract_checked).
    emulators = runner.build(checking=True)
    # HubSpot's search sees a write a few seconds after it; tests that care set the delay
    # (`sandbox.configure("hubspot", search_delay=...)`) and set it back to 0.
    emulators["hubspot"].config["search_delay"] = 0
    server = runner.SandboxServer(
        emulators, host="127.0.0.1", ports={}, tls=files, snapshot=None, quiet=True
    )
    server.start_in_thread()
    saved = settings.SANDBOX_PORTS, settings.PROVIDER_URLS
    sandbox_module.use_ports(server.ports)
    yield server
    settings.SANDBOX_PORTS, settings.PROVIDER_URLS = saved
    server.stop()


@pytest.fixture
def sandbox(_sandbox_server):
    """The emulators, reset (data, counters, faults, limits) and with the hub's apps
    registered; our own token buckets and cached msal apps are forgotten too."""
    from integrations.connections import http
    from integrations.connections.providers import dataverse

    box = SandboxClient(_sandbox_server)
    box.reset(unless_untouched=True)
    http.reset_buckets()
    dataverse._apps.clear()
    yield box
    http.reset_buckets()


@pytest.fixture
def emulator_config(sandbox):
    """Change the HubSpot emulator's config in a test (a reset keeps it); the values before, or
    the emulator's defaults, come back after it."""
    from integrations.sandbox import hubspot_data

    before = sandbox.control("hubspot", "GET", "config")
    defaults = {
        "search_per_second": hubspot_data.SEARCH_PER_SECOND,
        "search_delay": hubspot_data.DEFAULT_SEARCH_DELAY,
    }
    changed: set[str] = set()

    def configure(**values):
        changed.update(values)
        sandbox.configure("hubspot", **values)

    yield configure
    sandbox.configure("hubspot", **{k: before.get(k, defaults[k]) for k in changed})


@pytest.fixture(autouse=True)
def _contract_checked(request):
    """A test that used the emulators fails if any exchange broke the provider's published
    contract (integrations/sandbox/contracts), listing each violation. Request-side ones are
    forgiven only under an explicit `@pytest.mark.contract(requests=False, reason=...)`."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    box = request.getfixturevalue("sandbox")
    yield
    marker = request.node.get_closest_marker("contract")
    requests_checked = True
    if marker is not None:
        if not marker.kwargs.get("reason"):
            pytest.fail("@pytest.mark.contract needs a reason=")
        requests_checked = marker.kwargs.get("requests", True)
    found = []
    for report in box.contracts().values():
        for violation in report["violations"]:
            if violation["direction"] == "request" and not requests_checked:
                continue
            found.append(violation)
    if found:
        lines = "\n".join(
            f"  {v['provider']} {v['operation']} [{v['direction']}] {v['field']} = {v['value']}: "
            f"{v['message']}"
            for v in found
        )
        pytest.fail(f"{len(found)} contract violation(s):\n{lines}", pytrace=False)
