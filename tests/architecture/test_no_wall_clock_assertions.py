"""No test asserts how long something took (STYLE.md: timing goes to bench/, tests assert order
and outcome). See tests/architecture/wall_clock.py for what counts."""

from __future__ import annotations

from pathlib import Path

from .wall_clock import wall_clock_assertions

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_asserts_on_wall_clock_time() -> None:
    found = [
        f"{path.relative_to(TESTS.parent)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line in wall_clock_assertions(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_check_finds_elapsed_time_in_an_assert() -> None:
    # The shapes the suite used to have (issue 10), so the check above can fail.
    source = """
import asyncio, time

async def t(rate):
    loop = asyncio.get_running_loop()
    started = loop.time()
    elapsed, read = loop.time() - started, 5
    assert read <= rate * elapsed

def u():
    signalled = time.monotonic()
    assert time.monotonic() - signalled < 15
    left = 10 - (time.monotonic() - signalled)
    assert wait(within=left) is not None
    t0 = time.perf_counter()
    assert (took := time.perf_counter() - t0) < 1
"""
    assert wall_clock_assertions(source) == [8, 12, 14, 16]


def test_watchdogs_and_messages_are_not_assertions_on_time() -> None:
    source = """
import asyncio, time

async def t(thread):
    deadline = time.monotonic() + 30
    while not ready():
        assert time.monotonic() < deadline, "never became ready"
    await asyncio.wait_for(thing(), 120)
    started = time.monotonic()
    assert not thread.is_alive(), f"still running {time.monotonic() - started:.0f} s on"
"""
    assert wall_clock_assertions(source) == []
