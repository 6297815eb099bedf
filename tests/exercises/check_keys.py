"""The checks of one exercise written as YAML under a fixed head, and what the validator and
check_lessons say about them: for the tests of the check kinds' keys."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
import yaml
from django.core.management import CommandError, call_command

from exercises import spec
from tests.exercises.conftest import exercise_from_yaml, write_lesson

HEAD = """\
ejercicios:
  - id: docker
    titulo: Docker
    enunciado: Haz algo con Docker.
    pista: Mira bien.
    solucion_comandos:
      - 'true'
    comprobaciones:
"""


def problems_of(checks: str) -> list[str]:
    text = HEAD + checks
    return [str(p) for p in spec.validate(yaml.safe_load(text), source=text)]


def check(body: str) -> str:
    """One check for the list under HEAD: `body`'s first line is its kind, the rest its keys."""
    lines = ["      - tipo: " + body.splitlines()[0]]
    lines += ["        " + line for line in body.splitlines()[1:]]
    lines += ["        ok: Bien.", "        error: Mal."]
    return "\n".join(lines) + "\n"


def assert_reported_with_its_line(body: str, expected: str) -> None:
    """The check `body` has a problem saying `expected`, and every problem names its line."""
    found = problems_of(check(body))
    assert any(expected in problem for problem in found), found
    assert all(problem.startswith("línea ") for problem in found), found


def parsed_checks(*bodies: str) -> spec.Exercise:
    """The exercise whose checks are `bodies`, which the validator must find no problem in."""
    checks = "".join(check(body) for body in bodies)
    assert problems_of(checks) == []
    return exercise_from_yaml((HEAD + checks).split("\n", 1)[1])


def check_lessons_fails(lessons_dir: Any, slug: str, body: str, bad_line: str) -> tuple[str, int]:
    """Runs check_lessons over LESSONS_DIR with a lesson `02-<slug>.md` whose one check is `body`;
    it must fail. Returns what it wrote and the file's line number of `bad_line` (one key of the
    check, as `body` has it)."""
    path = write_lesson(lessons_dir, slug, HEAD + check(body), order=2)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("check_lessons", str(lessons_dir), stdout=out)
    return out.getvalue(), path.read_text().splitlines().index("        " + bad_line) + 1
