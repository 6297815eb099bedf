"""manage.py check_lessons also reports the exercises' problems, with file and line."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.exercises.conftest import PRACTICE_EXERCISES, write_lesson


def test_check_lessons_fails_on_a_broken_exercise(lessons_dir) -> None:
    broken = PRACTICE_EXERCISES.replace("depende_de: crea-archivo", "depende_de: no-existe")
    path = write_lesson(lessons_dir, "rota", broken, order=2)
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("check_lessons", str(lessons_dir), stdout=out)
    assert failure.value.returncode == 1
    line = path.read_text().splitlines().index("    depende_de: no-existe") + 1
    assert f"02-rota.md:{line}: error: ejercicios[2].depende_de: depende de «no-existe»" in (
        out.getvalue()
    )


def test_check_lessons_passes_valid_exercises(lessons_dir) -> None:
    out = StringIO()
    call_command("check_lessons", str(lessons_dir), stdout=out)
    assert "0 errores" in out.getvalue()
