"""A byte rate as a token bucket: what one student may make the web process copy per second.

Used for each student's published ports (sandbox.ports.byte_rate: the preview and `curl
localhost:<port>` in their terminal) and, with a rate of its own, for the streams their Docker
gateway copies (sandbox.gateway.server: `docker exec`, `docker cp`, `docker export`, logs, build
contexts). Every such byte costs the web process's time, which every other student shares.
"""

from __future__ import annotations

import asyncio
import time


class RateLimit:
    """Bytes per second for one student (a token bucket shared by everything they carry)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.tokens = float(rate)
        self.stamp = time.monotonic()

    async def take(self, amount: int) -> None:
        while not self.take_now(amount):
            await asyncio.sleep((min(amount, self.rate) - self.tokens) / self.rate)

    def take_now(self, amount: int) -> bool:
        """Takes `amount` if the bucket allows it now (an amount over the rate, once full)."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= min(amount, self.rate):
            self.tokens -= amount
            return True
        return False
