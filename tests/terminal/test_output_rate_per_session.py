"""TERMINAL_OUTPUT_RATE is per session: a student's terminals share one output budget, so more
tabs flooding do not push out more bytes, while another student keeps a budget of their own.

Asserted as outcome (which budget each terminal is charged to, and that every flood keeps
flowing); the bytes per second each tab gets are printed by bench/terminal_output_rate.py."""

from __future__ import annotations

import pytest

from harness.tabs import make_session
from sandbox.terminals import get_registry, owner_key

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

RATE = 64 * 1024


async def test_two_floods_of_one_session_share_one_rate(open_tab, settings):
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

    registry = get_registry()
    ours = registry.terminals_of(owner_key(student))
    others = registry.terminals_of(owner_key(other_student))
    assert len(ours) == 2 and len(others) == 1
    # One session, one budget: both floods are charged to the same bucket...
    assert ours[0].lease is ours[1].lease
    shared = ours[0].lease.output
    assert shared.rate == RATE
    # ...and the other student's flood to a bucket of their own.
    assert others[0].lease.output is not shared

    # Neither flood of the session starves the other, and the budget keeps them flowing (more
    # output than the burst alone could carry) without closing anyone.
    for tab in tabs:
        before = len(tab.output)
        await tab.until(lambda tab=tab, before=before: len(tab.output) > before + RATE)
    assert all(tab.close_code is None for tab in tabs)
    for tab in tabs:
        await tab.type(b"\x03")
