"""A project of 2,000 timeline entities synced to Smartsheet (the emulator, at Smartsheet's
real limit of 300 requests a minute per token, attachments weighing 10), then an incremental
sync of 10 changes. Runs go through the Celery task (executed in this process) and the
official SDK over TLS; call counts come from the emulator's control plane.

The project: 40 task blocks, each with 20 purchase orders, 20 work orders, 8 comments and one
attachment (40 + 40 × 49 = 2,000 entities, 2,000 rows).

Call floor of the full sync, from the API's rules:
  Σ over row locations ceil(rows there / 500)   Add Rows takes 500 rows, all at one location
                                               (error 1123 refuses mixed parentIds): the task
                                               blocks at the bottom, then each block's children
  + one Add Discussion per comment             (no bulk endpoint)
  + one attachment upload per file             (no bulk endpoint)
  + fixed reads                                (none: a first sync has nothing to compare)
Wall-time floor: Smartsheet counts units in a sliding minute, so at most 300 in any 60 s:
N units cannot take less than (ceil(N / 300) - 1) minutes (the first 300 at once).
The incremental sync (8 edits, 2 new purchase orders under one block) needs one read of rows
changed in Smartsheet since the last sync (last-write-wins), one Update Rows, one Add Rows.

Last line: RESULT calls=<n> floor=<n> calls_ratio=<x> retries_pct=<x> p95_batch_s=<x>
incremental_calls=<n> wall_s=<x> floor_s=<x> wall_ratio=<x> (wall time against the rate-limit
floor; n/a when a small run fits one minute's allowance)
"""

import math
import time
from decimal import Decimal

from _setup import Watch, fresh_database, scaled, start_sandbox

