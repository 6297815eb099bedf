from __future__ import annotations

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_an_idle_sandbox_is_warned_then_closed_with_4000(open_tab, session_key, settings):
    settings.SANDBOX_IDLE_TIMEOUT = 3
    settings.SANDBOX_EXPIRY_WARNING = 2

    tab = await open_tab(session_key)

    warning = await tab.event("expiry", timeout=10)
    assert warning["reason"] == "idle"
    assert 0 < warning["seconds_left"] <= 2
    assert "inactividad" in warning["message"]
    assert await tab.closed(timeout=10) == 4000
    assert tab.events[-1]["type"] == "notice"


async def test_typing_keeps_a_sandbox_alive(open_tab, session_key, settings):
    settings.SANDBOX_IDLE_TIMEOUT = 4
    settings.SANDBOX_EXPIRY_WARNING = 2
    tab = await open_tab(session_key)

    for n in range(4):
        await tab.quiet_for(1.5)
        await tab.type(f"echo {n}\r")

    assert tab.close_code is None
    assert b"vivo" in await tab.run("echo vi''vo", "fin-vivo")


async def test_a_sandbox_at_its_lifetime_is_warned_then_closed_with_4001(
    open_tab, session_key, settings
):
    # The lifetime counts from the sandbox's creation; the warning comes once the terminal
    # watches it. Loaded CI machines took over 4 s, then over 8 s, to start the sandbox, so the
    # end came before the watch and no warning was sent. With 30 s and a 28 s warning, any start
    # shorter than the lifetime gets the warning first (at most 2 s after the creation).
    settings.SANDBOX_MAX_LIFETIME = 30
    settings.SANDBOX_EXPIRY_WARNING = 28

    tab = await open_tab(session_key)

    warning = await tab.event("expiry", timeout=10)
    assert warning["reason"] == "lifetime"
    assert "tiempo máximo" in warning["message"]
    assert await tab.closed(timeout=40) == 4001
    assert tab.events[-1]["type"] == "notice"
