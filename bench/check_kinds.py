"""What each exercise of a lesson (or of the whole course) costs to check, by check kind, with a
class checking at once, beside the raw engine's cost of the same thing in the same run.

Starts one sandbox per student (with its gateway, in this process's event loop, as the web
process does), then for each exercise runs its checks for every student at the same moment and
prints median, p95 and max, with the kinds of checks the exercise has. The exercises are not
done, so most checks fail: the cost of looking is what is measured.

The raw reference, measured in the same run on the same containers, all students at once: one
`docker exec` of `echo` straight through the SDK (what a check in the sandbox would cost without
Muelle), and the engine call a Docker-state check stands for (GET /containers/json with a label
filter). Each exercise's line is followed by its ratio to the reference it answers to: the exec
when it has a check that runs in the sandbox, the engine call when it has only Docker-state ones.

    .venv/bin/python bench/check_kinds.py [--students 20] [--lesson SLUG | --course]

--course measures every exercise of every lesson in content/lessons and ends with the slowest
exercises and kinds by p95: the course's worst check is the figure that matters (issue 13:
p95 ≤ 1 s; issue 15: command checks p95 ≤ 300 ms). Loopback only; bounded in time; every
container it made is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from pathlib import Path

from common import (
    alarm,
    at_once,
    configure_django,
    percentile,
    ratio_line,
    raw_engine_list,
    raw_exec_echo,
    report,
)

DEADLINE = 10 * 60
COURSE_DEADLINE = 40 * 60
RAW_ROUNDS = 3
WIDTH = 64


async def measure(slugs: list[str], students: int, instance: str) -> None:
    from django.conf import settings

    from exercises import catalog
    from exercises.checks import from_gateway, run_checks
    from exercises.runner import Step, run_steps
    from exercises.spec import Exercise
    from sandbox import engine
    from sandbox.terminals import owner_key

    settings.SANDBOX_WARM_POOL = 0
    lessons = []
    for slug in slugs:
        lesson = catalog.for_lesson(slug)
        if lesson is None or not lesson.exercises:
            raise SystemExit(f"No lesson with exercises called {slug!r}.")
        lessons.append(lesson)
    print(
        f"Muelle check kinds bench ({os.cpu_count()} CPUs, {students} students, "
        f"{'the whole course: ' if len(slugs) > 1 else 'lesson '}{', '.join(slugs)})",
        flush=True,
    )
    owners = [owner_key("bench-kinds:" + secrets.token_hex(8)) for _ in range(students)]
    boxes = list(await asyncio.gather(*(engine.acquire(owner) for owner in owners)))
    containers = [box.container_id for box in boxes]
    try:
        # A student's first check starts the sandbox's resident agent (sandbox/check_agent.py):
        # measured on its own, so that the figures below are the steady state a class sees.
        async def first(box: engine.Sandbox) -> float:
            started = time.perf_counter()
            await run_steps(box, [Step("sh", "true")])
            return time.perf_counter() - started

        starts = list(await asyncio.gather(*(first(box) for box in boxes)))
        report(f"first check of {students} at once (starts the agent)", starts, "once", WIDTH)
        raw_exec: list[float] = []
        raw_list: list[float] = []
        for _round in range(RAW_ROUNDS):
            raw_exec += await asyncio.to_thread(at_once, raw_exec_echo, containers)
            raw_list += await asyncio.to_thread(at_once, raw_engine_list, [instance] * students)
        report(f"raw engine: exec of echo, {students} at once", raw_exec, "reference", WIDTH)
        report(f"raw engine: GET /containers/json, {students} at once", raw_list, "ref.", WIDTH)
        figures: list[tuple[float, str, set[str]]] = []
        for lesson in lessons:
            for exercise in lesson.exercises:

                async def one(box: engine.Sandbox, exercise: Exercise = exercise) -> float:
                    started = time.perf_counter()
                    await run_checks(exercise, box, "x")
                    return time.perf_counter() - started

                seconds = list(await asyncio.gather(*(one(box) for box in boxes)))
                kinds = {type(check).__name__ for check in exercise.checks}
                label = f"{lesson.slug}/{exercise.id}"
                report(f"{label} ({'+'.join(sorted(kinds))})", seconds, "p95 ≤ 1000 ms", WIDTH)
                in_sandbox = any(not from_gateway(c) for c in exercise.checks)
                raw, what = (raw_exec, "exec") if in_sandbox else (raw_list, "engine GET")
                ratio_line(
                    f"  p95 vs raw {what}",
                    percentile(seconds, 0.95) * 1000,
                    percentile(raw, 0.95) * 1000,
                    "ms",
                    WIDTH,
                )
                figures.append((percentile(seconds, 0.95), label, kinds))
        if len(figures) > 1:
            summarise(figures, percentile(raw_exec, 0.95))
    finally:
        for box in boxes:
            await engine.remove_now(box.container_id, end_gateway_of=box.owner)
        await engine.stop_background_tasks()


def summarise(figures: list[tuple[float, str, set[str]]], raw_exec_p95: float) -> None:
    """The slowest exercises, and for each kind the worst p95 of an exercise that has it."""
    figures.sort(reverse=True)
    print("\nSlowest exercises (p95, all students at once):", flush=True)
    for p95, label, kinds in figures[:10]:
        print(f"  {p95 * 1000:8.1f} ms  {label} ({'+'.join(sorted(kinds))})", flush=True)
    worst_by_kind: dict[str, tuple[float, str]] = {}
    for p95, label, kinds in figures:
        for kind in kinds:
            if p95 > worst_by_kind.get(kind, (0.0, ""))[0]:
                worst_by_kind[kind] = (p95, label)
    print("Worst p95 of an exercise with each kind:", flush=True)
    for kind, (p95, label) in sorted(worst_by_kind.items(), key=lambda item: -item[1][0]):
        print(f"  {kind:<16} {p95 * 1000:8.1f} ms  ({label})", flush=True)
    worst, label, _kinds = figures[0]
    ratio_line(
        f"course's slowest check ({label}) p95 vs raw exec",
        worst * 1000,
        raw_exec_p95 * 1000,
        "ms",
        WIDTH,
    )
    print(f"  target p95 ≤ 1000 ms: {'met' if worst <= 1.0 else 'NOT met'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20, help="students checking at once")
    parser.add_argument("--lesson", default="imagenes-a-fondo", help="lesson slug")
    parser.add_argument("--course", action="store_true", help="every lesson with exercises")
    args = parser.parse_args()
    if not 1 <= args.students <= 60:
        parser.error("--students must be 1-60")
    tmp = Path(tempfile.mkdtemp(prefix="muelle-bench-kinds-"))
    instance = f"bench-kinds-{secrets.token_hex(3)}"
    configure_django(tmp / "bench.sqlite3", instance)
    if args.course:
        from exercises import catalog

        slugs = [lesson.slug for lesson in catalog.all_lessons() if lesson.exercises]
    else:
        slugs = [args.lesson]
    with alarm(COURSE_DEADLINE if args.course else DEADLINE):
        asyncio.run(measure(slugs, args.students, instance))


if __name__ == "__main__":
    main()
