"""The lesson pages in headless Chromium: real text and emoji, htmx navigation without reloads."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(live_asgi_server: str, page, settings):  # noqa: ANN001, ANN201
    # These tests are about lesson pages: keep the terminal from starting containers, and never
    # let the browser leave loopback (a lesson may link or show things hosted elsewhere).
    settings.SANDBOX_ENABLED = False
    page.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(live_asgi_server) else route.abort()
        ),
    )
    return live_asgi_server


def test_index_then_lesson_one_in_spanish_with_emoji(site: str, page) -> None:  # noqa: ANN001
    response = page.goto(site + "/")
    assert response is not None and response.status == 200
    assert page.title() == "Curso de Docker · Muelle"
    # The course keeps growing after these: only its beginning is fixed.
    assert page.locator(".lesson-card-title a").all_inner_texts()[:4] == [
        "¿Qué es Docker?",
        "Tu primer contenedor",
        "Imágenes y capas",
        "El ciclo de vida de un contenedor",
    ]

    page.get_by_role("link", name="¿Qué es Docker?").click()
    page.wait_for_url(site + "/lecciones/que-es-docker/")

    text = page.locator("#lesson-content").inner_text()
    for expected in (
        "¿Por dónde empiezo?",
        "¿Qué diferencia tiene con una máquina virtual?",
        "🐣",
        "🐳",
        "👍",
    ):
        assert expected in text
    assert "√" not in text and "¬ø" not in text
    assert page.title() == "¿Qué es Docker? · Muelle"
    # Its diagrams are its own SVGs, served by Muelle: they load with the browser kept on loopback.
    images = page.locator("#lesson-content img")
    assert images.count() == 2
    for index in range(2):
        images.nth(index).scroll_into_view_if_needed()
        # decode() waits for the image to load (even a lazy one) and rejects if it is broken.
        width = images.nth(index).evaluate("img => img.decode().then(() => img.naturalWidth)")
        assert width > 0


def test_next_lesson_through_htmx_without_a_full_reload(site: str, page) -> None:  # noqa: ANN001
    page.goto(site + "/lecciones/que-es-docker/")
    page.evaluate(
        "window.__muelleMarker = 'sin recargar';"
        "document.querySelector('.terminal-panel').dataset.testMarker = 'mismo panel';"
    )

    page.locator("a[rel=next]").click()
    page.wait_for_url(site + "/lecciones/tu-primer-contenedor/")
    page.wait_for_function("() => document.title === 'Tu primer contenedor · Muelle'")

    assert page.evaluate("window.__muelleMarker") == "sin recargar"
    assert page.locator("h1#lesson-title").inner_text() == "Tu primer contenedor"
    # The terminal panel lives outside the swapped region: the very same element survives.
    assert page.evaluate("document.querySelector('.terminal-panel').dataset.testMarker") == (
        "mismo panel"
    )
    assert page.evaluate("document.querySelectorAll('#lesson-content').length") == 1
    assert page.evaluate("document.activeElement.id") == "lesson-title"
    assert page.locator('.code-block[data-runnable="true"] .code-run').count() >= 4

    page.go_back()
    page.wait_for_url(site + "/lecciones/que-es-docker/")
    page.wait_for_function("() => document.title === '¿Qué es Docker? · Muelle'")
    assert page.locator("h1#lesson-title").inner_text() == "¿Qué es Docker?"
    assert page.evaluate("window.__muelleMarker") == "sin recargar"

    page.go_forward()
    page.wait_for_url(site + "/lecciones/tu-primer-contenedor/")
    page.wait_for_function(
        "() => document.querySelector('h1#lesson-title').innerText === 'Tu primer contenedor'"
    )


def test_the_course_list_inside_a_lesson_also_swaps_the_content(
    site: str,
    page,  # noqa: ANN001
) -> None:
    page.goto(site + "/lecciones/tu-primer-contenedor/")
    page.evaluate("window.__muelleMarker = 'sin recargar'")
    page.locator(".course-nav summary").click()
    page.locator(".course-nav").get_by_role("link", name="Imágenes y capas").click()
    page.wait_for_url(site + "/lecciones/imagenes-y-capas/")
    page.wait_for_function("() => document.title === 'Imágenes y capas · Muelle'")
    assert page.evaluate("window.__muelleMarker") == "sin recargar"
    # The swapped-in diagram loads after the swap: decode() waits for it (and
    # rejects if it is broken) instead of reading a width that is not there yet.
    width = page.locator(".lesson-body img").evaluate(
        "img => img.decode().then(() => img.naturalWidth)"
    )
    assert width > 0


def test_text_and_terminal_side_by_side_wide_and_stacked_on_a_phone(
    site: str,
    page,  # noqa: ANN001
) -> None:
    page.goto(site + "/lecciones/tu-primer-contenedor/")
    lesson = page.locator("#lesson-content").bounding_box()
    panel = page.locator(".terminal-panel").bounding_box()
    assert panel["x"] >= lesson["x"] + lesson["width"] - 1

    page.set_viewport_size({"width": 375, "height": 800})
    lesson = page.locator("#lesson-content").bounding_box()
    panel = page.locator(".terminal-panel").bounding_box()
    assert panel["y"] >= lesson["y"] + lesson["height"] - 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_an_unknown_lesson_shows_the_spanish_404(site: str, page) -> None:  # noqa: ANN001
    response = page.goto(site + "/lecciones/no-existe/")
    assert response is not None and response.status == 404
    assert "No encontramos esa página" in page.inner_text("main")
