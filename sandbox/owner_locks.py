"""One lock per owner (a student's key), kept only while someone holds or waits for it.

A registry that made a lock per owner and kept it would grow by one lock per student for the
life of the process; here an owner's entry goes as soon as the last holder or waiter leaves, so
the registry's size is the number of owners being worked on right now.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holders and waiters


class OwnerLocks:
    """Owner locks of one event loop (asyncio locks belong to one loop)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    @contextlib.asynccontextmanager
    async def hold(self, owner: str) -> AsyncIterator[None]:
        entry = self._entries.setdefault(owner, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[owner]

    def busy(self, owner: str) -> bool:
        """True while someone holds `owner`'s lock."""
        entry = self._entries.get(owner)
        return entry is not None and entry.lock.locked()

    def __len__(self) -> int:
        return len(self._entries)
