"""A lesson publishes a port through «Ejecutar», the terminal panel offers «Abrir 8080», and the
page the container serves opens on its own preview origin in a new tab; an edit of the served
file shows on reload. The served page also tries, as an attacker's page would, to read Muelle's
cookies and to call Muelle with the student's session: it gets neither."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .test_gateway_browser import gateway_settings  # noqa: F401 - fixture
from .test_terminal_browser import lines, open_lesson, runnable_block, type_in_terminal

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

LESSON = """---
titulo: Puertos en el navegador
slug: puertos-en-el-navegador
orden: 1
resumen: Publica un puerto y ábrelo.
nivel: básico
duracion: 5
objetivos:
- Publicar un puerto
---
## Tu servidor

```bash ejecutable
cat > ~/index.html <<'FIN'
<h1 id="titulo">Hola puertos</h1>
<script>
document.title = "cookies=[" + document.cookie + "]";
fetch("MUELLE/sandbox/puertos/", {credentials: "include"})
  .then(r => r.text()).then(t => { document.body.dataset.robado = "leido:" + t.length; })
  .catch(() => { document.body.dataset.robado = "bloqueado"; });
</script>
FIN
docker run -d --name web -m 32m -p 8080:80 -e PAGINA="$(cat ~/index.html)" \\
  muelle/busybox sh -c \\
  'mkdir -p /tmp/w && printf "%s" "$PAGINA" > /tmp/w/index.html && exec httpd -f -p 80 -h /tmp/w'
```
"""


@pytest.fixture
def ports_lesson(gateway_settings: Any, tmp_path: Path) -> Path:  # noqa: F811
    folder = tmp_path / "lecciones"
    folder.mkdir()
    gateway_settings.LESSONS_DIR = folder
    return folder


def test_a_published_port_opens_in_its_own_origin_and_shows_edits(
    ports_lesson: Path, live_asgi_server: str, page: Any
) -> None:
    (ports_lesson / "01-puertos.md").write_text(
        LESSON.replace("MUELLE", live_asgi_server), encoding="utf-8"
    )
    open_lesson(page, live_asgi_server + "/lecciones/puertos-en-el-navegador/")
    block = runnable_block(page).first
    block.locator("[data-action='run']").click()

    link = page.locator("[data-preview-link='8080']")
    try:
        link.wait_for(timeout=60_000)
    except Exception:
        raise AssertionError("\n".join(lines(page))) from None
    assert link.inner_text().strip() == "Abrir 8080"

    with page.context.expect_page() as opened:
        link.click()
    preview = opened.value
    preview.wait_for_selector("#titulo", timeout=60_000)
    origin = re.match(r"^http://8080-[0-9a-f]{12}\.vista\.localhost:\d+/$", preview.url)
    assert origin, preview.url
    assert preview.locator("#titulo").inner_text() == "Hola puertos"

    # The page's script ran on its own origin: no cookie of Muelle's, and its credentialed call
    # to Muelle was blocked by the browser (no CORS), so it read nothing.
    preview.wait_for_function("() => document.body.dataset.robado !== undefined", timeout=30_000)
    assert preview.evaluate("document.body.dataset.robado") == "bloqueado"
    assert "sessionid" not in preview.title() and "csrftoken" not in preview.title()
    assert preview.evaluate("document.cookie") == ""

    # An edit of the served file shows on reload.
    type_in_terminal(
        page,
        "docker exec web sh -c 'echo \"<h1 id=titulo>Cambiado</h1>\" > /tmp/w/index.html'\n",
    )
    for _ in range(50):
        preview.reload()
        if preview.locator("#titulo").inner_text() == "Cambiado":
            break
        preview.wait_for_timeout(200)
    assert preview.locator("#titulo").inner_text() == "Cambiado"
