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


async def test_a_malformed_resize_is_ignored(open_tab, session_key):
    tab = await open_tab(session_key)

    await tab.control({"type": "resize", "rows": 0, "cols": 100000})
    await tab.control({"type": "resize", "rows": "33", "cols": None})
    output = await tab.run("echo vi''vo", "fin-vivo")

    assert b"vivo" in output
    assert tab.close_code is None
