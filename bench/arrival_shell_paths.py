"""What the terminal's shell costs a burst of arrivals, on the raw engine: N at once, each
to its first shell byte, three ways (straight through the SDK, Muelle's hardened spec):

A. create + start (the raw reference of bench/load.py: no shell at all);
B. create + start, then `exec bash -l` with a TTY (what a cold Muelle terminal did until
   2026-12-04, and what its later terminals still do);
C. the container's own process runs `bash -l` on a TTY with stdin open (Muelle's main shell,
   hardening.MAIN_SHELL_COMMAND), reached with `docker attach` made before the start, as
   sandbox/docker_api/containers.create_and_start does (no exec: no runc, no exec process);
D. create + start again, but at most SANDBOX_DOCKER_THREADS (8) in flight, as Muelle's Docker
   thread pool sends them (A, B and C send all N at once, as bench/load.py's raw reference).

Each as starts per second (N / the wall time until the last first byte), in alternating order
(ABCD, DCBA, ABCD) so that a shared machine's drift falls on all three; then B and C per run as a
fraction of A. Removes every container it made (after each timed window).

    .venv/bin/python bench/arrival_shell_paths.py [--students 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import configure_django, first_output, raw_remove, raw_spec, shell_first_output

SHELL = ["/bin/bash", "-l"]


def _create(api: Any, spec: Any, *, own_shell: bool) -> str:
    from sandbox import hardening
    from sandbox.docker_api.containers import create_arguments

    arguments = create_arguments(api, spec)
    if own_shell:
        arguments.update(command=hardening.MAIN_SHELL_COMMAND, tty=True, stdin_open=True)
    return str(api.create_container(**arguments)["Id"])


def start_only(api: Any, spec: Any) -> str:
    container_id = _create(api, spec, own_shell=False)
    api.start(container_id)
    return container_id


def start_and_exec_shell(api: Any, spec: Any) -> str:
    container_id = start_only(api, spec)
    assert shell_first_output(api, container_id, SHELL), "the shell printed nothing"
    return container_id


def own_shell_attached(api: Any, spec: Any) -> str:
    from sandbox.docker_api.containers import attach_tty

    container_id = _create(api, spec, own_shell=True)
    # Attached before the start, so the first byte cannot be missed.
    stream = attach_tty(api, container_id)
    api.start(container_id)
    assert first_output(stream), "the shell printed nothing"
    return container_id


WAYS: dict[str, tuple[str, Callable[[Any, Any], str]]] = {
    "A": ("create + start", start_only),
    "B": ("+ exec bash -l", start_and_exec_shell),
    "C": ("own shell, attach", own_shell_attached),
    "D": ("A, pool's threads", start_only),
}


def rate(job: Callable[[Any, Any], str], n: int, in_flight: int) -> float:
    from sandbox import engine

    specs = [raw_spec() for _ in range(n)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as threads:
        futures = [threads.submit(engine.call_sync, job, spec) for spec in specs]
        made = [future.result() for future in futures]
    wall = time.perf_counter() - started
    raw_remove(made)
    return n / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=50)
    args = parser.parse_args()
    assert args.students <= 200, "bounded: at most 200 at once"
    with tempfile.TemporaryDirectory(prefix="muelle-shell-paths-") as tmp:
        configure_django(Path(tmp) / "db.sqlite3", f"bench-shell-paths-{os.getpid()}")
        rates: dict[str, list[float]] = {key: [] for key in WAYS}
        from django.conf import settings

        pool = settings.SANDBOX_DOCKER_THREADS
        for order in ("ABCD", "DCBA", "ABCD"):
            for key in order:
                in_flight = pool if key == "D" else args.students
                rates[key].append(rate(WAYS[key][1], args.students, in_flight))
            print(
                f"load average {os.getloadavg()[0]:5.1f}: "
                + ", ".join(f"{key} {rates[key][-1]:.2f}/s" for key in WAYS),
                flush=True,
            )
        for key, (name, _job) in WAYS.items():
            runs = " / ".join(f"{r:.2f}" for r in rates[key])
            line = f"{key}. {name:18s} {statistics.median(rates[key]):5.2f}/s ({runs})"
            if key != "A":
                ratios = [r / a for r, a in zip(rates[key], rates["A"], strict=True)]
                line += (
                    f"   / A: {statistics.median(ratios):.2f} "
                    f"({' / '.join(f'{x:.2f}' for x in ratios)})"
                )
            print(line)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