BLOCKS = scaled(40)
PER_BLOCK = {"purchaseorder": 20, "workorder": 20, "comment": 8, "attachment": 1}
ROWS_PER_REQUEST = 500
ATTACHMENT_WEIGHT = 10


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def main() -> None:
    fresh_database("projects-sync")
    from django.conf import settings

    from config.celery import app
    from integrations.connections import http
    from integrations.connections.oauth import flow
    from integrations.sandbox.client import SandboxClient
    from projects import services
    from projects.models import ProjectSyncRun, PurchaseOrder, TaskBlock, WorkOrder
    from tests.projects.helpers import add, timeline

    app.conf.task_always_eager = True  # the worker's task, run here
    server = start_sandbox(["smartsheet"])
    sandbox = SandboxClient(server)
    limit, window = settings.PROVIDER_RATE_LIMITS["smartsheet"]

    from integrations.accounts import services as accounts
    from integrations.accounts.models import User

    user = User.objects.create_user(email="bench@example.com", password=None)
    workspace = accounts.workspace_create(name="Bench", creator=user)
    started = flow.oauth_start(user=user, workspace=workspace, provider="smartsheet", domain="")
    flow.oauth_callback(
        user=user, provider="smartsheet", params=sandbox.consent(started["authorize_url"])
    )
    project = services.project_create(
        workspace=workspace, actor=user, number="B-2000", name="Bench Tower"
    )
    services.sheet_provision(project=project, actor=user)

    print(f"Building a timeline of {BLOCKS * (1 + sum(PER_BLOCK.values()))} entities...")
    made = timeline(project, user, task_blocks=BLOCKS, per_block=PER_BLOCK)
    comments = BLOCKS * PER_BLOCK["comment"]
    files = BLOCKS * PER_BLOCK["attachment"]
    children = sum(PER_BLOCK.values())
    floor = (
        math.ceil(BLOCKS / ROWS_PER_REQUEST)
        + BLOCKS * math.ceil(children / ROWS_PER_REQUEST)
        + comments
        + files
    )
    units_floor = floor - files + files * ATTACHMENT_WEIGHT
    wall_floor = (math.ceil(units_floor / limit) - 1) * window

    def sync(direction: str):
        sandbox.clear_calls("smartsheet")
        watch = Watch(
            lambda: ProjectSyncRun.objects.filter(project=project).order_by("-pk").first()
        )
        watch.start()
        with http.track() as stats:
            began, began_at = time.monotonic(), time.time()
            # Eager: the task runs to its end as sync_request commits.
            run = services.sync_request(project=project, actor=user, direction=direction)
            seconds = time.monotonic() - began
        calls = sandbox.calls("smartsheet")
        calls["began_at"] = began_at
        watch.stopped.set()
        run = ProjectSyncRun.objects.get(pk=run.pk)
        return run, stats, seconds, calls

    def timeline(calls: dict, seconds: float) -> None:
        """Where the time over the floor goes: each minute's sends replay the first minute's
        spacing, so the run ends (minutes of floor) + (time to send the first N mod limit
        units) + (work before the first request and after the last)."""
        log, units, marks = calls["log"], 0, []
        remainder = units_floor - limit * (math.ceil(units_floor / limit) - 1)
        for c in log:
            units += ATTACHMENT_WEIGHT if c["endpoint"].endswith("/attachments") else 1
            if units >= remainder and not marks:
                marks.append(c["t"])
        first, last = log[0]["t"] - calls["began_at"], log[-1]["t"] - calls["began_at"]
        print(
            f"  timeline: first request at +{first:.1f} s; the first {remainder} units sent by "
            f"+{marks[0] - calls['began_at']:.1f} s; last request at +{last:.1f} s, "
            f"run closed at +{seconds:.1f} s"
        )

    print(
        f"Full sync to Smartsheet: {len(made)} rows, {comments} comments, {files} files, "
        f"at {limit} requests per {window:g} s..."
    )
    run, stats, seconds, calls = sync("outbound")
    made_calls = calls["total"]
    answered = {int(k): v for k, v in calls["by_status"].items() if k.isdigit()}
    resent = sum(v for status, v in answered.items() if status == 429 or status >= 500)
    batches = [
        s
        for method, path, status, s in stats.attempts
        if method in ("POST", "PUT") and path.endswith("/rows") and status == 200
    ]
    server_batches = [
        c["ms"] / 1000
        for c in calls["log"]
        if c["endpoint"].startswith(("POST", "PUT")) and c["path"].endswith("/rows")
    ]
    p95 = percentile(batches, 0.95)
    first_call = calls["log"][0]["t"] if calls["log"] else 0
    for c in calls["log"]:
        if c["status"] != 200:
            print(f"  answered {c['status']}: {c['endpoint']} at +{c['t'] - first_call:.1f} s")
    print(f"  run: {run.status}: {run.message}")
    print(f"  API calls (emulator): {made_calls}, floor {floor}: {made_calls / floor:.3f} x floor")
    for endpoint, count in sorted(calls["by_endpoint"].items(), key=lambda kv: -kv[1]):
        print(f"      {count:>5}  {endpoint}")
    print(
        f"  retries: {resent} of {made_calls} answers were 429/5xx ({100 * resent / made_calls:.2f} %); "
        f"the run counted {run.retries} retries"
    )
    print(
        f"  row batches: {len(batches)}, p95 {p95:.3f} s (max {max(batches):.3f} s); "
        f"emulator-side p95 {percentile(server_batches, 0.95):.3f} s"
    )
    # Up to 300 units go at once: a small run (BENCH_SCALE) has no rate-limit floor at all.
    versus = (
        f": {seconds / wall_floor:.2f} x floor"
        if wall_floor
        else " (within one minute's allowance)"
    )
    print(
        f"  wall: {seconds:.1f} s against a rate-limit floor of {wall_floor:.1f} s "
        f"({units_floor} request units){versus}"
    )
    if wall_floor:
        timeline(calls, seconds)
    if run.status != "succeeded":
        raise SystemExit(f"the full sync did not succeed: {run.message} {run.errors[:5]}")

    print("Incremental sync: 8 edits and 2 new purchase orders under one task block...")
    blocks = list(TaskBlock.objects.filter(project=project).order_by("pk")[:2])
    for n, po in enumerate(PurchaseOrder.objects.filter(project=project).order_by("pk")[:4]):
        po.amount = Decimal("999.00") + n
        po.save()
    for wo in WorkOrder.objects.filter(project=project).order_by("pk")[:2]:
        wo.status = "complete"
        wo.save()
    for block in blocks:
        block.notes = f"{block.notes} (revised)"
        block.save()
    for n in range(2):
        add(project, user, "purchaseorder", task_block=blocks[0], number=f"PO-X{n}", vendor="Acme")
    incremental, _, inc_seconds, inc_calls = sync("outbound")
    print(f"  run: {incremental.status}: {incremental.message} in {inc_seconds:.1f} s")
    for endpoint, count in sorted(inc_calls["by_endpoint"].items()):
        print(f"      {count:>5}  {endpoint}")
    if (incremental.updated, incremental.created) != (8, 2):
        raise SystemExit(f"the incremental sync wrote {incremental.message}, not 8 + 2")
    server.stop()

    print(
        f"RESULT calls={made_calls} floor={floor} calls_ratio={made_calls / floor:.3f} "
        f"retries_pct={100 * resent / made_calls:.2f} p95_batch_s={p95:.3f} "
        f"incremental_calls={inc_calls['total']} wall_s={seconds:.1f} floor_s={wall_floor:.1f} "
        # A small run (BENCH_SCALE) fits one minute's allowance: no floor to compare with.
        f"wall_ratio={f'{seconds / wall_floor:.3f}' if wall_floor else 'n/a'}"
    )


if __name__ == "__main__":
    main()
