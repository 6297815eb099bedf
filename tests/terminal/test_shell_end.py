from __future__ import annotations

import asyncio

import pytest

from sandbox.terminals import get_registry

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_exiting_the_shell_sends_exit_and_closes_1000(open_tab, session_key):
    tab = await open_tab(session_key)

    await tab.type("exit 3\r")

    assert await tab.closed() == 1000
    exit_event = await tab.event("exit")
    assert exit_event["reason"] == "exit"
    assert exit_event["code"] == 3
    assert "código de salida 3" in exit_event["message"]
    # The first terminal's shell is the main process's (hardening.MAIN_SHELL_COMMAND): the code
    # came in its end marker, which the page never sees.
    assert b"muelle-shell-ended" not in bytes(tab.output)


async def test_a_students_copy_of_the_end_marker_start_passes_through(open_tab, session_key):
    # Held back while it could be the main process's marker, then shown as typed.
    tab = await open_tab(session_key)
    start = len(tab.output)
    await tab.type("printf 'an''tes\\033]777;muelle-shell-en'; sleep 0.3; echo ' desp''ues'\r")
    end = await tab.expect(b" despues", start=start)
    assert b"antes\x1b]777;muelle-shell-en despues" in bytes(tab.output[start:end])
    assert tab.close_code is None
    assert b"sigue" in await tab.run("echo si''gue", "fin-sigue")


async def test_a_killed_sandbox_sends_exit_and_closes_4004(open_tab, session_key):
    tab = await open_tab(session_key)
    (lease,) = get_registry().leases.values()

    killer = await asyncio.create_subprocess_exec(
        "docker", "kill", lease.sandbox.container_id, stdout=asyncio.subprocess.DEVNULL
    )
    assert await killer.wait() == 0

    assert await tab.closed(timeout=30) == 4004
    exit_event = await tab.event("exit")
    assert exit_event["reason"] in {"killed", "oom"}
    assert "contenedor" in exit_event["message"]


async def test_a_first_shell_killed_with_tostop_set_still_ends_its_terminal(open_tab, session_key):
    # Killed at its prompt, the shell leaves the TTY to a process group that is gone: the main
    # process writes its end marker from the background, which `stty tostop` would stop.
    tab = await open_tab(session_key)

    await tab.type("stty tostop; kill -9 $$\r")

    assert await tab.closed(timeout=30) == 1000
    exit_event = await tab.event("exit")
    assert (exit_event["reason"], exit_event["code"]) == ("exit", 137)


async def test_the_main_process_command_line_printed_with_escapes_ends_nothing(
    open_tab, session_key
):
    # The command line is readable in the sandbox; expanded by `printf %b` (or dash's echo), it
    # once printed a real end marker and the terminal ended while its shell went on.
    tab = await open_tab(session_key)
    out = await tab.run(
        "printf '%b\\n' \"$(tr '\\0' ' ' < /proc/$PPID/cmdline)\"", "fin-linea", timeout=15
    )
    assert b"sleep infinity" in out  # the main process's command line was printed
    assert b"sigue" in await tab.run("echo si''gue", "fin-sigue")
    assert tab.close_code is None


async def test_a_first_shell_ending_after_stty_olcuc_still_ends_its_terminal(open_tab, session_key):
    # olcuc prints every lower-case letter in capitals, the main process's marker too.
    tab = await open_tab(session_key)

    await tab.type("stty olcuc; exit 3\r")

    assert await tab.closed(timeout=30) == 1000
    exit_event = await tab.event("exit")
    assert (exit_event["reason"], exit_event["code"]) == ("exit", 3)
    assert b"MUELLE-SHELL-ENDED" not in bytes(tab.output)
