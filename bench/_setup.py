"""What every bench needs: Django configured on its own var/ folder, and the sandboxes."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def scaled(size: int, *, minimum: int = 1) -> int:
    """A bench's workload size times BENCH_SCALE (default 1): `BENCH_SCALE=0.05` runs a bench
    small, to see that it works end to end (the README test does); its figures mean
    something only at full size."""
    return max(minimum, round(size * float(os.environ.get("BENCH_SCALE", "1"))))


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


def fresh_database(name: str) -> Path:
    """Django set up on a new, migrated copy of the bench's database."""
    db = bench_database(name)
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    django_setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return db


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
