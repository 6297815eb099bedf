"""A check's message shows its `code` spans as code, and nothing else of it as HTML (a student
walkthrough saw every message's backticks)."""

from __future__ import annotations

from django.template import engines


def _shown(message: str) -> str:
    template = engines["django"].from_string("{% load exercises %}{{ m|inline_code }}")
    return template.render({"m": message})


def test_backticks_are_code_and_the_rest_is_text() -> None:
    assert _shown("No encontramos `~/hola.txt` con «hola».") == (
        "No encontramos <code>~/hola.txt</code> con «hola»."
    )
    assert _shown("Mira `docker ps -a` y `docker logs web`") == (
        "Mira <code>docker ps -a</code> y <code>docker logs web</code>"
    )
    assert _shown("`<script>alert(1)</script>` & <b>") == (
        "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code> &amp; &lt;b&gt;"
    )
    assert _shown("un ` suelto") == "un ` suelto"


def test_a_command_check_that_fails_says_what_the_command_wrote() -> None:
    # Lesson 6 promises «debajo ves qué respondió MariaDB»: the detail now shows it.
    from exercises import checks
    from exercises.runner import StepResult

    from .conftest import exercise_from_yaml

    exercise = exercise_from_yaml(
        "- id: bd\n  titulo: BD\n  enunciado: x\n  pista: y\n  comprobaciones:\n"
        "    - tipo: comando\n      comando: mariadb -e 'SELECT 1'\n      salida: Rayuela\n"
        "      ok: Bien.\n      error: Mal.\n"
    )
    [check] = exercise.checks
    said = b"ERROR 1049 (42000): Unknown database 'biblioteca'\n"
    outcome = checks.judge(check, StepResult(1, said, False, False))
    assert not outcome.passed
    assert outcome.detail == (
        "La salida del comando de comprobación no es la esperada; escribió: «ERROR 1049 "
        "(42000): Unknown database 'biblioteca'»."
    )
    silent = checks.judge(check, StepResult(0, b"", False, False))
    assert silent.detail.endswith("escribió: nada.")
