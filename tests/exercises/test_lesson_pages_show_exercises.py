"""The lessons' own pages show the exercises and the progress (integration through real URLs)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from exercises import progress
from tests.exercises.conftest import write_lesson

pytestmark = pytest.mark.django_db


def test_the_lesson_page_shows_its_exercises_and_starts_the_student_at_once(
    client, lessons_dir
) -> None:
    response = client.get("/lecciones/practica/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="ejercicios"' in html
    assert html.index('class="lesson-body"') < html.index('id="ejercicios"')
    assert html.index('id="ejercicios"') < html.index('id="terminal-panel"')
    # Anonymous progress (and the session the terminal needs) from the first visit.
    assert settings.SESSION_COOKIE_NAME in response.cookies
    assert client.session.get(progress.SESSION_KEY)


def test_the_lesson_partial_for_htmx_navigation_carries_the_exercises(client, lessons_dir) -> None:
    headers = {"HX-Request": "true", "HX-Target": "lesson-content"}
    response = client.get("/lecciones/practica/", headers=headers)
    html = response.content.decode()
    assert 'id="ejercicios"' in html and "<html" not in html


def test_the_index_shows_each_lesson_progress(client, lessons_dir) -> None:
    client.get("/lecciones/practica/")
    student = progress.Student(anonymous_key=client.session[progress.SESSION_KEY])
    progress.record_check(student, "practica", "crea-archivo", failed_checks=[])
    html = client.get("/").content.decode()
    assert 'data-lesson-progress="practica"' in html
    assert "1 de 3 ejercicios hechos" in html


def test_the_header_links_to_login_and_signup(client, lessons_dir) -> None:
    html = client.get("/").content.decode()
    assert 'href="/ejercicios/cuenta/entrar/"' in html and "Entrar / Crear cuenta" in html


SAME_TEXT_EXERCISES = """\
ejercicios:
{exercises}"""
SAME_TEXT_EXERCISE = """\
  - id: {id}
    titulo: Ejercicio {id}
    enunciado: |
      Ejecuta:

      ```bash ejecutable
      hostname
      ```
    pista: Copia el bloque.
    comprobaciones:
      - tipo: comando
        comando: "true"
        ok: Bien.
        error: Mal.
"""


def test_no_two_elements_of_a_lesson_page_share_an_id(client, lessons_dir) -> None:
    # Two exercises with the same statement: each code block's <pre> id (which its buttons'
    # aria-describedby names) came from the render's text alone, so they were the same.
    exercises = "".join(SAME_TEXT_EXERCISE.format(id=name) for name in ("uno", "dos"))
    write_lesson(lessons_dir, "iguales", SAME_TEXT_EXERCISES.format(exercises=exercises), order=2)
    html = client.get("/lecciones/iguales/").content.decode()
    ids = re.findall(r'\sid="([^"]+)"', html)
    code_ids = [found for found in ids if found.startswith("codigo-")]
    assert len(code_ids) == 2, code_ids
    assert sorted({found for found in ids if ids.count(found) > 1}) == []
    described = set(re.findall(r'aria-describedby="(codigo-[^"]+)"', html))
    assert described == set(code_ids)
