"""dtach's «[EOF - dtach terminating]» never reaches the page, wherever the engine's stream
cuts it (sandbox/terminal_holder.HeldTTY). CI once showed it whole on the page: the banner had
come in two reads. Here a real exec in a real sandbox prints it in two writes with a pause
between, so the cut falls where each case puts it."""

from __future__ import annotations

import asyncio

import pytest

from sandbox import engine
from sandbox.docker_api import execs
from sandbox.docker_api.client import call
from sandbox.terminal_holder import HeldTTY

pytestmark = pytest.mark.docker

# What dtach 0.9's attach prints when the shell ends, as the engine delivers it.
WHOLE = b"\x1b[999H\r\n[EOF - dtach terminating]\r\n\x1b[?25h"


async def _page_sees(owner: str, first: bytes, second: bytes) -> bytes:
    """What a HeldTTY passes on of a real exec printing `first`, then `second` a moment later."""
    sandbox = await engine.acquire(owner)
    command = _printing_in_two_writes(first, second)
    exec_id, stream = await call(
        execs.exec_open, sandbox.container_id, command, tty=True, stdin=False
    )
    tty = HeldTTY(sandbox, exec_id, stream, f"terminal-{owner}")
    out = b""
    try:
        while chunk := await asyncio.wait_for(tty.read(), 15):
            out += chunk
    finally:
        await tty.close()
    return out


def _octal(data: bytes) -> str:
    return "".join(f"\\{byte:03o}" for byte in data)


def _printing_in_two_writes(first: bytes, second: bytes) -> list[str]:
    # -opost: the tty passes the bytes as they are (no \n to \r\n); the sleep makes the engine
    # deliver two reads.
    script = f"stty -opost; printf 'antes {_octal(first)}'; sleep 0.4; printf '{_octal(second)}'"
    return ["sh", "-c", script]


@pytest.mark.parametrize(
    "cut",
    [1, 2, 4, 7, 15, len(WHOLE) - 3],
    ids=["after-esc", "after-csi", "inside-999H", "after-newline", "inside-words", "inside-cursor"],
)
async def test_the_banner_cut_in_two_reads_never_reaches_the_page(cut: int) -> None:
    out = await _page_sees(f"owner-banner-{cut}", WHOLE[:cut], WHOLE[cut:])
    assert out == b"antes ", out


async def test_what_only_looks_like_the_banner_start_is_passed_on() -> None:
    """A tail that could begin the banner is held back, never dropped: the next read brings it
    (an escape sequence cut by the stream, then the rest of the program's output)."""
    out = await _page_sees("owner-banner-lookalike", b"\x1b[9", b"1mrojo\x1b[0m fin")
    assert out == b"antes \x1b[91mrojo\x1b[0m fin", out
