"""What ends a terminal's shell, as scenarios that both the terminal tabs' tests and the held
shells' tests (TERMINAL_HELD_SHELLS, tests/reliability/) run: closing its tab, and a grace period
that runs out while another terminal keeps the sandbox. A shell held under dtach must end, jobs
included, exactly as one the web process holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.tabs import new_terminal_id
from sandbox import hardening
from sandbox.terminal_protocol import CLOSE_TAB_CLOSED
from tests.terminal.shell_probe import assert_ended, assert_new_shell, shell_pid, value

# How many processes run `sleep 301`, counted from /proc (no procps needed in the image).
SLEEPERS = (
    "for c in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $c 2>/dev/null; echo; done"
    " | grep -c '^sleep 301 '"
)


async def closing_the_tab_ends_the_shell_and_its_job(
    open_tab: Callable[..., Any], session_key: str, settings: Any, *, first: bool = False
) -> None:
    """`first`: the closed tab is the sandbox's first terminal (without held shells, the login
    shell of the container's main process, hardening.MAIN_SHELL_COMMAND), not a later one."""
    settings.SANDBOX_MAX_TERMINALS_PER_SESSION = 2
    closed_id = new_terminal_id()
    if first:
        closed = await open_tab(session_key, closed_id)
        keeper = await open_tab(session_key)
    else:
        keeper = await open_tab(session_key)
        closed = await open_tab(session_key, closed_id)
    pid = await shell_pid(closed)
    # An exec's shell has no parent in the container ($PPID is 0).
    parent = await closed.run(
        "echo padre=_$(tr '\\0 ' __ < /proc/$PPID/cmdline 2>/dev/null)", "fin-padre"
    )
    main_process = " ".join(["", *hardening.MAIN_SHELL_COMMAND, ""]).replace(" ", "_").encode()
    under_main = value(parent, "padre") == main_process
    assert under_main == (first and not settings.TERMINAL_HELD_SHELLS), parent
    await closed.type("sleep 301\r")  # a job in the foreground, like `docker logs -f`
    # The typed line reaches the other shell on its own time (slow on a loaded machine): wait
    # for the job to exist before counting it, up to 20 s.
    wait_for_it = (
        f'for i in $(seq 200); do n=$({SLEEPERS}); [ "$n" -ge 1 ] && break; sleep 0.1; done; '
        "echo dormi''dos=$n"
    )
    running = await keeper.run(wait_for_it, "fin-dormido", timeout=40)
    assert value(running, "dormidos") == b"1"

    await closed.communicator.disconnect(code=CLOSE_TAB_CLOSED, timeout=10)

    # Its shell and its job are gone now, not after the grace period.
    gone = await assert_ended(keeper, pid, then=f"sleep 0.5; echo qued''an=$({SLEEPERS})")
    assert value(gone, "quedan") == b"0"
    # The same id is a new shell, not a reattach: nothing was kept for it, and its place was
    # freed (two terminals at the most here).
    await assert_new_shell(await open_tab(session_key, closed_id), pid)


async def a_grace_that_runs_out_ends_the_shell(
    open_tab: Callable[..., Any], session_key: str, settings: Any
) -> None:
    settings.SANDBOX_RECONNECT_GRACE = 0
    keeper = await open_tab(session_key)  # keeps the sandbox
    left = await open_tab(session_key)
    pid = await shell_pid(left)

    await left.hang_up()  # no tab-closed code: a dropped connection, grace 0

    await assert_ended(keeper, pid)
