from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_a_foreign_origin_is_refused(open_tab, session_key):
    tab = await open_tab(session_key, origin=b"https://evil.example")

    assert tab.close_code is not None
    assert not tab.events


async def test_a_handshake_without_origin_is_refused(open_tab, session_key):
    tab = await open_tab(session_key, origin=None)

    assert tab.close_code is not None


async def test_without_a_session_cookie_it_closes_4403_with_a_spanish_notice(open_tab):
    tab = await open_tab(None, ready=False)

    assert await tab.closed() == 4403
    assert tab.events[0]["type"] == "notice"
    assert "sesión" in tab.events[0]["message"]


async def test_an_unknown_session_key_is_refused(open_tab, transactional_db):
    tab = await open_tab("a" * 32, ready=False)

    assert await tab.closed() == 4403


async def test_a_malformed_terminal_id_closes_1008(open_tab, session_key):
    tab = await open_tab(session_key, query="t=corto", ready=False)

    assert await tab.closed() == 1008
    assert tab.events[0]["type"] == "notice"
