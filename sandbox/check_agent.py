"""The resident check agent of each sandbox: one long-lived exec instead of one exec per check.

A class clicking «Comprobar» at once is bound by how many execs the engine can create, start and
inspect (each forks runc inside dockerd): p95 above a second with 20 students. The agent
(sandbox/images/sandbox/muelle-check-agent.py, shipped in the course image) is started once per
sandbox, lazily on its first check, in an exec with stdin attached, as the sandbox user with the
same environment as every exec; afterwards a check is one frame each way on that exec's socket,
read with loop.sock_recv (no thread, the event loop never blocks).

Protocol: length-prefixed JSON (4-byte big-endian length) inside the engine's stdout stream.
The agent says hello first, then answers each request {"id", "steps", "limit", "cap"} with
{"id", "self", "results"}; ids must match. The channel belongs to Muelle's exec: the student
cannot reach its pipes (the agent is undumpable) and cannot replace its file (root's, read-only).
They can kill it: then the exec's stream ends, and the next check starts a new agent and asks
again (checks only look, so asking twice is safe). Anything odd on the channel (a frame too
large, bad JSON, a wrong id, a request past its time) closes the agent for good; the caller
falls back to one exec per click (exercises/runner.py), as it does for an image without agent.

Checks of one sandbox are serialised (a lock per sandbox); sandboxes never wait on each other.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import logging
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.docker_api import execs
from sandbox.docker_api.client import call
from sandbox.loop_state import PerLoop
from sandbox.sandboxes import Sandbox

logger = logging.getLogger(__name__)

AGENT = [
    "/usr/lib/muelle/check-agent-python",
    "-I",  # no PYTHON* variables, no user site, no current folder on the path
    "-S",  # no site module: a faster start
    "/usr/lib/muelle/check-agent.py",
]
HELLO = "muelle-check-agent"
HELLO_TIMEOUT = 15.0  # seconds for the agent to start (Python in a CPU-limited container)
RETRY_AFTER = 60.0  # an agent that could not start is not tried again for this long
PRUNE_EVERY = 30.0  # how often agents whose sandbox is gone are forgotten

_ENGINE_FRAME = struct.Struct(">BxxxL")  # the engine's stdout/stderr multiplexing
_AGENT_FRAME = struct.Struct(">I")
_STDOUT = 1


class AgentUnavailable(Exception):
    """No agent answered properly; the caller runs the check another way."""


@dataclass(frozen=True)
class StepOutput:
    exit_code: int | None
    output: bytes
    timed_out: bool
    truncated: bool


@dataclass(frozen=True)
class Reply:
    steps: list[StepOutput]
    agent: tuple[int, int]  # the agent's pid and parent pid inside the sandbox


class _Channel:
    """One agent's exec: writes requests, reads the engine's frames and the agent's in them."""

    def __init__(self, exec_id: str, stream: Any) -> None:
        self.exec_id = exec_id
        self._stream = stream
        self._sock, pending = execs.hijacked(stream)
        self._raw = bytearray(pending)  # engine frames not yet parsed
        self._out = bytearray()  # the agent's stdout, not yet parsed
        self.closed = False

    def gone(self) -> bool:
        """True when the agent ended (stream closed) or said something nobody asked for."""
        if self.closed:
            return True
        try:
            self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return bool(self._raw or self._out)  # quiet: alive, unless it left bytes unasked
        except OSError:
            return True
        return True  # EOF, or bytes nobody asked for: this channel is done either way

    async def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_sendall(self._sock, _AGENT_FRAME.pack(len(body)) + body)
        except OSError as exc:
            raise AgentUnavailable("the agent's stream is closed") from exc

    async def receive(self, limit: int) -> dict[str, Any]:
        """The agent's next frame; AgentUnavailable if the stream ends or the frame is too
        large or not a JSON object."""
        loop = asyncio.get_running_loop()
        while True:
            if len(self._out) >= _AGENT_FRAME.size:
                (size,) = _AGENT_FRAME.unpack_from(self._out)
                if size > limit:
                    raise AgentUnavailable(f"agent frame of {size} bytes")
                if len(self._out) >= _AGENT_FRAME.size + size:
                    body = bytes(self._out[_AGENT_FRAME.size : _AGENT_FRAME.size + size])
                    del self._out[: _AGENT_FRAME.size + size]
                    try:
                        message = json.loads(body)
                    except ValueError as exc:
                        raise AgentUnavailable("agent frame is not JSON") from exc
                    if not isinstance(message, dict):
                        raise AgentUnavailable("agent frame is not an object")
                    return message
            while len(self._raw) >= _ENGINE_FRAME.size:
                kind, size = _ENGINE_FRAME.unpack_from(self._raw)
                if len(self._raw) < _ENGINE_FRAME.size + size:
                    break
                if kind == _STDOUT:
                    self._out += self._raw[_ENGINE_FRAME.size : _ENGINE_FRAME.size + size]
                del self._raw[: _ENGINE_FRAME.size + size]
            if len(self._out) >= _AGENT_FRAME.size:
                (size,) = _AGENT_FRAME.unpack_from(self._out)
                if size > limit or len(self._out) >= _AGENT_FRAME.size + size:
                    continue
            try:
                chunk = await loop.sock_recv(self._sock, execs.READ_CHUNK)
            except OSError:
                chunk = b""
            if not chunk:
                raise AgentUnavailable("the agent's stream ended")
            self._raw += chunk

    def close(self) -> None:
        """Hangs up: the agent reads EOF on its stdin and exits."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        execs.close_stream(self._stream)


@dataclass
class _Slot:
    """What this process knows about one sandbox's agent (per event loop)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    channel: _Channel | None = None
    failed_at: float | None = None
    ids: itertools.count[int] = field(default_factory=itertools.count)


