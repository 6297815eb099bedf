"""Asking a terminal's shell about itself, for the terminal tests (tabs, held shells, two web
processes): the `name=value` lines a command echoes, the shell's pid, and whether a process has
ended, looked at from another terminal of the same sandbox."""

from __future__ import annotations

import re

from harness.tabs import Tab


def value(output: bytes, name: str) -> bytes:
    """The value of the line `name=value` in `output` (the first one that starts a line)."""
    found = re.search(rb"\n" + name.encode() + rb"=(\S+)", output)
    assert found, output
    return found.group(1)


async def shell_pid(tab: Tab, marker: str = "fin-pid") -> str:
    return value(await tab.run("echo p''id=$$", marker), "pid").decode()


async def assert_ended(tab: Tab, pid: str, then: str = "", marker: str = "fin-kill") -> bytes:
    """Waits, in `tab`'s shell and up to 5 s, for process `pid` to be gone (kill -0 fails for a
    pid that is not there), asserts it is, and returns the output, `then`'s included: a command
    run right after, in the same line."""
    after = f"; {then}" if then else ""
    gone = await tab.run(
        f"for i in $(seq 50); do kill -0 {pid} 2>/dev/null || break; sleep 0.1; done; "
        f"kill -0 {pid} 2>/dev/null && echo vi''vo || echo aca''bado{after}",
        marker,
        timeout=30,
    )
    assert b"acabado" in gone and b"vivo" not in gone
    return gone


async def assert_new_shell(tab: Tab, old_pid: str) -> None:
    """`tab`, opened again with a terminal id whose shell has ended, shows a shell of its own."""
    assert tab.events[0]["reattached"] is False
    assert await shell_pid(tab, "fin-otra") != old_pid
