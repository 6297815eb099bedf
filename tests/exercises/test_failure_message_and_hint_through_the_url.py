"""A failed check, through the real URL: which checks failed, why, and the hint."""

from __future__ import annotations

import pytest

from tests.exercises.conftest import HTMX, check_url

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_htmx_gets_the_card_with_failure_reason_and_hint(
    async_client, lessons_dir, remove_sandboxes
) -> None:
    response = await async_client.post(check_url("practica", "crea-archivo"), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="ejercicio-crea-archivo"' in html
    assert 'data-result="fallido"' in html
    assert "No encontramos ~/hola.txt con «hola» dentro." in html  # the check's `error`
    assert "No existe /home/alumno/hola.txt o no se puede leer." in html  # why
    assert "Pista:" in html and "echo hola &gt; ~/hola.txt" in html  # the hint, escaped
    assert "<html" not in html  # a fragment, not a page
    assert 'data-done="false"' in html


async def test_without_javascript_the_result_comes_as_a_page(
    async_client, lessons_dir, remove_sandboxes
) -> None:
    response = await async_client.post(check_url("practica", "crea-archivo"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'data-result="fallido"' in html
    assert "Volver a la lección «Lección de prueba»" in html
    assert "Pista:" in html


async def test_a_passing_check_marks_the_exercise_done(
    async_client, lessons_dir, remove_sandboxes
) -> None:
    await async_client.post(check_url("practica", "crea-archivo"), **HTMX)  # starts the sandbox
    from sandbox import engine
    from sandbox.terminals import owner_key

    session = await async_client.asession()
    sandbox = await engine.get(owner_key(session.session_key))
    assert sandbox is not None
    result = await engine.run(sandbox, ["/bin/sh", "-c", "echo hola > ~/hola.txt"])
    assert result.exit_code == 0

    response = await async_client.post(check_url("practica", "crea-archivo"), **HTMX)
    html = response.content.decode()
    assert 'data-result="aprobado"' in html
    assert "El archivo existe y dice hola." in html
    assert "Pista:" not in html
    assert 'data-done="true"' in html
    # The lesson's progress line is swapped out of band.
    assert 'hx-swap-oob="true"' in html and 'data-done="1" data-total="3"' in html
