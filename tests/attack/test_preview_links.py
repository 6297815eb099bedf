"""The «Abrir» link is meant to be used within a minute; a share link lives for an hour. A link
that leaked (history, a screenshot, a copied URL) must not become a share link by changing its
path. Through the real server."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from harness.live_server import LiveServer
from harness.preview_client import Student, body, live_server_fixture, request, serve
from harness.raw_http import csrf_headers

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from live_server_fixture(tmp_path_factory)


async def test_an_open_link_is_not_accepted_as_a_share_link(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve("web", 8094, "enlace"))
    host, entry = await asyncio.to_thread(ana.preview_entry, 8094)
    assert entry.startswith("/__muelle__/entrar?t=")
    as_share = entry.replace("/__muelle__/entrar?", "/__muelle__/compartido?", 1)
    refused = await asyncio.to_thread(request, server, "GET", as_share, {"Host": host})
    assert refused.status == 403 and "caducado" in body(refused)
    assert not refused.getheader("Set-Cookie")
    # The same link on its own path still opens the preview.
    opened = await asyncio.to_thread(request, server, "GET", entry, {"Host": host})
    assert opened.status == 303 and "muelle_vista=" in (opened.getheader("Set-Cookie") or "")


async def test_a_share_link_opens_the_preview_on_its_own_path_only(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve("web", 8095, "compartida"))
    csrf = csrf_headers()
    made = await asyncio.to_thread(
        request,
        server,
        "POST",
        "/sandbox/puertos/8095/compartir/",
        {
            "Cookie": f"{ana.cookie}; {csrf['Cookie']}",
            "X-CSRFToken": csrf["X-CSRFToken"],
            "Origin": server.url,
            "Referer": server.url + "/",
        },
    )
    assert made.status == 200, body(made)[:300]
    link = urlsplit(
        html.unescape(re.search(r"http://[^\s\"<]+compartido\?t=[^\s\"<]+", body(made))[0])
    )
    share = f"{link.path}?{link.query}"
    opened = await asyncio.to_thread(request, server, "GET", share, {"Host": link.netloc})
    assert opened.status == 303 and "muelle_vista=" in (opened.getheader("Set-Cookie") or "")
    as_entry = share.replace("/__muelle__/compartido?", "/__muelle__/entrar?", 1)
    refused = await asyncio.to_thread(request, server, "GET", as_entry, {"Host": link.netloc})
    assert refused.status == 403 and not refused.getheader("Set-Cookie")
