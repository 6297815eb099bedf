"""What each exercise of a lesson costs to check, by check kind, with a class checking at once.

Starts one sandbox per student (with its gateway, in this process's event loop, as the web
process does), then for each exercise of the lesson runs its checks for every student at the
same moment and prints median, p95 and max, with the kinds of checks the exercise has. The
exercises are not done, so most checks fail: the cost of looking is what is measured. Shows where
a lesson's «Comprobar» time goes: a `comando` that runs the docker CLI inside the sandbox costs
far more than a Docker-state kind (`contenedor`, `imagen`...), which asks the gateway directly.

    .venv/bin/python bench/check_kinds.py [--students 20] [--lesson SLUG]

Loopback only; bounded in time; every container it made is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from pathlib import Path

from common import alarm, configure_django, report

DEADLINE = 10 * 60


async def measure(slug: str, students: int) -> None:
    from django.conf import settings

    from exercises import catalog
    from exercises.checks import run_checks
    from exercises.spec import Exercise
    from sandbox import engine
    from sandbox.terminals import owner_key

    settings.SANDBOX_WARM_POOL = 0
    lesson = catalog.for_lesson(slug)
    if lesson is None or not lesson.exercises:
        raise SystemExit(f"No lesson with exercises called {slug!r}.")
    print(
        f"Muelle check kinds bench ({os.cpu_count()} CPUs, {students} students, lesson {slug})",
        flush=True,
    )
    owners = [owner_key("bench-kinds:" + secrets.token_hex(8)) for _ in range(students)]
    boxes = list(await asyncio.gather(*(engine.acquire(owner) for owner in owners)))
    try:
        for exercise in lesson.exercises:

            async def one(box: engine.Sandbox, exercise: Exercise = exercise) -> float:
                started = time.perf_counter()
                await run_checks(exercise, box, "x")
                return time.perf_counter() - started

            seconds = list(await asyncio.gather(*(one(box) for box in boxes)))
            kinds = "+".join(sorted({type(check).__name__ for check in exercise.checks}))
            report(f"{exercise.id} ({kinds})", seconds, "target p95 ≤ 1000 ms", 56)
    finally:
        for box in boxes:
            await engine.remove_now(box.container_id, end_gateway_of=box.owner)
        await engine.stop_background_tasks()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20, help="students checking at once")
    parser.add_argument("--lesson", default="imagenes-a-fondo", help="lesson slug")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="muelle-bench-kinds-"))
    configure_django(tmp / "bench.sqlite3", f"bench-kinds-{secrets.token_hex(3)}")
    with alarm(DEADLINE):
        asyncio.run(measure(args.lesson, args.students))


if __name__ == "__main__":
    main()
