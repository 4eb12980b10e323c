"""The hub started for real, as a person starts it (`make run`, `manage.py run_embedded`), for
the tests that need the whole stack: the soak test and the README test. Each stack has its
own folder (database, broker, keys), its own free ports and an environment without any of the
hub's variables, whatever the suite itself was given."""

import contextlib
import json
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from bench._setup import sqlite_template
from config.endpoints import SANDBOX_PORT_OFFSETS
from tests.environment import BASE_DIR, clean_env

PYTHON = sys.executable


# Listening ports come from below the kernel's ephemeral range (32768-60999 on Linux): a port
# found free there can be taken a moment later by any outgoing connection of the machine (a
# database client, a test's HTTP call), and a server that then cannot bind it dies. Seen: the
# soak's sandbox exited eight times on a busy run.
LISTEN_RANGE = (20000, 32000)


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# The sandboxes listen on SANDBOX_BASE_PORT + each emulator's offset.
SANDBOX_PORTS = max(SANDBOX_PORT_OFFSETS.values()) + 1


def free_block(size: int) -> int:
    """The first of `size` consecutive free ports."""
    for _ in range(200):
        base = random.randrange(LISTEN_RANGE[0], LISTEN_RANGE[1] - size)
        if all(_bindable(port) for port in range(base, base + size)):
            return base
    raise RuntimeError("no block of free ports")


def free_port() -> int:
    return free_block(1)


# The loop of a stack's console (Stack.shell): one line of JSON in, the code's `out` back as
# one line "OUT=<json>" (or "ERR=<traceback>"); whatever else it prints is skipped.
CONSOLE = """\
import json, sys, traceback
for line in sys.stdin:
    scope = {"json": json, "out": None}
    try:
        exec(json.loads(line), scope)
        print("OUT=" + json.dumps(scope["out"], default=str), flush=True)
    except BaseException:
        print("ERR=" + json.dumps(traceback.format_exc()), flush=True)
"""


def _lines_into(stream, lines: queue.Queue) -> None:
    """Each line of `stream` into `lines`, then None at its end."""
    for line in stream:
        lines.put(line)
    lines.put(None)


# The migrated SQLite template the suite's stacks and the README test's bench clones copy
# (BENCH_TEMPLATES), named by the migrations' fingerprint and kept between runs, as the test
# database's template is (tests/conftest.py): a change of the migrations makes a new one.
TEMPLATES = Path(tempfile.gettempdir()) / "hub-sqlite-templates"


def migrated_sqlite(database: Path, templates: Path = TEMPLATES) -> Path:
    """`database`, a copy of the migrated template, for a stack or command whose subject is
    not migrating: `migrate` from scratch renders 70-odd migrations (10-13 s of CPU); on the
    copy it finds nothing to do."""
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sqlite_template(templates), database)
    return database


