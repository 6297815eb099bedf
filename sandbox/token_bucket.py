"""A byte rate as a token bucket: what one student may make the web process copy per second.

Used for each student's published ports (sandbox.ports.byte_rate: the preview and `curl
localhost:<port>` in their terminal) and, with a rate of its own, for the streams their Docker
gateway copies (sandbox.gateway.server: `docker exec`, `docker cp`, `docker export`, logs, build
contexts). Every such byte costs the web process's time, which every other student shares.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator


class RateLimit:
    """Bytes per second for one student (a token bucket shared by everything they carry).

    take() waits until the bucket holds the amount (or, for an amount over the rate, is full),
    as it stood when asked, and reserves the amount at once: the bucket goes below zero, and
    whoever asks next waits for that too. So amounts are granted in the order they were asked
    for, whatever their size. Waiting instead until the bucket held the amount when the waiter
    woke starved a large charge (an archive's members, a whole buffered answer) while another
    stream of the same student took each 64 KiB as soon as it was there: it never filled.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.tokens = float(rate)
        self.stamp = time.monotonic()

    async def take(self, amount: int) -> None:
        self._refill()
        wait = (min(amount, self.rate) - self.tokens) / self.rate
        self.tokens -= amount
        if wait > 0:
            await asyncio.sleep(wait)

    def take_now(self, amount: int) -> bool:
        """Takes `amount` if the bucket allows it now (an amount over the rate, once full)."""
        self._refill()
        if self.tokens >= min(amount, self.rate):
            self.tokens -= amount
            return True
        return False

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


async def paced(stream: AsyncIterator[bytes], rate: RateLimit) -> AsyncIterator[bytes]:
    """`stream`'s pieces, each once `rate` grants it."""
    async for data in stream:
        await rate.take(len(data))
        yield data
