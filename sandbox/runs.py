"""Running things in a sandbox: an interactive login shell (TTY) and one-off commands (run),
both streamed on the exec's raw socket with loop.sock_recv (no thread per idle terminal), and
the container's state (running, OOM kills, exit code).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from sandbox import hardening, warm_shells
from sandbox.docker_api import containers as docker_containers
from sandbox.docker_api import execs
from sandbox.docker_api.client import EngineUnavailable, call
from sandbox.docker_api.containers import ContainerState
from sandbox.sandboxes import Sandbox

logger = logging.getLogger(__name__)

SHELL = list(hardening.LOGIN_SHELL)


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None  # None when timed out / cut off at the output cap
    output: bytes  # stdout+stderr interleaved, at most max_output bytes
    timed_out: bool
    truncated: bool


async def state(sandbox: Sandbox) -> ContainerState:
    """Running / OOM-killed / exit code of the sandbox's container."""
    return await call(docker_containers.state, sandbox.container_id, count_ooms=True)


class TTY:
    """A login shell in a sandbox, streamed over the exec's raw socket (raw bytes: with a TTY
    the engine does not frame the stream)."""

    def __init__(self, sandbox: Sandbox, exec_id: str, stream: Any) -> None:
        self.sandbox = sandbox
        self.exec_id = exec_id
        self._stream = stream
        self._sock, self._pending = execs.hijacked(stream)
        self._closed = False
        self._eof = False
        self.exit_code: int | None = None

    async def read(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        if self._closed or self._eof:
            return b""
        loop = asyncio.get_running_loop()
        try:
            data = await loop.sock_recv(self._sock, execs.READ_CHUNK)
        except OSError:
            data = b""
        if not data:
            self._eof = True
            if not self._closed:
                with contextlib.suppress(Exception):
                    self.exit_code = await self._exit_code()
        return data

    async def write(self, data: bytes) -> None:
        if self._closed or self._eof or not data:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_sendall(self._sock, data)
        except OSError:
            self._eof = True

    async def resize(self, rows: int, cols: int) -> None:
        if self._closed:
            return
        rows = max(1, min(int(rows), 1000))
        cols = max(1, min(int(cols), 1000))
        try:
            await self._resize(rows, cols)
        except EngineUnavailable:
            raise
        except Exception:
            what = self.exec_id or self.sandbox.container_id
            logger.debug("resize of %s failed", what[:12], exc_info=True)

    async def _resize(self, rows: int, cols: int) -> None:
        await call(execs.resize, self.exec_id, rows, cols)

    async def _exit_code(self) -> int | None:
        """The shell's exit code, asked once its stream has ended."""
        return await call(execs.exit_code, self.exec_id)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # shutdown() wakes a pending sock_recv with EOF and hangs up the shell; then let the
        # reader run before the fd goes away.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        await asyncio.sleep(0)
        execs.close_stream(self._stream)


def cut_end_marker(data: bytes) -> tuple[bytes, bytes, bool, int | None]:
    """Looks for the main process's end marker (hardening.MAIN_SHELL_ENDED) in `data`: returns
    the output to show, a tail to hold back until the next read (it could be the marker's
    start), whether the marker was seen, and the exit code in it."""
    marker, end = hardening.MAIN_SHELL_ENDED, hardening.MAIN_SHELL_ENDED_END
    folded = hardening.folded_for_end_marker(data)
    start = folded.find(marker)
    if start >= 0:
        code, found, _after = data[start + len(marker) :].partition(end)
        if not found and len(code) < 8:  # the code may still be on its way
            return data[:start], data[start:], False, None
        # An exit code has at most 3 digits; a longer one is a student's forgery.
        valid = found and code.isdigit() and len(code) <= 3
        return data[:start], b"", True, int(code) if valid else None
    for length in range(min(len(marker) - 1, len(data)), 0, -1):
        if folded.endswith(marker[:length]):
            return data[:-length], data[-length:], False, None
    return data, b"", False, None


class MainTTY(TTY):
    """The login shell of the sandbox's main process (hardening.MAIN_SHELL_COMMAND), on the
    container's own TTY through an attach: the same interface as an exec's TTY. The attach stays
    open when that shell ends (the main process goes on), so the end is the main process's
    marker, with the exit code in it; the marker itself never reaches the page. A student who
    prints the marker on purpose only ends their own terminal, as `exit` would (and the shell
    behind it is then hung up like any closed terminal's, terminal_hangup.py)."""

    def __init__(self, sandbox: Sandbox, stream: Any) -> None:
        super().__init__(sandbox, "", stream)
        self._held_back = b""  # an output tail that may be the start of the marker

    async def read(self) -> bytes:
        while True:
            if self._eof:
                return b""
            data = await super().read()
            if not data:
                # The container stopped: what was held back was output after all.
                data, self._held_back = self._held_back, b""
                return data
            output, self._held_back, ended, code = cut_end_marker(self._held_back + data)
            if ended:
                self._eof, self.exit_code = True, code
            if output or ended:
                return output

    async def _resize(self, rows: int, cols: int) -> None:
        await call(docker_containers.resize_tty, self.sandbox.container_id, rows, cols)

    async def _exit_code(self) -> int | None:
        # The stream ends only with the container: the shell's code, if any, came in the marker.
        return self.exit_code


async def open_tty(sandbox: Sandbox, rows: int = 24, cols: int = 80) -> TTY:
    # The sandbox's first terminal takes the shell started with it (sandbox/warm_shells.py).
    opened = warm_shells.take(sandbox.container_id)
    if opened is None:
        opened = await call(
            execs.exec_open, sandbox.container_id, list(SHELL), tty=True, stdin=True
        )
    exec_id, stream = opened
    tty = TTY(sandbox, exec_id, stream) if exec_id is not None else MainTTY(sandbox, stream)
    try:
        # API 1.41 has no initial console size.
        await tty.resize(rows, cols)
    except BaseException:
        await tty.close()
        raise
    return tty


# --- One-shot commands ------------------------------------------------------------------------

_FRAME = struct.Struct(">BxxxL")


async def run(
    sandbox: Sandbox,
    argv: list[str],
    *,
    timeout: float | None = None,
    max_output: int | None = None,
    stdin: bytes | None = None,
) -> RunResult:
    """Runs argv (no shell unless argv names one) as the sandbox user. The process is killed
    after `timeout` seconds by coreutils' `timeout -s KILL` inside the container; output is
    capped at `max_output` bytes (then the stream is dropped: exit_code None, truncated)."""
    if not isinstance(argv, list | tuple) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("argv must be a non-empty list of strings")
    timeout = settings.SANDBOX_RUN_TIMEOUT if timeout is None else float(timeout)
    max_output = settings.SANDBOX_RUN_OUTPUT_CAP if max_output is None else int(max_output)
    cmd = ["timeout", "-s", "KILL", f"{timeout:.3f}", *argv]
    started = time.monotonic()
    exec_id, stream = await call(
        execs.exec_open, sandbox.container_id, cmd, tty=False, stdin=stdin is not None
    )
    sock, pending = execs.hijacked(stream)
    loop = asyncio.get_running_loop()
    buffer = bytearray(pending)
    output = bytearray()
    truncated = eof = False
    writer: asyncio.Task[None] | None = None

    async def feed() -> None:
        assert stdin is not None
        with contextlib.suppress(OSError):
            await loop.sock_sendall(sock, stdin)
            sock.shutdown(socket.SHUT_WR)  # EOF on the process's stdin

    try:
        if stdin is not None:
            writer = loop.create_task(feed())
        # The in-container timeout does the killing; this one only guards against an engine
        # that stops answering.
        async with asyncio.timeout(timeout + 10):
            while not truncated:
                while len(buffer) >= _FRAME.size:
                    _kind, size = _FRAME.unpack_from(buffer)
                    if len(buffer) < _FRAME.size + size:
                        break
                    payload = bytes(buffer[_FRAME.size : _FRAME.size + size])
                    del buffer[: _FRAME.size + size]
                    room = max_output - len(output)
                    if len(payload) > room:
                        output += payload[:room]
                        truncated = True
                        break
                    output += payload
                if truncated:
                    break
                try:
                    chunk = await loop.sock_recv(sock, execs.READ_CHUNK)
                except OSError:
                    chunk = b""
                if not chunk:
                    eof = True
                    break
                buffer += chunk
    except TimeoutError:
        pass
    finally:
        if writer is not None:
            writer.cancel()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        execs.close_stream(stream)
    exit_code = await call(execs.exit_code, exec_id) if eof else None
    elapsed = time.monotonic() - started
    # timeout(1) with -s KILL takes itself down too (137); 124 if only the child got it.
    timed_out = (not eof and not truncated) or (
        exit_code in (124, 137) and elapsed >= timeout - 0.05
    )
    return RunResult(
        exit_code=None if timed_out else exit_code,
        output=bytes(output),
        timed_out=timed_out,
        truncated=truncated,
    )