class Stack:
    """One embedded hub, started by `command` in `root` in a session of its own; its output
    goes to `<var_dir>/stack.log`."""

    def __init__(self, *, root: Path = BASE_DIR, var_dir: Path, command: list[str], **env: str):
        self.root, self.var = root, var_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox_base = free_block(SANDBOX_PORTS)
        # "{port}" in the command or a variable is the web port chosen here.
        self.env = clean_env(
            **{
                "SANDBOX_BASE_PORT": str(self.sandbox_base),
                "LOG_FORMAT": "text",
                **{name: value.format(port=self.port) for name, value in env.items()},
            }
        )
        var_dir.mkdir(parents=True, exist_ok=True)
        self.output = (var_dir / "stack.log").open("w")
        self.process = subprocess.Popen(
            [part.format(port=self.port) for part in command],
            cwd=root,
            env=self.env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        self.output.flush()
        return (self.var / "stack.log").read_text(errors="replace")

    def status(self, path: str = "/health/", **headers) -> int:
        try:
            return requests.get(
                f"{self.url}{path}", timeout=5, headers=headers, allow_redirects=False
            ).status_code
        except requests.RequestException:
            return 0

    def wait_for(self, path: str = "/health/", *, timeout: float) -> float:
        """Seconds until `path` answers 200 (the test fails if it never does)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                pytest.fail(f"the stack exited {self.process.returncode}:\n{self.log()[-3000:]}")
            if self.status(path) == 200:
                return time.monotonic() - started
            time.sleep(0.25)
        pytest.fail(f"{path} not 200 within {timeout}s:\n{self.log()[-3000:]}")

    def run(self, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
        """A command in the stack's folder and environment (its database, its broker)."""
        return subprocess.run(
            list(args),
            cwd=self.root,
            env={**self.env, **env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )

    _console: subprocess.Popen | None = None

    def shell(self, code: str, *, timeout: float = 300) -> object:
        """Python in the stack's own Django; the code sets `out`, which comes back as JSON.
        One `manage.py shell` of the stack's answers them all, started at the first: a
        process per call started Django each time (some 2 s of CPU apiece, five in the soak
        test)."""
        if self._console is None:
            self._console = subprocess.Popen(
                [PYTHON, "manage.py", "shell", "-c", CONSOLE],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=(self.var / "console.log").open("w"),
                text=True,
            )
            # Read by a thread, so that a console that hangs fails the call at its timeout.
            self._answers = queue.Queue()
            threading.Thread(
                target=_lines_into, args=(self._console.stdout, self._answers), daemon=True
            ).start()
        self._console.stdin.write(json.dumps(code) + "\n")
        self._console.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._answers.get(timeout=max(0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the stack's shell did not answer within {timeout}s:\n{code}")
            if line is None:  # its output closed: it exited
                pytest.fail(f"the stack's shell exited:\n{(self.var / 'console.log').read_text()}")
            if line.startswith("ERR="):
                pytest.fail(f"{code}\n{json.loads(line[4:])}")
            if line.startswith("OUT="):
                return json.loads(line[4:])

    def _close_console(self) -> None:
        if self._console is not None:
            self._console.stdin.close()  # its loop ends
            try:
                self._console.wait(10)
            except subprocess.TimeoutExpired:
                self._console.kill()
                self._console.wait(10)
            self._console.stdout.close()
            self._console = None

    def pid(self, name: str) -> int:
        supervisorctl = str(Path(PYTHON).parent / "supervisorctl")
        conf = str(self.var / "supervisord.conf")
        return int(self.run(supervisorctl, "-c", conf, "pid", name).stdout.strip())

    def sandbox(self, emulator_offset: int, verb: str, path: str, body: dict) -> dict:
        """The control plane of the emulator on port base + `emulator_offset`."""
        response = requests.request(
            verb,
            f"https://127.0.0.1:{self.sandbox_base + emulator_offset}/_sandbox/{path}",
            json=body,
            verify=str(self.var / "sandbox" / "ca.pem"),
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def kill(self) -> None:
        """SIGKILL to every process of the stack, for a test done with it: nothing to wait for
        (supervisord's orderly stop, the worker's warm shutdown: 12-17 s of a test's time).
        supervisord puts each child in a process group of its own, all in the session
        started here: the session is what is killed."""
        self._close_console()
        if self.process.poll() is None:
            for pid in _session(self.process.pid):
                with contextlib.suppress(ProcessLookupError):  # gone already
                    os.kill(pid, signal.SIGKILL)
            self.process.wait(10)
        self.output.close()

    def stop(self) -> None:
        self._close_console()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # supervisord stops its children
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.output.close()


def _session(sid: int) -> list[int]:
    """The processes of session `sid` (Linux: the sixth field of /proc/<pid>/stat)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the command's name, which is in parentheses and may hold spaces.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        if int(fields[3]) == sid:
            pids.append(int(stat.parent.name))
    return pids


class KeptStack(Stack):
    """The hub a `bench/make_run.py --keep` started and keeps up: the bench's own `make run`,
    used by the README test instead of starting a second one. Stopping it closes the bench's
    standard input; the bench then stops the hub and removes its clone."""

    def __init__(self, bench: subprocess.Popen, kept: str):
        fields = dict(part.split("=", 1) for part in kept.split()[1:])
        self.bench, self.url = bench, fields["url"]
        self.root = Path(fields["clone"])
        self.var = self.root / "var"
        self.port = int(self.url.rsplit(":", 1)[1])
        self.sandbox_base = int(fields["sandbox_base"])
        self.logfile = Path(fields["log"])
        self.env = clean_env(SANDBOX_BASE_PORT=str(self.sandbox_base))
        self.process = self  # wait_for asks the stack's process whether it is still running

    def poll(self) -> int | None:
        return self.bench.poll()

    @property
    def returncode(self) -> int | None:
        return self.bench.returncode

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")

    def stop(self) -> None:
        self._close_console()
        if self.bench.poll() is None:
            self.bench.stdin.close()
            try:
                self.bench.wait(90)
            except subprocess.TimeoutExpired:
                self.bench.kill()
                self.bench.wait(10)
