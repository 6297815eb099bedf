"""A student can forget their progress on one lesson (POST), and only on that lesson."""

from __future__ import annotations

import pytest
from django.urls import reverse

from exercises import progress
from exercises.models import ExerciseProgress

pytestmark = pytest.mark.django_db


def anonymous_student(client) -> progress.Student:  # noqa: ANN001
    session = client.session
    session[progress.SESSION_KEY] = "alumna-de-prueba"
    session.save()
    return progress.Student(anonymous_key="alumna-de-prueba")


def test_reset_forgets_the_lesson_and_redirects_back(client, lessons_dir) -> None:
    student = anonymous_student(client)
    progress.record_check(student, "practica", "crea-archivo", failed_checks=[])
    progress.record_check(student, "otra", "algo", failed_checks=[])

    response = client.post(reverse("exercises:reset", args=["practica"]))
    assert response.status_code == 302
    assert response["Location"].endswith("/practica/#ejercicios")
    assert not ExerciseProgress.objects.filter(lesson_slug="practica").exists()
    assert ExerciseProgress.objects.filter(lesson_slug="otra").exists()
    page = client.get(reverse("exercises:exercise", args=["practica", "crea-archivo"]))
    assert 'data-done="false"' in page.content.decode()


def test_reset_with_htmx_returns_the_fresh_block(client, lessons_dir) -> None:
    student = anonymous_student(client)
    progress.record_check(student, "practica", "crea-archivo", failed_checks=[])
    response = client.post(
        reverse("exercises:reset", args=["practica"]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="ejercicios"' in html and 'data-done="true"' not in html
    assert "3 ejercicios" in html


def test_reset_needs_post(client, lessons_dir) -> None:
    assert client.get(reverse("exercises:reset", args=["practica"])).status_code == 405


def test_reset_is_csrf_protected(lessons_dir) -> None:
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("exercises:reset", args=["practica"])).status_code == 403
    check = reverse("exercises:check", args=["practica", "crea-archivo"])
    assert strict.post(check).status_code == 403
