"""Webhook-to-synced latency, for the CRM bench (`bench/crm_sync.py --provider hubspot` prints
its p95): a record changed in the HubSpot emulator, as a person would, until the hub's record
holds the new value — HubSpot's delivery, the receiver, the queued task, the run reading the
record by id, the write into the hub. Changes go one at a time so each is timed alone.

What it needs running (`serve_hub`, `start_worker`): the hub's receiver on a local HTTP port
the emulator posts to, and a Celery worker taking the tasks from the broker (not eager: a
webhook never runs a sync in its request). Usable on its own too:

    latency = measure(sandbox, changes, arrived)   # seconds, one per change
    print(f"webhook_p95_s={p95(latency):.2f}")
"""

import math
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager


def serve_hub() -> tuple[str, Callable[[], None]]:
    """The hub (its WSGI app, this process's settings and database) on a free local port, in a
    thread: (base URL, stop)."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from django.core.wsgi import get_wsgi_application

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, get_wsgi_application(), Server, Quiet)
    threading.Thread(target=server.serve_forever, name="hub", daemon=True).start()
    host, port = server.server_address[:2]

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://{host}:{port}", stop


@contextmanager
def start_worker():
    """A Celery worker in a thread of this process, on the configured broker."""
    from celery.contrib.testing.worker import start_worker as celery_worker

    from config.celery import app

    app.conf.task_always_eager = False
    with celery_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


def subscribe(sandbox, hub_url: str, properties: tuple[str, ...]) -> dict:
    """The hub's HubSpot app pointed at the hub's receiver, subscribed to creations, deletions
    and changes of `properties` (what the hub's mappings read)."""
    return sandbox.hubspot_webhooks(
        f"{hub_url.rstrip('/')}/hooks/hubspot/",
        events=("creation", "deletion"),
        properties=properties,
    )


def measure(
    sandbox,
    changes: list[tuple[str, str, dict]],
    arrived: Callable[[int], bool],
    *,
    timeout: float = 30.0,
    poll: float = 0.02,
) -> list[float]:
    """Apply each change (object type, record id, {property: value}) in the emulator as a
    HubSpot user, then wait until `arrived(i)` says the hub holds it; its seconds, in order.
    A change that never arrives within `timeout` raises (a lost change is a failure, not a
    slow one)."""
    seconds = []
    for index, (object_type, record_id, properties) in enumerate(changes):
        began = time.monotonic()
        sandbox.hubspot_edit(object_type, record_id, properties)
        while not arrived(index):
            if time.monotonic() - began > timeout:
                raise RuntimeError(
                    f"change {index} ({object_type} {record_id} {properties}) not in the hub "
                    f"after {timeout:.0f} s"
                )
            time.sleep(poll)
        seconds.append(time.monotonic() - began)
    return seconds


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else float("nan")
