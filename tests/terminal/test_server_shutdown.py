"""Stopping the ASGI server closes terminal websockets as "going away", removes their sandboxes
before it finishes (even without a lifespan), and nothing hangs."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest
from websockets.asyncio.client import connect

from harness.tabs import new_terminal_id
from sandbox import engine

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_server_shutdown_closes_the_terminal_as_going_away_without_hanging(session_key):
    import uvicorn

    from tutorial.asgi import application

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host="127.0.0.1",
            port=port,
            ws="websockets-sansio",
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=10,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        await asyncio.sleep(0.05)

    async with connect(
        f"ws://127.0.0.1:{port}/ws/terminal/?t={new_terminal_id()}",
        origin=f"http://127.0.0.1:{port}",  # the page's own origin, port included
        additional_headers={"Cookie": f"sessionid={session_key}"},
    ) as ws:
        while True:
            frame = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(frame, str) and json.loads(frame)["type"] == "ready":
                break
        await ws.send(b"sleep 1000\r")  # a busy shell must not hold the server up

        server.should_exit = True
        with pytest.raises(Exception):  # noqa: B017 (the close is the point, whatever its class)
            while True:
                await asyncio.wait_for(ws.recv(), 30)
        assert ws.close_code in {1001, 1012}

    await asyncio.to_thread(thread.join, 30)  # a watchdog: a hung server fails the next line
    assert not thread.is_alive(), "the server is still running after its shutdown"
    # The consumer's 1012 ended the sandbox, and the server waited for its removal.
    assert await engine.list_managed() == []
