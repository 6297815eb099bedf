from __future__ import annotations

import asyncio

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_an_idle_sandbox_is_warned_then_closed_with_4000(open_tab, session_key, settings):
    # The idle clock starts when the sandbox is handed out, before the terminal streams: the
    # warning (due 2 s after) reaches a terminal that streams later too (Lease.due_warning).
    settings.SANDBOX_IDLE_TIMEOUT = 10
    settings.SANDBOX_EXPIRY_WARNING = 8

    tab = await open_tab(session_key)

    warning = await tab.event("expiry", timeout=15)
    assert warning["reason"] == "idle"
    assert 0 < warning["seconds_left"] <= 8
    assert "inactividad" in warning["message"]
    assert await tab.closed(timeout=15) == 4000
    assert tab.events[-1]["type"] == "notice"


async def test_typing_keeps_a_sandbox_alive(open_tab, session_key, settings):
    settings.SANDBOX_IDLE_TIMEOUT = 6
    settings.SANDBOX_EXPIRY_WARNING = 2
    tab = await open_tab(session_key)

    # A keystroke from `ready` on, every 1.5 s by the clock, for 9 s: longer than the idle
    # timeout, so only the keystrokes can have kept the sandbox.
    for n in range(6):
        await tab.type(f"echo {n}\r")
        await asyncio.sleep(1.5)

    assert tab.close_code is None
    assert b"vivo" in await tab.run("echo vi''vo", "fin-vivo")
    assert tab.close_code is None


async def test_a_sandbox_at_its_lifetime_is_warned_then_closed_with_4001(
    open_tab, session_key, settings
):
    # The lifetime counts from the sandbox's creation, and loaded CI machines took over 8 s to
    # start one: a warning broadcast before the terminal streamed was lost (a CI failure, and a
    # page reloaded in the last minutes missed it too). Now a terminal that streams after the
    # warning gets it when it does, as a second tab opened later shows.
    settings.SANDBOX_MAX_LIFETIME = 30
    settings.SANDBOX_EXPIRY_WARNING = 28

    tab = await open_tab(session_key)
    warning = await tab.event("expiry", timeout=30)
    later = await open_tab(session_key)

    assert warning["reason"] == "lifetime"
    assert "tiempo máximo" in warning["message"]
    again = await later.event("expiry", timeout=30)
    assert again["reason"] == "lifetime"
    assert 0 < again["seconds_left"] <= warning["seconds_left"]
    assert [e["type"] for e in later.events].count("expiry") == 1
    assert await tab.closed(timeout=40) == 4001
    assert await later.closed(timeout=10) == 4001
    assert tab.events[-1]["type"] == "notice"
