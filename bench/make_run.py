"""A fresh clone, `make run`, and the seconds until the sign-in page answers: once with empty
package caches (uv and pip download everything) and once with warm ones (a second clone, a
new .venv, the caches the first run filled). Issue 11's target: ≤ 45 s on this 2-core machine.

Each run starts from `git clone` of this checkout's HEAD (committed work only), with none of
the hub's variables set, on free ports; its processes are stopped once the page answers.
Run small (BENCH_SCALE < 1, as the README test does), it makes one run on this checkout's
installed .venv: the script end to end, its figure the start-up alone (no install).
Last line: RESULT cold_s=<s> warm_s=<s> target_s=45

`--keep` (small runs only): once the RESULT line is out, the hub it started stays up until
standard input closes; a line `KEPT url=… clone=… log=… sandbox_base=…` before RESULT says where. The README
test uses it to go on with `make run`'s own checks on the same start instead of a second one
(a `make run` costs some 17 s of CPU).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _setup import scaled  # noqa: E402

from tests.environment import clean_env  # noqa: E402
from tests.stack import SANDBOX_PORTS, free_block, free_port  # noqa: E402

TARGET_S = 45


# Lines of `make run`'s output that end a phase: installed (Django's first command starts),
# prepared (the login banner), then the page itself.
PHASES = {"installed": "manage.py run_embedded", "prepared": "Starting web, worker"}


def make_run(
    workdir: Path, name: str, caches: Path, *, venv: Path | None = None, keep: bool = False
) -> float:
    """Seconds from `make run` on a fresh clone to the sign-in page. With `keep`, the hub
    stays up until standard input closes (the caller's signal that it is done with it)."""
    clone = workdir / name
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    if venv is not None:
        # An installed venv, as make leaves it: the clone's requirements keep this checkout's
        # times, so make's install stamps stand and only the start-up is measured.
        (clone / ".venv").symlink_to(venv)
        for pinned in (ROOT / "requirements").glob("*.txt"):
            stat = pinned.stat()
            os.utime(clone / "requirements" / pinned.name, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    port = free_port()
    env = clean_env(
        SANDBOX_BASE_PORT=str(free_block(SANDBOX_PORTS)),
        UV_CACHE_DIR=str(caches / "uv"),
        PIP_CACHE_DIR=str(caches / "pip"),
    )
    log = (workdir / f"{name}.log").open("w")
    started = time.monotonic()
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    seen: dict[str, float] = {}
    try:
        while True:
            output = (workdir / f"{name}.log").read_text(errors="replace")
            for phase, line in PHASES.items():
                if phase not in seen and line in output:
                    seen[phase] = time.monotonic() - started
            if process.poll() is not None:
                raise SystemExit(f"make run exited {process.returncode}: see {log.name}")
            try:
                page = requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
                if page.status_code == 200 and "password" in page.text:
                    total = time.monotonic() - started
                    steps = ", ".join(f"{phase} at {at:.1f} s" for phase, at in seen.items())
                    print(f"  ({steps})")
                    if keep:
                        print(
                            f"KEPT url=http://127.0.0.1:{port} clone={clone} log={log.name}"
                            f" sandbox_base={env['SANDBOX_BASE_PORT']}"
                        )
                        print(f"RESULT cold_s=not-measured warm_s={total:.1f} target_s={TARGET_S}")
                        sys.stdout.flush()
                        sys.stdin.read()
                    return total
            except requests.RequestException:
                pass
            if time.monotonic() - started > 600:
                raise SystemExit(f"no sign-in page after 600 s: see {log.name}")
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
        log.close()


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="hub-make-run-"))
    caches = workdir / "caches"
    cold = None
    try:
        if scaled(2) > 1:
            print("make run on a fresh clone, empty package caches...")
            cold = make_run(workdir, "cold", caches)
            print(f"  sign-in page after {cold:.1f} s")
            print("make run on another fresh clone, the caches now warm...")
            warm = make_run(workdir, "warm", caches)
        else:  # BENCH_SCALE: the script end to end, without the install it would time
            print("make run on a fresh clone, with this checkout's installed .venv...")
            keep = "--keep" in sys.argv[1:]
            warm = make_run(workdir, "warm", caches, venv=(ROOT / ".venv").resolve(), keep=keep)
            if keep:
                return
        print(f"  sign-in page after {warm:.1f} s (target {TARGET_S} s)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    cold_s = f"{cold:.1f}" if cold is not None else "not-measured"
    print(f"RESULT cold_s={cold_s} warm_s={warm:.1f} target_s={TARGET_S}")


if __name__ == "__main__":
    main()
