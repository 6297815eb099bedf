"""State that belongs to one asyncio event loop: one per server process, one per test.

asyncio locks, events and tasks may only be used on the loop they were made on, and tests run
one loop each, so such state is kept per loop. The loop is held weakly: when a loop is closed and
dropped, its state goes with it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """A value per event loop, made by `factory` the first time the running loop asks for it."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._values: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> T:
        """The running loop's value, made now if it has none."""
        loop = asyncio.get_running_loop()
        value = self._values.get(loop)
        if value is None:
            value = self._values[loop] = self._factory()
        return value

    def peek(self) -> T | None:
        """The running loop's value, or None (nothing is made)."""
        return self._values.get(asyncio.get_running_loop())

    def replace(self, value: T) -> None:
        self._values[asyncio.get_running_loop()] = value

    def pop(self) -> T | None:
        """Takes the running loop's value away (the next get() makes a new one)."""
        return self._values.pop(asyncio.get_running_loop(), None)

    def items(self) -> list[tuple[asyncio.AbstractEventLoop, T]]:
        """Every loop's value, with its loop (for callers on other threads)."""
        return list(self._values.items())
