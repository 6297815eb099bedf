"""Held shells (TERMINAL_HELD_SHELLS, sandbox/terminal_holder.py) in one web process, against the
real engine and the real course image: the shell lives in the sandbox under dtach, yet what the
student does to end it ends it as before (typing `exit`, closing the tab, a grace period that
runs out while other terminals keep the sandbox), jobs included, and dtach's own words never
reach the page. The reconnect to another web process is in test_two_web_processes.py."""

from __future__ import annotations

import re
from typing import Any

import pytest

from harness.tabs import new_terminal_id
from sandbox.terminals import CLOSE_TAB_CLOSED
from tests.terminal.shell_endings import (
    a_grace_that_runs_out_ends_the_shell,
    closing_the_tab_ends_the_shell_and_its_job,
)
from tests.terminal.shell_probe import assert_ended, assert_new_shell, shell_pid, value

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

# Every process of the sandbox as "pid command line", one per line (procfs: no ps quirks).
PROCESSES = (
    "for c in /proc/[0-9]*/cmdline; do p=${c#/proc/}; p=${p%/cmdline};"
    " printf '%s ' $p; tr '\\0' ' ' < $c 2>/dev/null; echo; done"
)


@pytest.fixture(autouse=True)
def held_shells(settings: Any) -> Any:
    settings.TERMINAL_HELD_SHELLS = True
    return settings


async def test_the_shell_runs_under_dtach_and_reattaches_in_the_same_process(open_tab, session_key):
    terminal_id = new_terminal_id()
    tab = await open_tab(session_key, terminal_id)
    out = await tab.run(f"echo p''id=$$; echo pp''id=$PPID; {PROCESSES} | grep dtach", "fin-uno")
    pid, parent = value(out, "pid").decode(), value(out, "ppid").decode()
    # The shell's parent is the holder, which holds a socket named after this terminal.
    assert re.search(rf"\n{parent} dtach -A /tmp/\.muelle-terminal-[0-9a-f]{{16}} ".encode(), out)
    await tab.type("export MARCA=42\r")
    await tab.hang_up()

    again = await open_tab(session_key, terminal_id)
    assert again.events[0]["reattached"] is True
    out = await again.run("echo p''id=$$; echo mar''ca=$MARCA", "fin-dos")
    assert value(out, "pid").decode() == pid and value(out, "marca") == b"42"


async def test_typing_exit_ends_the_held_shell_and_closes_the_terminal(open_tab, session_key):
    keeper = await open_tab(session_key)  # keeps the sandbox, to look for what is left
    terminal_id = new_terminal_id()
    tab = await open_tab(session_key, terminal_id)
    pid = await shell_pid(tab)

    await tab.type("exit 3\r")

    assert await tab.closed() == 1000
    exit_event = await tab.event("exit")
    assert exit_event["reason"] == "exit" and exit_event["message"]
    assert b"dtach" not in tab.output and b"EOF" not in tab.output
    await assert_ended(keeper, pid)
    # Only the keeper's holder and its attach are left.
    left = await keeper.run(f"echo n=$({PROCESSES} | grep -c '^[0-9]* dtach')", "fin-cuenta")
    assert value(left, "n") == b"2"
    # The same terminal id starts a new shell.
    await assert_new_shell(await open_tab(session_key, terminal_id), pid)


@pytest.mark.parametrize(
    "ending",
    [closing_the_tab_ends_the_shell_and_its_job, a_grace_that_runs_out_ends_the_shell],
    ids=["closing-the-tab", "grace-runs-out"],
)
async def test_a_held_shell_ends_exactly_as_a_plain_one(ending, open_tab, session_key, settings):
    # The same scenarios as tests/terminal/test_terminal_tabs.py, with the shell under dtach.
    await ending(open_tab, session_key, settings)


async def test_a_student_who_removes_the_holder_socket_still_has_the_shell_ended_on_close(
    open_tab, session_key, settings
):
    """The socket is the student's to break: without it a reconnect elsewhere can't find the
    shell, but closing the tab still ends it (found by its command line, not by the socket)."""
    settings.SANDBOX_MAX_TERMINALS_PER_SESSION = 2
    keeper = await open_tab(session_key)
    closed = await open_tab(session_key)
    pid = await shell_pid(closed)
    await closed.run("rm -f /tmp/.muelle-terminal-*; ls -A /tmp | grep -c muelle", "fin-rm")

    await closed.communicator.disconnect(code=CLOSE_TAB_CLOSED, timeout=10)

    await assert_ended(keeper, pid)
    # The keeper's own shell carries on.
    assert value(await keeper.run("echo si''gue=1", "fin-sigue"), "sigue") == b"1"


