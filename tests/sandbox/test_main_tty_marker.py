"""The end marker of the sandbox's main shell (hardening.MAIN_SHELL_COMMAND) as runs.MainTTY
reads it: cut out of the output wherever the reads split it, with the shell's exit code, and
anything that only starts like it shown as it was. (The real engine's side: tests/terminal/
test_shell_end.py and tests/sandbox/test_warm_shell.py.)"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

from sandbox import hardening
from sandbox.runs import MainTTY, cut_end_marker
from sandbox.sandboxes import Sandbox

MARKER = hardening.MAIN_SHELL_ENDED + b"3" + hardening.MAIN_SHELL_ENDED_END


def read_all(chunks: list[bytes]) -> tuple[bytes, bool, int | None]:
    """What MainTTY.read shows for these socket reads, in order: (output, ended, code)."""
    shown = held_back = b""
    for chunk in chunks:
        output, held_back, ended, code = cut_end_marker(held_back + chunk)
        shown += output
        if ended:
            return shown, True, code
    return shown + held_back, False, None  # the stream ended: what was held back is output


def test_the_marker_is_cut_out_at_every_split_and_gives_the_code() -> None:
    stream = b"logout\r\n" + MARKER + b"ignored"
    for cut in range(1, len(stream)):
        for second in range(cut + 1, len(stream) + 1):
            chunks = [stream[:cut], stream[cut:second], stream[second:]]
            assert read_all(chunks) == (b"logout\r\n", True, 3), chunks


def test_the_marker_in_capitals_is_cut_out_too_and_the_output_keeps_its_case() -> None:
    # `stty olcuc` in the first shell: the TTY prints every lower-case letter in capitals.
    stream = b"LOGOUT\r\n" + MARKER.upper() + b"IGNORED"
    for cut in range(1, len(stream)):
        assert read_all([stream[:cut], stream[cut:]]) == (b"LOGOUT\r\n", True, 3), cut
    assert read_all([b"Mixed Case ok"]) == (b"Mixed Case ok", False, None)


def test_something_that_only_starts_like_the_marker_is_shown_whole() -> None:
    prefix = hardening.MAIN_SHELL_ENDED[:12]
    for cut in range(1, len(prefix) + 1):
        chunks = [b"a" + prefix[:cut], prefix[cut:] + b" b"]
        assert read_all(chunks) == (b"a" + prefix + b" b", False, None), chunks


def test_a_marker_without_a_code_still_ends_the_shell() -> None:
    shown, ended, code = read_all([b"x" + hardening.MAIN_SHELL_ENDED + b"garbage-no-bell"])
    assert (shown, ended, code) == (b"x", True, None)


def test_a_forged_code_too_long_for_an_exit_code_gives_none() -> None:
    forged = hardening.MAIN_SHELL_ENDED + b"9" * 5000 + hardening.MAIN_SHELL_ENDED_END
    assert read_all([forged]) == (b"", True, None)


class _Attach:
    """What MainTTY uses of the SDK's attach stream: its socket (here one end of a real pair)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock


def main_tty() -> tuple[MainTTY, socket.socket]:
    ours, engine_side = socket.socketpair()
    now = datetime.now(UTC)
    sandbox = Sandbox(container_id="c" * 64, owner="o", created_at=now, expires_at=now)
    return MainTTY(sandbox, _Attach(ours)), engine_side


async def test_main_tty_reads_through_a_split_marker_and_then_stays_ended() -> None:
    tty, engine_side = main_tty()
    engine_side.sendall(b"logout\r\n" + MARKER[:5])
    assert await tty.read() == b"logout\r\n"
    engine_side.sendall(MARKER[5:] + b"after")
    assert await tty.read() == b""
    assert tty.exit_code == 3
    assert await tty.read() == b""  # ended for good, whatever else comes
    await tty.close()
    engine_side.close()


async def test_main_tty_shows_a_held_back_tail_when_the_stream_ends() -> None:
    tty, engine_side = main_tty()
    engine_side.sendall(b"a" + MARKER[:6])
    assert await tty.read() == b"a"
    engine_side.close()  # the container stopped
    assert await tty.read() == MARKER[:6]
    assert await tty.read() == b""
    assert tty.exit_code is None
    await tty.close()
