"""A student's preview page, served under Muelle's own domain as deploy/ serves previews
(`*.vista.<Muelle's domain>`), sets cookies for that whole domain: Muelle's session and route
cookies with the page author's own values, under every name Muelle might use. A visitor who
opened the page (a link the author sent) stays themselves on Muelle: over TLS Muelle's cookies
carry the __Host- prefix, which the browser takes only from Muelle's own host, and the tossed
names without it are not read. Before, Django read the last of the two `sessionid` cookies the
browser sent, the author's, and the visitor was working in the author's sandbox.

Real Chromium, the real server with HTTPS=1 (Muelle's cookie settings for TLS) on plain HTTP:
`*.localhost` is a secure context for Chromium, so Secure and __Host- cookies behave there as
they do over TLS (checked: the frame cookie relies on the same)."""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from harness.live_server import LiveServer
from harness.preview_client import Student, body, live_server_fixture, wait_for_page

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

DOMAIN = "muelle.localhost"
NAMES = ["sessionid", "__Host-sessionid", "muelle_ruta", "__Host-muelle_ruta"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from live_server_fixture(
        tmp_path_factory,
        "tossing",
        HTTPS="1",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        ALLOWED_HOSTS=f"{DOMAIN},127.0.0.1",
        PREVIEW_HOST=f"vista.{DOMAIN}",
        PREVIEW_HTTPS="0",
    )


def tossing_page(session: str) -> str:
    """The author's page: each of Muelle's cookie names, for the whole domain, with the author's
    session and route (the public id in the page's own host name); the browser refuses the
    __Host- ones, they are tried all the same."""
    return (
        "<script>"
        f"const session = {json.dumps(session)};"
        "const route = location.hostname.split('.')[0].split('-')[1];"
        f"for (const name of {json.dumps(NAMES)}) {{"
        "  const value = name.endsWith('sessionid') ? session : route;"
        f"  document.cookie = `${{name}}=${{value}}; Domain={DOMAIN}; Path=/; Secure`;"
        "}"
        "document.title = 'lanzadas';"
        "</script><p>pagina-trampa</p>"
    )


def cookies_on(page: Any, domain: str) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page.context.cookies() if c["domain"] == domain}


def session_of(cookies: dict[str, str]) -> str:
    """The visitor's own session cookie on Muelle's host, whichever name it has."""
    return next(value for name, value in cookies.items() if name.endswith("sessionid"))


def shows_port(page: Any, origin: str) -> bool:
    """Whether Muelle's ports panel, as this browser's session sees it, lists port 8080."""
    page.goto(f"{origin}/sandbox/puertos/")
    return "Abrir 8080" in page.content()


def test_a_preview_page_cannot_hand_its_visitor_the_authors_session(
    server: LiveServer, page: Any
) -> None:
    ana = Student(server)
    session = ana.cookie.split("=", 1)[1]
    script = (
        "mkdir -p /tmp/w && printf '%s' \"$PAGE\" > /tmp/w/index.html && "
        "exec httpd -f -p 80 -h /tmp/w"
    )
    # Playwright's sync API holds this thread's event loop: Ana types in another thread.
    with ThreadPoolExecutor(1) as other:
        other.submit(
            asyncio.run,
            ana.shell(
                f"docker run -d -m 32m --name trampa -p 8080:80 "
                f"-e PAGE={shlex.quote(tossing_page(session))} muelle/busybox "
                f"sh -c {shlex.quote(script)} >/dev/null"
            ),
        ).result()
    host, cookie = ana.enter(8080)
    route = host.split(".")[0].split("-")[1]
    wait_for_page(server, host, cookie, "pagina-trampa")
    # What Ana's own session shows: the panel lists her port.
    assert "Abrir 8080" in body(ana.main("/sandbox/puertos/"))

    origin = f"http://{DOMAIN}:{server.port}"
    page.goto(f"{origin}/lecciones/que-es-docker/")
    own = cookies_on(page, DOMAIN)
    assert session_of(own) != session, own
    assert not shows_port(page, origin)

    # Beto opens the link Ana sent him: her own «Abrir» link, a bearer link for a minute.
    link = ana.main("/sandbox/puertos/8080/abrir/").getheader("Location")
    assert link and f".vista.{DOMAIN}:" in link
    page.goto(link)
    page.wait_for_function("() => document.title === 'lanzadas'")

    # The page did what a browser lets it: Ana's session and route on the whole domain, under
    # the names without the prefix (the __Host- ones were refused).
    assert cookies_on(page, f".{DOMAIN}") == {"sessionid": session, "muelle_ruta": route}
    # Muelle still sees Beto: his own session cookie, untouched, and not Ana's port.
    assert session_of(cookies_on(page, DOMAIN)) == session_of(own)
    assert not shows_port(page, origin)
