"""Exercises come from the lessons app's catalog; broken ones are reported, not dropped."""

from __future__ import annotations

from exercises import catalog
from tests.exercises.conftest import PRACTICE_EXERCISES, write_lesson


def test_it_reads_the_exercises_of_a_lesson(lessons_dir) -> None:
    lesson = catalog.for_lesson("practica")
    assert lesson is not None
    assert lesson.exercise_ids == ["crea-archivo", "deja-un-proceso", "tu-kernel"]
    assert lesson.url == "/lecciones/practica/" or lesson.url.endswith("/practica/")
    assert catalog.for_lesson("no-existe") is None


def test_broken_exercises_keep_the_lesson_with_file_lines(lessons_dir) -> None:
    broken = PRACTICE_EXERCISES.replace("tipo: proceso", "tipo: procesos")
    path = write_lesson(lessons_dir, "rota", broken, order=2)
    lesson = catalog.for_lesson("rota")
    assert lesson is not None and lesson.exercises == ()
    [problem] = lesson.problems
    file_lines = path.read_text().splitlines()
    assert problem.line == file_lines.index("      - tipo: procesos") + 1
    assert "02-rota.md" in lesson.source
