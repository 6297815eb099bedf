"""verify_solutions takes a slug or a path, shows what a failing check got, says nothing about
solutions when nothing ran, and catches a check that changes the student's Docker state."""

from __future__ import annotations

import pytest

from tests.exercises.conftest import PRACTICE_EXERCISES, write_lesson
from tests.exercises.test_verify_solutions import verify

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_a_path_is_accepted_like_a_slug(lessons_dir, remove_sandboxes) -> None:
    path = next(lessons_dir.glob("*-practica.md"))
    code, out, err = verify(str(path))
    assert code == 0, out + err
    assert "✓ practica/crea-archivo: la solución funciona." in out


def test_an_unknown_path_says_so_and_nothing_about_solutions(lessons_dir) -> None:
    code, out, err = verify(str(lessons_dir / "99-no-existe.md"))
    assert code == 1
    assert f"No existe: {lessons_dir / '99-no-existe.md'}" in err
    assert "soluciones de referencia" not in out + err


def test_a_failing_check_shows_the_output_it_got(lessons_dir, remove_sandboxes) -> None:
    wrong = PRACTICE_EXERCISES.replace(
        "comando: test -s ~/listo.txt", "comando: 'cat ~/listo.txt; echo PISTA-$((6*7)); exit 4'"
    ).replace("      - echo listo > ~/listo.txt", "      - echo listo > ~/otro.txt")
    write_lesson(lessons_dir, "salida", wrong, order=2)
    code, _out, err = verify("salida")
    assert code == 1
    assert "la comprobación 2 falla después de aplicar la solución" in err
    assert "código 4" in err
    assert "Salida: cat: /home/alumno/listo.txt: No such file or directory" in err
    assert "PISTA-42" in err


CHANGING = """\
ejercicios:
  - id: volumen
    titulo: Crea un volumen
    enunciado: Crea el volumen `notas`.
    pista: Usa `docker volume create`.
    comprobaciones:
      - tipo: comando
        comando: sh -c 'docker volume create notas >/dev/null; docker volume ls -q | grep -qx datos'
        ok: Bien.
        error: Mal.
      - tipo: volumen
        nombre: datos
        ok: Bien.
        error: Mal.
    solucion_comandos:
      - docker volume create datos
"""


def test_a_check_that_changes_docker_state_is_caught(lessons_dir, remove_sandboxes) -> None:
    write_lesson(lessons_dir, "cambia", CHANGING, order=2)
    code, _out, err = verify("cambia")
    assert code == 1
    assert "las comprobaciones (antes de la solución) cambiaron el estado de Docker" in err
    assert "volúmenes nuevos o cambiados: «notas»" in err


def test_a_solution_checked_by_docker_state_passes(lessons_dir, remove_sandboxes) -> None:
    fine = CHANGING.replace("sh -c 'docker volume create notas >/dev/null; ", "").replace(
        "grep -qx datos'", "grep -qx datos"
    )
    write_lesson(lessons_dir, "volumenes", fine, order=2)
    code, out, err = verify("volumenes")
    assert code == 0, out + err
    assert "✓ volumenes/volumen: la solución funciona." in out
