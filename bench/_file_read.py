"""Reading an MS Project file for the migration benches: `timed_read` is what
`bench/migration.py --source file PATH` times as `read_s`; `bench_file` makes the issue's
bench project (5,000 tasks in an outline 6 deep, 200 resources, 8,000 assignments, 4,000
links) as an MSPDI file, since mpxj writes no MPP, kept under var/bench for the next run."""

import time
from pathlib import Path

from _setup import ROOT


def start_jvm() -> float:
    """Seconds to start this process's JVM (once; later calls cost nothing)."""
    from migration.sources import file as source

    began = time.perf_counter()
    source.start_jvm()
    return time.perf_counter() - began


def timed_read(path: str | Path, *, name: str | None = None):
    """(Extract, read_s): the file read into the seed's entity model, the JVM already up."""
    from migration.sources import file as source

    start_jvm()
    began = time.perf_counter()
    extract = source.read_file(path, name=name)
    return extract, time.perf_counter() - began


def bench_file(*, tasks: int, depth: int, resources: int, assignments: int, links: int) -> Path:
    """The generated bench project as an MSPDI file (written once per size)."""
    from tests.migration.factories import generated
    from tests.migration.project_files import write_mspdi

    path = ROOT / "var" / "bench" / f"project-{tasks}-{depth}-{resources}-{assignments}-{links}.xml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        extract = generated(
            tasks=tasks, depth=depth, resources=resources, assignments=assignments, links=links
        )
        partial = path.with_suffix(".part")
        write_mspdi(extract, partial)
        partial.rename(path)
    return path
