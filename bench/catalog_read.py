"""Reading the whole course again in the same process (lessons.catalog from empty caches, as
after `clear_caches()`: every lesson's file read and checked), with each front matter
remembered by lessons.frontmatter.read, beside the raw reference: the same build with that
memo emptied too, so every front matter is parsed as at a process's first read.

The two ways take turns (--rounds times each); the CPU time of this process is measured
(process_time: what the build costs, whatever else runs on the machine), the wall time beside.

    .venv/bin/python bench/catalog_read.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import configure_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    configure_django(Path(tempfile.mkdtemp()) / "db.sqlite3", f"bench-catalog-{os.getpid()}")

    from lessons import catalog, frontmatter

    catalog.clear_caches()
    lessons = len(catalog.get_catalog().lessons)  # imports and warms what is not the build
    cpu: dict[bool, list[float]] = {True: [], False: []}
    wall: dict[bool, list[float]] = {True: [], False: []}
    for _round in range(args.rounds):
        for remembered in (True, False):
            catalog.clear_caches()
            if not remembered:
                frontmatter.forget_reads()
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            catalog.get_catalog()
            cpu[remembered].append(time.process_time() - cpu_start)
            wall[remembered].append(time.perf_counter() - wall_start)

    print(f"the course: {lessons} lessons, {args.rounds} builds each way, taking turns")
    for remembered, label in (
        (True, "read again, front matter remembered"),
        (False, "raw reference: every front matter parsed"),
    ):
        print(
            f"  {label:42} CPU p50 {statistics.median(cpu[remembered]) * 1000:7.1f} ms   "
            f"wall p50 {statistics.median(wall[remembered]) * 1000:7.1f} ms"
        )
    ratio = statistics.median(cpu[True]) / statistics.median(cpu[False])
    print(f"  CPU ratio {ratio:5.2f} (remembered / parsed)   load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
