"""A browser tab on the terminal websocket, driven through channels' WebsocketCommunicator."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from channels.testing.websocket import WebsocketCommunicator

ORIGIN = b"http://127.0.0.1"
ESCAPES = re.compile(rb"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07)|\r")


def plain(output: bytes) -> bytes:
    """Terminal output without colour/mode escape sequences and carriage returns."""
    return ESCAPES.sub(b"", output)


def _output_on_its_own_line(output: bytes, typed_end: str) -> bytes:
    """`output` with a line break after the echo of the typed line where the shell left none.
    A SIGWINCH that reaches readline just after Enter (a fresh shell gets one or two as its
    size is set, sandbox/terminal_holder.py) makes it draw the prompt and the line again,
    after the line break, so the command's first output line follows the redrawn line on the
    screen. The command ran as typed; only where its output starts moved."""
    end = re.escape(typed_end.encode())
    return re.sub(end + rb"(?=[^\n])", lambda found: found.group(0) + b"\n", output)


def new_terminal_id() -> str:
    return secrets.token_urlsafe(16)  # 22 characters, like the page's


class Tab:
    """One websocket to /ws/terminal/: sends keystrokes, collects output bytes and events."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.output = bytearray()
        self.events: list[dict[str, Any]] = []
        self.close_code: int | None = None

    async def _pump_one(self, timeout: float) -> bool:
        """Takes one message from the app; False on timeout. Never cancels the app (the
        communicator's own receive_output does on timeout)."""
        if self.close_code is not None:
            return False
        try:
            message = await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
        except TimeoutError:
            return False
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
        elif message.get("bytes") is not None:
            self.output += message["bytes"]
        elif message.get("text") is not None:
            self.events.append(json.loads(message["text"]))
        return True

    async def until(self, done: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0 or self.close_code is not None and not done():
                raise AssertionError(
                    f"gave up waiting (closed={self.close_code}); events={self.events}; "
                    f"output tail={bytes(self.output[-400:])!r}"
                )
            await self._pump_one(min(left, 0.2))

    async def expect(self, needle: bytes, timeout: float = 15.0, start: int = 0) -> int:
        """Waits until `needle` appears in the output after `start`; returns where it ends."""
        await self.until(lambda: self.output.find(needle, start) != -1, timeout)
        return self.output.find(needle, start) + len(needle)

    async def event(self, kind: str, timeout: float = 30.0) -> dict[str, Any]:
        await self.until(lambda: any(e["type"] == kind for e in self.events), timeout)
        return next(e for e in self.events if e["type"] == kind)

    async def closed(self, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while self.close_code is None and time.monotonic() < deadline:
            await self._pump_one(0.2)
        assert self.close_code is not None, f"still open; events={self.events}"
        return self.close_code

    async def pump_for(self, seconds: float) -> None:
        """Reads whatever arrives for `seconds` (events, output, a close)."""
        deadline = time.monotonic() + seconds
        while self.close_code is None and (left := deadline - time.monotonic()) > 0:
            await self._pump_one(min(left, 0.2))

    async def quiet_for(self, seconds: float) -> bytes:
        """Collects output until nothing arrives for `seconds`; returns what arrived."""
        before = len(self.output)
        while await self._pump_one(seconds):
            pass
        return bytes(self.output[before:])

    async def type(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        await self.communicator.send_to(bytes_data=data)

    async def control(self, message: dict[str, Any]) -> None:
        await self.communicator.send_to(text_data=json.dumps(message))

    async def run(self, command: str, marker: str, timeout: float = 15.0) -> bytes:
        """Types `command; echo <marker>` and returns the output up to the marker's echo, as
        plain() text. The marker is typed split by quotes, so only the command's output contains
        it whole."""
        start = len(self.output)
        head, tail = marker[:3], marker[3:]
        await self.type(f"{command}; echo {head}''{tail}\r")
        end = await self.expect(marker.encode(), timeout, start)
        return _output_on_its_own_line(plain(bytes(self.output[start:end])), f"{head}''{tail}")

    async def hang_up(self) -> None:
        await self.communicator.disconnect(timeout=10)


async def make_session() -> str:
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    await store.aset("seen", True)
    await store.asave()
    return store.session_key
