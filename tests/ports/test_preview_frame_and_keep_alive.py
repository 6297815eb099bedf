"""The Vista frame's entry and the preview's kept-alive connections, through the real server.

The frame link is single-use, is no «Abrir» or share link (nor the other way round), and becomes
a partitioned cookie whose responses may be framed by Muelle's page origin only; the owner's
ordinary cookie gives responses nobody may frame. Requests reuse a connection to the container,
and one the container closed meanwhile is retried on a new connection, unseen by the browser.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from harness import preview_client
from harness.preview_client import LISTEN_ON_80, Student, body, request, serve, wait_for_page

pytestmark = [pytest.mark.docker]

# Answers each request with its connection and request numbers; the third request on a
# connection is read and the connection closed unanswered, as a server does when its keep-alive
# timer fires just as a request arrives.
COUNTING = (
    LISTEN_ON_80
    + r"""
conexion = 0
while True:
    c, _ = s.accept(); f = c.makefile("rb"); conexion += 1; peticion = 0
    while True:
        line = f.readline()
        if not line:
            break
        while f.readline() not in (b"\r\n", b""):
            pass
        peticion += 1
        if peticion == 3:
            break
        text = f"conexion-{conexion}-peticion-{peticion}".encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(text) + text)
    f.close(); c.close()  # the file holds the socket open otherwise
"""
)


def frame_link(student: Student, host_port: int) -> tuple[str, str]:
    """(preview Host, entry path) of the Vista frame's link."""
    response = student.main(f"/sandbox/puertos/{host_port}/marco/")
    assert response.status == 302, body(response)
    location = urlsplit(response.getheader("Location"))
    assert location.path == "/__muelle__/marco"
    return location.netloc, f"{location.path}?{location.query}"


async def test_the_frame_link_is_single_use_and_only_muelles_page_may_frame_it(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve("web", 8090, "marco"))
    host, owner_cookie = await asyncio.to_thread(ana.enter, 8090)
    await asyncio.to_thread(wait_for_page, server, host, owner_cookie, "pagina-de-marco")
    muelle = f"http://127.0.0.1:{server.port}"

    host, entry = await asyncio.to_thread(frame_link, ana, 8090)
    entered = await asyncio.to_thread(request, server, "GET", entry, {"Host": host})
    assert entered.status == 303
    set_cookie = entered.getheader("Set-Cookie")
    attributes = [a.strip() for a in set_cookie.split(";")]
    assert attributes[0].startswith("muelle_vista_marco=")
    assert {"HttpOnly", "SameSite=None", "Secure", "Partitioned"} <= set(attributes)
    assert "Domain" not in set_cookie
    assert entered.getheader("Content-Security-Policy") == f"frame-ancestors {muelle}"
    frame_cookie = attributes[0]

    # A hand-made Host whose port is no port: a 400, not the server's 500.
    forged = await asyncio.to_thread(
        request,
        server,
        "GET",
        "/sandbox/puertos/8090/marco/",
        {"Host": "127.0.0.1:123456", "Cookie": ana.cookie},
    )
    assert forged.status == 400

    # The same link again (from the frame's history, a screenshot): dead.
    again = await asyncio.to_thread(request, server, "GET", entry, {"Host": host})
    assert again.status == 403 and "Set-Cookie" not in again.headers

    framed = await asyncio.to_thread(
        request, server, "GET", "/", {"Host": host, "Cookie": frame_cookie}
    )
    assert framed.status == 200 and "pagina-de-marco" in body(framed)
    assert framed.getheader("Content-Security-Policy") == f"frame-ancestors {muelle}"
    assert framed.getheader("X-Frame-Options") is None

    # The owner's ordinary cookie (a tab of its own): nobody may frame what it shows.
    tab = await asyncio.to_thread(
        request, server, "GET", "/", {"Host": host, "Cookie": owner_cookie}
    )
    assert tab.status == 200
    assert tab.getheader("Content-Security-Policy") == "frame-ancestors 'none'"
    assert tab.getheader("X-Frame-Options") == "DENY"

    # The frame cookie is this port's only, and the app never sees it.
    other = host.replace("8090-", "8091-")
    refused = await asyncio.to_thread(
        request, server, "GET", "/", {"Host": other, "Cookie": frame_cookie}
    )
    assert refused.status == 403
    echoed = await asyncio.to_thread(
        request, server, "GET", "/cgi-bin/eco", {"Host": host, "Cookie": f"{frame_cookie}; a=1"}
    )
    assert "COOKIE=a=1" in body(echoed) and "muelle_vista" not in body(echoed)


async def test_frame_open_and_share_links_do_not_stand_in_for_each_other(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve("web2", 8092, "tipos"))
    host, entry = await asyncio.to_thread(frame_link, ana, 8092)
    token = entry.split("?t=", 1)[1]
    for path in ("/__muelle__/entrar", "/__muelle__/compartido"):
        response = await asyncio.to_thread(
            request, server, "GET", f"{path}?t={token}", {"Host": host}
        )
        assert response.status == 403, path
    open_host, open_entry = await asyncio.to_thread(ana.preview_entry, 8092)
    open_token = open_entry.split("?t=", 1)[1]
    response = await asyncio.to_thread(
        request, server, "GET", f"/__muelle__/marco?t={open_token}", {"Host": open_host}
    )
    assert response.status == 403
    # The frame link itself still works once (the refusals above did not spend it).
    response = await asyncio.to_thread(request, server, "GET", entry, {"Host": host})
    assert response.status == 303


async def test_connections_to_the_container_are_reused_and_a_closed_one_is_retried(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(preview_client.serve_python("cuenta", 8093, COUNTING))
    host, cookie = await asyncio.to_thread(ana.enter, 8093)
    # The readiness probe above took connection 1 inside the container: the preview's are next.
    seen = []
    for _ in range(3):
        response = await asyncio.to_thread(
            request, server, "GET", "/", {"Host": host, "Cookie": cookie}
        )
        assert response.status == 200, body(response)
        seen.append(body(response))
    first = int(seen[0].split("-")[1])
    assert seen == [
        f"conexion-{first}-peticion-1",
        f"conexion-{first}-peticion-2",  # the same connection, kept alive
        f"conexion-{first + 1}-peticion-1",  # it was closed unanswered: retried on a new one
    ]
