"""Start-up configuration: the real entry points, run as processes with a chosen environment."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.environment import BASE_DIR, READ_VARIABLES, clean_env
from tests.stack import migrated_sqlite


def run(args: list[str], tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    """Run a command of the project with a clean hub environment plus `variables`."""
    environment = clean_env(VAR_DIR=str(tmp_path), ALLOWED_HOSTS="hub.example.com")
    environment.update(variables)
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        # A generous bound, not a speed check: a migrate on a fresh database took over a
        # minute on a machine busy with other suites.
        timeout=300,
    )


def settings_of(tmp_path: Path, *names: str, **variables: str) -> dict:
    code = (
        "import json; from config.startup import load_settings_or_exit; load_settings_or_exit();"
        "from django.conf import settings;"
        f"names = {list(names)!r};"
        "print(json.dumps({n: getattr(settings, n, None) for n in names}, default=str))"
    )
    result = run(["-c", code], tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_variable_list_is_read_from_the_settings_source():
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY"} <= READ_VARIABLES


def test_a_valid_environment_starts(tmp_path):
    result = run(["manage.py", "check"], tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "nonsense"),
        ("DATABASE_URL", "mysql://root@localhost/hub"),
        ("CELERY_BROKER_URL", "ftp://x"),
        ("DEBUG", "maybe"),
        ("API_THROTTLE_USER", "lots"),
        ("CORS_ALLOWED_ORIGINS", "app.example.com/path"),
        ("CACHE_URL", "nonsense"),
        ("HEALTH_TIMEOUT", "soon"),
        ("SECRET_KEY", "short"),
        ("CELERY_TASK_TIME_LIMIT", "60"),
        # Shorter than a live run can be silent (one call and its retry wait, 190 s by default):
        # the sweep would close runs that are still going.
        ("RUN_STALE_AFTER", "120"),
        ("MIGRATION_HOURS_PER_DAY", "eight"),
        ("MIGRATION_HOURS_PER_DAY", "25"),
        ("CUSTOM_FIELDS_EXCLUDE_PATTERN", "^Task(Text"),
        ("CUSTOM_FIELDS_MAX_PER_SHEET", "0"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(tmp_path, name, value):
    result = run(["manage.py", "check"], tmp_path, **{name: value})
    assert result.returncode == 2
    assert f"{name}:" in result.stderr
    assert "Traceback" not in result.stderr  # one clear line, not a stack


def test_every_bad_variable_is_reported_at_once(tmp_path):
    result = run(
        ["manage.py", "check"], tmp_path, DATABASE_URL="nonsense", CELERY_BROKER_URL="ftp://x"
    )
    assert "DATABASE_URL:" in result.stderr and "CELERY_BROKER_URL:" in result.stderr


def test_the_celery_entry_point_stops_the_same_way(tmp_path):
    result = run(["-m", "celery", "-A", "config", "report"], tmp_path, CELERY_BROKER_URL="ftp://x")
    assert result.returncode == 2
    assert "CELERY_BROKER_URL:" in result.stderr


@pytest.mark.heavy
@pytest.mark.parametrize(
    "command",
    [
        ["manage.py", "check"],
        ["manage.py", "help"],
        ["manage.py", "changepassword", "--help"],
        ["manage.py", "setup_periodic_tasks"],
        ["-m", "celery", "-A", "config", "report"],
    ],
)
def test_commands_run_without_debug_or_allowed_hosts(tmp_path, command):
    if "setup_periodic_tasks" in command:
        # A database to write to, migrated already: migrating a new one first is
        # tests/integrations/test_commands.py's question, and from scratch it took 8 s of CPU.
        migrated_sqlite(tmp_path / "db.sqlite3")
    # Only serving HTTP needs ALLOWED_HOSTS; a bare checkout's commands must work.
    result = run(command, tmp_path, DEBUG="", ALLOWED_HOSTS="")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "command",
    [["manage.py", "runserver", "--noreload", "127.0.0.1:0"], ["-c", "import config.wsgi"]],
)
def test_serving_without_debug_needs_allowed_hosts(tmp_path, command):
    result = run(command, tmp_path, DEBUG="false", ALLOWED_HOSTS="")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Integration Hub cannot start: invalid configuration — ALLOWED_HOSTS: must list the "
        "host names this site answers to when DEBUG is false (see .env.example)"
    )


def test_without_debug_cookies_are_secure_and_hsts_is_on(tmp_path):
    values = settings_of(
        tmp_path,
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "ALLOWED_HOSTS",
        DEBUG="false",
        ALLOWED_HOSTS="hub.example.com,api.example.com",
    )
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_SSL_REDIRECT": True,
        "ALLOWED_HOSTS": ["hub.example.com", "api.example.com"],
    }


def test_the_defaults_are_the_embedded_database_and_broker(tmp_path):
    values = settings_of(
        tmp_path, "DATABASES", "CELERY_BROKER_URL", "CELERY_BROKER_TRANSPORT_OPTIONS"
    )
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DATABASES"]["default"]["NAME"] == str(tmp_path / "db.sqlite3")
    assert values["CELERY_BROKER_URL"] == "sqlite://"
    assert values["CELERY_BROKER_TRANSPORT_OPTIONS"]["path"] == str(tmp_path / "broker.sqlite3")


def test_the_embedded_broker_file_can_be_chosen(tmp_path):
    options = settings_of(
        tmp_path,
        "CELERY_BROKER_TRANSPORT_OPTIONS",
        CELERY_BROKER_URL=f"sqlite:///{tmp_path}/elsewhere.sqlite3",
    )["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["path"] == str(tmp_path / "elsewhere.sqlite3")


def test_the_filesystem_broker_is_refused_with_the_reason(tmp_path):
    result = run(["manage.py", "check"], tmp_path, CELERY_BROKER_URL="filesystem://localhost//")
    assert result.returncode == 2
    assert "CELERY_BROKER_URL: filesystem:// can hand a worker a half-written message" in (
        result.stderr
    )


def test_postgres_and_redis_urls_are_taken(tmp_path):
    values = settings_of(
        tmp_path,
        "DATABASES",
        "CELERY_BROKER_URL",
        DATABASE_URL="postgres://hub:pw@db.internal:5432/hub",
        CELERY_BROKER_URL="redis://cache.internal:6379/0",
    )
    database = values["DATABASES"]["default"]
    assert (database["ENGINE"], database["HOST"], database["NAME"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        "hub",
    )
    assert values["CELERY_BROKER_URL"] == "redis://cache.internal:6379/0"


def test_redis_hands_a_task_to_another_worker_only_after_the_longest_task_would_end(tmp_path):
    # Redis' visibility timeout runs from delivery whether or not the worker still works: below
    # the task time limit, a long task would run twice at once.
    values = settings_of(
        tmp_path,
        "CELERY_BROKER_TRANSPORT_OPTIONS",
        "CELERY_TASK_TIME_LIMIT",
        "CELERY_TASK_SOFT_TIME_LIMIT",
        CELERY_BROKER_URL="redis://cache.internal:6379/0",
        CELERY_TASK_TIME_LIMIT="900",
    )
    assert values["CELERY_TASK_TIME_LIMIT"] == 900
    assert values["CELERY_TASK_SOFT_TIME_LIMIT"] == 840  # a run closes itself first
    assert values["CELERY_BROKER_TRANSPORT_OPTIONS"] == {"visibility_timeout": 960}


def test_the_stale_window_may_be_short_when_the_http_timeouts_are(tmp_path):
    values = settings_of(
        tmp_path,
        "RUN_STALE_AFTER",
        RUN_STALE_AFTER="6",
        HTTP_CONNECT_TIMEOUT="1",
        HTTP_READ_TIMEOUT="3",
        HTTP_MAX_RETRY_WAIT="1",
    )
    assert values["RUN_STALE_AFTER"] == 6


def test_an_unset_secret_key_is_generated_once_and_kept_private(tmp_path):
    first = settings_of(tmp_path, "SECRET_KEY")["SECRET_KEY"]
    second = settings_of(tmp_path, "SECRET_KEY")["SECRET_KEY"]
    key_file = tmp_path / "secret_key"
    assert first == second == key_file.read_text().strip()
    assert len(first) >= 50
    assert key_file.stat().st_mode & 0o077 == 0


def test_a_secret_can_come_from_a_file(tmp_path):
    secret = tmp_path / "mounted-secret"
    secret.write_text("k" * 40)
    assert (
        settings_of(tmp_path, "SECRET_KEY", SECRET_KEY_FILE=str(secret))["SECRET_KEY"] == "k" * 40
    )


def test_every_variable_is_documented_in_env_example():
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (BASE_DIR / ".env.example").read_text(), re.M)
    )
    assert READ_VARIABLES - documented == set()


def test_every_variable_is_in_the_readme_table():
    readme = (BASE_DIR / "README.md").read_text()
    assert {name for name in READ_VARIABLES if f"| `{name}` |" not in readme} == set()


def test_the_suite_runs_on_the_database_and_broker_it_was_given():
    # CI passes PostgreSQL and Redis; a silent fall-back to the embedded defaults would make
    # a green run prove nothing about them. (No database access: the README test runs this
    # through .ci/run beside a suite that may be using PostgreSQL's test database.)
    from django.db import connection

    from config.celery import app

    database_url = os.environ.get("DATABASE_URL", "sqlite://")
    assert connection.vendor == ("postgresql" if database_url.startswith("postgres") else "sqlite")
    broker_url = os.environ.get("CELERY_BROKER_URL", "sqlite://")
    assert app.conf.broker_url.split("://")[0] == broker_url.split("://")[0]
