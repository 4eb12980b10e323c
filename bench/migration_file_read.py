"""Reading an MS Project file into the migration's entity model (issue 18): the file source
(mpxj in a JVM, migration.sources.file) on the issue's bench project, 5,000 tasks in an outline
6 deep, 200 resources, 8,000 assignments, 4,000 links, written as MSPDI XML by mpxj (it writes
no MPP); or on the file given (`bench/migration_file_read.py PATH`).

Figures: the JVM's start (once per worker process), the first read after it (what a worker's
first file costs: class loading and a cold JIT included) and the best of two more reads (a
worker that has read files before). Target: ≤ 5 s for a 5,000-task file after the JVM is up.

The CPU the first read took (this process's, JVM threads included) is shown too: on a shared
machine the wall time is the CPU time plus the wait for a core.

Last line: RESULT tasks=<n> jvm_s=<x> read_s=<x> read_cpu_s=<x> warm_read_s=<x> assignments=<n>
  links=<n>
"""

import sys
import time

from _file_read import bench_file, start_jvm, timed_read
from _setup import django_setup, scaled


def main() -> None:
    django_setup()
    paths = [a for a in sys.argv[1:] if not a.startswith("-")]
    if paths:
        path = paths[0]
    else:
        print("Writing the bench project as MSPDI (once; kept under var/bench)...", flush=True)
        path = bench_file(
            tasks=scaled(5_000, minimum=50),
            depth=6,
            resources=scaled(200, minimum=10),
            assignments=scaled(8_000, minimum=80),
            links=scaled(4_000, minimum=40),
        )
    jvm_s = start_jvm()
    cpu = time.process_time()
    extract, read_s = timed_read(path)
    read_cpu = time.process_time() - cpu
    warm = min(timed_read(path)[1] for _ in range(2))
    print(
        f"  {path}: {len(extract.tasks):,} tasks, {len(extract.resources):,} resources, "
        f"{len(extract.assignments):,} assignments, {len(extract.links):,} links, "
        f"{len(extract.issues)} extraction issues"
    )
    print(
        f"  JVM start {jvm_s:.2f} s; first read {read_s:.2f} s ({read_cpu:.2f} s of CPU); "
        f"warm read {warm:.2f} s"
    )
    print(
        f"RESULT tasks={len(extract.tasks)} jvm_s={jvm_s:.3f} read_s={read_s:.3f} "
        f"read_cpu_s={read_cpu:.3f} warm_read_s={warm:.3f} assignments={len(extract.assignments)} links={len(extract.links)}"
    )


if __name__ == "__main__":
    main()
