"""«Vista» frames the preview inside Muelle's page: the student types `docker run -p` in the
terminal, picks the port in the Vista tab and the frame shows the container's page (a cross-site
frame, where only the preview's partitioned cookie works). A page of another site that frames the
same preview, with a valid frame link, is refused by the browser: the preview allows only Muelle's
own origin as its frame ancestor."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .lesson_site import write_lessons
from .test_gateway_browser import gateway_settings  # noqa: F401 - fixture
from .test_terminal_browser import open_lesson, type_in_terminal
from .vista import wait_for_published_port, wait_for_vista_option

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

LESSON = """---
titulo: La vista enmarcada
slug: la-vista-enmarcada
orden: 1
resumen: Publica un puerto y míralo en la pestaña Vista.
nivel: básico
duracion: 5
objetivos:
- Ver un puerto publicado al lado de la lección
---
## Tu servidor

Arranca nginx con `-p 8080:80` y abre la pestaña «Vista».
"""
NGINX_PAGE = "Welcome to nginx!"


class AttackerPage(BaseHTTPRequestHandler):
    """Another origin on loopback (a public site could not even reach a loopback preview:
    Chromium's Private Network Access stops it first, so it would prove nothing here)."""

    frame_link = ""

    def do_GET(self) -> None:
        body = f'<h1>Otra web</h1><iframe src="{self.frame_link}"></iframe>'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[tuple[str, type[AttackerPage]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AttackerPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", AttackerPage
    server.shutdown()
    server.server_close()


def preview_frame(page: Any) -> Any:
    preview = re.compile(r"^http://8080-[0-9a-f]{12}[.]vista[.]localhost:\d+/$")
    for _ in range(150):
        found = [f for f in page.frames if preview.match(f.url)]
        if found:
            return found[0]
        page.wait_for_timeout(100)
    raise AssertionError([f.url for f in page.frames])


def test_the_vista_frame_shows_the_page_and_another_site_cannot_frame_it(
    gateway_settings: Any,  # noqa: F811
    tmp_path: Path,
    live_asgi_server: str,
    page: Any,
    attacker: tuple[str, type[AttackerPage]],
) -> None:
    write_lessons(gateway_settings, tmp_path / "lecciones", {"01-vista.md": LESSON})
    open_lesson(page, live_asgi_server + "/lecciones/la-vista-enmarcada/")
    type_in_terminal(page, "docker run -d --name web -m 32m -p 8080:80 nginx:1.22\n")
    wait_for_published_port(page, 8080, timeout_ms=90_000)

    page.get_by_role("tab", name="Vista").click()
    wait_for_vista_option(page, 8080)
    page.select_option("[data-preview-port]", "8080")
    frame = preview_frame(page)
    frame.wait_for_selector("h1", timeout=30_000)
    assert frame.locator("h1").inner_text() == NGINX_PAGE
    # The frame is the preview's own origin: Muelle's page stays out of its reach.
    assert (
        frame.evaluate("() => { try { return parent.document.title; } catch (e) { return 'x'; } }")
        == "x"
    )

    # Another site frames the preview with a frame link of its own (a valid one: the student's
    # session asked for it). The preview answers the page, and the browser refuses to show it.
    answer = page.request.get(live_asgi_server + "/sandbox/puertos/8080/marco/", max_redirects=0)
    assert answer.status == 302
    link = answer.headers["location"]
    assert "/__muelle__/marco?t=" in link
    attacker_url, handler = attacker
    handler.frame_link = link
    preview_page = re.compile(r"vista[.]localhost:\d+/$")
    with page.expect_response(lambda r: bool(preview_page.search(r.url)), timeout=15_000) as shown:
        page.goto(attacker_url)
    served = shown.value
    assert served.status == 200
    policy = served.headers["content-security-policy"]
    assert policy == f"frame-ancestors {live_asgi_server}"
    page.wait_for_timeout(500)
    assert page.locator("h1").inner_text() == "Otra web"
    for other in page.frames[1:]:
        # Chromium replaces a refused frame by its own error document.
        assert not other.url.startswith("http://8080-"), other.url
        assert NGINX_PAGE not in (other.content() or "")
