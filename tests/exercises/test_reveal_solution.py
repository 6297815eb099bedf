"""Revealing a solution shows it and records when (once)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from exercises import progress
from exercises.models import ExerciseProgress

pytestmark = pytest.mark.django_db


def test_revealing_shows_the_solution_and_records_it(client, lessons_dir) -> None:
    url = reverse("exercises:reveal", args=["practica", "crea-archivo"])
    page = client.get(reverse("exercises:exercise", args=["practica", "crea-archivo"]))
    assert "Ver la solución" in page.content.decode()

    response = client.post(url, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<details" in html and " open" in html
    assert "echo hola &gt; ~/hola.txt" in html
    row = ExerciseProgress.objects.get(exercise_id="crea-archivo")
    first = row.solution_revealed_at
    assert first is not None and row.completed_at is None

    client.post(url)
    row.refresh_from_db()
    assert row.solution_revealed_at == first  # the first time counts
    key = client.session[progress.SESSION_KEY]
    assert row.anonymous_key == key


def test_an_exercise_without_solution_has_nothing_to_reveal(client, lessons_dir) -> None:
    response = client.post(reverse("exercises:reveal", args=["practica", "tu-kernel"]))
    assert response.status_code == 404
