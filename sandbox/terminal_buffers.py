"""The terminal's two small buffers: a token bucket (input and output rates) and the replay of
recent output for a page that reattaches."""

from __future__ import annotations

import re
import time
from collections import deque


class TokenBucket:
    """`rate` units per second with bursts up to `burst`; may go into debt (take())."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def try_take(self, amount: float = 1.0) -> bool:
        self._refill()
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True

    def take(self, amount: float) -> float:
        """Spends `amount` even into debt; returns how long to wait until the debt is paid."""
        self._refill()
        self.tokens -= amount
        return max(0.0, -self.tokens / self.rate)

    def forgive(self) -> None:
        """Drops any debt (not refilled: a shared bucket must not hand out a new burst)."""
        self._refill()
        self.tokens = max(self.tokens, 0.0)


class ReplayBuffer:
    """The last `limit` bytes of a terminal's output, replayed when a page reattaches.

    The sandbox's bash marks each prompt and each command it starts (OSC 133 A and C, see
    sandbox/images/sandbox/muelle-bashrc.sh); the page reads from them whether a command has
    the terminal, so that «Ejecutar» types nothing into it. A command that printed more than
    the replay holds (`docker logs -f`) pushed its mark out of it, and after a reload the page
    took the terminal for free. So the last mark trimmed away is kept, and a replay starts
    with it: the state the replayed bytes start from."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.trimmed = False
        self.mark = b""  # the last prompt mark in the bytes trimmed away
        self._dropped_tail = b""  # their last bytes: a mark cut between two trims is found

    def append(self, data: bytes) -> None:
        if self.limit <= 0 or not data:
            return
        if len(data) >= self.limit:
            self._drop(b"".join(self.chunks) + data[: -self.limit])
            self.chunks.clear()
            data = data[-self.limit :]
            self.size = 0
            self.trimmed = True
        self.chunks.append(data)
        self.size += len(data)
        while self.size > self.limit:
            head = self.chunks.popleft()
            excess = self.size - self.limit
            if len(head) > excess:
                self._drop(head[:excess])
                self.chunks.appendleft(head[excess:])
                self.size -= excess
            else:
                self._drop(head)
                self.size -= len(head)
            self.trimmed = True

    def _drop(self, dropped: bytes) -> None:
        scanned = self._dropped_tail + dropped
        self.mark = last_prompt_mark(scanned) or self.mark
        self._dropped_tail = scanned[-(len(PROMPT_MARK_START) + 1) :]

    def snapshot(self) -> bytes:
        data = b"".join(self.chunks)
        mark = self.mark
        if self.trimmed:
            # Start the replay at a line boundary rather than in the middle of a line.
            cut = data.find(b"\n", 0, 4096)
            if cut != -1:
                mark = last_prompt_mark(self._dropped_tail + data[: cut + 1]) or mark
                data = data[cut + 1 :]
            else:
                # No line boundary near: the replay starts where the trim fell, maybe inside a
                # mark whose start went with the trimmed bytes. That mark is the state, and
                # the rest of it is no text to show.
                tail = self._dropped_tail
                joined = tail + data[: len(PROMPT_MARK_START) + 2]
                # The last mark begun in the trimmed bytes (it may end in the kept ones).
                at = joined.rfind(PROMPT_MARK_START, 0, len(tail) + len(PROMPT_MARK_START) - 1)
                closing = joined.find(b"\x07", at) if at >= 0 else -1
                if 0 <= at < len(tail) and (closing == -1 or closing >= len(tail)):
                    # Begun in the trimmed bytes, and not closed there.
                    mark = last_prompt_mark(joined[at:]) or mark
                    end = data.find(b"\x07", 0, 16)
                    data = data[end + 1 :] if end != -1 else data
            data = mark + data
        # A query a program asked the terminal (busybox's shell asks where the cursor is at every
        # prompt) is answered by xterm.js as typed input. Replayed after a reload, the program is
        # long gone and the answers landed in the shell: «;5R;5R…» before the student's next
        # command, which then failed. The replay is a picture of the past: no questions in it.
        return TERMINAL_QUERIES.sub(b"", data)


PROMPT_MARK_START = b"\x1b]133;"


def last_prompt_mark(data: bytes) -> bytes:
    """The last prompt mark (OSC 133;A, the prompt; OSC 133;C, a command started) in `data`,
    as a whole sequence to replay; b"" if none."""
    at = len(data)
    while (at := data.rfind(PROMPT_MARK_START, 0, at)) != -1:
        kind = data[at + len(PROMPT_MARK_START) : at + len(PROMPT_MARK_START) + 1]
        if kind in (b"A", b"C"):
            return PROMPT_MARK_START + kind + b"\x07"
    return b""


# What xterm.js answers (sends back as input) when it reads it: device status and cursor
# position reports (CSI n), device attributes (CSI c, >c, =c), mode reports (CSI $p), window
# reports (CSI t), its version (CSI >q), colour queries (OSC 4/10-19 with «?») and setting
# queries (DCS $q, DCS +q). Only 7-bit forms: 8-bit CSI is a UTF-8 continuation byte here.
TERMINAL_QUERIES = re.compile(
    rb"\x1b\[\??[0-9;]*n"
    rb"|\x1b\[[>=]?[0-9;]*c"
    rb"|\x1b\[\??[0-9;]*\$p"
    rb"|\x1b\[[0-9;]*t"
    rb"|\x1b\[>[0-9]*q"
    rb"|\x1b\](?:4;[0-9]+|1[0-9]);\?(?:\x07|\x1b\\)"
    rb"|\x1bP[$+]q[^\x07\x1b]{0,256}(?:\x07|\x1b\\)"
)
