"""Reading the whole course (lessons.catalog, every lesson's file read and checked), with the
front matter composed by libyaml where lessons.frontmatter takes it, beside the raw reference:
the same build with every front matter composed by FrontMatterLoader in Python (`fast=False`).

Each build starts from empty caches, as at a server's start or in `check_lessons`; the two ways
take turns (--rounds times each), and the CPU time of this process is measured (process_time:
what the build costs, whatever else runs on the machine), with the wall time beside it.

    .venv/bin/python bench/catalog_read.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import functools
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

    read = frontmatter.read
    catalog.clear_caches()
    lessons = len(catalog.get_catalog().lessons)  # imports and warms what is not the build
    cpu: dict[bool, list[float]] = {True: [], False: []}
    wall: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _round in range(args.rounds):
            for fast in (True, False):
                frontmatter.read = functools.partial(read, fast=fast)  # type: ignore[assignment]
                catalog.clear_caches()
                cpu_start, wall_start = time.process_time(), time.perf_counter()
                catalog.get_catalog()
                cpu[fast].append(time.process_time() - cpu_start)
                wall[fast].append(time.perf_counter() - wall_start)
    finally:
        frontmatter.read = read  # type: ignore[assignment]

    print(f"the course: {lessons} lessons, {args.rounds} builds each way, taking turns")
    for fast, label in (
        (True, "libyaml where it may (as Muelle reads)"),
        (False, "raw reference: Python loader only"),
    ):
        print(
            f"  {label:42} CPU p50 {statistics.median(cpu[fast]) * 1000:7.1f} ms   "
            f"wall p50 {statistics.median(wall[fast]) * 1000:7.1f} ms"
        )
    ratio = statistics.median(cpu[True]) / statistics.median(cpu[False])
    print(f"  CPU ratio {ratio:5.2f} (libyaml way / Python loader)   load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
