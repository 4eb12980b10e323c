"""One Project Online project migrated into the Smartsheet emulator: 5,000 tasks in a work
breakdown 6 levels deep, 200 resources, 8,000 assignments, 4,000 links, generated in the Project
Online emulator (POST /_sandbox/project-online/generate), then the whole pipeline: extracted
through the ProjectData feed and ProjectServer (migration.sources.project_online), planned by the
seed's rules (migration.transform), loaded (migration.load) through the official SDK over TLS at
Smartsheet's real limit of 300 requests a minute per token. API calls come from the emulators'
control planes.

Call floor of a first load, from Smartsheet's rules:
  PMO Standards: 1 workspace + per reference sheet 1 create + 1 add of its values
  + 1 workspace per project
  + 1 create per sheet (Resources and Summary with their columns in the create call)
  + for the Tasks sheet made from the project-sheet template: 1 read of its columns (the
    create-from-template answer lists none), 1 add per run of adjacent new columns (one common
    index per add-columns call), 1 update per template column renamed (no bulk column update)
  + Σ over parent locations ceil(rows there / 500): Add Rows takes 500 rows, all at ONE
    location (the top, or under one parentId: error 1123 refuses mixed locations; "to indent
    or outdent several rows, use parentId": SPEC-SS "Specify Row Location"). Adding flat and
    indenting afterwards needs one Update Rows per new parent too (`indent` moves one row), so
    no approach needs fewer calls than one per parent location.
  + ceil(rows with predecessors / 500): Update Rows, 500 rows each
Wall-time floor: at most 300 requests in any 60 s, the first 300 at once: N requests cannot
take less than (ceil(N / 300) - 1) minutes.
Hub CPU per task: this thread's CPU time in extract, transform and load, each shown (the
emulators run in another thread).

`--small` (or BENCH_SCALE=0.05): 5 % of the project, to see that it works end to end.

`--source file [PATH]` (issue 18): the project read from an MS Project file instead
(migration.sources.file, mpxj in a JVM started before the clock): PATH, else the same bench
project written as MSPDI by mpxj (it writes no MPP; kept under var/bench). `read_s` is the
read's time; the rest of the run is the same.

Last line: RESULT tasks=<n> calls=<n> floor=<n> calls_ratio=<x> wall_s=<x> floor_s=<x>
  (with --source file also: read_s=<x>)
"""

import math
import os
import sys
import time

if "--small" in sys.argv:
    os.environ.setdefault("BENCH_SCALE", "0.05")

from _setup import fresh_database, scaled, start_sandbox  # noqa: E402

TASKS = scaled(5000, minimum=20)
RESOURCES = scaled(200, minimum=5)
ASSIGNMENTS = scaled(8000, minimum=20)
LINKS = scaled(4000, minimum=10)
DEPTH = 6


def _file_source() -> tuple[bool, str | None]:
    """(--source file given, its PATH or None)."""
    args = sys.argv[1:]
    if "--source" not in args:
        return False, None
    at = args.index("--source")
    if args[at + 1 : at + 2] != ["file"]:
        raise SystemExit("--source takes 'file' (Project Online is the default)")
    rest = [a for a in args[at + 2 : at + 3] if not a.startswith("-")]
    return True, rest[0] if rest else None


