"""A sandbox's first login shell starts with it, as its main process on the container's own TTY
(hardening.MAIN_SHELL_COMMAND, sandbox/warm_shells.py): the first terminal attaches to that very
shell without an exec (a warm sandbox's once it is handed out), later terminals get exec shells,
one whose shell ended is never handed out as a terminal, and one nobody took goes with its
container."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from sandbox import engine, hardening, pool, reaper, warm_shells
from sandbox.models import SandboxRecord

from .conftest import TEST_INSTANCE, read_until, wait_gone

pytestmark = pytest.mark.docker


def shells_in(container_id: str) -> set[int]:
    """Host PIDs of the login shells running in a container."""
    top = engine.call_sync(lambda api: api.top(container_id))
    column = top["Titles"].index("PID")
    return {int(row[column]) for row in top["Processes"] if row[-1] == "/bin/bash -l"}


def execs_of(container_id: str) -> list[str]:
    """The execs the engine has made in a container (its ExecIDs)."""
    return engine.call_sync(lambda api: api.inspect_container(container_id)["ExecIDs"]) or []


def parent_command(host_pid: int) -> str:
    """The command line of a process's parent (host /proc: the engine runs here)."""
    status = open(f"/proc/{host_pid}/status").read()
    parent = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
    return open(f"/proc/{parent}/cmdline", "rb").read().replace(b"\0", b" ").decode()


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
    (exec_id, stream), _kept_at = warm_shells._shells[container_id]
    assert exec_id is None  # the attach to the container's own TTY
    return stream._sock


async def test_the_terminal_attaches_to_the_shell_started_before_hand_out(settings) -> None:
    warm = await one_warm_sandbox(settings)
    shell_pids = await shells_once_started(warm.container_id)
    assert len(shell_pids) == 1  # running already, with nobody attached
    [shell_pid] = shell_pids
    assert parent_command(shell_pid) == " ".join(hardening.MAIN_SHELL_COMMAND) + " "

    sandbox = await engine.acquire("owner-warm-shell")
    assert sandbox.container_id == warm.container_id
    tty = await engine.open_tty(sandbox, rows=30, cols=90)
    try:
        greeting = await read_until(tty, b"$ ")
        assert b"alumno@muelle-" in greeting  # its prompt waited in the stream
        await tty.write(b"stty size\n")
        assert b"30 90\r\n" in await read_until(tty, b"30 90\r\n")  # resized on hand-out
        # The terminal works, and the only shell in the sandbox is the one started ahead,
        # reached without any exec.
        assert shells_in(sandbox.container_id) == shell_pids
        assert execs_of(sandbox.container_id) == []
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


async def test_a_students_new_sandbox_starts_with_the_shell_of_its_first_terminal() -> None:
    sandbox = await engine.acquire("owner-cold-shell")
    started = await shells_once_started(sandbox.container_id)
    assert len(started) == 1  # before any terminal opens
    tty = await engine.open_tty(sandbox, rows=33, cols=101)
    try:
        assert b"alumno@muelle-" in await read_until(tty, b"$ ")
        await tty.write(b"stty size\n")
        assert b"33 101\r\n" in await read_until(tty, b"33 101\r\n")  # the container's TTY
        assert shells_in(sandbox.container_id) == started
        assert execs_of(sandbox.container_id) == []
    finally:
        await tty.close()
    # The shell outlives the stream (as an exec's does): only a hang-up ends it.
    assert shells_in(sandbox.container_id) == started


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
    # would greet them with "the shell exited". The terminal opens a new one instead, and the
    # sandbox itself lives on (its main process outlives its shell).
    warm = await one_warm_sandbox(settings)
    assert len(await shells_once_started(warm.container_id)) == 1
    engine.call_sync(
        lambda api: api.exec_start(
            api.exec_create(
                warm.container_id,
                ["pkill", "-KILL", "-x", "-f", "/bin/bash -l"],
                user=settings.SANDBOX_USER,
            )["Id"]
        )
    )
    for _ in range(50):  # the main process prints its marker a moment after the kill (a bound)
        if not warm_shells._alive(warm_shells._shells[warm.container_id][0]):
            break
        await asyncio.sleep(0.1)
    assert not warm_shells.is_alive(warm.container_id)
    sandbox = await engine.acquire("owner-dead-warm-shell")
    assert sandbox.container_id == warm.container_id
    tty = await engine.open_tty(sandbox)
    try:
        await tty.write(b"echo vivo-$((6*7))\n")
        out = await read_until(tty, b"vivo-42")
        assert b"vivo-42" in out
        assert tty.exit_code is None
        assert execs_of(sandbox.container_id) == [tty.exec_id]  # a new shell, in an exec
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
