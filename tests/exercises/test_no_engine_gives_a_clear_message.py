"""Without a Docker engine, "Comprobar" explains in Spanish what happened (no 500)."""

from __future__ import annotations

import pytest

from exercises.models import ExerciseProgress
from tests.exercises.conftest import HTMX, check_url

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGE = "no responde ningún motor de Docker"


async def test_an_absent_engine_gives_a_spanish_message(
    async_client, lessons_dir, monkeypatch
) -> None:
    from sandbox import engine

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/muelle-no-engine.sock")
    try:
        response = await async_client.post(check_url("practica", "crea-archivo"), **HTMX)
    finally:
        monkeypatch.undo()
        await engine.stop_background_tasks()  # the reaper acquire() started on this loop
    assert response.status_code == 200
    html = response.content.decode()
    assert MESSAGE in html
    assert 'data-result="no-comprobado"' in html
    assert "Pista:" not in html  # nothing failed: nothing was checked
    assert not await ExerciseProgress.objects.filter(attempts__gt=0).aexists()


def test_switched_off_sandboxes_give_the_same_message(client, lessons_dir, settings) -> None:
    settings.SANDBOX_ENABLED = False
    response = client.post(check_url("practica", "crea-archivo"))
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
