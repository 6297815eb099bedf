"""When the server goes away its sandboxes go too, and are gone before it exits; an ordinary
disconnect keeps the shell for the reconnect grace period."""

from __future__ import annotations

import asyncio
import re

import pytest
from asgiref.testing import ApplicationCommunicator

from harness.tabs import new_terminal_id
from sandbox import engine
from sandbox.terminals import get_registry

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def listed() -> set[str]:
    return {sandbox.container_id for sandbox in await engine.list_managed()}


async def until_listed(count: int, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while len(await listed()) != count:
        assert asyncio.get_running_loop().time() < deadline, await listed()
        await asyncio.sleep(0.2)


async def test_a_1012_close_removes_the_sandbox_before_the_handler_returns(open_tab, session_key):
    tab = await open_tab(session_key)
    (lease,) = get_registry().leases.values()
    await tab.type("sleep 1000\r")

    # What uvicorn sends the app for every websocket when it stops (SIGTERM).
    await tab.communicator.disconnect(code=1012, timeout=15)

    assert lease.sandbox.container_id not in await listed()
    assert not get_registry().terminals_of(lease.owner)


async def test_a_1001_close_keeps_the_shell_for_the_grace_period(open_tab, session_key):
    terminal_id = new_terminal_id()
    first = await open_tab(session_key, terminal_id)
    pid = re.search(rb"\npid=(\d+)", await first.run("echo p''id=$$", "fin-uno")).group(1)

    await first.communicator.disconnect(code=1001, timeout=15)  # the browser's page reload

    again = await open_tab(session_key, terminal_id)
    assert again.events[0]["reattached"] is True
    assert re.search(rb"\npid=(\d+)", await again.run("echo p''id=$$", "fin-dos")).group(1) == pid


async def test_the_lifespan_starts_the_background_work_and_its_shutdown_removes_the_sandboxes(
    open_tab, session_key, settings
):
    from tutorial.asgi import application

    settings.SANDBOX_WARM_POOL = 1
    # No warm-up thread in the test process: it would fill the page caches other tests empty.
    settings.LESSON_PAGE_WARM_UP = False
    lifespan = ApplicationCommunicator(
        application, {"type": "lifespan", "asgi": {"version": "3.0"}}
    )
    await lifespan.send_input({"type": "lifespan.startup"})
    assert (await lifespan.receive_output(10))["type"] == "lifespan.startup.complete"

    # A page that went away leaves its terminal waiting out the grace period.
    tab = await open_tab(session_key)
    (lease,) = get_registry().leases.values()
    await tab.hang_up()
    # The filler started at start-up refills the pool after the terminal took the warm one.
    await until_listed(2)
    assert lease.sandbox.container_id in await listed()

    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert (await lifespan.receive_output(15))["type"] == "lifespan.shutdown.complete"

    # The grace terminal's sandbox and the warm container the start-up made are gone.
    assert await listed() == set()
    assert not get_registry().leases
