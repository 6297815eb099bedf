from __future__ import annotations

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_a_typed_command_runs_and_its_output_comes_back(open_tab, session_key):
    tab = await open_tab(session_key)
    ready = tab.events[0]
    assert ready["type"] == "ready"
    assert ready["reattached"] is False
    assert ready["fresh"] is False
    assert ready["message"]

    output = await tab.run("echo ho''la", "fin-eco")

    assert b"\nhola\n" in output


async def test_keystrokes_and_resizes_do_not_visit_the_database_thread(
    open_tab, session_key, monkeypatch
):
    """Channels closes stale database connections before each message a consumer handles (a
    hop to the database thread); the terminal's keystrokes, resizes and pings use no database,
    so only connecting and disconnecting do it."""
    import channels.consumer

    visits: list[str] = []
    close_old = channels.consumer.aclose_old_connections

    async def counted() -> None:
        visits.append("visit")
        await close_old()

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    tab = await open_tab(session_key)
    on_connect = len(visits)
    assert on_connect >= 1  # the handshake still closes stale connections

    await tab.control({"type": "resize", "rows": 30, "cols": 100})
    output = await tab.run("stty size; echo ok''-$((6 * 7))", "fin-db")
    await tab.control({"type": "ping", "t": 1})
    await tab.event("pong")

    assert b"30 100" in output and b"ok-42" in output
    assert len(visits) == on_connect
