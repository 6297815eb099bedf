from __future__ import annotations

import re

import pytest

from harness.tabs import make_session, new_terminal_id

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_another_session_with_the_same_terminal_id_gets_its_own_sandbox(
    open_tab, session_key
):
    terminal_id = new_terminal_id()
    first = await open_tab(session_key, terminal_id)
    mine = await first.run("echo h''ost=$(hostname); echo secre''to-de-la-primera", "fin-uno")
    assert b"secreto-de-la-primera" in mine

    other = await open_tab(await make_session(), terminal_id)
    theirs = await other.run("echo h''ost=$(hostname)", "fin-dos")

    first_host = re.search(rb"\nhost=(\S+)", mine).group(1)
    other_host = re.search(rb"\nhost=(\S+)", theirs).group(1)
    assert first_host != other_host
    assert b"secreto-de-la-primera" not in other.output
    assert other.events[0]["reattached"] is False
    # The first tab was not taken over: it still has its shell.
    assert b"sigue" in await first.run("echo si''gue", "fin-tres")
    assert first.close_code is None
