"""The Origin check on the real server (python -m tutorial.server): the origins that got a shell
in the attacker's run are refused during the handshake, the page's own origins work."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from harness.live_server import instance_containers
from harness.tabs import new_terminal_id

from .hostile_ws import open_socket, until_event

pytestmark = [pytest.mark.docker]


async def test_another_port_or_scheme_is_refused_and_the_own_origin_works(live):
    """Pass: `http://127.0.0.1:9999` and `https://127.0.0.1:PORT` get HTTP 403 for the handshake
    to `ws://127.0.0.1:PORT` (no container is made); `http://127.0.0.1:PORT` gets a shell, and
    so does `http://localhost:PORT` for a page served as localhost."""
    server = live()
    cookie = server.session_cookie()
    for origin in ("http://127.0.0.1:9999", f"https://127.0.0.1:{server.port}"):
        with pytest.raises(InvalidStatus) as refused:
            await open_socket(server, cookie, new_terminal_id(), origin=origin)
        assert refused.value.response.status_code == 403
    assert instance_containers(server.instance) == []

    ws = await open_socket(server, cookie, new_terminal_id())
    await until_event(ws, "ready")
    await ws.close()
    localhost = await open_socket(
        server,
        cookie,
        new_terminal_id(),
        origin=f"http://localhost:{server.port}",
        host="localhost",
    )
    await until_event(localhost, "ready")
    await localhost.close()
