"""The end marker of the sandbox's main shell (hardening.MAIN_SHELL_COMMAND) as runs.MainTTY
reads it: cut out of the output wherever the reads split it, with the shell's exit code, and
anything that only starts like it shown as it was. (The real engine's side: tests/terminal/
test_shell_end.py and tests/sandbox/test_warm_shell.py.)"""

from __future__ import annotations

from sandbox import hardening
from sandbox.runs import cut_end_marker

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


def test_something_that_only_starts_like_the_marker_is_shown_whole() -> None:
    prefix = hardening.MAIN_SHELL_ENDED[:12]
    for cut in range(1, len(prefix) + 1):
        chunks = [b"a" + prefix[:cut], prefix[cut:] + b" b"]
        assert read_all(chunks) == (b"a" + prefix + b" b", False, None), chunks


def test_a_marker_without_a_code_still_ends_the_shell() -> None:
    shown, ended, code = read_all([b"x" + hardening.MAIN_SHELL_ENDED + b"garbage-no-bell"])
    assert (shown, ended, code) == (b"x", True, None)
