"""The course's typed answers take the ways a student writes a right answer, and not a wrong one
(a student walkthrough, 2026-12-06: «2 capas» and «No, no estará» were refused)."""

from __future__ import annotations

import pytest

from exercises import catalog, checks
from exercises.spec import AnswerCheck


def _answer_check(lesson: str, exercise: str) -> AnswerCheck:
    found = catalog.for_lesson(lesson)
    assert found is not None, lesson
    chosen = found.get(exercise)
    assert chosen is not None, exercise
    return next(c for c in chosen.checks if isinstance(c, AnswerCheck) and c.pattern)


@pytest.mark.parametrize(
    ("lesson", "exercise", "right", "wrong"),
    [
        (
            "que-es-docker",
            "cambios-efimeros",
            ["No", "no.", "No, no estará", "no no está"],
            ["sí", "nope", "Sí, no", "No sé", "no lo sé", "No, sí estará"],
        ),
        ("imagenes-y-capas", "capa-propia", ["2", "Dos", "2 capas", "dos capa"], ["3", "12"]),
    ],
)
def test_a_right_answer_in_a_students_words_passes(
    lesson: str, exercise: str, right: list[str], wrong: list[str]
) -> None:
    check = _answer_check(lesson, exercise)
    for answer in right:
        assert checks.judge(check, None, answer).passed, answer
    for answer in wrong:
        assert not checks.judge(check, None, answer).passed, answer
