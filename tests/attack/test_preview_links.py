"""The «Abrir» link is meant to be used within a minute; a share link lives for an hour. A link
that leaked (history, a screenshot, a copied URL) must not become a share link by changing its
path. Through the real server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from harness.live_server import LiveServer
from harness.preview_client import Student, body, live_server_fixture, request, serve

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
