"""TERMINAL_OUTPUT_RATE is per session: a student's terminals share one output budget, so more
tabs flooding do not push out more bytes, while another student keeps a budget of their own.
Bounds with generous slack, not speed figures (bench/ measures those)."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

RATE = 64 * 1024
WINDOW = 4.0


async def collect(tabs, seconds: float) -> list[int]:
    """Takes every tab's output for `seconds`; returns how many bytes each one received."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    before = [len(tab.output) for tab in tabs]

    async def pump(tab) -> None:
        while (left := until - loop.time()) > 0:
            await tab._pump_one(min(0.1, left))

    await asyncio.gather(*(pump(tab) for tab in tabs))
    return [len(tab.output) - start for tab, start in zip(tabs, before, strict=True)]


async def test_two_floods_of_one_session_share_one_rate(open_tab, settings):
    from .tabs import make_session

    settings.TERMINAL_OUTPUT_RATE = RATE
    student, other_student = await make_session(), await make_session()
    first = await open_tab(student)
    second = await open_tab(student)
    theirs = await open_tab(other_student)
    tabs = [first, second, theirs]
    for tab in tabs:
        await tab.type("yes\r")
    for tab in tabs:
        await tab.expect(b"y\r\ny\r\ny\r\n")
    await collect(tabs, 1.5)  # past the initial bursts: every bucket is flowing at its rate

    got_first, got_second, got_theirs = await collect(tabs, WINDOW)

    burst = RATE / 2
    # One session: both floods together stay near one rate (two rates if each had its own).
    assert got_first + got_second <= 1.25 * RATE * WINDOW + burst
    # ...and neither tab is starved by the other.
    assert got_first > 0 and got_second > 0
    # Another session has its own budget: near a whole rate, not a third of a shared one.
    assert got_theirs >= 0.6 * RATE * WINDOW
    assert all(tab.close_code is None for tab in tabs)
    for tab in tabs:
        await tab.type(b"\x03")
