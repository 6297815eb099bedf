"""Many timeouts of one event loop on a single timer.

A preview request waited for the container's answer under a timer of its own that almost never
fired, its browser connection had another for its head, and its kept connection a third. Made,
armed and cancelled for every request, they were about a tenth of the preview's own Python time
per request, measured in the running server (docs/ports.md, «Menos temporizadores»). Here a
timeout is an entry in a dict, and one timer, set for the earliest deadline, fires the
callbacks that are due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable


class Deadlines:
    """Callbacks due at a time, on the running loop of their first `add` (the loop that owns
    whatever they time out); each fires once, unless discarded first."""

    def __init__(self) -> None:
        self._due: dict[Hashable, tuple[float, Callable[[], None]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._at = 0.0  # when the timer fires (time.monotonic)

    def add(self, key: Hashable, seconds: float, callback: Callable[[], None]) -> None:
        deadline = time.monotonic() + seconds
        self._due[key] = (deadline, callback)
        if self._timer is None or deadline < self._at:
            self._arm(deadline)

    def discard(self, key: Hashable) -> None:
        # The timer stays: when it fires with nothing due, it sets itself for what is left.
        self._due.pop(key, None)

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._at = deadline
        delay = max(0.0, deadline - time.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = time.monotonic()
        due = sorted(
            (deadline, index, key)
            for index, (key, (deadline, _callback)) in enumerate(self._due.items())
            if deadline <= now
        )
        for _deadline, _index, key in due:  # earliest first, even when the timer came late
            entry = self._due.pop(key, None)
            if entry is not None:
                entry[1]()
        if self._due and self._timer is None:
            self._arm(min(deadline for deadline, _callback in self._due.values()))
