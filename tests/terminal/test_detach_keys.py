"""The engine's «detach» keys never reach Muelle's own terminal streams (hardening.
TERMINAL_DETACH_KEYS), against the real engine: Ctrl-P goes to the shell at once (readline's
previous line), and Ctrl-P Ctrl-Q, which a student types to leave their own `docker attach`, does
not end the terminal. Checked on the first tab (the main process's TTY, an attach) and on a
second one (an exec)."""

from __future__ import annotations

import pytest

from tests.terminal.shell_probe import value

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

CTRL_P, CTRL_Q, CTRL_U = "\x10", "\x11", "\x15"


async def test_ctrl_p_reaches_the_shell_and_ctrl_p_ctrl_q_ends_no_terminal(open_tab, session_key):
    first = await open_tab(session_key)
    second = await open_tab(session_key)
    for number, tab in enumerate((first, second), start=1):
        assert (
            value(await tab.run(f"echo n''um=$(({number}+40))", "fin-num"), "num")
            == str(number + 40).encode()
        )
        # Ctrl-P alone: readline shows the previous line again. The engine's default keys held it
        # back until the next key, so nothing came.
        start = len(tab.output)
        await tab.type(CTRL_P)
        await tab.expect(f"echo n''um=$(({number}+40))".encode(), timeout=10, start=start)
        await tab.type(CTRL_U)
        # Ctrl-P Ctrl-Q: the default keys dropped the stream here (the terminal ended while its
        # shell went on).
        await tab.type(CTRL_P + CTRL_Q + CTRL_U)
        assert value(await tab.run("echo si''gue=$$", "fin-sigue"), "sigue")
        assert tab.close_code is None


async def test_ctrl_p_ctrl_q_leaves_the_students_own_docker_run_it(open_tab, session_key):
    """The pair the engine keeps for the student: inside Muelle's terminal it reaches the
    student's `docker run -it` (through the gateway) and detaches from that container only."""
    tab = await open_tab(session_key)
    start = len(tab.output)
    await tab.type("docker run -it --name quieto muelle/busybox sh\r")
    await tab.expect(b"/ # ", timeout=60, start=start)

    start = len(tab.output)
    await tab.type(CTRL_P + CTRL_Q)
    await tab.expect(b"alumno@muelle-", timeout=30, start=start)  # the student's own prompt

    names = await tab.run("docker ps --format 'n''ombre={{.Names}}'", "fin-ps", timeout=30)
    assert value(names, "nombre") == b"quieto"
    assert tab.close_code is None
