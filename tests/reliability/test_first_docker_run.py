"""The first command a beginner types in a brand-new terminal is `docker run --rm muelle/hola`.
It failed with `error during connect: ... EOF` in 1-2 of 30 fresh terminals: here 50 fresh
students (each their own session, so their own sandbox and gateway, from the warm pool as in
production) open a terminal and run it as their very first command, through the real server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest

from harness.live_server import LiveServer, serving
from harness.tabs import new_terminal_id

pytestmark = [pytest.mark.docker]

TERMINALS = 50
BATCH = 5  # students starting at the same moment, as in a class
GREETING = "¡Hola desde Muelle!"
FAILED = re.compile(r"error during connect|Error response from daemon|EOF")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from serving(
        tmp_path_factory.mktemp("first-run"),
        "first-run",
        SANDBOX_WARM_POOL="2",
        SANDBOX_MAX_LIVE="20",
    )


async def first_docker_run(server: LiveServer) -> str:
    """A new student's first terminal; returns what `docker run --rm muelle/hola` printed."""
    cookie = await asyncio.to_thread(server.session_cookie)
    ws = await server.open_terminal(cookie, new_terminal_id())
    try:
        await ws.send(b"docker run --rm muelle/hola; echo FIN''-$?\r")
        seen = b""
        while b"FIN-" not in seen or not re.search(rb"FIN-\d+", seen):
            frame = await asyncio.wait_for(ws.recv(), 90)
            if isinstance(frame, bytes):
                seen += frame
        return seen.decode(errors="replace")
    finally:
        await ws.close()


async def test_fifty_fresh_terminals_run_their_first_docker_command(server: LiveServer):
    outputs: list[str] = []
    for _batch in range(TERMINALS // BATCH):
        outputs += await asyncio.gather(*(first_docker_run(server) for _ in range(BATCH)))
    failures = [out for out in outputs if GREETING not in out or "FIN-0" not in out]
    assert len(outputs) == TERMINALS
    assert failures == [], f"{len(failures)} of {TERMINALS} failed; first: {failures[0][-600:]}"
    assert not any(FAILED.search(out.split(GREETING)[0]) for out in outputs)