def main() -> None:
    fresh_database("migration")
    from django.conf import settings

    from integrations.accounts import services as accounts
    from integrations.accounts.models import User
    from integrations.connections.oauth import flow
    from integrations.sandbox.client import SandboxClient
    from integrations.sandbox.smartsheet_sheets import PROJECT_TEMPLATE_COLUMNS
    from migration import load
    from migration.links import RowLink
    from migration.sources import project_online as source
    from migration.transform import TransformSettings, plan_migration
    from tests.integrations.helpers import connect_project_online

    server = start_sandbox(["smartsheet", "azure", "project-online"])
    sandbox = SandboxClient(server)
    limit, window = settings.PROVIDER_RATE_LIMITS["smartsheet"]
    user = User.objects.create_user(email="bench@example.com", password=None)
    workspace = accounts.workspace_create(name="Bench", creator=user)
    started = flow.oauth_start(user=user, workspace=workspace, provider="smartsheet", domain="")
    connection = flow.oauth_callback(
        user=user, provider="smartsheet", params=sandbox.consent(started["authorize_url"])
    )

    from_file, path = _file_source()
    file_read_s = None
    if from_file:
        from _file_read import bench_file, start_jvm, timed_read

        if path is None:
            print(
                f"The bench project as an MSPDI file: {TASKS} tasks (depth {DEPTH}), "
                f"{RESOURCES} resources, {ASSIGNMENTS} assignments, {LINKS} links..."
            )
            path = bench_file(
                tasks=TASKS, depth=DEPTH, resources=RESOURCES, assignments=ASSIGNMENTS, links=LINKS
            )
        print(f"  JVM started in {start_jvm():.2f} s")
        cpu = time.thread_time()
        extract, file_read_s = timed_read(path)
        extract_cpu = time.thread_time() - cpu
        print(
            f"  read {path} in {file_read_s:.2f} s: {len(extract.tasks)} tasks, "
            f"{len(extract.resources)} resources, {len(extract.assignments)} assignments, "
            f"{len(extract.links)} links, {len(extract.issues)} extraction issues"
        )
    else:
        print(
            f"Generating the project in the Project Online emulator: {TASKS} tasks (depth {DEPTH}), "
            f"{RESOURCES} resources, {ASSIGNMENTS} assignments, {LINKS} links..."
        )
        generated = sandbox.control(
            "project-online",
            "POST",
            "project-online/generate",
            {
                "name": "Bench Tower",
                "tasks": TASKS,
                "depth": DEPTH,
                "resources": RESOURCES,
                "assignments": ASSIGNMENTS,
                "links": LINKS,
            },
        )
        online = connect_project_online(user=user, workspace=workspace)
        sandbox.clear_calls("project-online")
        began, cpu = time.monotonic(), time.thread_time()
        extract = source.extract_project(online, generated["project_id"])
        read_s, extract_cpu = time.monotonic() - began, time.thread_time() - cpu
        read_calls = sandbox.calls("project-online")["total"]
        print(
            f"  extracted in {read_s:.1f} s, {read_calls} Project Online calls: {len(extract.tasks)} "
            f"tasks, {len(extract.resources)} resources, {len(extract.assignments)} assignments, "
            f"{len(extract.links)} links"
        )
    cpu = time.thread_time()
    plan = plan_migration([extract], settings=TransformSettings())
    transform_cpu = time.thread_time() - cpu
    tasks = len(extract.tasks)
    errors = [i for i in plan.issues if i.severity == "error"]
    if not from_file and (errors or extract.issues):
        raise SystemExit(
            f"the generated project planned with errors: {(errors or extract.issues)[:5]}"
        )
    tasks_sheet = plan.workspaces[0].sheets[0]
    locations = {row.parent_key for row in tasks_sheet.rows}
    titles = frozenset(title for _, title, _, _ in PROJECT_TEMPLATE_COLUMNS)
    floor = load.floor_calls(plan, template_titles=titles)
    wall_floor = (math.ceil(floor / limit) - 1) * window
    print(
        f"  {len(tasks_sheet.rows)} task rows under {len(locations)} parent locations "
        f"(the top included), {len(tasks_sheet.predecessors)} rows with predecessors; "
        f"floor {floor} calls, {wall_floor:.0f} s at {limit} requests per {window:g} s"
    )

    sandbox.clear_calls("smartsheet")
    shown = {}

    def progress(project_id: str, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - shown.get(stage, 0) >= 10 or done == total:
            shown[stage] = now
            print(f"  {stage:<13} {done}/{total}  +{now - began:.1f} s")

    print("First load...")
    began, cpu = time.monotonic(), time.thread_time()
    result = load.load_plan(plan, connection=connection, hub_workspace=workspace, progress=progress)
    seconds, cpu = time.monotonic() - began, time.thread_time() - cpu
    calls = sandbox.calls("smartsheet")
    made = calls["total"]
    project = result.projects[0]
    for issue in result.issues[:10]:
        print(f"  issue: {issue.severity} {issue.rule} {issue.entity_id}: {issue.message}")
    if result.issues:
        raise SystemExit(f"the load reported {len(result.issues)} issue(s)")
    if RowLink.objects.filter(sheet__remote_id=project.sheet_ids["tasks"]).count() != tasks - len(
        {i.entity_id for i in errors if i.entity == "Task"}
    ):
        raise SystemExit("not every task has its row")
    answered = {int(k): v for k, v in calls["by_status"].items() if k.isdigit()}
    resent = sum(v for status, v in answered.items() if status == 429 or status >= 500)
    print(
        f"  rows: {project.rows_created} created; {project.predecessors_written} predecessor cells"
    )
    print(f"  API calls (emulator): {made}, floor {floor}: {made / floor:.3f} x floor")
    for endpoint, count in sorted(calls["by_endpoint"].items(), key=lambda kv: -kv[1]):
        print(f"      {count:>5}  {endpoint}")
    print(f"  answered 429/5xx: {resent}")
    log = calls["log"]
    if log:
        handlers = sum(c["ms"] for c in log) / 1000
        first = log[min(limit, len(log)) - 1]["t"] - log[0]["t"]
        print(
            f"  emulator time in its handlers: {handlers:.1f} s ({1000 * handlers / len(log):.1f} ms a "
            f"call); the first {min(limit, len(log))} calls sent in {first:.1f} s"
        )
        if len(log) > limit:
            # Past the first minute's allowance call k waits for call k - limit to leave the
            # window: the run cannot end before call (N - limit) + the window.
            paced = log[len(log) - limit - 1]["t"] - log[0]["t"]
            print(
                f"  call {len(log) - limit} (the one the last call waits on) went at +{paced:.1f} s; "
                f"the last at +{log[-1]['t'] - log[0]['t']:.1f} s"
            )
    versus = (
        f": {seconds / wall_floor:.2f} x floor"
        if wall_floor
        else " (within one minute's allowance)"
    )
    print(f"  wall: {seconds:.1f} s against a rate-limit floor of {wall_floor:.1f} s{versus}")
    total_cpu = extract_cpu + transform_cpu + cpu
    print(
        f"  hub CPU: {total_cpu:.2f} s, {total_cpu * 1e6 / tasks:.0f} us per task (extract "
        f"{extract_cpu * 1e6 / tasks:.0f}, transform {transform_cpu * 1e6 / tasks:.0f}, load "
        f"{cpu * 1e6 / tasks:.0f})"
    )

    print("Re-run (nothing changed)...")
    sandbox.clear_calls("smartsheet")
    again = load.load_plan(plan, connection=connection, hub_workspace=workspace)
    rerun = sandbox.calls("smartsheet")
    print(
        f"  {rerun['total']} calls ({dict(rerun['by_endpoint'])}); rows created "
        f"{again.projects[0].rows_created}, updated {again.projects[0].rows_updated}"
    )
    if again.projects[0].rows_created or again.projects[0].rows_updated:
        raise SystemExit("the re-run wrote rows")
    server.stop()
    print(
        f"RESULT tasks={tasks} calls={made} floor={floor} calls_ratio={made / floor:.3f} "
        f"wall_s={seconds:.1f} floor_s={wall_floor:.1f}"
        + (f" read_s={file_read_s:.3f}" if file_read_s is not None else "")
    )


if __name__ == "__main__":
    main()
