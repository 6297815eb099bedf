"""A class clicking «Comprobar» at the same moment: every attempt, completion and failed check of
every student is kept (progress.record_check from many request threads at once, on the test
database, which is a SQLite file as in a default install)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from exercises import progress
from exercises.models import CheckFailure, ExerciseProgress

pytestmark = pytest.mark.django_db(transaction=True)

STUDENTS = 12
# Each student's clicks, in order: the failed checks' indexes ([] = every check passed).
CLICKS = ([0], [0, 1], [])


def test_simultaneous_checks_lose_no_attempt_and_no_failure() -> None:
    barrier = threading.Barrier(STUDENTS)
    errors: list[BaseException] = []

    def student(number: int) -> None:
        me = progress.Student(anonymous_key=f"alumno-{number}")
        try:
            barrier.wait(timeout=30)
            for failed in CLICKS:
                progress.record_check(me, "practica", "crea-archivo", failed)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's connection, as at the end of a request

    threads = [threading.Thread(target=student, args=(n,)) for n in range(STUDENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    rows = ExerciseProgress.objects.filter(exercise_id="crea-archivo")
    assert rows.count() == STUDENTS
    assert {row.attempts for row in rows} == {len(CLICKS)}
    assert all(row.completed_at is not None for row in rows)
    failures = dict(
        CheckFailure.objects.filter(exercise_id="crea-archivo").values_list(
            "check_index", "failures"
        )
    )
    if connections["default"].vendor == "sqlite":
        # One writer at a time: every failure counts, the very first ones too.
        assert failures == {0: STUDENTS * 2, 1: STUDENTS}
    else:
        # Elsewhere the very first failure of a check by two students at the same instant may
        # count once (progress._count_failures); every later one counts.
        assert STUDENTS * 2 - 1 <= failures[0] <= STUDENTS * 2
        assert STUDENTS - 1 <= failures[1] <= STUDENTS
