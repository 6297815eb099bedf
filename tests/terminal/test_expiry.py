from __future__ import annotations

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def _warnings(tab, since: int = 0) -> list[dict]:
    return [e for e in tab.events[since:] if e["type"] == "expiry"]


async def _idle_from_here(tab) -> int:
    """Runs a command, which restarts the idle clock, and returns the events mark after it: its
    output comes after anything the greeting sent, so from the mark on, a warning can only be
    the watcher's broadcast to a streaming terminal."""
    await tab.run("echo hola", "fin-hola")
    return len(tab.events)


async def test_an_idle_sandbox_is_warned_then_closed_with_4000(open_tab, session_key, settings):
    settings.SANDBOX_IDLE_TIMEOUT = 20
    settings.SANDBOX_EXPIRY_WARNING = 8
    tab = await open_tab(session_key)
    mark = await _idle_from_here(tab)

    await tab.until(lambda: bool(_warnings(tab, mark)), timeout=30)
    assert await tab.closed(timeout=30) == 4000

    [warning] = _warnings(tab, mark)  # once
    assert warning["reason"] == "idle"
    assert 0 < warning["seconds_left"] <= 8
    assert "inactividad" in warning["message"]
    assert tab.events[-1]["type"] == "notice"


async def test_typing_after_an_idle_warning_then_stopping_brings_a_new_one(
    open_tab, session_key, settings
):
    # A warning window longer than half the timeout: when the watcher wakes at the end it
    # warned of, typing has moved the end, but it is already inside the window again.
    settings.SANDBOX_IDLE_TIMEOUT = 10
    settings.SANDBOX_EXPIRY_WARNING = 8
    tab = await open_tab(session_key)
    mark = await _idle_from_here(tab)
    await tab.until(lambda: bool(_warnings(tab, mark)), timeout=20)

    await tab.run("echo dos", "fin-dos")  # the student answers the warning, then stops again
    assert await tab.closed(timeout=30) == 4000

    first, second = _warnings(tab, mark)
    assert first["reason"] == second["reason"] == "idle"
    assert tab.events[-1]["type"] == "notice"


async def test_typing_keeps_a_sandbox_alive(open_tab, session_key, settings):
    settings.SANDBOX_IDLE_TIMEOUT = 6
    settings.SANDBOX_EXPIRY_WARNING = 2
    tab = await open_tab(session_key)

    # A keystroke from `ready` on, then one every 1.5 s of reading, for 9 s: longer than the
    # idle timeout, so only the keystrokes can have kept the sandbox.
    for n in range(6):
        await tab.type(f"echo {n}\r")
        await tab.pump_for(1.5)

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
    assert await tab.closed(timeout=40) == 4001
    assert await later.closed(timeout=10) == 4001
    assert len(_warnings(tab)) == len(_warnings(later)) == 1  # each once, to the end
    assert tab.events[-1]["type"] == later.events[-1]["type"] == "notice"
