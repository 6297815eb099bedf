from __future__ import annotations

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_a_resize_message_reaches_the_tty(open_tab, session_key):
    tab = await open_tab(session_key)

    await tab.control({"type": "resize", "rows": 33, "cols": 101})
    output = await tab.run("stty size", "fin-tamano")

    assert b"33 101" in output


async def test_the_initial_size_comes_from_the_query_string(open_tab, session_key):
    tab = await open_tab(session_key, query="t=" + "r" * 22 + "&rows=40&cols=120")

    output = await tab.run("stty size", "fin-tamano")

    assert b"40 120" in output


async def test_an_out_of_range_resize_is_ignored(open_tab, session_key):
    tab = await open_tab(session_key)

    await tab.control({"type": "resize", "rows": 0, "cols": 100000})
    output = await tab.run("echo vi''vo", "fin-vivo")

    assert b"vivo" in output
    assert tab.close_code is None


async def test_a_resize_of_the_wrong_shape_closes_1008_with_a_notice(open_tab, session_key):
    """Only a hand-made client sends sizes that are not integers (sandbox/control.py)."""
    tab = await open_tab(session_key)

    await tab.control({"type": "resize", "rows": "33", "cols": None})

    assert await tab.closed() == 1008
    assert tab.events[-1]["type"] == "notice"
