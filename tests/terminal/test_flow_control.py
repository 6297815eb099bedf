"""The output pump never reads faster than the page takes bytes, nor above the rate cap."""

from __future__ import annotations

import asyncio

import pytest

from harness.tabs import new_terminal_id
from sandbox import terminals
from sandbox.terminals import HIGH_WATER, SEND_CHUNK, TokenBucket, get_registry

from .fakes import FakeEngine, RecordingClient


@pytest.fixture
def fake_engine(monkeypatch) -> FakeEngine:
    fake = FakeEngine()
    for name in ("acquire", "open_tty", "release", "touch", "state"):
        monkeypatch.setattr(terminals.engine, name, getattr(fake, name))
    return fake


async def wait_for(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_page_that_stops_reading_stops_the_reads_from_the_tty(fake_engine):
    registry = get_registry()
    page = RecordingClient(stuck=True)
    terminal = registry.connect("owner-a", new_terminal_id(), page)
    await wait_for(lambda: page.sends == 1)
    await asyncio.sleep(0.5)  # plenty of time for an unbounded reader to read megabytes
    tty = fake_engine.ttys[0]

    read_so_far = tty.read_bytes
    await asyncio.sleep(0.3)

    assert tty.read_bytes == read_so_far  # the reader is parked
    assert len(terminal.pending) <= HIGH_WATER + len(tty.chunk)
    assert read_so_far <= SEND_CHUNK + HIGH_WATER + 2 * len(tty.chunk)
    await registry.close_all()


async def test_the_reader_waits_for_the_rate_before_reading_again(fake_engine, settings):
    # A rate so low that paying for one chunk takes hours: whatever the machine's speed, a reader
    # that honours the budget has read exactly one chunk, while an unbounded one (the fake shell
    # answers every read at once) would have read megabytes in the same turns of the loop.
    settings.TERMINAL_OUTPUT_RATE = 1
    registry = get_registry()
    page = RecordingClient()
    terminal = registry.connect("owner-b", new_terminal_id(), page)
    await wait_for(lambda: len(page.output) > 0)
    tty = fake_engine.ttys[0]
    for _ in range(200):
        await asyncio.sleep(0)
    await asyncio.sleep(0.3)

    assert tty.read_bytes == len(tty.chunk)
    assert bytes(page.output) == tty.chunk  # what was read reached the page, once
    # The chunk was charged to the session's budget, which is now in debt for it.
    assert terminal.lease.output.tokens < 0
    await registry.close_all()


def test_the_token_bucket_asks_to_wait_for_its_debt():
    bucket = TokenBucket(rate=1000, burst=500)

    assert bucket.take(500) == 0
    assert bucket.take(1000) == pytest.approx(1.0, abs=0.05)
    assert not bucket.try_take(1)


def test_the_replay_asks_the_terminal_nothing() -> None:
    # xterm.js answers a query as typed input: replayed after a reload, the answers of a
    # busybox prompt's cursor questions went to the shell and broke the next command.
    from sandbox.terminal_buffers import ReplayBuffer

    ring = ReplayBuffer(1024)
    ring.append(b"\x1b[31m$ \x1b[6nls\r\n\x1b[0mfile\r\n\x1b]11;?\x07\x1b[c\x1b[>c$ \x1b[6")
    ring.append(b"n\x1b]0;title\x07")  # a question cut across two reads of the shell
    assert ring.snapshot() == b"\x1b[31m$ ls\r\n\x1b[0mfile\r\n$ \x1b]0;title\x07"


def test_a_replay_starts_from_the_last_prompt_mark_it_no_longer_holds() -> None:
    # The page reads from the sandbox bash's marks (OSC 133;A a prompt, C a command started)
    # whether a command has the terminal. A command printing more than the replay holds pushed
    # its mark out, and after a reload «Ejecutar» typed into that command.
    from sandbox.terminal_buffers import ReplayBuffer

    prompt, started = b"\x1b]133;A\x07", b"\x1b]133;C\x07"
    line = b"linea de registro\r\n"  # 19 bytes
    ring = ReplayBuffer(64)
    ring.append(prompt + b"$ docker logs -f web\r\n" + started)
    assert ring.snapshot() == prompt + b"$ docker logs -f web\r\n" + started  # as it is
    for _ in range(10):
        ring.append(line)
    # 64 bytes: the end of a line (cut at the line boundary) and three whole lines.
    assert ring.snapshot() == started + line * 3
    # The prompt back, then more output pushed it out too: the last mark wins.
    ring.append(prompt + b"$ ")
    ring.append(b"x" * 200 + b"\r\n" + b"fin\r\n")
    assert ring.snapshot() == prompt + b"fin\r\n"
    # A mark dripped a byte at a time, and so trimmed a byte at a time, is found whole.
    ring = ReplayBuffer(12)
    for byte in started + b"0123456789\r\nabc\r\n":
        ring.append(bytes([byte]))
    assert ring.snapshot() == started + b"abc\r\n"
    # And pushed out by one read larger than the whole replay.
    ring = ReplayBuffer(12)
    ring.append(started)
    ring.append(b"y" * 30 + b"\r\nabc\r\n")
    assert ring.snapshot() == started + b"abc\r\n"
    # No line boundary to cut at, and the trim fell inside a mark: that mark, whole, is the
    # state (not the one trimmed before it), and its rest is not shown as text.
    ring = ReplayBuffer(20)
    ring.append(started + prompt)
    ring.append(b"y" * 15)  # trims the C mark and the A mark's first 3 bytes
    assert ring.snapshot() == prompt + b"y" * 15
    # The same, the trim falling just before the mark's closing BEL.
    ring = ReplayBuffer(20)
    ring.append(started + b"q" * 5 + prompt)
    ring.append(b"y" * 19)  # keeps only the A mark's BEL and the y's
    assert ring.snapshot() == prompt + b"y" * 19
    # The other OSC 133 marks (B, D) say nothing about who has the terminal: no prefix.
    ring = ReplayBuffer(16)
    ring.append(b"\x1b]133;B\x07\x1b]133;D;0\x07" + b"y" * 40 + b"\n" + b"z" * 10)
    assert ring.snapshot() == b"z" * 10
