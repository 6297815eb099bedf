"""Sandboxes per client address, with a line of their own.

One script with 60 sessions held all 60 sandbox slots and real students queued behind it. Each
address (tutorial.client_address: the socket's peer, or a trusted proxy's word for it) may hold
CLIENT_MAX_SANDBOXES sandboxes at once (default: three quarters of SANDBOX_MAX_LIVE, 45 of 60 —
a class of 40 behind one school NAT fits). Past that, that address's new terminals wait in a FIFO
line of their own, told their place, *before* they join the server's line (sandbox.capacity):
one address's backlog never pushes other people's students back.

Per event loop (one server process), like sandbox.capacity; with several processes each counts
its own sandboxes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

from django.conf import settings


class AddressFull(Exception):
    """The address holds CLIENT_MAX_SANDBOXES sandboxes already (or has a line of its own)."""


class AddressGate:
    def __init__(self) -> None:
        self.held: Counter[str] = Counter()
        self.lines: dict[str, list[object]] = {}
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def acquire(
        self, address: str, on_queue: Callable[[int], Awaitable[None]] | None = None
    ) -> None:
        """Returns once `address` holds one more sandbox place (release() gives it back)."""
        if self.try_acquire(address):
            return
        me = object()
        line = self.lines.setdefault(address, [])
        line.append(me)
        told = 0
        try:
            while True:
                changed = self._changed  # taken before any await: no wake-up is missed
                position = line.index(me) + 1
                if position == 1 and self.held[address] < settings.CLIENT_MAX_SANDBOXES:
                    self.held[address] += 1
                    return
                if position != told and on_queue is not None:
                    told = position
                    await on_queue(position)
                    continue  # the world may have moved during the send: look again
                await changed.wait()
        finally:
            line.remove(me)
            if not line:
                self.lines.pop(address, None)
            self._notify()  # the next in this line may move up

    def try_acquire(self, address: str) -> bool:
        """One more place for `address` if one is free now and nobody of that address waits."""
        if not self.lines.get(address) and self.held[address] < settings.CLIENT_MAX_SANDBOXES:
            self.held[address] += 1
            return True
        return False

    def release(self, address: str) -> None:
        self.held[address] -= 1
        if self.held[address] <= 0:
            del self.held[address]
        self._notify()

    def waiting(self, address: str) -> int:
        return len(self.lines.get(address, ()))
