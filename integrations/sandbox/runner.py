"""Builds the emulators and serves them: as the `sandbox` command's foreground process, or
in a background thread for tests (on free ports)."""

import asyncio
import json
import logging
import socket
import threading
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from integrations.sandbox import EMULATOR_NAMES
from integrations.sandbox.azure import AzureEmulator
from integrations.sandbox.core import Emulator
from integrations.sandbox.dataverse import DataverseEmulator
from integrations.sandbox.hubspot import HubSpotEmulator
from integrations.sandbox.project_online import ProjectOnlineEmulator
from integrations.sandbox.salesforce import SalesforceEmulator, SalesforceTestEmulator
from integrations.sandbox.smartsheet import SmartsheetEmulator
from integrations.sandbox.supabase import SupabaseEmulator
from integrations.sandbox.tls import TlsFiles

logger = logging.getLogger(__name__)

SNAPSHOT_EVERY = 5.0  # seconds between snapshot writes while something changed


def build(
    names: list[str] | None = None, *, seed: int = 0, checking: bool = False
) -> dict[str, Emulator]:
    """The emulators named (all by default), in port order. Dataverse brings Azure AD along:
    it accepts only tokens that Azure AD issued; so does Project Online. `checking` turns on their contract checks
    (integrations/sandbox/contracts): each exchange validated, violations logged and kept."""
    wanted = set(names or EMULATOR_NAMES)
    if wanted & {"dataverse", "project-online"}:
        wanted.add("azure")
    emulators: dict[str, Emulator] = {}
    simple = {
        "smartsheet": SmartsheetEmulator,
        "salesforce": SalesforceEmulator,
        "salesforce-test": SalesforceTestEmulator,
        "hubspot": HubSpotEmulator,
        "azure": AzureEmulator,
        "supabase": SupabaseEmulator,
    }
    for name in EMULATOR_NAMES:
        if name not in wanted:
            continue
        if name == "dataverse":
            emulators[name] = DataverseEmulator(seed=seed, azure=emulators["azure"])
        elif name == "project-online":
            emulators[name] = ProjectOnlineEmulator(seed=seed, azure=emulators["azure"])
        else:
            emulators[name] = simple[name](seed=seed)
    for emulator in emulators.values():
        emulator.checking = checking
    return emulators


def bind(host: str, port: int) -> socket.socket:
    # proto must say TCP: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP,
    # and without it every keep-alive answer waits ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class SandboxServer:
    """All emulators of one sandbox: a TLS server each, one HTTP server for browser pages."""

    def __init__(
        self,
        emulators: dict[str, Emulator],
        *,
        host: str,
        ports: dict[str, int],
        tls: TlsFiles,
        snapshot: Path | None = None,
        quiet: bool = False,
    ):
        self.emulators = emulators
        self.host = host
        self.tls = tls
        self.snapshot = snapshot
        self.quiet = quiet  # tests inject faults on purpose: no tracebacks for those
        # Bind now (port 0 picks a free port) so callers know the ports before serving starts.
        self.sockets = {name: bind(host, ports.get(name, 0)) for name in ["browser", *emulators]}
        self.ports = {name: sock.getsockname()[1] for name, sock in self.sockets.items()}
        for name, emulator in emulators.items():
            emulator.config["base_url"] = f"https://{host}:{self.ports[name]}"
            emulator.config["browser_url"] = f"http://{host}:{self.ports['browser']}/{name}"
        self.servers: list[uvicorn.Server] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.load_snapshot()

    # --- snapshots --------------------------------------------------------------------------

    def load_snapshot(self) -> None:
        if not (self.snapshot and self.snapshot.exists()):
            return
        try:
            saved = json.loads(self.snapshot.read_text())
        except (OSError, ValueError):
            logger.warning("sandbox snapshot %s is unreadable; starting fresh", self.snapshot)
            return
        for name, state in saved.items():
            if name in self.emulators:
                self.emulators[name].load(state)

    def write_snapshot(self) -> None:
        if not self.snapshot:
            return
        data = {name: emulator.state for name, emulator in self.emulators.items()}
        tmp = self.snapshot.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.snapshot)
        for emulator in self.emulators.values():
            emulator.dirty = False

    async def _snapshot_loop(self) -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_EVERY)
            if any(emulator.dirty for emulator in self.emulators.values()):
                self.write_snapshot()

    # --- serving --------------------------------------------------------------------------

    def _config(self, app, *, tls: bool) -> uvicorn.Config:
        options = {
            "log_level": "critical" if self.quiet else "warning",
            "access_log": False,
            "lifespan": "off",
            "timeout_graceful_shutdown": 1,
        }
        if tls:
            options.update(ssl_certfile=str(self.tls.cert), ssl_keyfile=str(self.tls.key))
        return uvicorn.Config(app, **options)

    async def serve(self) -> None:
        apps = {name: emulator.app() for name, emulator in self.emulators.items()}
        browser = Starlette(
            routes=[
                Route("/_sandbox/reset", self._reset_all, methods=["POST"]),
                Route("/_sandbox/contract", self._contract_all, methods=["GET"]),
                *(Mount(f"/{name}", app=app) for name, app in apps.items()),
            ]
        )
        pairs = [(self._config(browser, tls=False), "browser")]
        pairs += [(self._config(app, tls=True), name) for name, app in apps.items()]
        self.servers = [uvicorn.Server(config) for config, _ in pairs]
        tasks = [
            server.serve(sockets=[self.sockets[name]])
            for server, (_, name) in zip(self.servers, pairs, strict=True)
        ]
        snapshots = asyncio.ensure_future(self._snapshot_loop()) if self.snapshot else None
        try:
            await asyncio.gather(*tasks)
        finally:
            if snapshots:
                snapshots.cancel()
            self.write_snapshot()

    # The control plane of every emulator at once, on the server's plain HTTP port: the test
    # suite resets the emulators before each test and reads their contract findings after it,
    # and a call to each of the ten emulators' own control planes (over TLS) took ~17 ms of
    # CPU a test, where the emulators a test reached are one or two.

    async def _reset_all(self, request: Request) -> Response:
        """{"emulators": {name: body of its POST /_sandbox/reset}} -> {name: its answer}."""
        bodies = json.loads(await request.body() or b"{}").get("emulators", {})
        unknown = sorted(set(bodies) - set(self.emulators))
        if unknown:
            return JSONResponse({"error": f"no such emulator: {', '.join(unknown)}"}, 404)
        return JSONResponse(
            {name: self.emulators[name].reset_from(body) for name, body in bodies.items()}
        )

    async def _contract_all(self, request: Request) -> Response:
        """{name: its GET /_sandbox/contract answer} for every emulator."""
        return JSONResponse(
            {name: emulator.contract_report() for name, emulator in self.emulators.items()}
        )

    @property
    def started(self) -> bool:
        return bool(self.servers) and all(server.started for server in self.servers)

    def start_in_thread(self, timeout: float = 15.0) -> None:
        """Serve from a daemon thread (tests); returns once every server accepts."""
        ready = threading.Event()

        def run():
            self._loop = loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.serve())
            # Requests still held by an injected fault (a "timeout" sleeps) end with the loop.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="sandbox", daemon=True)
        self._thread.start()
        for _ in range(int(timeout * 20)):
            if self.started:
                ready.set()
                break
            threading.Event().wait(0.05)
        if not ready.is_set():
            raise RuntimeError("the sandbox did not start")

    def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
            server.force_exit = True  # do not wait for idle keep-alive connections
        if self._thread:
            self._thread.join(timeout=10)
