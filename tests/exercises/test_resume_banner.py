"""«Continúa donde lo dejaste» on the course index: nothing on a first visit, the lesson of the
last activity while it is unfinished, the next unfinished lesson once it is done."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from exercises import progress

from .conftest import PRACTICE_EXERCISES, write_lesson

pytestmark = pytest.mark.django_db

ONE_EXERCISE = """\
ejercicios:
  - id: uno
    titulo: Uno
    enunciado: Escribe algo.
    pista: Lo que sea.
    comprobaciones:
      - tipo: respuesta
        esperado: algo
        ok: Bien.
        error: No.
    solucion_respuesta: algo
"""


@pytest.fixture
def course(lessons_dir: Any) -> Any:
    write_lesson(lessons_dir, "segunda", ONE_EXERCISE, order=2, title="La segunda")
    write_lesson(lessons_dir, "tercera", ONE_EXERCISE, order=3, title="La tercera")
    return lessons_dir


def student_client(key: str) -> Client:
    client = Client()
    session = client.session
    session[progress.SESSION_KEY] = key
    session.save()
    return client


def banner(client: Client) -> str:
    html = client.get("/").content.decode()
    start = html.find('class="resume-banner"')
    return html[start : html.find("</aside>", start)] if start >= 0 else ""


def test_a_first_visit_shows_no_banner(course: Any) -> None:
    assert banner(student_client("nadie")) == ""


def test_an_unfinished_lesson_is_where_to_continue(course: Any) -> None:
    student = progress.Student(anonymous_key="ana")
    progress.record_check(student, "practica", "crea-archivo", failed_checks=[])
    progress.record_check(student, "segunda", "uno", failed_checks=[0])
    shown = banner(student_client("ana"))
    assert "Continúa donde lo dejaste" in shown
    assert "Estabas con «La segunda»" in shown
    assert 'href="/lecciones/segunda/"' in shown


def test_a_finished_lesson_points_to_the_next_unfinished_one(course: Any) -> None:
    student = progress.Student(anonymous_key="beto")
    progress.record_check(student, "segunda", "uno", failed_checks=[])
    shown = banner(student_client("beto"))
    assert "la siguiente es «La tercera»" in shown
    assert 'href="/lecciones/tercera/"' in shown


def test_everything_done_shows_no_banner(course: Any) -> None:
    student = progress.Student(anonymous_key="carla")
    for exercise in ("crea-archivo", "deja-un-proceso", "tu-kernel"):
        progress.record_check(student, "practica", exercise, failed_checks=[])
    for slug in ("segunda", "tercera"):
        progress.record_check(student, slug, "uno", failed_checks=[])
    assert banner(student_client("carla")) == ""
    assert PRACTICE_EXERCISES  # the practice lesson of the fixture has three exercises
