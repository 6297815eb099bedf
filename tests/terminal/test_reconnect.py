from __future__ import annotations

import asyncio
import re

import pytest

from harness.tabs import new_terminal_id

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_reconnecting_within_the_grace_period_reattaches_to_the_same_shell(
    open_tab, session_key
):
    terminal_id = new_terminal_id()
    first = await open_tab(session_key, terminal_id)
    before = await first.run("echo p''id=$$; echo recuer''do-anterior", "fin-antes")
    pid = re.search(rb"\npid=(\d+)", before).group(1)
    await first.hang_up()

    again = await open_tab(session_key, terminal_id)

    assert again.events[0]["reattached"] is True
    assert again.events[0]["fresh"] is False
    await again.expect(b"recuerdo-anterior")  # replayed
    after = await again.run("echo p''id=$$", "fin-despues")
    assert re.search(rb"\npid=(\d+)", after).group(1) == pid


async def test_after_the_grace_period_the_student_gets_a_fresh_sandbox(
    open_tab, session_key, settings
):
    settings.SANDBOX_RECONNECT_GRACE = 0
    terminal_id = new_terminal_id()
    first = await open_tab(session_key, terminal_id)
    await first.run("hostname", "fin-primero")
    await first.hang_up()
    await asyncio.sleep(0.5)

    again = await open_tab(session_key, terminal_id)

    ready = again.events[0]
    assert ready["reattached"] is False
    assert ready["fresh"] is True
    fresh_notice = await again.event("notice")
    assert "nuevo" in fresh_notice["message"]


async def test_a_second_tab_with_the_same_terminal_takes_it_over(open_tab, session_key):
    terminal_id = new_terminal_id()
    first = await open_tab(session_key, terminal_id)
    await first.run("echo uno", "fin-uno")

    second = await open_tab(session_key, terminal_id)

    assert await first.closed() == 4009
    assert second.events[0]["reattached"] is True
    assert b"dos" in await second.run("echo d''os", "fin-dos")


async def test_output_printed_while_away_is_replayed_on_return(open_tab, session_key):
    terminal_id = new_terminal_id()
    first = await open_tab(session_key, terminal_id)
    await first.run("echo listo", "fin-listo")
    await first.type("sleep 1; echo mientras-''fuera-$((6*7))\r")
    await first.hang_up()
    await asyncio.sleep(2)

    again = await open_tab(session_key, terminal_id)

    await again.expect(b"mientras-fuera-42")
    assert again.events[0]["reattached"] is True


async def test_a_command_that_printed_more_than_the_replay_holds_still_has_the_terminal_on_return(
    open_tab, session_key, settings
):
    # The page reads from the prompt marks of the sandbox's bash (OSC 133: A a prompt, C a
    # command started) whether «Ejecutar» may type. A command that printed more than the
    # replay holds (64 KiB) pushed its mark out of it: after a reload the page took the
    # terminal for free and typed the lesson's next command into that program.
    settings.TERMINAL_REPLAY_BYTES = 64 * 1024  # less than the command prints
    terminal_id = new_terminal_id()
    first = await open_tab(session_key, terminal_id)
    await first.run("echo listo", "fin-listo")
    await first.type("head -c 100000 /dev/zero | tr '\\0' x; echo; echo fin-''salida; cat\r")
    await first.expect(b"fin-salida", timeout=30)
    await first.hang_up()

    again = await open_tab(session_key, terminal_id)

    await again.expect(b"fin-salida")
    assert again.events[0]["reattached"] is True
    marks = re.findall(rb"\x1b\]133;([AC])", bytes(again.output))
    assert marks[-1:] == [b"C"], f"the replay's marks: {marks}"
