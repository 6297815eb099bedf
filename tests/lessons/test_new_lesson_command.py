"""new_lesson writes a lesson that already passes check_lessons, and refuses what would clash."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from lessons import catalog

from .conftest import WriteLesson


def test_the_scaffold_is_a_valid_lesson_with_one_exercise(lessons_dir: Path) -> None:
    out = io.StringIO()
    call_command("new_lesson", "Redes: ¡a conectar!", stdout=out)
    index = lessons_dir / "01-redes-a-conectar" / "index.md"
    assert index.is_file()
    assert str(index) in out.getvalue()

    call_command("check_lessons", str(lessons_dir), stdout=io.StringIO())  # raises on errors
    lesson = catalog.build_catalog(lessons_dir, use_cache=False).find("redes-a-conectar")
    assert lesson is not None and lesson.available
    assert lesson.title == "Redes: ¡a conectar!"
    exercises = lesson.front_matter["ejercicios"]
    assert len(exercises) == 1 and exercises[0]["solucion_comandos"]


def test_it_takes_the_next_order_and_refuses_a_taken_slug(
    write_lesson: WriteLesson, lessons_dir: Path
) -> None:
    write_lesson("07-a.md", slug="volumenes", orden=7)
    call_command("new_lesson", "Redes", stdout=io.StringIO())
    assert (lessons_dir / "08-redes" / "index.md").is_file()
    with pytest.raises(CommandError, match="ya lo usa"):
        call_command("new_lesson", "Volúmenes", stdout=io.StringIO())
    with pytest.raises(CommandError, match="slug solo puede"):
        call_command("new_lesson", "X", "--slug", "Mal Slug", stdout=io.StringIO())
