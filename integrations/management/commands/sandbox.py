import asyncio
import contextlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations import sandbox
from integrations.sandbox import runner
from integrations.sandbox.tls import ensure_ca


class Command(BaseCommand):
    help = (
        "Serve the provider emulators: each over TLS on its own port, consent pages over plain "
        "HTTP on SANDBOX_BASE_PORT. The local CA is made on first start under var/sandbox/."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            action="append",
            default=[],
            metavar="NAME",
            help=f"one of {', '.join(sandbox.EMULATOR_NAMES)} (repeatable, or comma-separated)",
        )
        parser.add_argument(
            "--seed", type=int, default=0, help="seed of the generated demo data (deterministic)"
        )
        parser.add_argument("--no-snapshot", action="store_true", help="keep state in memory only")
        parser.add_argument(
            "--strict",
            action="store_true",
            help="check every exchange against the provider's published contract and log each "
            "violation (one WARNING line: operation, field, value); GET /_sandbox/contract "
            "reports them",
        )
        parser.add_argument(
            "--init-ca",
            action="store_true",
            help="only create the CA and the client bundle, then exit",
        )

    def handle(self, *args, only, seed, no_snapshot, init_ca, strict=False, **options):
        files = ensure_ca(settings.SANDBOX_DIR)
        if init_ca:
            self.stdout.write(f"Sandbox CA bundle: {files.bundle}")
            return
        names = [name.strip() for item in only for name in item.split(",") if name.strip()]
        unknown = sorted(set(names) - set(sandbox.EMULATOR_NAMES))
        if unknown:
            raise CommandError(
                f"Unknown emulator(s): {', '.join(unknown)}. Choose from: {', '.join(sandbox.EMULATOR_NAMES)}."
            )
        emulators = runner.build(names or None, seed=seed, checking=strict)
        try:
            server = runner.SandboxServer(
                emulators,
                host=settings.SANDBOX_HOST,
                ports={name: settings.SANDBOX_PORTS[name] for name in ["browser", *emulators]},
                tls=files,
                snapshot=None if no_snapshot else settings.SANDBOX_DIR / "state.json",
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {settings.SANDBOX_HOST}: {exc}. Is another sandbox running? (SANDBOX_BASE_PORT moves them all.)"
            ) from None
        # After the snapshot is loaded: the hub's current client ids and redirect URIs win.
        sandbox.register_hub(emulators)
        self.stdout.write(f"Sandboxes (TLS, CA bundle {files.bundle}):")
        for name in emulators:
            self.stdout.write(
                f"  {name:<16} https://{server.host}:{server.ports[name]}   control: /_sandbox/calls"
            )
        self.stdout.write(
            f"  {'consent pages':<16} http://{server.host}:{server.ports['browser']}/<name>/…"
        )
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how one stops it
            asyncio.run(server.serve())
