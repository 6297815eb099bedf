"""Stand-ins for the Docker side, for tests of the terminal's own logic (flow control, queue).

They replace sandbox.engine's functions, never the terminal code under test. Tests of behaviour
that depends on a real shell use the real engine (the @pytest.mark.docker tests).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class FakeSandbox:
    container_id: str
    owner: str
    created_at: datetime
    expires_at: datetime
    fresh: bool = False  # as sandbox.sandboxes.Sandbox: False counts OOM kills at start


@dataclass
class FloodTTY:
    """A shell printing `yes` forever, as fast as it is read."""

    chunk: bytes = b"y\r\n" * 1365
    exit_code: int | None = None
    read_bytes: int = 0
    written: list[bytes] = field(default_factory=list)
    closed: bool = False

    async def read(self) -> bytes:
        await asyncio.sleep(0)
        if self.closed:
            return b""
        self.read_bytes += len(self.chunk)
        return self.chunk

    async def write(self, data: bytes) -> None:
        self.written.append(data)

    async def resize(self, rows: int, cols: int) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


@dataclass
class FakeEngine:
    """Hands out sandboxes whose shell is a FloodTTY."""

    ttys: list[FloodTTY] = field(default_factory=list)
    live: dict[str, FakeSandbox] = field(default_factory=dict)

    async def acquire(self, owner: str, **_: Any) -> FakeSandbox:
        await asyncio.sleep(0)
        if owner not in self.live:
            now = datetime.now(UTC)
            expires = now + timedelta(hours=1)
            self.live[owner] = FakeSandbox(f"c-{owner}", owner, now, expires)
        return self.live[owner]

    async def open_tty(self, sandbox: FakeSandbox, rows: int = 24, cols: int = 80) -> FloodTTY:
        tty = FloodTTY()
        self.ttys.append(tty)
        return tty

    async def release(self, sandbox: FakeSandbox) -> None:
        self.live.pop(sandbox.owner, None)

    async def touch(self, sandbox: FakeSandbox) -> None:
        pass

    async def state(self, sandbox: FakeSandbox) -> Any:
        from sandbox.engine import ContainerState

        return ContainerState(True, True, "running", False, None, oom_kills=0)


@dataclass
class RecordingClient:
    """A page: records events; `stuck` makes it never finish taking output (a frozen browser)."""

    stuck: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    output: bytearray = field(default_factory=bytearray)
    sends: int = 0
    ended: int | None = None

    async def send_output(self, data: bytes) -> None:
        self.sends += 1
        if self.stuck:
            await asyncio.Event().wait()
        self.output += data

    async def send_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    async def end(self, code: int, event: dict[str, Any] | None) -> None:
        if event is not None:
            self.events.append(event)
        self.ended = code

    async def sandbox_is_fresh(self, sandbox: Any) -> bool:
        return False

    def kinds(self) -> list[str]:
        return [e["type"] for e in self.events]
