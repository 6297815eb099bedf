"""POST /sandbox/sesion/: the terminal's way to get the session cookie its websocket needs."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_lesson_page_without_exercises_creates_no_session(tmp_path, settings) -> None:  # noqa: ANN001
    # Every lesson of the course now has exercises (whose pages do hand out a session at once):
    # the rule is proven on a lesson of its own without any.
    (tmp_path / "01-solo-texto.md").write_text(
        "---\ntitulo: Solo texto\nslug: solo-texto\norden: 1\nresumen: Texto.\n"
        "nivel: básico\nduracion: 5\nobjetivos:\n- Leer\n---\n## Hola\n\nTexto.\n",
        encoding="utf-8",
    )
    settings.LESSONS_DIR = tmp_path
    response = Client().get("/lecciones/solo-texto/")
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert Session.objects.count() == 0


def test_the_terminal_gets_a_session_cookie_once() -> None:
    client = Client()
    first = client.post("/sandbox/sesion/")
    assert first.status_code == 204
    assert settings.SESSION_COOKIE_NAME in first.cookies
    key = first.cookies[settings.SESSION_COOKIE_NAME].value
    assert Session.objects.filter(session_key=key).exists()
    again = client.post("/sandbox/sesion/")
    assert again.status_code == 204
    assert settings.SESSION_COOKIE_NAME not in again.cookies  # the same session goes on
    assert Session.objects.count() == 1


def test_it_needs_the_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    refused = client.post("/sandbox/sesion/")
    assert refused.status_code == 403
    assert Session.objects.count() == 0
    page = client.get("/lecciones/tu-primer-contenedor/")
    token = page.cookies[settings.CSRF_COOKIE_NAME].value
    accepted = client.post("/sandbox/sesion/", headers={"X-CSRFToken": token})
    assert accepted.status_code == 204


def test_get_is_not_allowed() -> None:
    assert Client().get("/sandbox/sesion/").status_code == 405
