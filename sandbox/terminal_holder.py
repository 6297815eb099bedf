"""Terminal shells held inside the sandbox, so that any web process can attach to them again.

With TERMINAL_HELD_SHELLS on, a terminal's login shell does not hang off the exec stream of the
web process that opened it: Debian's `dtach` (in the course image) keeps it on a pty of its own,
behind a unix socket in the sandbox's /tmp named after the terminal id, and each web process
shows it through a new exec of the attach command:

    dtach -A <socket> -E -z -r winch /bin/bash -l     # attach, or create the shell and attach

So a reload that lands on another web process, or a reconnect after the first process died
(kill -9, a crashed host), attaches to the same shell, with its variables, jobs and directory.
The socket belongs to the sandbox user and reaches only that student's own shell: it gives the
student nothing they could not do in their terminal already, and nothing of Muelle's (the check
agent, engine.run's commands) is behind it.

What changes for the student: `ps` lists the two dtach processes (the holder and this attach);
when the shell ends, the exit code is not known (dtach does not pass it on), so the page says
the shell ended without a code. Closing the attach only detaches; ending the shell for good (a
closed tab, a grace period run out) is end_shell(), which ends the holder: its pty closes and
the kernel sends bash the SIGHUP it forwards to its jobs, as closing a terminal window does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

from django.conf import settings

from sandbox import hardening
from sandbox.docker_api import execs
from sandbox.docker_api.client import call
from sandbox.runs import TTY, run
from sandbox.sandboxes import Sandbox

logger = logging.getLogger(__name__)

SOCKET_DIR = "/tmp"  # noqa: S108 (the sandbox's own tmpfs, mode 1777; the socket is the student's)
SOCKET_PREFIX = ".muelle-terminal-"
END_TIMEOUT = 10.0
# A paste goes to the attach in slices (HeldTTY.write): after each, at least PASTE_PAUSE (so at
# most ~50 KB/s, under the default TERMINAL_INPUT_BYTES_RATE of 64 KiB/s) and, outside a
# bracketed paste, until the shell has answered with output, for at most PASTE_WAIT (a program
# that does not echo what it reads gets ~1 KB/s).
PASTE_SLICE = 256
PASTE_PAUSE = 0.005
PASTE_WAIT = 0.25
# How the page wraps a paste once the program asked for it (xterm's bracketed paste mode, which
# bash 5.2 turns on): readline then reads it all without printing anything until the end.
PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
_PASTE_MODE_OFF = b"\x1b[?2004l"
# What dtach's attach prints when the shell behind it ends (dtach 0.9, attach.c): the student
# never saw it before the holder, and the page says the shell ended in its own words.
_EOF_BANNER = b"\x1b[999H\r\n[EOF - dtach terminating]\r\n"
_SHOW_CURSOR = b"\x1b[?25h"


def enabled() -> bool:
    return bool(settings.TERMINAL_HELD_SHELLS)


def socket_path(terminal_id: str) -> str:
    """The holder's socket for a terminal: a hash of the page's terminal id (short, fixed
    alphabet, so it is safe in a path and in end_shell's pattern)."""
    digest = hashlib.sha256(terminal_id.encode()).hexdigest()[:16]
    return f"{SOCKET_DIR}/{SOCKET_PREFIX}{digest}"


def attach_command(terminal_id: str) -> list[str]:
    # -E: no detach key (Ctrl-\ reaches the shell, as before); -z: Ctrl-Z suspends the
    # student's job, not the attach; -r winch: a new attach makes the program redraw.
    # The same login shell as without the holder (`ps` shows it as before).
    command = ["dtach", "-A", socket_path(terminal_id), "-E", "-z", "-r", "winch"]
    return [*command, *hardening.LOGIN_SHELL]


class HeldTTY(TTY):
    """engine.TTY over the attach command: same interface, dtach's own banner left out, and one
    size change once attached, so that what is on the screen (prompt, editor) is drawn again
    (a same-size SIGWINCH is not passed on by the kernel)."""

    def __init__(self, sandbox: Sandbox, exec_id: str, stream: Any, terminal_id: str) -> None:
        super().__init__(sandbox, exec_id, stream)
        self.terminal_id = terminal_id
        self.size: tuple[int, int] | None = None
        self._redraw_pending = True
        self._cursor_left = b""  # what is still to come of the cursor shown after the banner
        self._held = b""  # the end of the last read, held back: it may begin the banner
        self._answered = asyncio.Event()  # output came since the last slice was written
        self._in_paste = False  # inside a bracketed paste (PASTE_START sent, PASTE_END not yet)
        self._paste_tail = b""  # the last bytes written: a marker may be cut between two writes

    async def write(self, data: bytes) -> None:
        """A paste goes in slices. dtach's holder writes input to the shell's pty with a
        blocking write and reads the shell's output only between writes: input sent faster than
        the shell reads it fills the pty, the holder waits in that write, the shell then waits
        to write its echo, and both wait for good (measured: a 40 KiB paste froze the terminal
        every time with no pacing, and with a fixed 5 ms per slice in 4 runs of 4 with a fiftieth
        of a core, and once in CI; passing input through a `dtach -p` of its own instead of the
        attach froze the same way). So a slice waits for output after the one before: while
        the shell echoes what it reads, it goes at the pace the shell really reads. Inside a
        bracketed paste readline prints nothing until its end, and a reader that prints nothing
        can't be stuck on its echo: there only the pause applies. Typing (a few bytes) never
        waits. Cancelled (Terminal.input, on Ctrl-C) inside a bracketed paste, the paste is
        closed first, so the program does not stay in its paste mode."""
        try:
            for start in range(0, len(data), PASTE_SLICE):
                if self._closed or self._eof:
                    return
                if start:
                    await self._before_next_slice()
                piece = data[start : start + PASTE_SLICE]
                self._answered.clear()
                was_in_paste = self._in_paste
                # Noted before it goes: a cancel can land with the slice half sent.
                self._note_paste_markers(piece)
                try:
                    await super().write(piece)
                except asyncio.CancelledError:
                    # Maybe sent, maybe not: a closing marker too many is the cheaper mistake.
                    self._in_paste = self._in_paste or was_in_paste
                    raise
        except asyncio.CancelledError:
            if self._in_paste:
                self._in_paste, self._paste_tail = False, b""
                # Shielded: a second Ctrl-C must not cut the marker itself.
                await asyncio.shield(super().write(PASTE_END))
            raise

    async def _before_next_slice(self) -> None:
        await asyncio.sleep(PASTE_PAUSE)
        if self._in_paste:
            return
        # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancel that lands as the
        # event is set, and Ctrl-C cancels this.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PASTE_WAIT - PASTE_PAUSE):
                await self._answered.wait()

    def _note_paste_markers(self, piece: bytes) -> None:
        seen = self._paste_tail + piece
        start, end = seen.rfind(PASTE_START), seen.rfind(PASTE_END)
        if start != end:  # both -1 when neither is there: no change
            self._in_paste = start > end
        self._paste_tail = seen[-(len(PASTE_START) - 1) :]

    async def resize(self, rows: int, cols: int) -> None:
        self.size = (rows, cols)
        await super().resize(rows, cols)

    async def read(self) -> bytes:
        chunk = await super().read()
        self._answered.set()
        if _PASTE_MODE_OFF in chunk:
            # The program turned bracketed pastes off (readline does as it hands a line to
            # bash): a start marker pasted as plain text, never closed, ends there.
            self._in_paste = False
        data, self._held = self._held + chunk, b""
        if not chunk:
            # What was kept back at the very end is the start of dtach's banner, cut short.
            self.exit_code = None  # the attach's own code, not the shell's: unknown
            return chunk
        if self._cursor_left:
            data = self._drop_cursor(data)
        if _EOF_BANNER in data:
            before, _, after = data.partition(_EOF_BANNER)
            self._cursor_left = _SHOW_CURSOR
            data = before + self._drop_cursor(after)
        # The banner can arrive split over two reads (seen in CI: the page got it whole
        # although neither read held all of it): a tail that could begin it waits for the
        # next read.
        data, self._held = _split_possible_start(data, _EOF_BANNER)
        if self._redraw_pending and self.size is not None:
            # The first bytes come from the attach itself: it is connected and listening for
            # size changes now.
            self._redraw_pending = False
            await super().resize(*self.size)
        if not data:
            return await self.read()
        return data

    def _drop_cursor(self, data: bytes) -> bytes:
        """After the banner the attach shows the cursor and exits; that too is left out, in
        however many reads it comes."""
        matched = 0
        while matched < min(len(data), len(self._cursor_left)):
            if data[matched] != self._cursor_left[matched]:
                self._cursor_left = b""
                return data
            matched += 1
        self._cursor_left = self._cursor_left[matched:]
        return data[matched:]


def _split_possible_start(data: bytes, marker: bytes) -> tuple[bytes, bytes]:
    """`data` cut before its longest tail that is the start of `marker` (the tail is kept back)."""
    for length in range(min(len(marker) - 1, len(data)), 0, -1):
        if data.endswith(marker[:length]):
            return data[:-length], data[-length:]
    return data, b""


async def open_tty(sandbox: Sandbox, terminal_id: str, rows: int = 24, cols: int = 80) -> HeldTTY:
    """Attaches to the terminal's held shell in `sandbox`, starting it if it is not there."""
    exec_id, stream = await call(
        execs.exec_open, sandbox.container_id, attach_command(terminal_id), tty=True, stdin=True
    )
    tty = HeldTTY(sandbox, exec_id, stream, terminal_id)
    try:
        # One column off first: the real size, set once attached (HeldTTY.read), is a change.
        await TTY.resize(tty, rows, cols - 1 if cols > 1 else cols + 1)
        tty.size = (rows, cols)
    except BaseException:
        await tty.close()
        raise
    return tty


async def end_shell(sandbox: Sandbox, terminal_id: str) -> bool:
    """Ends the terminal's holder and every attach to it (in any web process), so the shell and
    its jobs get SIGHUP; True when there was one. Matches the whole command line, so nothing
    else of the sandbox is touched (pkill runs as the sandbox user, like the student)."""
    pattern = " ".join(attach_command(terminal_id)).replace(".", "[.]")
    # SIGTERM: dtach's holder ignores SIGHUP (it is a daemon); it dies of TERM, its pty closes,
    # and the kernel hangs up bash, which passes SIGHUP on to its jobs.
    result = await run(sandbox, ["pkill", "-TERM", "-x", "-f", pattern], timeout=END_TIMEOUT)
    if result.exit_code not in (0, 1):  # 1: no such process (the shell had ended)
        logger.info("ending held shell of %s failed: %r", sandbox.container_id[:12], result)
    return result.exit_code == 0
