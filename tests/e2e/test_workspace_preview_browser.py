"""«Vista» in the workspace: a port the lesson published is offered in the tab's list, the frame
goes to its own preview origin, and «Abrir en otra pestaña» shows its page, against the real
engine and the real preview origin."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .lesson_site import write_lessons
from .test_gateway_browser import gateway_settings  # noqa: F401 - fixture
from .test_terminal_browser import open_lesson, runnable_block
from .vista import wait_for_published_port, wait_for_vista_option

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

LESSON = """---
titulo: La vista
slug: la-vista
orden: 1
resumen: Publica un puerto y míralo al lado.
nivel: básico
duracion: 5
objetivos:
- Ver un puerto publicado
---
## Tu servidor

```bash ejecutable
docker run -d --name web -m 32m -p 8080:80 muelle/busybox sh -c \\
  'mkdir -p /tmp/w && echo "<h1 id=titulo>Hola vista</h1>" > /tmp/w/index.html &&
   exec httpd -f -p 80 -h /tmp/w'
```
"""


def test_a_published_port_shows_in_the_vista_tab(
    gateway_settings: Any,  # noqa: F811
    tmp_path: Path,
    live_asgi_server: str,
    page: Any,
) -> None:
    write_lessons(gateway_settings, tmp_path / "lecciones", {"01-vista.md": LESSON})
    open_lesson(page, live_asgi_server + "/lecciones/la-vista/")
    vista = page.get_by_role("tab", name="Vista")
    vista.click()
    assert page.locator("[data-preview-empty]").is_visible()
    runnable_block(page).first.locator("[data-action='run']").click()
    wait_for_published_port(page, 8080, timeout_ms=60_000)

    vista.click()
    wait_for_vista_option(page, 8080)
    assert page.locator("[data-preview-empty]").is_hidden()
    # The only published port is shown without choosing it (the panel asked to, empty).
    page.wait_for_function("() => document.querySelector('[data-preview-port]').value === '8080'")
    assert page.locator("[data-preview-port] option[value='8080']").inner_text() == "8080"
    # Closed by the student, it stays closed when the ports list refreshes.
    page.select_option("[data-preview-port]", "")
    page.evaluate(
        """() => new Promise((done) => document.body.addEventListener("htmx:afterSwap",
             (e) => { if (e.target.closest("[data-terminal-ports]")) done(); }))"""
    )
    assert page.evaluate("() => document.querySelector('[data-preview-port]').value") == ""
    page.select_option("[data-preview-port]", "8080")
    # The frame goes to the port's own preview origin, never to Muelle's.
    preview_frame = re.compile(r"^http://8080-[0-9a-f]{12}[.]vista[.]localhost:\d+/")
    for _ in range(100):
        if any(preview_frame.match(f.url) for f in page.frames):
            break
        page.wait_for_timeout(100)
    assert any(preview_frame.match(f.url) for f in page.frames), [f.url for f in page.frames]
    # Inside the frame the preview's SameSite=Lax cookie is not sent (docs/workspace.md):
    # «Abrir en otra pestaña» opens the same page where it is.
    open_link = page.locator("[data-preview-open]")
    assert open_link.is_visible()
    with page.context.expect_page() as opened:
        open_link.click()
    preview = opened.value
    preview.wait_for_selector("#titulo", timeout=60_000)
    assert preview.locator("#titulo").inner_text() == "Hola vista"