async def test_a_warm_sandbox_starts_no_shell_ahead_that_nobody_would_take(
    open_tab, session_key, settings
):
    """Warm sandboxes keep a login shell for their first terminal (sandbox/warm_shells.py);
    a held terminal attaches with its own exec, so that shell would run unseen for the
    sandbox's whole life: with held shells none is started."""
    from sandbox import engine, pool
    from sandbox.models import SandboxRecord

    settings.SANDBOX_WARM_POOL = 1
    assert await pool.fill_once() == 1
    warm = await SandboxRecord.objects.aget(
        instance=settings.SANDBOX_INSTANCE, state=SandboxRecord.State.POOL
    )

    tab = await open_tab(session_key)
    await tab.run("echo listo", "fin-listo")

    top = engine.call_sync(lambda api: api.top(warm.container_id))
    commands = [row[-1] for row in top["Processes"]]
    shells = [c for c in commands if c in ("bash -l", "/bin/bash -l")]
    assert shells == ["/bin/bash -l"], commands  # the terminal's own, under dtach
    assert sum(c.startswith("dtach -A ") for c in commands) == 2, commands


@pytest.mark.parametrize("cpus", [None, 0.02], ids=["default-cpu", "a-fiftieth-of-a-core"])
async def test_a_big_paste_reaches_the_held_shell_and_it_still_answers(
    cpus, open_tab, session_key, settings
):
    """dtach's holder waits in its write to the shell's pty while the shell waits to write its
    echo: 40 KiB pasted at once into bash froze the terminal for good with no pacing, and with
    a fixed pause per slice when the shell was short of CPU (a fiftieth of a core froze it in
    4 runs of 4), once in CI too. HeldTTY.write waits for the echo of each slice."""
    if cpus is not None:
        settings.SANDBOX_CPUS = cpus
    tab = await open_tab(session_key)
    await tab.expect(b"$ ")
    for _ in range(10):
        await tab.type(b"#" + b"x" * (4 * 1024 - 2) + b"\r")  # a comment line each

    assert b"pegado" in await tab.run("echo peg''ado", "fin-pegado", timeout=60)
    # Every byte reached the shell (its echo; readline breaks long lines where it likes).
    assert tab.output.count(b"x") >= 10 * 4094


async def test_a_bracketed_paste_goes_in_without_waiting_for_an_echo(open_tab, session_key):
    """What the page really sends: bash turns on bracketed paste, so xterm.js wraps a paste in
    ESC[200~ ... ESC[201~ (in 16 KiB frames), and readline prints nothing until the end. Waiting
    for an echo there would take a slice per PASTE_WAIT: over a minute for these 64 KB."""
    from sandbox.terminal_holder import PASTE_END, PASTE_SLICE, PASTE_START, PASTE_WAIT

    tab = await open_tab(session_key)
    await tab.expect(b"\x1b[?2004h")  # bash asked for bracketed pastes
    await tab.expect(b"$ ")
    paste = PASTE_START + b"v=" + b"x" * 64000 + PASTE_END
    assert len(paste) / PASTE_SLICE * PASTE_WAIT > 60
    for start in range(0, len(paste), 16 * 1024):
        await tab.type(paste[start : start + 16 * 1024])
    await tab.type(b"\r")

    # Every byte reached the shell, in one line.
    assert value(await tab.run("echo lar''go=${#v}", "fin-pegado", timeout=30), "largo") == b"64000"


async def test_ctrl_c_drops_the_rest_of_a_paste_a_silent_program_takes_slowly(
    open_tab, session_key
):
    """A program that echoes nothing gets a paste at the slowest pace (a slice per PASTE_WAIT):
    64 KB would take a minute. Ctrl-C drops what is left of it, as a tty drops its queued input
    on an interrupt, and the shell is back at once."""
    from sandbox.terminal_holder import PASTE_SLICE, PASTE_WAIT

    tab = await open_tab(session_key)
    await tab.run("stty -echo", "fin-sin-eco")
    await tab.type("cat > /dev/null\r")
    await tab.pump_for(0.5)
    paste = (b"y" * 63 + b"\r") * 1000
    assert len(paste) / PASTE_SLICE * PASTE_WAIT > 60  # what the paste alone would take
    await tab.type(paste)
    await tab.pump_for(1.0)

    before = len(tab.output)
    await tab.type(b"\x03")

    # cat ends and the prompt is back (a tty drops input typed before the prompt: wait for it).
    await tab.expect(b"$ ", timeout=20, start=before)
    out = await tab.run("stty echo; echo de''tenido", "fin-detenido", timeout=20)
    assert b"detenido" in out and b"yyy" not in out


async def test_a_client_sending_1012_only_leaves_its_own_shells_for_the_next_connection(
    open_tab, session_key
):
    """1012 ("service restart") hands the owner's terminals over, held shells and sandbox
    included, to the process the page reconnects to; a hand-made client can send it too: it only
    gets its own shells back, and closing a tab afterwards still ends its shell."""
    from sandbox.terminals import CLOSE_SERVICE_RESTART

    other_id, terminal_id = new_terminal_id(), new_terminal_id()
    other = await open_tab(session_key, other_id)
    tab = await open_tab(session_key, terminal_id)
    pid = await shell_pid(tab)

    await tab.communicator.disconnect(code=CLOSE_SERVICE_RESTART, timeout=10)

    assert await other.closed() == CLOSE_SERVICE_RESTART  # every terminal of the owner
    keeper = await open_tab(session_key, other_id)
    again = await open_tab(session_key, terminal_id)
    assert await shell_pid(again, "fin-otra") == pid
    await again.communicator.disconnect(code=CLOSE_TAB_CLOSED, timeout=10)
    await assert_ended(keeper, pid)
