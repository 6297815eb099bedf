"""Published ports end to end through the real server (`python -m tutorial.server`): `curl` in
the student's own terminal, the «Abrir» link, the preview origin, and what an attacker tries
against it. The preview host is reached on loopback with the Host header a browser would send
(`8080-<id>.vista.localhost:<port>`), as every `*.localhost` name resolves to loopback."""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import shutil
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.reliability.live_server import LiveServer, remove_containers
from tests.terminal.tabs import new_terminal_id

pytestmark = [pytest.mark.docker]

# A page and a CGI script that echoes the Cookie header it got and tries to set a cookie for
# every preview host. The script travels in an environment variable, so nothing is expanded by
# the student's shell on the way.
ECHO_SCRIPT = (
    "printf '%s\\n' '#!/bin/sh' 'echo Content-Type: text/plain' "
    "'echo \"Set-Cookie: app=1; Domain=vista.localhost\"' 'echo' "
    "'echo \"COOKIE=$HTTP_COOKIE\"' > ~/eco.sh"
)
SERVE = (
    "mkdir -p /tmp/w/cgi-bin && echo pagina-de-$NAME > /tmp/w/index.html && "
    'printf "%s\\n" "$CGI" > /tmp/w/cgi-bin/eco && chmod +x /tmp/w/cgi-bin/eco && '
    "exec httpd -f -p 80 -h /tmp/w"
)


