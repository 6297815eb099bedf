"""A student goes through a whole lesson as they would: reads it, runs a block with «Ejecutar»,
types in the terminal, clicks «Comprobar» on a state that is not right yet (and reads why), fixes
it, passes, and finds their progress and «Continúa donde lo dejaste» on the course index."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from .lesson_site import remove_instance_containers
from .test_exercises_browser import badge, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

WAIT_MS = 90_000
SLUG = "tu-primer-contenedor"


@pytest.fixture
def instance(settings: Any) -> Iterator[str]:
    settings.SANDBOX_INSTANCE = f"test-e2e-leccion-{secrets.token_hex(4)}"
    settings.SANDBOX_WARM_POOL = 0
    yield settings.SANDBOX_INSTANCE
    remove_instance_containers(settings.SANDBOX_INSTANCE)


def click_check(page: Any, exercise_id: str) -> str:
    """Clicks «Comprobar», waits for the check's answer and for htmx to put the new card in,
    and returns its result."""
    card = f"#ejercicio-{exercise_id}"
    with page.expect_response(
        lambda r: r.url.endswith(f"/{exercise_id}/comprobar/"), timeout=WAIT_MS
    ) as answer:
        page.click(f"{card} button.ejercicio__comprobar")
    assert answer.value.status == 200
    expected = "aprobado" if 'data-result="aprobado"' in answer.value.text() else "fallido"
    page.wait_for_selector(f'{card} [data-result="{expected}"]', timeout=WAIT_MS)
    return expected


def test_a_student_goes_through_lesson_two(live_asgi_server: str, page: Any, instance: str) -> None:
    page.goto(f"{live_asgi_server}/lecciones/{SLUG}/")
    wait_ready(page)
    assert page.locator("h1#lesson-title").inner_text().strip()
    assert page.locator(".code-block[data-runnable='true']").count() > 0

    # Comprobar before doing anything: not passed, and the explanation names what was looked for.
    assert click_check(page, "primer-plano") == "fallido"
    explanation = page.inner_text("#ejercicio-primer-plano")
    assert "saludo" in explanation

    # «Ejecutar» on one of the lesson's own blocks runs it in the terminal.
    block = page.locator(".code-block[data-runnable='true']").filter(
        has_text="docker run --rm muelle/hola"
    )
    block.first.locator("[data-action='run']").click()
    page.wait_for_function(
        "() => window.muelleTerminal.lines().some(l => l.includes('Hola desde Muelle'))",
        timeout=WAIT_MS,
    )
    # What the exercise asks, typed by hand; then the same check passes.
    page.click("[data-terminal-screen]")
    page.keyboard.type("docker run --name saludo muelle/hola; echo fin-$?\n")
    page.wait_for_function(
        "() => window.muelleTerminal.lines().some(l => /^fin-0\\s*$/.test(l))",
        timeout=WAIT_MS,
    )
    assert click_check(page, "primer-plano") == "aprobado"

    # The next one, also typed.
    page.click("[data-terminal-screen]")
    page.keyboard.type("docker run -d --name servidor muelle/web >/dev/null; echo lanzado-$?\n")
    page.wait_for_function(
        "() => window.muelleTerminal.lines().some(l => /^lanzado-0\\s*$/.test(l))",
        timeout=WAIT_MS,
    )
    assert click_check(page, "segundo-plano") == "aprobado"

    page.goto(live_asgi_server + "/")
    progress = badge(page, SLUG)
    assert progress["done"] == "2" and progress["complete"] == "false"
    resume = page.locator(".resume-banner")
    assert "Continúa donde lo dejaste" in resume.inner_text()
    assert resume.locator("a[data-resume-link]").get_attribute("href") == f"/lecciones/{SLUG}/"
