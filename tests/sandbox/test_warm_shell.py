"""A warm sandbox's login shell starts before it is handed out (sandbox/warm_shells.py): the
student's terminal attaches to that very shell, and one nobody took goes with its container."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from sandbox import engine, pool, reaper, warm_shells
from sandbox.models import SandboxRecord

from .conftest import TEST_INSTANCE, read_until, wait_gone

pytestmark = pytest.mark.docker


def shells_in(container_id: str) -> set[int]:
    """Host PIDs of the login shells running in a container."""
    top = engine.call_sync(lambda api: api.top(container_id))
    column = top["Titles"].index("PID")
    return {int(row[column]) for row in top["Processes"] if "bash" in row[-1]}


async def shells_once_started(container_id: str, count: int = 1) -> set[int]:
    """The container's shells, once `count` of them run (an exec's process appears a moment
    after the engine answers; a bound, not a speed assertion)."""
    for _ in range(100):
        if len(found := shells_in(container_id)) >= count:
            return found
        await asyncio.sleep(0.05)
    return shells_in(container_id)


async def one_warm_sandbox(settings: Any) -> SandboxRecord:
    """A warm pool of one, filled: the row of its only sandbox."""
    settings.SANDBOX_WARM_POOL = 1
    assert await pool.fill_once() == 1
    return await SandboxRecord.objects.aget(instance=TEST_INSTANCE, state=SandboxRecord.State.POOL)


def warm_shell_socket(container_id: str) -> socket.socket:
    """The socket of the shell started ahead in a warm container."""
    (_exec_id, stream), _kept_at = warm_shells._shells[container_id]
    return stream._sock


async def test_the_terminal_attaches_to_the_shell_started_before_hand_out(settings) -> None:
    warm = await one_warm_sandbox(settings)
    shell_pids = await shells_once_started(warm.container_id)
    assert len(shell_pids) == 1  # running already, with nobody attached

    sandbox = await engine.acquire("owner-warm-shell")
    assert sandbox.container_id == warm.container_id
    tty = await engine.open_tty(sandbox, rows=30, cols=90)
    try:
        greeting = await read_until(tty, b"$ ")
        assert b"alumno@muelle-" in greeting  # its prompt waited in the stream
        await tty.write(b"stty size\n")
        assert b"30 90\r\n" in await read_until(tty, b"30 90\r\n")  # resized on hand-out
        # The terminal works, and the only shell in the sandbox is the one started ahead.
        assert shells_in(sandbox.container_id) == shell_pids
    finally:
        await tty.close()
    # A second terminal of the same sandbox gets a shell of its own.
    second = await engine.open_tty(sandbox)
    try:
        await second.write(b"echo segunda\n")
        await read_until(second, b"segunda\r\n")
        both = await shells_once_started(sandbox.container_id, 2)
        assert len(both) == 2 and shell_pids < both
    finally:
        await second.close()
    await engine.release(sandbox)


async def test_a_cold_sandbox_opens_its_shell_when_asked() -> None:
    sandbox = await engine.acquire("owner-cold-shell")
    assert shells_in(sandbox.container_id) == set()  # nothing runs before its terminal opens
    tty = await engine.open_tty(sandbox)
    try:
        assert b"alumno@muelle-" in await read_until(tty, b"$ ")
        assert len(shells_in(sandbox.container_id)) == 1
    finally:
        await tty.close()


async def test_a_shell_nobody_took_is_closed_with_its_container(settings) -> None:
    warm = await one_warm_sandbox(settings)
    sock = warm_shell_socket(warm.container_id)
    assert sock.fileno() != -1

    await engine.remove_now(warm.container_id)

    assert await wait_gone(warm.container_id)
    assert warm.container_id not in warm_shells._shells
    assert sock.fileno() == -1  # its descriptor is closed, not left to the garbage collector
    assert warm_shells.take(warm.container_id) is None


async def test_a_dead_shell_is_not_handed_out(settings) -> None:
    # A warm shell that ended (killed from outside) must not become the student's terminal: it
    # would greet them with "the shell exited". The terminal opens a new one instead.
    warm = await one_warm_sandbox(settings)
    assert len(await shells_once_started(warm.container_id)) == 1
    engine.call_sync(
        lambda api: api.exec_start(
            api.exec_create(
                warm.container_id, ["pkill", "-KILL", "bash"], user=settings.SANDBOX_USER
            )["Id"]
        )
    )
    sandbox = await engine.acquire("owner-dead-warm-shell")
    assert sandbox.container_id == warm.container_id
    for _ in range(50):  # the engine closes the stream a moment after the kill (a bound)
        if not warm_shells._alive(warm_shells._shells[warm.container_id][0][1]):
            break
        await asyncio.sleep(0.1)
    tty = await engine.open_tty(sandbox)
    try:
        await tty.write(b"echo vivo-$((6*7))\n")
        out = await read_until(tty, b"vivo-42")
        assert b"vivo-42" in out
        assert tty.exit_code is None
    finally:
        await tty.close()


async def test_the_reaper_closes_shells_of_containers_removed_behind_its_back(settings) -> None:
    warm = await one_warm_sandbox(settings)
    sock = warm_shell_socket(warm.container_id)
    # Removed by hand (docker rm -f), not through Muelle.
    engine.call_sync(lambda api: api.remove_container(warm.container_id, force=True))

    await reaper.reap()

    assert warm.container_id not in warm_shells._shells
    assert sock.fileno() == -1


async def test_a_warm_container_stopped_behind_its_back_is_not_handed_out(settings) -> None:
    # The hand-out skips the inspect when the shell started ahead still runs: a container that
    # was stopped has hung up its shell, so it is checked the old way and never handed out.
    warm = await one_warm_sandbox(settings)
    engine.call_sync(lambda api: api.kill(warm.container_id))
    for _ in range(50):  # the engine closes the stream a moment after the kill (a bound)
        if not warm_shells.is_alive(warm.container_id):
            break
        await asyncio.sleep(0.1)

    sandbox = await engine.acquire("owner-after-a-dead-warm-one")

    assert sandbox.container_id != warm.container_id
    assert await wait_gone(warm.container_id)
    tty = await engine.open_tty(sandbox)
    try:
        await tty.write(b"echo vivo-$((6*7))\n")
        assert b"vivo-42" in await read_until(tty, b"vivo-42")
    finally:
        await tty.close()
