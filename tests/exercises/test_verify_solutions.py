"""manage.py verify_solutions: reference solutions pass in a fresh sandbox; wrong ones fail."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.exercises.conftest import PRACTICE_EXERCISES, write_lesson

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

COURSE = Path(__file__).resolve().parents[2] / "content" / "lessons"


def verify(*slugs: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_solutions", *slugs, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_every_course_lesson_with_exercises_passes_its_reference_solutions(
    settings, course_registry, remove_sandboxes
) -> None:
    # CI's run of the command over the real course: with no slugs it verifies every lesson that
    # declares exercises, lesson 1 (the seed) among them.
    from exercises import catalog

    settings.LESSONS_DIR = COURSE
    with_exercises = [lesson for lesson in catalog.all_lessons() if lesson.exercises]
    first = next(iter(catalog.all_lessons()))
    assert len(first.exercises) >= 2, "lesson 1 should have exercises"
    code, out, err = verify("--paralelo", "3")  # three lessons at a time, each in its sandbox
    assert code == 0, out + err
    for lesson in with_exercises:
        for exercise in lesson.exercises:
            assert f"✓ {lesson.slug}/{exercise.id}: la solución funciona." in out
    assert "Todas las soluciones de referencia funcionan." in out


def test_the_practice_lesson_passes(lessons_dir, remove_sandboxes) -> None:
    code, out, err = verify("practica")
    assert code == 0, out + err


def test_a_wrong_solution_fails_with_a_spanish_explanation(lessons_dir, remove_sandboxes) -> None:
    wrong = PRACTICE_EXERCISES.replace(
        "      - echo hola > ~/hola.txt", "      - echo adios > ~/hola.txt"
    )
    write_lesson(lessons_dir, "equivocada", wrong, order=2)
    code, out, err = verify("equivocada")
    assert code == 1
    assert "✗ equivocada/crea-archivo:" in err
    assert "la comprobación 1 falla después de aplicar la solución" in err
    assert "Hay soluciones de referencia que no funcionan." in err


def test_a_check_that_passes_before_the_solution_is_reported(lessons_dir, remove_sandboxes) -> None:
    trivial = PRACTICE_EXERCISES.replace("comando: test -s ~/listo.txt", "comando: 'true'")
    write_lesson(lessons_dir, "trivial", trivial, order=2)
    code, _out, err = verify("trivial")
    assert code == 1
    assert "la comprobación 2 ya pasa antes de aplicar la solución" in err


def test_a_missing_reference_and_an_unknown_lesson_fail(lessons_dir, remove_sandboxes) -> None:
    without = PRACTICE_EXERCISES.replace("    solucion_respuesta:\n      comando: uname -r\n", "")
    write_lesson(lessons_dir, "incompleta", without, order=2)
    code, _out, err = verify("incompleta", "no-existe")
    assert code == 1
    assert "No existe ninguna lección «no-existe»." in err
    assert "no tiene solución de referencia" in err


def test_a_slow_solution_command_is_not_cut_at_the_check_limit(
    settings, lessons_dir, remove_sandboxes
) -> None:
    # A reference `docker build` on a busy machine outlasts a check's limit; the solution is the
    # instructor's and gets its own, longer one.
    settings.SANDBOX_RUN_TIMEOUT = 1
    slow = PRACTICE_EXERCISES.replace(
        "      - echo hola > ~/hola.txt", "      - sleep 2 && echo hola > ~/hola.txt"
    )
    write_lesson(lessons_dir, "lenta", slow, order=2)
    code, out, err = verify("lenta")
    assert code == 0, out + err
    assert "✓ lenta/crea-archivo: la solución funciona." in out


WRONG_NAME = """\
ejercicios:
  - id: nombre-equivocado
    titulo: Un contenedor con nombre
    enunciado: Arranca un contenedor llamado `web`.
    pista: Usa `--name web`.
    solucion: "`docker run -d --name web muelle/busybox sleep 300`"
    comprobaciones:
      - tipo: contenedor
        nombre: web
        ok: El contenedor «web» está en marcha.
        error: No vemos ningún contenedor «web» en marcha.
    solucion_comandos:
      - docker run -d --name otro muelle/busybox sleep 300
"""


def test_a_failing_docker_check_reports_the_containers_the_student_had(
    lessons_dir, remove_sandboxes
) -> None:
    # A check that finds nothing must be told apart from one that finds the wrong thing: the
    # report lists what the student's gateway showed when the check ran.
    write_lesson(lessons_dir, "nombre", WRONG_NAME, order=2)
    code, _out, err = verify("nombre")
    assert code == 1
    assert "✗ nombre/nombre-equivocado:" in err
    assert "la comprobación 1 falla después de aplicar la solución" in err
    seen = next(line for line in err.splitlines() if "contenedores del alumno" in line)
    assert "/otro" in seen and "muelle/busybox" in seen and "running" in seen
