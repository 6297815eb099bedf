"""Two real web processes (python -m tutorial.server) sharing one database and one instance, with
held shells (TERMINAL_HELD_SHELLS): a terminal reconnect that lands on the other process finds
the student's shell, and that process adopts the student's Docker gateway. Against the real
engine; kill -9 is the real thing."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from harness.live_server import LiveServer, instance_containers, remove_containers
from harness.tabs import new_terminal_id, plain
from tests.terminal.shell_probe import value

pytestmark = [pytest.mark.docker]


@pytest.fixture
def make_pair(
    tmp_path: Path,
) -> Iterator[Callable[..., tuple[LiveServer, LiveServer]]]:
    """make_pair(**env) -> started processes A and B: one SQLite file, one SANDBOX_INSTANCE,
    held shells on, a reconnect grace period of 3 s, and `env`."""
    db = tmp_path / "db.sqlite3"
    instance = f"pytest-twoweb-{os.getpid()}-{time.monotonic_ns()}"
    LiveServer(db, instance).migrate()  # the one file both processes share
    servers: list[LiveServer] = []

    def start(**extra: str) -> tuple[LiveServer, LiveServer]:
        env = {"TERMINAL_HELD_SHELLS": "1", "SANDBOX_RECONNECT_GRACE": "3", **extra}
        a, b = LiveServer(db, instance, **env), LiveServer(db, instance, **env)
        a.log, b.log = tmp_path / "a.log", tmp_path / "b.log"
        servers.extend((a, b))
        a.start()
        b.start()
        return a, b

    yield start
    for server in servers:
        server.stop()
    remove_containers(instance)


@pytest.fixture
def pair(make_pair: Callable[..., tuple[LiveServer, LiveServer]]) -> tuple[LiveServer, LiveServer]:
    return make_pair()


async def run(ws: ClientConnection, command: str, marker: str) -> bytes:
    """Types `command; echo <marker>` (the marker split by quotes) and returns the plain output
    up to the marker's echo."""
    await ws.send(f"{command}; echo {marker[:3]}''{marker[3:]}\r".encode())
    seen = b""
    async with asyncio.timeout(60):
        while marker.encode() not in seen:
            frame = await ws.recv()
            if isinstance(frame, bytes):
                seen += frame
    return plain(seen)


async def assert_same_shell_with_its_job_and_docker(
    ws: ClientConnection, pid: bytes, mark: bytes
) -> None:
    """The shell behind `ws` is the one with `pid`, still has MARCA=`mark` and its `sleep 1000`
    job, and the student's `docker` answers (this process serves their gateway)."""
    out = await run(
        ws,
        "echo p''id=$$; echo mar''ca=$MARCA; echo tra''bajos=$(jobs | grep -c 'sleep 1000'); "
        "docker ps -q >/dev/null; echo doc''ker=$?",
        "fin-b",
    )
    assert value(out, "pid") == pid  # the same shell, with its variable and its job
    assert value(out, "marca") == mark
    assert value(out, "trabajos") == b"1"
    assert value(out, "docker") == b"0", out


async def test_after_kill_9_the_other_process_finds_the_same_shell_and_serves_docker(pair):
    a, b = pair
    cookie = a.session_cookie()
    terminal_id = new_terminal_id()
    ws = await a.open_terminal(cookie, terminal_id)
    before = await run(ws, "export MARCA=42; sleep 1000 & echo p''id=$$", "fin-a")
    pid = value(before, "pid")
    (container,) = instance_containers(a.instance)

    a.kill()

    again = await b.open_terminal(cookie, terminal_id)
    # The student's Docker works: B serves their gateway now (A's socket died with A).
    await assert_same_shell_with_its_job_and_docker(again, pid, b"42")
    assert instance_containers(b.instance) == [container]
    await again.close()


async def test_a_live_process_whose_grace_runs_out_leaves_the_moved_student_alone(pair):
    """The reconnect lands on B while A is alive: A's grace period (3 s) running out, and then
    A stopping, neither end the shell nor remove the sandbox, nor take B's gateway away."""
    a, b = pair
    cookie = a.session_cookie()
    terminal_id = new_terminal_id()
    ws = await a.open_terminal(cookie, terminal_id)
    pid = value(await run(ws, "export MARCA=7; echo p''id=$$", "fin-a"), "pid")
    (container,) = instance_containers(a.instance)
    await ws.close()  # a reload: A keeps the shell for its grace period

    again = await b.open_terminal(cookie, terminal_id)
    await asyncio.sleep(6)  # A's grace period runs out meanwhile (not a timing assertion)
    a.terminate()  # a graceful stop of A: it removes the sandboxes it holds, not this one

    out = await run(
        again, "echo p''id=$$; echo mar''ca=$MARCA; docker ps -q; echo doc''ker=$?", "fin-b2"
    )
    assert value(out, "pid") == pid and value(out, "marca") == b"7"
    assert value(out, "docker") == b"0", out
    assert instance_containers(b.instance) == [container]
    await again.close()


async def test_keystrokes_in_the_other_process_keep_the_sandbox_from_ending_idle(make_pair):
    """Tabs in both live processes: the student types only in B's. A sees no keystrokes for
    longer than SANDBOX_IDLE_TIMEOUT, but the sandbox's row shows B's activity, so A does not
    end the sandbox for inactivity (B's shell and A's own tab carry on)."""
    a, b = make_pair(SANDBOX_IDLE_TIMEOUT="20", SANDBOX_EXPIRY_WARNING="5")
    cookie = a.session_cookie()
    stays = await a.open_terminal(cookie, new_terminal_id())
    moved_id = new_terminal_id()
    ws = await a.open_terminal(cookie, moved_id)
    pid = value(await run(ws, "export MARCA=9; echo p''id=$$", "fin-a"), "pid")
    (container,) = instance_containers(a.instance)
    await ws.close()
    moved = await b.open_terminal(cookie, moved_id)

    for step in range(10):  # 30 s of typing in B only: longer than the idle timeout
        await run(moved, f"echo paso={step}", f"fin-paso-{step}")
        await asyncio.sleep(3)

    out = await run(moved, "echo p''id=$$; echo mar''ca=$MARCA", "fin-b")
    assert value(out, "pid") == pid and value(out, "marca") == b"9"
    assert instance_containers(b.instance) == [container]
    assert value(await run(stays, "echo si''gue=1", "fin-sigue"), "sigue") == b"1"
    await moved.close()
    await stays.close()


async def test_a_process_stopped_with_sigterm_leaves_the_shell_to_the_other(pair):
    """A graceful stop (a deploy): A closes its terminals with 1012 but leaves the held shells
    and their sandbox; the page's reconnect to B finds the same shell, and B serves Docker."""
    a, b = pair
    cookie = a.session_cookie()
    terminal_id = new_terminal_id()
    ws = await a.open_terminal(cookie, terminal_id)
    before = await run(ws, "export MARCA=3; sleep 1000 & echo p''id=$$", "fin-a")
    (container,) = instance_containers(a.instance)

    # Exited by itself (uvicorn re-raises the SIGTERM once shut down: -15), within its budget.
    assert a.terminate() in {0, -15}
    assert "graceful shutdown exceeded" not in a.log.read_text()
    await ws.wait_closed()
    assert ws.close_code == 1012
    assert instance_containers(a.instance) == [container]

    again = await b.open_terminal(cookie, terminal_id)
    await assert_same_shell_with_its_job_and_docker(again, value(before, "pid"), b"3")
    await again.close()