def serve(name: str, host_port: int, page: str) -> str:
    """The student's command that starts a web container publishing `host_port`."""
    return (
        f"{ECHO_SCRIPT} && docker run -d -m 32m --name {name} -p {host_port}:80 "
        f"-e NAME={page} -e CGI=\"$(cat ~/eco.sh)\" muelle/busybox sh -c '{SERVE}' >/dev/null"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("preview")
    live = LiveServer(
        folder / "db.sqlite3",
        f"pytest-preview-{os.getpid()}-{time.monotonic_ns()}",
        SANDBOX_WARM_POOL="0",
        PREVIEW_IDLE_SECONDS="2",
    )
    live.migrate()
    live.start()
    yield live
    try:
        live.terminate(within=30)
    finally:
        live.stop()
        remove_containers(live.instance)
        shutil.rmtree(folder, ignore_errors=True)


class Student:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.cookie = server.session_cookie()
        self.ws = None

    async def shell(self, command: str, timeout: float = 90) -> str:
        if self.ws is None:
            self.ws = await self.server.open_terminal(self.cookie, new_terminal_id())
        marker = f"FIN{time.monotonic_ns()}"
        await self.ws.send(f"{command}; echo {marker[:3]}''{marker[3:]}-$?\r".encode())
        seen = b""
        pattern = re.compile(rf"{marker}-(\d+)".encode())
        while not pattern.search(seen):
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            if isinstance(frame, bytes):
                seen += frame
        return seen.decode(errors="replace")

    def main(self, path: str) -> http.client.HTTPResponse:
        return request(self.server, "GET", path, {"Cookie": self.cookie})

    def preview_entry(self, host_port: int) -> tuple[str, str]:
        """(preview Host header, entry path) from the «Abrir» link."""
        response = self.main(f"/sandbox/puertos/{host_port}/abrir/")
        assert response.status == 302, response.read()
        location = urlsplit(response.getheader("Location"))
        assert location.hostname and location.hostname.endswith(".vista.localhost")
        return location.netloc, f"{location.path}?{location.query}"

    def enter(self, host_port: int) -> tuple[str, str]:
        """Follows «Abrir»: (preview Host, the preview cookie it set)."""
        host, entry = self.preview_entry(host_port)
        response = request(self.server, "GET", entry, {"Host": host})
        assert response.status == 303
        cookie = response.getheader("Set-Cookie")
        assert cookie and "HttpOnly" in cookie and "Domain" not in cookie
        return host, cookie.split(";")[0]


def request(
    server: LiveServer, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read_body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def body(response: http.client.HTTPResponse) -> str:
    return response.read_body.decode(errors="replace")  # type: ignore[attr-defined]


def wait_for_page(server: LiveServer, host: str, cookie: str, text: str) -> str:
    for _ in range(60):
        response = request(server, "GET", "/", {"Host": host, "Cookie": cookie})
        if response.status == 200 and text in body(response):
            return body(response)
        time.sleep(0.2)
    raise AssertionError(f"the preview never showed {text!r}: {body(response)[:300]}")


async def test_curl_in_the_terminal_and_the_preview_link_reach_the_container(server):
    ana = await asyncio.to_thread(Student, server)
    out = await ana.shell(serve("web", 8080, "ana") + " && sleep 1 && curl -s localhost:8080/")
    assert "pagina-de-ana" in out
    panel = await asyncio.to_thread(ana.main, "/sandbox/puertos/")
    assert "Abrir 8080" in body(panel) and "«web»:80" in body(panel)
    host, cookie = await asyncio.to_thread(ana.enter, 8080)
    page = await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-de-ana")
    assert "pagina-de-ana" in page


async def test_the_app_never_sees_muelles_cookies_and_cannot_widen_its_own(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve("eco", 8081, "eco"))
    host, cookie = await asyncio.to_thread(ana.enter, 8081)
    await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-de-eco")
    # What a browser would send: the preview cookie plus the app's own; Muelle's session cookie
    # is never sent to this host (another host name), and the preview cookie is removed.
    echoed = await asyncio.to_thread(
        request, server, "GET", "/cgi-bin/eco", {"Host": host, "Cookie": f"{cookie}; propia=1"}
    )
    assert echoed.status == 200
    text = body(echoed)
    assert "COOKIE=propia=1" in text
    assert "muelle_vista" not in text and "sessionid" not in text
    assert "Domain" not in (echoed.getheader("Set-Cookie") or "")


async def test_without_the_owners_cookie_a_preview_is_refused(server):
    ana = await asyncio.to_thread(Student, server)
    beto = await asyncio.to_thread(Student, server)
    await ana.shell(serve("web", 8082, "ana2"))
    host, cookie = await asyncio.to_thread(ana.enter, 8082)
    await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-de-ana2")
    # No cookie, a made-up one, and Beto's own preview cookie for the same port number.
    for headers in ({}, {"Cookie": "muelle_vista=abc"}):
        refused = await asyncio.to_thread(request, server, "GET", "/", {"Host": host, **headers})
        assert refused.status == 403 and "caducado" in body(refused)
    await beto.shell(serve("web", 8082, "beto"))
    beto_host, beto_cookie = await asyncio.to_thread(beto.enter, 8082)
    assert beto_host != host
    crossed = await asyncio.to_thread(
        request, server, "GET", "/", {"Host": host, "Cookie": beto_cookie}
    )
    assert crossed.status == 403 and "pagina-de-ana2" not in body(crossed)
    # Beto cannot get a link to Ana's port from Muelle either: his «Abrir» is for his own.
    assert await asyncio.to_thread(beto.preview_entry, 8082) != await asyncio.to_thread(
        ana.preview_entry, 8082
    )
    # An entry token for Ana's host used on Beto's host (or the reverse) is refused.
    _beto_host, ana_entry = await asyncio.to_thread(ana.preview_entry, 8082)
    swapped = await asyncio.to_thread(request, server, "GET", ana_entry, {"Host": beto_host})
    assert swapped.status == 403


async def test_forged_hosts_and_muelle_pages_on_a_preview_host(server):
    ana = await asyncio.to_thread(Student, server)
    forged = [
        "8080-000000000000.vista.localhost.evil.example",
        "evil.example",
        "8080-zzz.vista.localhost",
    ]
    for host in forged:
        response = await asyncio.to_thread(request, server, "GET", "/", {"Host": host})
        assert response.status == 400, host
    # Muelle's own pages never answer on a preview host, with or without the session cookie.
    preview_host = f"8080-{'0' * 12}.vista.localhost:{server.port}"
    for path in ("/", "/sandbox/puertos/", "/admin/"):
        response = await asyncio.to_thread(
            request, server, "GET", path, {"Host": preview_host, "Cookie": ana.cookie}
        )
        assert response.status == 403
        assert "Muelle" not in body(response) or "caducado" in body(response)


async def test_nothing_listening_a_silent_container_and_a_removed_one(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell("docker run -d -m 32m --name quieto -p 8083:80 muelle/busybox sleep 300")
    await ana.shell(
        "docker run -d -m 32m --name mudo -p 8084:80 muelle/busybox sh -c 'sleep 300 | nc -l -p 80 >/dev/null'"
        " && until docker exec mudo netstat -ltn | grep -q ':80 '; do sleep 0.1; done"
    )
    host, cookie = await asyncio.to_thread(ana.enter, 8083)
    response = await asyncio.to_thread(
        request, server, "GET", "/", {"Host": host, "Cookie": cookie}
    )
    assert response.status == 502
    assert "Nada escucha en el puerto 80 del contenedor «quieto»" in body(response)
    assert "docker logs quieto" in body(response)
    host, cookie = await asyncio.to_thread(ana.enter, 8084)
    response = await asyncio.to_thread(
        request, server, "GET", "/", {"Host": host, "Cookie": cookie}
    )
    assert response.status == 504  # accepted, never answered: cut after PREVIEW_IDLE_SECONDS
    await ana.shell("docker rm -f quieto >/dev/null")
    host_gone = host.replace("8084-", "8083-")
    response = await asyncio.to_thread(
        request, server, "GET", "/", {"Host": host_gone, "Cookie": cookie}
    )
    assert response.status == 403  # the 8084 cookie is not for 8083
    missing = await asyncio.to_thread(ana.main, "/sandbox/puertos/8083/abrir/")
    assert missing.status == 404