# Per event loop (sandbox/loop_state.py): a channel's socket and lock belong to the loop that
# made them (tests and management commands run several loops in one process). A loop that goes
# away takes its agents with it; their sockets close and the agents exit.
_slots: PerLoop[dict[str, _Slot]] = PerLoop(dict)
_pruned_at: PerLoop[list[float]] = PerLoop(lambda: [0.0])


def _slot(container_id: str) -> _Slot:
    slots, pruned_at = _slots.get(), _pruned_at.get()
    now = time.monotonic()
    if now - pruned_at[0] >= PRUNE_EVERY:
        pruned_at[0] = now
        for key, slot in list(slots.items()):
            # A sandbox removed since: its exec's stream ended. Forget it (unless in use).
            idle = not slot.lock.locked()
            if key != container_id and idle and (slot.channel is None or slot.channel.gone()):
                if slot.channel is not None:
                    slot.channel.close()
                    slot.channel = None
                if slot.failed_at is None or now - slot.failed_at >= RETRY_AFTER:
                    del slots[key]
    return slots.setdefault(container_id, _Slot())


async def _start(sandbox: Sandbox) -> _Channel:
    exec_id, stream = await call(
        execs.exec_open, sandbox.container_id, list(AGENT), tty=False, stdin=True
    )
    channel = _Channel(exec_id, stream)
    try:
        async with asyncio.timeout(HELLO_TIMEOUT):
            hello = await channel.receive(4096)
        if hello.get("hello") != HELLO or hello.get("version") != 1:
            raise AgentUnavailable(f"unexpected hello {hello!r:.200}")
    except (AgentUnavailable, TimeoutError) as exc:
        channel.close()
        raise AgentUnavailable(f"the agent did not start: {exc}") from exc
    except BaseException:
        channel.close()
        raise
    return channel


def _step(item: object, cap: int) -> StepOutput:
    if not isinstance(item, list) or len(item) != 4:
        raise AgentUnavailable("malformed step result")
    code, encoded, timed_out, truncated = item
    if not (
        (code is None or (isinstance(code, int) and 0 <= code <= 255))
        and isinstance(encoded, str)
        and isinstance(timed_out, bool)
        and isinstance(truncated, bool)
    ):
        raise AgentUnavailable("malformed step result")
    try:
        output = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AgentUnavailable("malformed step output") from exc
    if len(output) > cap:
        raise AgentUnavailable("step output past the cap")
    return StepOutput(code, output, timed_out, truncated)


async def _ask(
    channel: _Channel, ident: int, steps: Sequence[tuple[str, str]], limit: float, cap: int
) -> Reply:
    await channel.send({"id": ident, "steps": [list(s) for s in steps], "limit": limit, "cap": cap})
    # base64 and JSON around each step's output, at most `cap` bytes each.
    answer = await channel.receive((cap * 4 // 3 + 256) * (len(steps) + 1))
    if answer.get("id") != ident:
        raise AgentUnavailable("answer to another request")
    results, me = answer.get("results"), answer.get("self")
    if not isinstance(results, list) or len(results) != len(steps):
        raise AgentUnavailable("wrong number of results")
    if not (
        isinstance(me, list) and len(me) == 2 and all(isinstance(p, int) and p >= 0 for p in me)
    ):
        raise AgentUnavailable("malformed agent pids")
    return Reply([_step(item, cap) for item in results], (me[0], me[1]))


async def run_steps(
    sandbox: Sandbox, steps: Sequence[tuple[str, str]], *, limit: float, cap: int
) -> Reply:
    """Runs (op, arg) steps in the sandbox's agent, starting it if need be. AgentUnavailable
    when no agent answers properly (the caller falls back to an exec); engine errors
    (EngineUnavailable, SandboxGone) propagate."""
    slot = _slot(sandbox.container_id)
    async with slot.lock:
        if slot.failed_at is not None and time.monotonic() - slot.failed_at < RETRY_AFTER:
            raise AgentUnavailable("the agent could not start a moment ago")
        # Two tries: an agent killed since the last check is found dead only when asked.
        for attempt in range(2):
            if slot.channel is not None and slot.channel.gone():
                slot.channel.close()
                slot.channel = None
            if slot.channel is None:
                try:
                    slot.channel = await _start(sandbox)
                except AgentUnavailable:
                    slot.failed_at = time.monotonic()
                    raise
                slot.failed_at = None
            channel = slot.channel
            try:
                async with asyncio.timeout(limit * len(steps) + 5):
                    return await _ask(channel, next(slot.ids), steps, limit, cap)
            except (AgentUnavailable, TimeoutError) as exc:
                channel.close()
                slot.channel = None
                if attempt == 1 or isinstance(exc, TimeoutError):
                    raise AgentUnavailable(str(exc) or "the agent took too long") from exc
                logger.info("check agent of %s gone (%s); starting another", sandbox.name, exc)
            except BaseException:
                # Cancelled mid-request: the channel may hold half an answer.
                channel.close()
                slot.channel = None
                raise
    raise AgentUnavailable("unreachable")


async def forget(container_id: str) -> None:
    """Closes this loop's agent channel of a sandbox (its agent exits)."""
    slots = _slots.peek() or {}
    slot = slots.pop(container_id, None)
    if slot is not None and slot.channel is not None:
        slot.channel.close()
