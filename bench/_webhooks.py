"""Webhook-to-synced latency, for the CRM bench (`bench/crm_sync.py --provider hubspot` prints
its p95): a record changed in the HubSpot emulator, as a person would, until the hub's record
holds the new value — HubSpot's delivery, the receiver, the queued task, the run reading the
record by id, the write into the hub. Changes go one at a time so each is timed alone.

What it needs running (`serve_hub`, `start_worker`): the hub's receiver on a local HTTP port
the emulator posts to, and a Celery worker taking the tasks from the broker (not eager: a
webhook never runs a sync in its request). `contact_latency(sandbox, config)` does it all for
a linked HubSpot config (the CRM bench: ` webhook_p95_s={p95(seconds):.2f}`); run alone,
this file measures it on the emulator's seeded account:

    python bench/_webhooks.py      # ... RESULT webhook_p95_s=<x> changes=<n>
"""

import math
import os
import sys
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


def contact_latency(sandbox, config, *, changes: int = 50) -> list[float]:
    """Seconds from a HubSpot contact's first name changed (as a person, in the emulator) to the
    linked hub contact holding it, for `changes` linked contacts of `config` (a HubSpot config,
    made real-time here), one at a time."""
    from crm.models import Contact, CrmConfig, CrmLink

    CrmConfig.objects.filter(pk=config.pk).update(sync_frequency=CrmConfig.Frequency.REALTIME)
    links = list(CrmLink.objects.filter(config=config, entity="contact").order_by("pk")[:changes])
    stamp = int(time.time())
    values = [f"Hook{stamp}x{i}" for i in range(len(links))]
    url, stop = serve_hub()
    try:
        subscribe(sandbox, url, ("firstname",))
        with start_worker():

            def arrived(i: int) -> bool:
                return Contact.objects.filter(pk=links[i].local_id, first_name=values[i]).exists()

            return measure(
                sandbox,
                [
                    ("contacts", link.remote_id, {"firstname": v})
                    for link, v in zip(links, values, strict=True)
                ],
                arrived,
            )
    finally:
        stop()


def main() -> None:
    sys.path.insert(0, os.path.dirname(__file__))
    from _setup import fresh_database, start_sandbox

    fresh_database("webhooks")
    from crm import sync
    from crm.models import CrmConfig
    from integrations.accounts import services as accounts
    from integrations.accounts.models import User
    from integrations.connections.services import client
    from integrations.sandbox.client import SandboxClient
    from tests.integrations.helpers import connect

    sandbox = SandboxClient(start_sandbox(["hubspot"]))
    sandbox.control("hubspot", "PUT", "config", {"search_delay": 2.0})  # HubSpot's lag
    user = User.objects.create_user(email="bench@example.com", password=None)
    workspace = accounts.workspace_create(name="Bench", creator=user)
    connection = connect(sandbox, user=user, workspace=workspace, provider="hubspot")
    config = CrmConfig.objects.create(
        workspace=workspace,
        provider="hubspot",
        connection=connection,
        entities=["account", "contact"],
    )
    for entity in ("account", "contact"):  # link both sides first
        sync.run_once(config, entity, client(connection))
    seconds = contact_latency(sandbox, config, changes=int(os.environ.get("CHANGES", "50")))
    print(
        f"median {sorted(seconds)[len(seconds) // 2]:.2f} s, max {max(seconds):.2f} s over "
        f"{len(seconds)} changes"
    )
    print(f"RESULT webhook_p95_s={p95(seconds):.2f} changes={len(seconds)}")


if __name__ == "__main__":
    main()
