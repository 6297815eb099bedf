from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from sandbox import engine

from .conftest import read_until

pytestmark = pytest.mark.docker


async def test_a_login_shell_greets_in_spanish_at_the_requested_size() -> None:
    sandbox = await engine.acquire("owner-tty")
    tty = await engine.open_tty(sandbox, rows=33, cols=101)
    try:
        greeting = await read_until(tty, b"$ ")
        assert "¡Hola! Esta es tu terminal de práctica de Muelle.".encode() in greeting
        assert b"alumno@muelle-" in greeting
        await tty.write(b"stty size; echo $TERM $LANG; pwd\n")
        out = await read_until(tty, b"/home/alumno\r\n")
        assert b"33 101\r\n" in out
        assert b"xterm-256color C.UTF-8\r\n" in out
        await tty.resize(40, 120)
        await tty.write(b"stty size\n")
        assert b"40 120\r\n" in await read_until(tty, b"40 120\r\n")
    finally:
        await tty.close()


# Traces a login shell's start-up (bash -x) and asks bash what each traced command is.
TRACED_COMMANDS = r"""
bash -x -l -i -c true 2>&1 >/dev/null </dev/null |
  sed -n 's/^+* //p' | cut -d' ' -f1 | tr -d "'" | sort -u |
  while read -r word; do
    case $word in *=*) ;; *) printf '%s %s\n' "$word" "$(type -t -- "$word")" ;; esac
  done
"""


async def test_the_login_shell_runs_only_builtins_before_the_prompt() -> None:
    """Every terminal of a class (and every tab) is a login shell: its start-up starts no
    process (Debian's /etc/profile asked `id -u` twice and the greeting ran `cat`: three
    processes per terminal, half of what a login shell cost)."""
    sandbox = await engine.acquire("owner-tty-builtins")

    def run(api: Any) -> bytes:
        made = api.exec_create(sandbox.container_id, ["bash", "-c", TRACED_COMMANDS])
        return api.exec_start(made["Id"])

    kinds = dict(line.split(" ", 1) for line in engine.call_sync(run).decode().splitlines())
    assert {"[", ".", "printf", "read"} <= kinds.keys(), kinds  # the profile and the greeting ran
    started = {word: kind for word, kind in kinds.items() if kind not in ("builtin", "keyword")}
    assert started == {}, started


async def test_exit_ends_the_stream_with_the_exit_code() -> None:
    sandbox = await engine.acquire("owner-tty-exit")
    tty = await engine.open_tty(sandbox)
    await read_until(tty, b"$ ")
    await tty.write(b"exit 3\n")
    while await asyncio.wait_for(tty.read(), 15):
        pass
    assert tty.exit_code == 3
    await tty.close()
    await tty.close()  # idempotent
    assert await tty.read() == b""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_closing_frees_every_file_descriptor() -> None:
    sandbox = await engine.acquire("owner-tty-fds")

    async def cycle() -> None:
        ttys = [await engine.open_tty(sandbox) for _ in range(10)]
        assert len({tty._sock.fileno() for tty in ttys}) == 10  # one socket per open shell
        for tty in ttys:
            await tty.close()
            assert tty._sock.fileno() == -1

    # The SDK's connection pool keeps up to 10 idle sockets: let it fill first.
    await cycle()
    before = open_fds()
    for _round in range(3):
        await cycle()
        assert open_fds() <= before


async def test_close_wakes_a_pending_read() -> None:
    sandbox = await engine.acquire("owner-tty-wake")
    tty = await engine.open_tty(sandbox)
    await read_until(tty, b"$ ")
    reader = asyncio.create_task(tty.read())
    await asyncio.sleep(0.1)
    await tty.close()
    assert await asyncio.wait_for(reader, 5) == b""
