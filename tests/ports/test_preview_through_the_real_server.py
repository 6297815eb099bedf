"""Published ports end to end through the real server (`python -m tutorial.server`): `curl` in
the student's own terminal, the «Abrir» link, the preview origin, and what an attacker tries
against it. The preview host is reached on loopback with the Host header a browser would send
(`8080-<id>.vista.localhost:<port>`), as every `*.localhost` name resolves to loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from harness.live_server import LiveServer
from harness.preview_client import (
    Student,
    body,
    live_server_fixture,
    request,
    serve,
    wait_for_page,
)
from harness.shell_commands import curl_once_listening

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from live_server_fixture(tmp_path_factory)


async def test_curl_in_the_terminal_and_the_preview_link_reach_the_container(server):
    ana = await asyncio.to_thread(Student, server)
    start = serve("web", 8080, "ana")
    out = await ana.shell(f"{start} && {curl_once_listening('localhost:8080/')}")
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
        "docker run -d -m 32m --name mudo -p 8084:80 muelle/busybox "
        "sh -c 'sleep 300 | nc -l -p 80 >/dev/null'"
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
