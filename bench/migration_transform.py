"""The migration's transform alone (Extract → Plan, no I/O) on the issue's bench project:
5,000 tasks in an outline 6 deep, 200 resources, 8,000 assignments, 4,000 links, one custom
field, through the shipped mapping sets compiled once.

The hub's CPU per task is the figure: next to the load (Smartsheet takes at most 500 rows a
call at 300 calls a minute) it must not matter. bench/migration.py measures the whole run.

Last line: RESULT tasks=<n> transform_s=<x> us_per_task=<y> issues=<k>
"""

import sys
import time

from _setup import ROOT, django_setup, scaled

TASKS = scaled(5_000, minimum=50)


def main() -> None:
    django_setup()
    sys.path.insert(0, str(ROOT))
    from migration.transform import TransformSettings, plan_migration
    from tests.migration.factories import generated

    extract = generated(
        tasks=TASKS,
        depth=6,
        resources=scaled(200, minimum=10),
        assignments=scaled(8_000, minimum=80),
        links=scaled(4_000, minimum=40),
    )
    settings = TransformSettings()
    plan_migration([extract], settings=settings)  # warm: imports, the rules' caches
    runs = []
    for _ in range(3):
        began = time.process_time()
        plan = plan_migration([extract], settings=settings)
        runs.append(time.process_time() - began)
    best = min(runs)
    tasks_sheet = plan.workspaces[0].sheets[0]
    print(
        f"  {len(tasks_sheet.rows):,} rows, {len(tasks_sheet.columns)} columns, "
        f"{sum(len(p.predecessors) for p in tasks_sheet.predecessors):,} predecessors, "
        f"{len(plan.issues)} issues"
    )
    print(f"  CPU per run: {', '.join(f'{r:.3f} s' for r in runs)} (best of 3 counted)")
    print(
        f"RESULT tasks={TASKS} transform_s={best:.3f} us_per_task={best / TASKS * 1e6:.1f} "
        f"issues={len(plan.issues)}"
    )


if __name__ == "__main__":
    main()
