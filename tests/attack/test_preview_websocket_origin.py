"""A page on one student's preview, opened in another student's browser, riding that browser's
preview cookie: every `*.vista.localhost` host is the same site, so the owner's SameSite=Lax
`muelle_vista` cookie goes with a websocket handshake made by a script of another preview. In
real Chromium, through the real server."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Iterator

import pytest

from harness.live_server import LiveServer
from harness.preview_client import LISTEN_ON_80, Student, live_server_fixture, serve, wait_for_page

pytestmark = [pytest.mark.docker]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]

# A websocket server answering every frame with a secret of its owner (standard library only).
WS_TELLER = (
    LISTEN_ON_80
    + r"""
import base64, hashlib
while True:
    c, _ = s.accept(); f = c.makefile("rb")
    key = ""
    while (line := f.readline().decode().strip()):
        if line.lower().startswith("sec-websocket-key:"): key = line.split(":", 1)[1].strip()
    magic = (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
    accept = base64.b64encode(hashlib.sha1(magic).digest()).decode()
    c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: " + accept + "\r\n\r\n").encode())
    try:
        f.read(2); f.read(4)
        c.sendall(bytes([0x81, 15]) + b"secreto-de-ana!")
        f.read(1)
    except Exception:
        pass
    c.close()
"""
)

# Run in a page: opens a websocket and says what came of it.
PROBE = """async (url) => await new Promise((done) => {
  const ws = new WebSocket(url);
  ws.onopen = () => ws.send("dame");
  ws.onmessage = (event) => { done("recibido:" + event.data); ws.close(); };
  ws.onerror = () => done("error");
  ws.onclose = (event) => done("cerrado:" + event.code);
  setTimeout(() => done("nada"), 20000);
})"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from live_server_fixture(tmp_path_factory)


def _in_chromium(server: LiveServer, ana: Student, beto: Student, port: int) -> dict[str, str]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            # Ana opens her own preview (her cookie is set), then a link Beto shared. Each entry
            # link is asked for just before it is followed, as a click on «Abrir» does: it works
            # for 60 s, and a loaded CI machine took longer than that to start Chromium.
            ana_host, ana_entry = ana.preview_entry(port)
            page.goto(f"http://{ana_host}{ana_entry}")
            own = page.evaluate(PROBE, f"ws://{ana_host}/ws")
            beto_host, beto_entry = beto.preview_entry(port)
            page.goto(f"http://{beto_host}{beto_entry}")
            assert "pagina-de-beto-ws" in page.content()
            crossed = page.evaluate(PROBE, f"ws://{ana_host}/ws")
        finally:
            browser.close()
    return {"own": own, "crossed": crossed}


async def test_another_previews_page_cannot_open_a_websocket_to_the_owners_port(server):
    ana = await asyncio.to_thread(Student, server)
    beto = await asyncio.to_thread(Student, server)
    await ana.shell(
        f"docker run -d -m 64m --name secreto -p 8093:80 -e CODE={shlex.quote(WS_TELLER)} "
        "python:3.11-slim python -c 'import os; exec(os.environ[\"CODE\"])' >/dev/null && "
        "until docker exec secreto python -c "
        "'import socket; socket.create_connection((\"127.0.0.1\", 80))' 2>/dev/null; "
        "do sleep 0.2; done"
    )
    await beto.shell(serve("web", 8093, "beto-ws"))
    beto_host, beto_cookie = await asyncio.to_thread(beto.enter, 8093)
    await asyncio.to_thread(wait_for_page, server, beto_host, beto_cookie, "pagina-de-beto-ws")
    seen = await asyncio.to_thread(_in_chromium, server, ana, beto, 8093)
    # From her own preview the websocket works: the probe can tell a refusal from a failure.
    assert seen["own"] == "recibido:secreto-de-ana!"
    # From Beto's page, in Ana's browser, it is refused before anything of Ana's is read.
    assert "secreto" not in seen["crossed"]
    assert seen["crossed"] in ("error", "cerrado:1006")
