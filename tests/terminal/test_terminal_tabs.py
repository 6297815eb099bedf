"""Several terminals (the workspace's terminal tabs) on one session, against the real engine:
each is its own shell in the same sandbox, they run at once, each reattaches to its own shell,
the server caps them (default 4) with a Spanish notice, and closing a tab (close 4010) ends its
shell at once and frees its place."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.tabs import new_terminal_id
from sandbox import terminal_hangup
from sandbox.terminal_protocol import CLOSE_TAB_CLOSED, CLOSE_TOO_MANY
from sandbox.terminals import get_registry
from tests.terminal.shell_endings import (
    a_grace_that_runs_out_ends_the_shell,
    closing_the_tab_ends_the_shell_and_its_job,
)
from tests.terminal.shell_probe import value

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_two_terminals_are_separate_shells_in_one_sandbox_and_run_at_once(
    open_tab, session_key
):
    busy = await open_tab(session_key)
    free = await open_tab(session_key)
    first = await busy.run("echo h''ost=$(hostname); echo p''id=$$; echo t''ty=$(tty)", "fin-a")
    second = await free.run("echo h''ost=$(hostname); echo p''id=$$; echo t''ty=$(tty)", "fin-b")

    await busy.type("sleep 60; echo dorm''ido\r")  # holds the first shell's foreground
    answered = await free.run("echo respon''de", "fin-libre")

    assert value(first, "host") == value(second, "host")  # one sandbox
    assert value(first, "pid") != value(second, "pid")  # two shells
    assert value(first, "tty") != value(second, "tty")  # each with its own TTY
    assert b"responde" in answered
    assert b"dormido" not in busy.output  # the sleep still runs in the other one


async def test_each_terminal_reattaches_to_its_own_shell(open_tab, session_key):
    ids = [new_terminal_id(), new_terminal_id()]
    pids = []
    for number, terminal_id in enumerate(ids):
        tab = await open_tab(session_key, terminal_id)
        before = await tab.run(f"echo p''id=$$; echo mar''ca-{number}", f"fin-primera-{number}")
        pids.append(value(before, "pid"))
        await tab.hang_up()  # a reload: both in their grace period

    for number, terminal_id in enumerate(ids):
        again = await open_tab(session_key, terminal_id)
        assert again.events[0]["reattached"] is True
        await again.expect(f"marca-{number}".encode())  # its own replay
        assert b"marca-%d" % (1 - number) not in again.output
        after = await again.run("echo p''id=$$", f"fin-segunda-{number}")
        assert value(after, "pid") == pids[number]


async def test_the_fifth_terminal_of_a_session_is_refused_with_a_spanish_notice(
    open_tab, session_key, settings
):
    assert settings.SANDBOX_MAX_TERMINALS_PER_SESSION == 4  # the default
    for _ in range(4):
        await open_tab(session_key)

    fifth = await open_tab(session_key, ready=False)

    assert await fifth.closed() == CLOSE_TOO_MANY
    message = fifth.events[-1]["message"]
    assert "4 terminales" in message and "máximo" in message


@pytest.mark.parametrize("first", [False, True], ids=["a-later-tab", "the-first-tab"])
async def test_closing_a_tab_ends_its_shell_at_once_and_frees_its_place(
    open_tab, session_key, settings, first
):
    await closing_the_tab_ends_the_shell_and_its_job(open_tab, session_key, settings, first=first)


async def test_a_shell_whose_grace_ran_out_is_ended_while_other_terminals_live(
    open_tab, session_key, settings
):
    await a_grace_that_runs_out_ends_the_shell(open_tab, session_key, settings)


async def test_a_tab_closed_from_a_connection_that_lost_its_terminal_ends_nothing(
    open_tab, session_key
):
    """A connection taken over (4009) that then sends 4010 must not end the shell it no longer
    shows: only the connection showing a terminal can close it for good."""
    terminal_id = new_terminal_id()
    old = await open_tab(session_key, terminal_id)
    new = await open_tab(session_key, terminal_id)
    assert await old.closed() == 4009
    pid = value(await new.run("echo p''id=$$", "fin-uno"), "pid")

    await old.communicator.disconnect(code=CLOSE_TAB_CLOSED, timeout=10)

    assert value(await new.run("echo p''id=$$", "fin-dos"), "pid") == pid
    assert new.close_code is None


async def test_exit_in_the_first_tab_ends_only_its_shell(open_tab, session_key, settings):
    """The first tab's shell is the sandbox's main process's (hardening.MAIN_SHELL_COMMAND):
    `exit` there ends that terminal with its code, and the sandbox and the other tab go on,
    the main process now only waiting (`sleep infinity`)."""
    assert not settings.TERMINAL_HELD_SHELLS
    first = await open_tab(session_key)
    second = await open_tab(session_key)

    await first.type("exit 3\r")

    assert await first.closed() == 1000
    assert (await first.event("exit"))["code"] == 3
    waiting = (
        "for i in $(seq 50); do n=$(for c in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $c"
        " 2>/dev/null; echo; done | grep -c '^sleep infinity $'); [ $n -ge 1 ] && break;"
        " sleep 0.1; done; echo esp''eran=$n"
    )
    assert value(await second.run(waiting, "fin-espera", timeout=30), "esperan") == b"1"
    assert second.close_code is None


async def test_a_copy_of_the_main_process_is_never_hung_up_for_it(open_tab, session_key):
    """A student's process started with the main process's command line (an orphan of
    docker-init once the first shell ends) is not the main process: the first tab's hang-up
    finds nothing to end, as the main process is `sleep infinity` by then."""
    first = await open_tab(session_key)
    second = await open_tab(session_key)
    (lease,) = get_registry().leases.values()
    # The copy's login shell, told apart from the second tab's (and its subshells) by its
    # environment.
    copies = (
        "n=0; for p in /proc/[0-9]*; do"
        " [ \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" = \"/bin/bash -l \" ]"
        " && tr '\\0' '\\n' < $p/environ 2>/dev/null | grep -qx COPIA=1 && n=$((n+1));"
        " done; echo co''pias=$n"
    )

    await first.type(
        "S=$(tr '\\0' '\\n' < /proc/$PPID/cmdline | sed -n 3p);"
        ' (sleep 1000 | COPIA=1 /bin/bash -c "$S" >/dev/null 2>&1 &); exit\r'
    )
    assert await first.closed() == 1000

    # The copy's login shell lives, whoever asks for the hang-up (the closed tab did, and here
    # again).
    assert not await terminal_hangup.hang_up(SimpleNamespace(exec_id="", sandbox=lease.sandbox))
    assert value(await second.run(copies, "fin-copias"), "copias") == b"1"
