"""The first class after a restart: 50 first visits to a lesson at once, a few seconds after the
server started, with the start-up warm-up (LESSON_PAGE_WARM_UP, lessons/warm_up.py) and without.

Each round starts the real app (uvicorn, DEBUG=0, its own SQLite file, no warm pool: nothing
else runs) once per setting, waits --settle seconds after it listens, then sends --students
first visits (no cookies) to the lesson at once, and right after the same again: the raw
reference, the same server once every one-time cost is paid. Prints p50 and max of each, and
the ratio first/again (1.0: the first class is served like any later one). Rounds alternate the
settings; the summary gives the medians.

    .venv/bin/python bench/page_warm_up.py [--students 50] [--rounds 3] [--settle 3]

Loopback only; nothing asserted: figures to read.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import configure_django

from harness.live_server import LiveServer, remove_containers

LESSON = "/lecciones/que-es-docker/"


def visits(url: str, count: int) -> list[float]:
    """`count` first visits (no cookies) at once; milliseconds each, sorted."""

    def one(_: int) -> float:
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310
            response.read()
            assert response.status == 200
        return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(count) as threads:
        return sorted(threads.map(one, range(count)))


def one_server(folder: Path, warm_up: bool, students: int, settle: float) -> dict[str, float]:
    db = folder / f"db-{int(warm_up)}-{time.monotonic_ns()}.sqlite3"
    server = LiveServer(
        db,
        f"bench-warm-up-{time.monotonic_ns()}",
        SANDBOX_WARM_POOL="0",
        LESSON_PAGE_WARM_UP="1" if warm_up else "0",
    )
    server.migrate()
    server.start()
    try:
        time.sleep(settle)
        first = visits(server.url + LESSON, students)
        again = visits(server.url + LESSON, students)
    finally:
        server.stop()
        remove_containers(server.instance)
    return {
        "first_p50": statistics.median(first),
        "first_max": first[-1],
        "again_p50": statistics.median(again),
        "again_max": again[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args()
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="muelle-warm-up-") as tmp:
        configure_django(Path(tmp) / "bench.sqlite3", f"bench-warm-up-{int(time.time())}")
        for round_number in range(args.rounds):
            for warm_up in (True, False) if round_number % 2 == 0 else (False, True):
                r = one_server(Path(tmp), warm_up, args.students, args.settle)
                results[warm_up].append(r)
                print(
                    f"round {round_number + 1}, warm-up {'on ' if warm_up else 'off'}: "
                    f"first class p50 {r['first_p50']:.0f} ms max {r['first_max']:.0f} ms; "
                    f"again (raw reference) p50 {r['again_p50']:.0f} ms max "
                    f"{r['again_max']:.0f} ms; first/again p50 "
                    f"{r['first_p50'] / r['again_p50']:.2f}",
                    flush=True,
                )
    print(f"\nmedians of {args.rounds} rounds, {args.students} first visits at once:")
    for warm_up in (True, False):
        rows = results[warm_up]
        first = statistics.median(r["first_p50"] for r in rows)
        again = statistics.median(r["again_p50"] for r in rows)
        ratio = statistics.median(r["first_p50"] / r["again_p50"] for r in rows)
        print(
            f"  warm-up {'on ' if warm_up else 'off'}: first class p50 {first:.0f} ms, "
            f"again p50 {again:.0f} ms, first/again (median of the rounds' ratios) {ratio:.2f}"
        )


if __name__ == "__main__":
    main()
