"""How many sandboxes may live at once, and the FIFO line when they are all taken.

Counted from the table (every container of this instance: assigned, warm or being removed) plus
the creations under way in this process, so a full server says so instead of failing. A check
and the reservation that follows happen under one lock per event loop; across several server
processes the cap is approximate (two may pass the last slot at the same moment).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox.loop_state import PerLoop
from sandbox.models import SandboxRecord

# Slots freed by another process (or its reaper) do not notify this one: look again this often.
RECHECK_SECONDS = 2.0


class CapacityFull(Exception):
    """The server's cap is reached and the caller did not want to wait in line."""

    def __init__(self, message: str | None = None) -> None:
        message = message or _(
            "Ahora mismo están en uso todos los entornos de práctica de este servidor."
        )
        super().__init__(message)
        self.message = message


class Capacity:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.queue: list[object] = []
        self.inflight = 0
        # Students' sandboxes being created right now (slot holders; the pool filler is not
        # one): the filler waits for them (pool.py), their start-ups come first.
        self.starting = 0
        # Students inside leases.acquire (reusing, taking a warm one or starting their own).
        self.arriving = 0
        self._changed = asyncio.Event()

    async def used(self) -> int:
        rows = await SandboxRecord.objects.filter(instance=settings.SANDBOX_INSTANCE).acount()
        return rows + self.inflight

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def try_reserve(self) -> bool:
        """A slot now, only if nobody is waiting (the warm pool never jumps the line)."""
        async with self.lock:
            if self.queue or await self.used() >= settings.SANDBOX_MAX_LIVE:
                return False
            self.inflight += 1
            return True

    def unreserve(self) -> None:
        self.inflight -= 1
        self.notify()

    @contextlib.asynccontextmanager
    async def slot(
        self, on_queue: Callable[[int], Awaitable[None]] | None = None
    ) -> AsyncIterator[None]:
        """Holds one slot while the body creates a container (whose row then counts)."""
        await self._reserve(on_queue)
        self.starting += 1
        try:
            yield
        finally:
            self.starting -= 1
            self.unreserve()

    @contextlib.asynccontextmanager
    async def arrival(self) -> AsyncIterator[None]:
        """Around a student's acquire: the pool filler holds back meanwhile."""
        self.arriving += 1
        try:
            yield
        finally:
            self.arriving -= 1

    def students_waiting(self) -> bool:
        """A student is arriving, in line, or having their sandbox created right now."""
        return bool(self.queue) or self.starting > 0 or self.arriving > 0

    async def _reserve(self, on_queue: Callable[[int], Awaitable[None]] | None) -> None:
        if await self.try_reserve():
            return
        if on_queue is None:
            raise CapacityFull()
        me = object()
        self.queue.append(me)
        told = 0
        try:
            while True:
                position = self.queue.index(me) + 1
                if position != told:
                    told = position
                    await on_queue(position)
                changed = self._changed
                if position == 1:
                    async with self.lock:
                        if await self.used() < settings.SANDBOX_MAX_LIVE:
                            self.queue.remove(me)
                            self.inflight += 1
                            return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), RECHECK_SECONDS)
        finally:
            if me in self.queue:
                self.queue.remove(me)
            self.notify()

    def position(self, token: object) -> int:
        return self.queue.index(token) + 1 if token in self.queue else 0


# asyncio primitives belong to one event loop: one Capacity per loop (one per server process,
# one per test).
_by_loop: PerLoop[Capacity] = PerLoop(Capacity)


def get() -> Capacity:
    return _by_loop.get()


def notify_threadsafe() -> None:
    """A slot was freed (from any thread): wake whoever waits, on every loop."""
    for loop, capacity in list(_by_loop.items()):
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(capacity.notify)
