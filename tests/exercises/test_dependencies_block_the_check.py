"""An exercise with depende_de cannot be checked before the one it depends on is done."""

from __future__ import annotations

import pytest

from exercises.models import ExerciseProgress
from tests.exercises.conftest import HTMX, check_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_check_does_not_run_before_the_dependency_is_done(client, lessons_dir) -> None:
    page = client.get("/ejercicios/practica/deja-un-proceso/").content.decode()
    assert "se puede comprobar cuando completes «Crea un archivo»" in page

    response = client.post(check_url("practica", "deja-un-proceso"), **HTMX)
    html = response.content.decode()
    assert "Antes tienes que completar el ejercicio «Crea un archivo»." in html
    assert 'data-result="no-comprobado"' in html
    assert not ExerciseProgress.objects.filter(attempts__gt=0).exists()


def test_unknown_lessons_and_exercises_are_404(client, lessons_dir) -> None:
    assert client.post(check_url("practica", "no-existe")).status_code == 404
    assert client.post(check_url("no-existe", "crea-archivo")).status_code == 404
    assert client.get(check_url("practica", "crea-archivo")).status_code == 405
