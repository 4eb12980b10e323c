"""The README's commands, run the way a new user runs them: in a fresh copy of the project (no
`var/`, no `.env`), with none of the hub's variables in the environment. `.venv` is this
checkout's (installing it is what `make` does first; its stamps stay valid in the copy).

The first test lists every command the README shows and fails for one that no test here runs,
so a command added to the README gets its check."""

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.environment import BASE_DIR, clean_env
from tests.stack import PYTHON, TEMPLATES, KeptStack, Stack, free_port

README = (BASE_DIR / "README.md").read_text()
INLINE = re.compile(r"`((?:make |\.ci/|\.venv/bin/python |python manage\.py |manage\.py )[^`]*)`")

# Every command shape the README may show, and the test below that runs it.
CHECKS = {
    r"make run( PORT=\d+)?": "test_make_run_serves_the_sign_in_page_and_the_admin_commands_work",
    r"make status": "test_make_run_serves_the_sign_in_page_and_the_admin_commands_work",
    r"\.venv/bin/python bench/make_run\.py": "test_make_run_serves_the_sign_in_page_and_the_admin_commands_work",
    r"(\.venv/bin/python |python )?manage\.py (setup_periodic_tasks|bootstrap_demo|changepassword admin@example\.com|test_connection <id>|run_embedded( --port \d+)?|crm_sync <config id> --dry-run)": "test_make_run_serves_the_sign_in_page_and_the_admin_commands_work",
    r"manage\.py (migrate_project_online --list|refresh_pmo_picklists)": "test_make_run_serves_the_sign_in_page_and_the_admin_commands_work",
    r"(\.venv/bin/)?python manage\.py sandbox --only hubspot": "test_one_sandbox_runs_alone",
    r"make test": "test_make_test_runs_the_suite_and_fails_on_no_tests",
    r"\.ci/run": "test_ci_run_uses_postgres_and_redis",
    r"make lint": "test_make_lint_passes_and_a_broken_import_contract_fails_it",
    r"make requirements": "test_make_requirements_reproduces_the_pins",
    r"\.venv/bin/python bench/\w+\.py( --provider hubspot)?": "test_every_bench_runs_small_and_prints_its_result",
    # The production recipe (its exports are settings, not commands).
    r"pip install -r requirements/prod\.txt": "test_the_production_recipe_serves_health_on_postgres_and_redis",
    r"python manage\.py migrate && python manage\.py setup_periodic_tasks && python manage\.py collectstatic --noinput": "test_the_production_recipe_serves_health_on_postgres_and_redis",
    r"gunicorn config\.wsgi .*": "test_the_production_recipe_serves_health_on_postgres_and_redis",
    r"celery -A config (worker|beat) .*": "test_the_production_recipe_serves_health_on_postgres_and_redis",
}


def readme_commands() -> set[str]:
    """Inline commands, and the lines of the ```sh blocks (comments and exports dropped)."""
    commands = set(INLINE.findall(README))
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith(("export ", "#")):
                commands.add(line)
    return commands


def test_every_readme_command_has_a_test_that_runs_it():
    commands = readme_commands()
    assert {"make run", "make test", ".ci/run"} <= commands
    unchecked = {c for c in commands if not any(re.fullmatch(p, c) for p in CHECKS)}
    assert unchecked == set(), "README commands no test runs: add them to CHECKS"
    assert set(CHECKS.values()) <= set(globals())  # each named test exists


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """A clone of this repository, with the working tree's files (committed or not, never
    ignored ones) copied over it."""
    root = tmp_path_factory.mktemp("fresh") / "clone"
    subprocess.run(["git", "clone", "--quiet", str(BASE_DIR), str(root)], check=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=BASE_DIR,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = BASE_DIR / name
        if source.is_file():  # a deleted file may still be in the index
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)  # mtimes kept: make's install stamps stay valid
    # The checkout's bytecode too (git-ignored, so not cloned): each clone's first processes
    # compiled every module they imported, and pytest rewrote the test modules, again (some
    # 5 s of CPU per clone, up to one clone per test process). A .pyc holds its source's
    # size and mtime, both kept above, so one whose source differs is compiled afresh.
    for cache in BASE_DIR.glob("**/__pycache__"):
        relative = cache.relative_to(BASE_DIR)
        if relative.parts[0] not in (".venv", "var", "node_modules"):
            shutil.copytree(cache, root / relative, dirs_exist_ok=True)
    (root / ".venv").symlink_to(BASE_DIR / ".venv")
    return root


