"""A memory bomb in the shell: the OOM killer takes only the greedy process, the student is told
why (a Spanish `notice` naming the limit) and the same shell keeps working."""

from __future__ import annotations

import pytest

from sandbox import engine
from sandbox.terminal_notices import spoken_memory
from sandbox.terminals import owner_key

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_a_memory_bomb_in_the_shell_is_explained_and_the_shell_goes_on(
    open_tab, session_key, settings
):
    tab = await open_tab(session_key)
    other = await open_tab(session_key)  # another tab of the same student hears it too
    await tab.expect(b"$ ")

    # tail keeps the last "line" in memory; /dev/zero has no newline, so it grows without end.
    await tab.type("head -c 1G /dev/zero | tail\r")
    await tab.expect(b"Killed", timeout=60)
    oom = await tab.event("notice", timeout=30)
    await other.event("notice", timeout=30)

    assert oom["level"] == "warning"
    assert "memoria" in oom["message"]
    assert spoken_memory(settings.SANDBOX_MEMORY) in oom["message"]  # e.g. "256 MB"
    assert "sigue funcionando" in oom["message"]
    assert not any(e["type"] == "exit" for e in tab.events)
    # The same shell answers.
    assert b"ok" in await tab.run("echo ok", "fin-de-prueba")
    assert tab.close_code is None and other.close_code is None


async def test_a_killed_process_that_was_not_an_oom_brings_no_notice(open_tab, session_key):
    tab = await open_tab(session_key)
    await tab.run("sleep 30 & kill -9 $!; wait", "listo-1")
    await tab.run("echo Killed", "listo-2")
    await tab.quiet_for(3)  # longer than a count of the OOM kills takes

    assert not any(e["type"] == "notice" for e in tab.events)


async def test_a_kill_from_before_the_terminal_opened_is_not_announced_and_the_next_one_is(
    open_tab, session_key
):
    # A sandbox the student already had (reused, not fresh): its kills so far are counted when
    # the terminal opens, so only a new one brings a notice. (A fresh sandbox has none to count:
    # the first test above shows its first kill is announced.)
    sandbox = await engine.acquire(owner_key(session_key))
    before = await engine.run(sandbox, ["sh", "-c", "head -c 1G /dev/zero | tail"], timeout=60)
    assert before.exit_code == 137

    tab = await open_tab(session_key)
    assert (await engine.get(owner_key(session_key))).container_id == sandbox.container_id
    await tab.run("echo Kil''led", "listo-1")  # looks like a kill: the count runs again
    await tab.quiet_for(3)  # longer than a count of the OOM kills takes
    assert not any(e["type"] == "notice" for e in tab.events)

    await tab.type("head -c 1G /dev/zero | tail\r")
    await tab.expect(b"Killed", timeout=60)
    oom = await tab.event("notice", timeout=30)
    assert "memoria" in oom["message"]


def test_the_memory_limit_is_spoken_as_people_write_it():
    assert spoken_memory("256m") == "256 MB"
    assert spoken_memory("1g") == "1 GB"
    assert spoken_memory(str(512 * 1024 * 1024)) == "512 MB"
