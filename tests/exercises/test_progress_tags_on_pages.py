"""{% lesson_progress %} and {% lesson_exercises %} show a student's progress."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from exercises import catalog, progress

pytestmark = pytest.mark.django_db


def render(source: str, request) -> str:  # noqa: ANN001
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    template = Template("{% load exercises %}" + source)
    return template.render(Context({"request": request, "lesson": "practica"}))


def anonymous_request(key: str) -> object:
    from django.contrib.sessions.backends.db import SessionStore

    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.session[progress.SESSION_KEY] = key
    return request


def test_the_badge_counts_done_exercises_and_says_completed(lessons_dir) -> None:
    request = anonymous_request("alumno-1")
    assert "3 ejercicios" in render("{% lesson_progress lesson %}", request)

    student = progress.Student(anonymous_key="alumno-1")
    progress.record_check(student, "practica", "crea-archivo", failed_checks=[])
    html = render("{% lesson_progress lesson %}", request)
    assert "1 de 3 ejercicios hechos" in html and 'data-complete="false"' in html

    for exercise in ("deja-un-proceso", "tu-kernel"):
        progress.record_check(student, "practica", exercise, failed_checks=[])
    html = render("{% lesson_progress lesson %}", request)
    assert "Completada" in html and 'data-complete="true"' in html


def test_the_badge_accepts_a_lesson_object_and_is_empty_without_exercises(
    lessons_dir, settings
) -> None:
    from lessons.catalog import get_lesson

    lesson = get_lesson("practica")
    request = anonymous_request("x")
    html = Template("{% load exercises %}{% lesson_progress lesson %}").render(
        Context({"request": request, "lesson": lesson})
    )
    assert 'data-lesson-progress="practica"' in html
    assert render("{% lesson_progress 'no-existe' %}", request).strip() == ""


def test_the_block_lists_every_exercise_with_its_form(lessons_dir) -> None:
    request = anonymous_request("alumno-2")
    progress.record_check(
        progress.Student(anonymous_key="alumno-2"), "practica", "crea-archivo", failed_checks=[]
    )
    html = render("{% lesson_exercises lesson %}", request)
    for exercise in catalog.for_lesson("practica").exercises:
        assert f'id="ejercicio-{exercise.id}"' in html
        assert f'action="/ejercicios/practica/{exercise.id}/comprobar/"' in html
    assert html.count('data-done="true"') == 1
    assert 'name="respuesta"' in html  # tu-kernel asks for an answer
    assert "Crea una cuenta" in html
    assert "Empezar de nuevo los ejercicios de esta lección" in html


def test_the_block_shows_problems_of_broken_exercises(lessons_dir) -> None:
    from tests.exercises.conftest import PRACTICE_EXERCISES, write_lesson

    write_lesson(
        lessons_dir, "rota", PRACTICE_EXERCISES.replace("ok: Tu sleep", "oks: Tu sleep"), order=2
    )
    html = Template("{% load exercises %}{% lesson_exercises 'rota' %}").render(
        Context({"request": anonymous_request("y")})
    )
    assert "tienen errores en" in html and "02-rota.md" in html
    assert "clave desconocida «oks»" in html
