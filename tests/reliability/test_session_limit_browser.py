"""The per-address session limit as a student sees it, in real Chromium against the real server
(python -m tutorial.server): the lesson still reads, and the terminal says in Spanish why it
cannot start."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.docker]

LESSON = "/lecciones/que-es-docker/"


def _loopback_only(route) -> None:  # noqa: ANN001
    if urlsplit(route.request.url).hostname in {"127.0.0.1", "localhost", "::1"}:
        route.continue_()
    else:
        route.abort("blockedbyclient")


@pytest.fixture
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def test_over_the_session_limit_the_lesson_reads_and_the_terminal_explains(live, chromium):
    """Pass (CLIENT_SESSION_BURST=1): a first browser gets its session and its terminal; a second
    one from the same address reads the same lesson (200, its text shown) and its terminal panel
    shows the server's Spanish 429 text and a retry button, in the `ended` state."""
    server = live(CLIENT_SESSION_BURST="1", CLIENT_SESSIONS_PER_MINUTE="0.1")
    pages = []
    for _ in range(2):
        context = chromium.new_context(locale="es-ES")
        context.route("**/*", _loopback_only)
        pages.append(context.new_page())
    first, second = pages

    first.goto(server.url + LESSON)
    first.wait_for_function(
        "() => window.muelleTerminal && window.muelleTerminal.state === 'ready'", timeout=60_000
    )
    response = second.goto(server.url + LESSON)
    assert response is not None and response.status == 200
    assert second.locator("h1").first.inner_text()
    second.wait_for_function(
        "() => window.muelleTerminal && window.muelleTerminal.state === 'ended'", timeout=30_000
    )
    notice = second.locator("[data-terminal-notice]").inner_text()
    assert "Desde tu red" in notice, notice
    assert second.locator("[data-terminal-action='reconnect']").is_visible()
    assert not any(c["name"] == "sessionid" for c in second.context.cookies())