def run(root: Path, *args: str, stdin: str | None = None, timeout: int = 600, **env: str):
    return subprocess.run(
        list(args),
        cwd=root,
        env=clean_env(**env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sign_in(url: str, email: str, password: str) -> requests.Session:
    browser = requests.Session()
    browser.trust_env = False
    browser.get(f"{url}/accounts/login/", timeout=10)
    answer = browser.post(
        f"{url}/accounts/login/",
        data={
            "login": email,
            "password": password,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        headers={"Referer": f"{url}/accounts/login/"},
        timeout=30,
    )
    assert answer.status_code == 200 and "Sign out" in answer.text, answer.text[:500]
    return browser


@pytest.mark.slow
def test_make_run_serves_the_sign_in_page_and_the_admin_commands_work(fresh):
    # The make_run bench run small is a `make run` on a fresh clone until the sign-in page
    # answers: it runs here, kept up (--keep), and this test goes on with that start instead
    # of making a second one.
    bench = subprocess.Popen(
        [".venv/bin/python", "bench/make_run.py", "--keep"],
        cwd=fresh,
        env=clean_env(BENCH_SCALE="0.05"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    printed = []
    for line in bench.stdout:  # ends at the RESULT line (the bench then waits) or its exit
        printed.append(line)
        if line.startswith("RESULT "):
            break
    kept = next((line for line in printed if line.startswith("KEPT ")), None)
    assert kept and printed[-1].startswith("RESULT cold_s="), "".join(printed)[-3000:]
    stack = KeptStack(bench, kept)
    try:
        stack.wait_for("/accounts/login/", timeout=180)
        banner = stack.log()
        assert f"Integration Hub: {stack.url}/" in banner
        password = re.search(r"Password:\s+(\S+)\s+\(shown this once", banner).group(1)
        sign_in(stack.url, "admin@example.com", password)
        stack.wait_for("/health/", timeout=60)  # worker, beat and the broker too

        python = str(fresh / ".venv/bin/python")
        status = stack.run("make", "status")
        assert status.returncode == 0, status.stderr
        assert sorted(re.findall(r"^(\w+)\s+RUNNING", status.stdout, re.M)) == [
            "beat",
            "sandbox",
            "web",
            "worker",
        ]
        dataverse = stack.shell(
            "from integrations.models import Connection\n"
            "out = Connection.objects.get(provider='dataverse').pk"
        )
        tested = stack.run(python, "manage.py", "test_connection", str(dataverse))
        assert tested.returncode == 0 and "OK — connected as" in tested.stdout, tested.stderr

        # The demo has no CRM connected (that takes a consent): the command's own answer to an
        # id it does not know; the sync it runs is tests/crm's.
        crm = stack.run(python, "manage.py", "crm_sync", "424242", "--dry-run")
        assert crm.returncode != 0 and "No CRM config with id 424242." in crm.stderr

        # The demo's Project Online connection reaches the emulator's seeded projects; nothing
        # is migrated yet, so the PMO picklists have nothing to refresh.
        listed = stack.run(python, "manage.py", "migrate_project_online", "--list")
        assert listed.returncode == 0 and "Website Redesign 2024" in listed.stdout, listed.stderr
        refreshed = stack.run(python, "manage.py", "refresh_pmo_picklists")
        assert refreshed.returncode == 0 and "nothing to refresh" in refreshed.stdout

        schedule = stack.run(python, "manage.py", "setup_periodic_tasks")
        assert schedule.returncode == 0 and "Beat schedule:" in schedule.stdout, schedule.stderr
        again = stack.run(python, "manage.py", "bootstrap_demo")
        assert again.returncode == 0 and "as printed on the first run" in again.stdout

        new = "Walnut-Harbor-7391"
        changed = stack.run(
            python, "manage.py", "changepassword", "admin@example.com", stdin=f"{new}\n{new}\n"
        )
        assert changed.returncode == 0, changed.stderr
        sign_in(stack.url, "admin@example.com", new)
    finally:
        stack.stop()


@pytest.mark.slow
def test_one_sandbox_runs_alone(fresh, tmp_path):
    stack = Stack(
        root=fresh,
        var_dir=tmp_path,
        command=[PYTHON, "manage.py", "sandbox", "--only", "hubspot"],
        VAR_DIR=str(tmp_path),
    )
    try:
        for _ in range(120):
            try:
                calls = stack.sandbox(4, "GET", "calls", None)  # HubSpot: base + 4
                break
            except (requests.RequestException, OSError):  # OSError: no CA file yet
                assert stack.process.poll() is None, stack.log()
                time.sleep(0.5)
        else:
            pytest.fail(stack.log())
        assert "by_endpoint" in calls
        with pytest.raises(requests.ConnectionError):  # the others are not started
            stack.sandbox(1, "GET", "calls", None)
    finally:
        stack.stop()


@pytest.mark.slow
def test_make_test_runs_the_suite_and_fails_on_no_tests(fresh):
    # In one process: a handful of tests do not need four.
    passed = run(fresh, "make", "test", "PYTEST_WORKERS=0", "PYTEST_ARGS=tests/test_layout.py -q")
    assert passed.returncode == 0 and " passed" in passed.stdout, passed.stdout + passed.stderr
    # Nothing selected in one small module: collecting the whole tree would import every test
    # module for an answer that does not depend on them.
    nothing = run(
        fresh,
        "make",
        "test",
        "PYTEST_WORKERS=0",
        "PYTEST_ARGS=-q tests/test_layout.py -k no_test_is_named_like_this",
    )
    assert nothing.returncode != 0
    assert "collected no tests" in nothing.stderr


@pytest.mark.slow
def test_ci_run_uses_postgres_and_redis(fresh):
    # One test that needs no database of its own: the suite's test database (PostgreSQL's
    # "test_test") may be in use by the run this test is part of.
    # In one process (PYTEST_WORKERS reaches make from the environment, as in CI): four
    # workers starting Django for one test cost more than the test.
    ci = run(
        fresh,
        ".ci/run",
        PYTEST_WORKERS="0",
        PYTEST_ARGS="-q tests/config/test_settings.py::"
        "test_the_suite_runs_on_the_database_and_broker_it_was_given",
    )
    assert ci.returncode == 0, ci.stdout[-3000:] + ci.stderr[-3000:]
    assert "1 passed" in ci.stdout


@pytest.mark.slow
def test_make_lint_passes_and_a_broken_import_contract_fails_it(fresh):
    lint = run(fresh, "make", "lint")
    assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-3000:]
    # One product app importing another breaks a contract: make lint must say so and fail.
    broken = fresh / "timetracker" / "_contract_breaker.py"
    broken.write_text("from projects import models  # noqa: F401\n")
    try:
        lint = run(fresh, "make", "lint")
    finally:
        broken.unlink()
    assert lint.returncode != 0
    assert "timetracker._contract_breaker -> projects.models" in lint.stdout + lint.stderr


@pytest.mark.slow
def test_make_requirements_reproduces_the_pins(fresh):
    before = {p.name: p.read_text() for p in (fresh / "requirements").glob("*.txt")}
    made = run(fresh, "make", "requirements")
    assert made.returncode == 0, made.stderr[-3000:]
    after = {p.name: p.read_text() for p in (fresh / "requirements").glob("*.txt")}
    assert after == before  # the pins in git are exactly what the .in files resolve to


@pytest.mark.slow
@pytest.mark.parametrize(
    "bench",
    [
        # make_run.py runs small in the make run test above, which goes on with its hub.
        *sorted(
            p.name
            for p in (BASE_DIR / "bench").glob("*.py")
            if p.name[0] != "_" and p.name != "make_run.py"
        ),
        "crm_sync.py --provider hubspot",
    ],
)
def test_every_bench_runs_small_and_prints_its_result(fresh, bench):
    script, *options = bench.split()
    # The migrated template the benches copy, shared by the clones (one per test process),
    # the suite's stacks and the runs after this one: one of them migrates, not each.
    ran = run(
        fresh,
        ".venv/bin/python",
        f"bench/{script}",
        *options,
        BENCH_SCALE="0.05",
        BENCH_TEMPLATES=str(TEMPLATES),
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert ran.stdout.strip().splitlines()[-1].startswith("RESULT ")


@pytest.fixture
def production_services(request):
    """A new PostgreSQL database and two Redis databases of their own, as the recipe's
    DATABASE_URL, CELERY_BROKER_URL and CACHE_URL; skipped only outside CI without them.

    When the suite's own databases are PostgreSQL's, the new one is a copy of their migrated
    template, and the recipe's `migrate` finds nothing to do: migrating PostgreSQL from
    scratch is what made that template (in the suite's first run after any change of the
    migrations), and it cost this test 10 s of CPU each time. Otherwise it starts empty."""
    import psycopg
    import redis

    name = f"hub_readme_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
        broker = redis.Redis.from_url("redis://127.0.0.1:6379/13")
        broker.ping()
    except Exception as exc:  # noqa: BLE001 - any reason the services are not there
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL and Redis are needed on 127.0.0.1 ({exc})")
    template = request.getfixturevalue("postgresql_template")
    if template is None:
        admin.execute(f'CREATE DATABASE "{name}"')
    else:
        with template.locked():
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.name}"')
    broker.flushdb()
    yield {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/13",
        "CACHE_URL": "redis://127.0.0.1:6379/14",
    }
    broker.flushdb()
    redis.Redis.from_url("redis://127.0.0.1:6379/14").flushdb()
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.mark.slow
def test_the_production_recipe_serves_health_on_postgres_and_redis(fresh, production_services):
    # The venv has no pip of its own when uv made it: uv installs the same pins. Into the
    # venv by its real path: through the clone's symlink, scripts would get the clone's path.
    venv = BASE_DIR / ".venv" / "bin"
    installed = run(
        fresh,
        str(venv / "uv"),
        "pip",
        "install",
        "-q",
        "--python",
        str(venv / "python"),
        "-r",
        "requirements/prod.txt",
    )
    assert installed.returncode == 0, installed.stderr
    port = free_port()
    env = {
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "TRUST_PROXY_HEADERS": "true",
        **production_services,
    }
    python = ".venv/bin/python"
    for step in (
        ["migrate", "--noinput"],
        ["setup_periodic_tasks"],
        ["collectstatic", "--noinput"],
    ):
        done = run(fresh, python, "manage.py", *step, **env)
        assert done.returncode == 0, done.stderr[-3000:]
    stacks = [
        Stack(
            root=fresh,
            var_dir=fresh / "var" / name,
            command=command,
            **env,
        )
        for name, command in {
            "web": [
                ".venv/bin/gunicorn",
                "config.wsgi",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            "worker": [python, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO"],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel=INFO",
                "--pidfile=",
            ],
        }.items()
    ]
    web = stacks[0]
    web.url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        health = 0
        while health != 200 and time.monotonic() < deadline:
            time.sleep(1)
            # Behind the TLS proxy the recipe assumes: plain http would be redirected.
            health = web.status("/health/", **{"X-Forwarded-Proto": "https"})
        assert health == 200, "\n".join(stack.log()[-2000:] for stack in stacks)
        assert web.status("/health/") == 301  # SECURE_SSL_REDIRECT without the proxy's header
    finally:
        for stack in stacks:
            stack.stop()
