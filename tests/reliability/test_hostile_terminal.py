"""Hostile output and input through the real websocket terminal (tutorial.asgi, real engine)."""

from __future__ import annotations

import time

import docker.errors
import pytest

from harness.tabs import make_session
from sandbox import engine
from tests.sandbox.conftest import inspect

from .conftest import rss_bytes

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

TEN_MB = 10_000_000
FLOOD_SECONDS = 10


async def test_a_10_mb_line_of_invalid_utf8_passes_through_and_the_terminal_keeps_working(
    open_tab, session_key, settings
):
    """Pass: 10 MB of 0xFF bytes with no newline arrive whole as binary frames, the text printed
    before and after it is intact, the connection stays open and the next command runs."""
    settings.TERMINAL_OUTPUT_RATE = 64 * 1024 * 1024  # the default cap would take 40 s for this
    tab = await open_tab(session_key)
    start = len(tab.output)
    await tab.type(
        "printf AN''TES; head -c 10000000 /dev/zero | tr '\\0' '\\377'; printf DESPU''ES\\\\n\r"
    )
    end = await tab.expect(b"DESPUES", timeout=90, start=start)
    chunk = bytes(tab.output[start:end])
    before = chunk.index(b"ANTES") + len(b"ANTES")
    assert chunk[before : before + TEN_MB] == b"\xff" * TEN_MB
    assert chunk[before + TEN_MB :] == b"DESPUES"
    assert tab.close_code is None
    assert b"sigue" in await tab.run("echo si''gue", "fin-linea")


async def test_an_output_flood_keeps_server_memory_bounded_stops_on_ctrl_c_and_logs_nothing(
    open_tab, session_key
):
    """Pass: while `yes` floods the terminal for 10 s (the page reading everything), the test
    process's RSS grows by less than 32 MiB; Ctrl-C brings the prompt back with no more `y`
    lines; nothing of it is logged on the host (the shell is the sandbox's main process, on the
    container's TTY, and the sandbox has no log)."""
    tab = await open_tab(session_key)
    container_id = await container_of(tab)
    info = inspect(container_id)
    assert info["HostConfig"]["LogConfig"]["Type"] == "none"
    assert not info["LogPath"]
    rss_before = rss_bytes()

    await tab.type("yes\r")
    received = 0
    deadline = time.monotonic() + FLOOD_SECONDS
    while time.monotonic() < deadline:
        kept = len(tab.output)
        await tab.quiet_for(0.05)
        received += len(tab.output) - kept
        del tab.output[:-4096]  # a page keeps a scrollback, not everything
    rss_after = rss_bytes()
    assert received > 100_000 and tab.output.count(b"y\r\n") > 100  # the flood did flow

    flooded = len(tab.output)
    await tab.type(b"\x03")
    await tab.type("echo pa''rado\r")
    end = await tab.expect(b"parado", timeout=20, start=flooded)
    await tab.quiet_for(1.0)
    assert b"y\r\n" not in bytes(tab.output[end:])

    growth = rss_after - rss_before
    print(f"flood {FLOOD_SECONDS} s: {received} bytes received, RSS +{growth / 2**20:.1f} MiB")
    assert growth < 32 * 1024 * 1024, f"RSS grew {growth / 2**20:.1f} MiB"
    # The engine kept nothing to show: `docker logs` of the sandbox has nothing to read.
    with pytest.raises(docker.errors.APIError, match="does not support reading"):
        engine.call_sync(lambda api: api.logs(container_id))


async def container_of(tab) -> str:  # noqa: ANN001
    """The container behind the only terminal of this test (one session, so one sandbox)."""
    from sandbox import engine

    assert tab.close_code is None
    sandboxes = await engine.list_managed()
    assert len(sandboxes) == 1, sandboxes
    return sandboxes[0].container_id


async def test_a_flood_or_an_oversized_frame_closes_only_that_connection(
    open_tab, session_key, settings
):
    """Pass: one session's input flood closes it with 4008 and another session's oversized frame
    closes that one with 1009, while a third session's terminal keeps echoing afterwards."""
    calm = await open_tab(session_key)
    noisy = await open_tab(await make_session())
    big = await open_tab(await make_session())

    for _ in range(settings.TERMINAL_INPUT_RATE * 3):
        await noisy.type(b":")
        await noisy.quiet_for(0)
        if noisy.close_code is not None:
            break
    await big.type(b"x" * (settings.TERMINAL_MAX_FRAME + 1))

    assert await noisy.closed() == 4008
    assert await big.closed() == 1009
    assert b"calma" in await calm.run("echo cal''ma", "fin-calma")
    assert calm.close_code is None
