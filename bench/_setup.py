"""What every bench needs: Django configured on its own var/ folder, and the sandboxes."""

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def scaled(size: int, *, minimum: int = 1) -> int:
    """A bench's workload size times BENCH_SCALE (default 1): `BENCH_SCALE=0.05` runs a bench
    small, to see that it works end to end (the README test does); its figures mean
    something only at full size."""
    return max(minimum, round(size * scale()))


def scale() -> float:
    """BENCH_SCALE (default 1)."""
    return float(os.environ.get("BENCH_SCALE", "1"))


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "warning")
    from config.startup import load_settings_or_exit

    load_settings_or_exit()
    import django

    django.setup()


def bench_database(name: str) -> Path:
    """The bench's own SQLite file under var/bench (the bench needs nothing running)."""
    return ROOT / "var" / "bench" / f"{name}.sqlite3"


def fresh_database(name: str) -> Path | str:
    """Django set up on a new, migrated copy of the bench's database. The first bench after a
    change of the migrations migrates and keeps the result under var/bench as a template; the
    next copy it (migrating from scratch was most of a small bench run).

    BENCH_DATABASE_URL=postgres://user@host:port/name runs it on PostgreSQL instead: that
    database is dropped, made again and migrated (a name of its own: never one that holds
    data)."""
    if os.environ.get("BENCH_DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return _fresh_postgres(os.environ["BENCH_DATABASE_URL"])
    db = bench_database(name)
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    # BENCH_TEMPLATES: where the templates are kept, when not beside the databases (the README
    # test's clones share one folder, so that one of them migrates instead of each).
    templates = Path(os.environ.get("BENCH_TEMPLATES") or db.parent)
    # Django first, on this database: the fingerprint's module is in `config`, whose import
    # loads the settings (with no DATABASE_URL yet they would name var/bench/db.sqlite3). It
    # connects at the first query, below, after the copy.
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    django_setup()
    shutil.copyfile(sqlite_template(templates), db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # on a copy: nothing to do, and says so if otherwise
    return db


def sqlite_template(templates: Path) -> Path:
    """The migrated SQLite template of this checkout's migrations in `templates`, shared by
    the benches, the suite's stacks and its test databases (tests/stack.py): the first caller
    after a change of the migrations migrates it, once, while the others wait."""
    from tests.environment import clean_env

    lock = template_lock(templates)
    try:
        template = template_path(templates)
        if not template.exists():
            partial = template.with_suffix(f".{os.getpid()}.tmp")
            made = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity=0"],
                cwd=ROOT,
                env=clean_env(DATABASE_URL=f"sqlite:///{partial}", VAR_DIR=str(templates / "var")),
                capture_output=True,
                text=True,
                timeout=300,
            )
            if made.returncode != 0:
                raise RuntimeError(f"migrating the template failed:\n{made.stderr[-3000:]}")
            # Whatever the WAL still holds into the file: the copy is then whole.
            checkpoint = sqlite3.connect(partial)
            checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            checkpoint.close()  # the last connection out removes the WAL
            partial.replace(template)  # atomic: nobody copies half a template
            drop_old_templates(template)
    finally:
        lock.close()
    return template


def template_path(templates: Path) -> Path:
    """Where the migrated SQLite template for the migrations of this checkout is kept in
    `templates`."""
    from config.fingerprint import migrations_fingerprint

    return templates / f"migrated-{migrations_fingerprint()}.sqlite3"


def drop_old_templates(template: Path) -> None:
    """The templates of earlier migrations beside `template`: nothing copies them again."""
    for old in template.parent.glob("migrated-*.sqlite3"):
        if old != template:
            old.unlink(missing_ok=True)


def template_lock(templates: Path):
    """`templates` locked (an open file: closing it unlocks) while one process finds the
    template missing and makes it: the others wait and copy it instead of migrating too (the
    README test's four processes each start a bench at once)."""
    import fcntl

    templates.mkdir(parents=True, exist_ok=True)
    lock = (templates / "template.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def _fresh_postgres(url: str) -> str:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ["DATABASE_URL"] = url
    django_setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def start_sandbox(names=None, *, checking: bool = False):
    """Emulators in a background thread, on free ports; the hub's settings point at them.
    `checking`: each exchange held to the provider's published contract (their findings at
    GET /_sandbox/contract); off by default, as it costs what a bench would measure."""
    from django.conf import settings

    from integrations import sandbox
    from integrations.sandbox import runner
    from integrations.sandbox.tls import ensure_ca

    emulators = runner.build(names, checking=checking)
    server = runner.SandboxServer(
        emulators, host="127.0.0.1", ports={}, tls=ensure_ca(settings.SANDBOX_DIR), quiet=True
    )
    sandbox.register_hub(emulators)
    server.start_in_thread()
    sandbox.use_ports(server.ports)
    return server


class Watch(threading.Thread):
    """Prints a running run's progress from its row every few seconds, as its page shows it, and
    only when it moved (a run waiting out a rate limit is said once). `latest()` reads the
    newest run, or None."""

    def __init__(self, latest: Callable, *, indent: str = "  "):
        super().__init__(daemon=True)
        self.latest, self.indent, self.stopped = latest, indent, threading.Event()

    def run(self) -> None:
        from django.db import connection

        shown = None
        while not self.stopped.wait(5):
            run = self.latest()
            if run is not None and run.status == "running":
                said = (run.stage, run.stage_done, run.percent)
                if said != shown:
                    shown = said
                    print(
                        f"{self.indent}{run.percent:5.1f} %  "
                        f"{run.stage} {run.stage_done}/{run.stage_total}"
                    )
        connection.close()
