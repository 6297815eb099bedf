from __future__ import annotations

import asyncio

import pytest

from sandbox.terminals import get_registry

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_exiting_the_shell_sends_exit_and_closes_1000(open_tab, session_key):
    tab = await open_tab(session_key)

    await tab.type("exit 3\r")

    assert await tab.closed() == 1000
    exit_event = await tab.event("exit")
    assert exit_event["reason"] == "exit"
    assert exit_event["message"]


async def test_a_killed_sandbox_sends_exit_and_closes_4004(open_tab, session_key):
    tab = await open_tab(session_key)
    (lease,) = get_registry().leases.values()

    killer = await asyncio.create_subprocess_exec(
        "docker", "kill", lease.sandbox.container_id, stdout=asyncio.subprocess.DEVNULL
    )
    assert await killer.wait() == 0

    assert await tab.closed(timeout=30) == 4004
    exit_event = await tab.event("exit")
    assert exit_event["reason"] in {"killed", "oom"}
    assert "contenedor" in exit_event["message"]
