"""The server's background work on each event loop: the reaper (with the heartbeat) and the
warm-pool filler.

There is no ASGI lifespan in a Channels app to start them at start-up, so whoever needs them
first (acquire, the terminal consumer, the health view) calls ensure_background_tasks().
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from django.conf import settings

from sandbox import gateway as docker_gateway
from sandbox import pool, reaper
from sandbox.loop_state import PerLoop

_tasks: PerLoop[list[asyncio.Task[Any]]] = PerLoop(list)


def running_tasks() -> list[asyncio.Task[Any]]:
    """The background tasks of the running event loop (empty before they start)."""
    return list(_tasks.peek() or [])


def ensure_background_tasks() -> None:
    """Starts the periodic reaper and the warm-pool filler on the running event loop, once per
    loop (again if both have ended)."""
    if not settings.SANDBOX_ENABLED:
        return
    tasks = _tasks.peek()
    if tasks and not all(task.done() for task in tasks):
        return
    loop = asyncio.get_running_loop()
    _tasks.replace(
        [
            loop.create_task(reaper.periodic(), name="muelle-reaper"),
            loop.create_task(pool.keep_filled(), name="muelle-warm-pool"),
        ]
    )


async def stop_background_tasks() -> None:
    """For tests and orderly shutdowns of one event loop. The Docker gateways this loop serves
    stop too, keeping their folders and what students made (a sandbox adopted after a restart
    carries on; releasing one still removes its student's objects)."""
    tasks = _tasks.pop() or []
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(BaseException):
            await task
    with contextlib.suppress(Exception):
        await docker_gateway.close_all(cleanup=False)
