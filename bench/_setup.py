"""What every bench needs: Django configured on its own var/ folder, and the sandboxes."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def start_sandbox(names=None):
    """Emulators in a background thread, on free ports; the hub's settings point at them."""
    from django.conf import settings

    from integrations import sandbox
    from integrations.sandbox import runner
    from integrations.sandbox.tls import ensure_ca

    emulators = runner.build(names)
    server = runner.SandboxServer(
        emulators, host="127.0.0.1", ports={}, tls=ensure_ca(settings.SANDBOX_DIR), quiet=True
    )
    sandbox.register_hub(emulators)
    server.start_in_thread()
    settings.SANDBOX_PORTS = dict(server.ports)
    return server
