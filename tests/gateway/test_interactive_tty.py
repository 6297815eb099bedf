"""`docker run -it` / `docker exec -it` through the gateway, as a student types them: the real
CLI on a real pseudo-terminal (hijacked attach/exec streams, the initial size and a resize)."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from collections.abc import Callable

import pytest

from .conftest import DOCKER, IMAGE

pytestmark = pytest.mark.docker

# A bound for things to happen (never a speed assertion).
WITHIN = 30.0


class Terminal:
    """The docker CLI with a pty as its controlling terminal (stdin, stdout and stderr)."""

    def __init__(self, student, *args: str, rows: int, cols: int) -> None:
        self.master, slave = os.openpty()
        self.resize(rows, cols)  # before the CLI starts: the size it must announce
        # setsid --ctty: a session of its own with the pty as controlling terminal, so the CLI
        # sees a terminal (-t) and gets SIGWINCH when the size changes.
        self.process = subprocess.Popen(
            ["setsid", "--ctty", DOCKER, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**student.env(), "TERM": "xterm"},
            close_fds=True,
        )
        os.close(slave)
        self.output = b""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def read_until(self, wanted: bytes, *, after: int = 0, within: float = WITHIN) -> bool:
        """Reads until `wanted` shows up past offset `after` of everything read so far."""
        deadline = time.monotonic() + within
        while wanted not in self.output[after:]:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                return wanted in self.output[after:]
        return True

    def _read(self, within: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], min(within, 1.0))
        if not ready:
            return True  # nothing yet: keep waiting until the deadline
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the CLI closed the terminal
            return False
        self.output += chunk
        return bool(chunk)

    def ask(
        self,
        command: str,
        wanted: bytes,
        *,
        within: float = WITHIN,
        before_each: Callable[[], None] | None = None,
    ) -> bool:
        """Types `command` (again every few seconds, after `before_each`) until `wanted` is in
        its answer: for things the CLI does in the background, such as sending a new size."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if before_each is not None:
                before_each()
            mark = len(self.output)
            self.type(command + "\r")
            if self.read_until(wanted, after=mark, within=min(3.0, deadline - time.monotonic())):
                return True
        return False

    def resized(self, rows: int, cols: int) -> bool:
        """Changes the window to rows x cols until `stty size` in the shell says so. The CLI
        only watches SIGWINCH once its first resize call (after the container's start) has come
        back: a change in between is lost, with the real engine too, and a loaded machine
        widens that window (a CI failure). So each try changes the window again, as a student
        dragging it would: one column less, then the size wanted."""

        def drag() -> None:
            self.resize(rows, cols - 1)
            self.resize(rows, cols)

        return self.ask("stty size", f"{rows} {cols}".encode(), before_each=drag)

    def finish(self) -> int:
        """Exit code of the CLI after `exit`; reads what is left so it never blocks writing."""
        deadline = time.monotonic() + WITHIN
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        code = self.process.wait(timeout=5)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def _session(student, *args: str) -> None:
    """The lesson's exchange in an interactive shell: a prompt, a command, sizes, exit."""
    terminal = Terminal(student, *args, rows=33, cols=101)
    try:
        assert terminal.read_until(b"# "), terminal.output  # BusyBox's root prompt
        mark = len(terminal.output)
        terminal.type("echo hola-$((1+1))\r")
        # The echo of what was typed shows `$((1+1))`; only the shell's answer says `hola-2`.
        assert terminal.read_until(b"hola-2", after=mark), terminal.output
        assert terminal.ask("stty size", b"33 101"), terminal.output
        # The window changes during the session: SIGWINCH, and the CLI's resize call.
        assert terminal.resized(40, 120), terminal.output
        terminal.type("exit 0\r")
        assert terminal.finish() == 0, terminal.output
    finally:
        terminal.close()


def test_run_it_gives_an_interactive_shell_with_the_terminals_size(student):
    _session(student, "run", "--rm", "-it", "--name", "charla", IMAGE, "sh")
    assert student.ok("ps", "-aq") == ""  # --rm: gone once the shell exits


def test_exec_it_gives_an_interactive_shell_with_the_terminals_size(student):
    student.ok("run", "-d", "--name", "caja", IMAGE, "sleep", "300")
    _session(student, "exec", "-it", "caja", "sh")
    assert student.ok("inspect", "-f", "{{.State.Running}}", "caja") == "true\n"


def test_the_shells_exit_code_comes_back_through_run_it(student):
    terminal = Terminal(student, "run", "--rm", "-it", IMAGE, "sh", rows=24, cols=80)
    try:
        assert terminal.read_until(b"# "), terminal.output
        terminal.type("exit 7\r")
        assert terminal.finish() == 7, terminal.output
    finally:
        terminal.close()
