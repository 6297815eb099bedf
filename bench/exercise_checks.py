"""Exercise check latency: "Comprobar" clicked (the POST sent) → result received, through a real
server, with a class of students checking at the same moment.

Starts the real app with uvicorn on a free loopback port in a subprocess (its own SQLite database
and SANDBOX_INSTANCE), gives each student a session, then:

* first check of each student, all at once: it also starts the student's container;
* rounds where every student clicks "Comprobar" at the same moment (a barrier), on the lesson's
  exercises in turn, with the containers already running (as after using the terminal).

Prints median and p95 of each, and beside them the raw reference from the same run: one `docker
exec` of `echo` per student straight through the SDK, all at once, with the ratios; then the
server's CPU time per check in those rounds (every thread of its process). Loopback
only; bounded in count and time; every container it made is removed at the end.

    .venv/bin/python bench/exercise_checks.py [--students 20] [--rounds 5] [--lesson SLUG]

Target on the 2-core reference machine: p95 ≤ 300 ms with 20 students checking at once (issue 15).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import (
    alarm,
    at_once,
    beside_raw,
    configure_django,
    make_sessions,
    raw_exec_echo,
    report,
)
from load import cpu_seconds

from harness.live_server import LiveServer

DEADLINE = 10 * 60  # the whole run, seconds
REQUEST_TIMEOUT = 60


class Student:
    """A browser: its session cookie, its CSRF token, and "Comprobar" clicks (htmx POSTs)."""

    def __init__(self, server: LiveServer, session_key: str) -> None:
        import requests

        self.server = server
        self.http = requests.Session()
        self.http.cookies.set("sessionid", session_key, domain="127.0.0.1", path="/")

    def open_exercise(self, lesson: str, exercise: str) -> None:
        response = self.http.get(
            f"{self.server.url}/ejercicios/{lesson}/{exercise}/", timeout=REQUEST_TIMEOUT
        )
        response.raise_for_status()
        assert "csrftoken" in self.http.cookies, "the exercise page set no CSRF cookie"

    def check(self, lesson: str, exercise: str, answer: str) -> tuple[float, str]:
        url = f"{self.server.url}/ejercicios/{lesson}/{exercise}/comprobar/"
        started = time.perf_counter()
        response = self.http.post(
            url,
            data={"respuesta": answer},
            headers={"HX-Request": "true", "X-CSRFToken": self.http.cookies["csrftoken"]},
            timeout=REQUEST_TIMEOUT,
        )
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        body = response.text
        if 'data-result="aprobado"' in body:
            result = "aprobado"
        elif 'data-result="fallido"' in body:
            result = "fallido"
        else:
            result = "no-comprobado"
        return elapsed, result


def all_at_once(students: list[Student], job: object) -> list[tuple[float, str]]:
    """Runs job(student) in one thread per student, released together by a barrier."""
    barrier = threading.Barrier(len(students))

    def run(student: Student) -> tuple[float, str]:
        barrier.wait(timeout=REQUEST_TIMEOUT)
        return job(student)  # type: ignore[operator]

    with ThreadPoolExecutor(max_workers=len(students)) as pool:
        return list(pool.map(run, students))


def bench_answer(exercise: object) -> str:
    """The reference answer when it is a literal; otherwise any non-empty text, so that a
    `respuesta` check compared with a command still runs that command."""
    answer = getattr(exercise, "solution_answer", None)
    return answer if isinstance(answer, str) else "x"


def running_containers() -> list[str]:
    from sandbox import engine

    return [sandbox.container_id for sandbox in asyncio.run(engine.list_managed())]


def cleanup(instance: str) -> None:
    from sandbox import engine

    async def remove_all() -> int:
        sandboxes = await engine.list_managed()
        for sandbox in sandboxes:
            await engine.remove_now(sandbox.container_id)
        return len(sandboxes)

    removed = asyncio.run(remove_all())
    print(f"cleanup: removed {removed} container(s) of instance {instance}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20, help="students checking at once")
    parser.add_argument("--rounds", type=int, default=5, help="simultaneous clicks per student")
    parser.add_argument("--lesson", default="", help="lesson slug (default: first with exercises)")
    args = parser.parse_args()
    if not 1 <= args.students <= 60 or not 1 <= args.rounds <= 50:
        parser.error("--students must be 1-60 and --rounds 1-50")

    tmp = Path(tempfile.mkdtemp(prefix="muelle-bench-"))
    instance = f"bench-checks-{os.getpid()}"
    configure_django(
        tmp / "bench.sqlite3",
        instance,
        SANDBOX_WARM_POOL="0",
        SANDBOX_MAX_LIVE=str(args.students + 4),
        # Every student here comes from 127.0.0.1, as a class behind one school NAT: the
        # address's share of the sandboxes (three quarters by default) is the whole class.
        CLIENT_MAX_SANDBOXES=str(args.students),
    )
    from exercises import catalog

    lessons = [lesson for lesson in catalog.all_lessons() if lesson.exercises]
    if args.lesson:
        lessons = [lesson for lesson in lessons if lesson.slug == args.lesson]
    if not lessons:
        sys.exit("No hay ninguna lección con ejercicios que medir.")
    lesson = lessons[0]
    exercises = list(lesson.exercises)
    sessions = make_sessions(args.students)

    print(
        f"Muelle exercise check bench ({os.cpu_count()} CPUs, {args.students} students, "
        f"lesson {lesson.slug}: {', '.join(e.id for e in exercises)})",
        flush=True,
    )
    try:
        with alarm(DEADLINE), LiveServer(tmp / "bench.sqlite3", instance) as server:
            students = [Student(server, key) for key in sessions]
            for student in students:
                student.open_exercise(lesson.slug, exercises[0].id)
            first = exercises[0]
            cold = all_at_once(
                students, lambda s: s.check(lesson.slug, first.id, bench_answer(first))
            )
            warm: list[tuple[float, str]] = []
            assert server.process is not None
            server_cpu = cpu_seconds(server.process.pid)
            for round_number in range(args.rounds):
                exercise = exercises[round_number % len(exercises)]
                warm += all_at_once(
                    students,
                    lambda s, e=exercise: s.check(lesson.slug, e.id, bench_answer(e)),
                )
            server_cpu = cpu_seconds(server.process.pid) - server_cpu
            # The raw reference, same run, same containers: one `exec` of `echo` straight
            # through the SDK per student, all at once, as many rounds.
            containers = running_containers()
            raw: list[float] = []
            for _round in range(args.rounds):
                raw += at_once(raw_exec_echo, containers)
        results = {label: 0 for label in ("aprobado", "fallido", "no-comprobado")}
        for _seconds, label in cold + warm:
            results[label] += 1
        report("first check, starts the container", [s for s, _ in cold], "for reference", 44)
        report(
            f"check, {args.students} at once, container running", [s for s, _ in warm],
            "target p95 ≤ 300 ms", 44,
        )  # fmt: skip
        report(
            f"raw engine: exec of echo, {len(containers)} at once", raw, "reference", 44
        )  # fmt: skip
        beside_raw(f"check vs raw exec, {args.students} at once,", [s for s, _ in warm], raw, 44)
        # Muelle's own share, which the machine's load moves less than the wall times above.
        print(
            f"  server CPU per check (all its threads): {server_cpu / len(warm) * 1000:.1f} ms",
            flush=True,
        )
        print(
            f"  results: {results['aprobado']} passed, {results['fallido']} failed (the bench "
            f"does not do the exercises), {results['no-comprobado']} not checked",
            flush=True,
        )
        if results["no-comprobado"]:
            print("  WARNING: some checks could not run (engine or capacity)", flush=True)
    finally:
        cleanup(instance)


if __name__ == "__main__":
    main()
