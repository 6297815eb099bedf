"""Many timeouts of one event loop on a single timer.

A preview request waited for the container's answer under a timer of its own that almost never
fired, its browser connection had another for its head, and its kept connection a third. Made,
armed and cancelled for every request, they were about a tenth of the preview's own Python time
per request, measured in the running server (docs/ports.md, «Menos temporizadores»). Here a
timeout is an entry in a dict and a heap, and one loop timer, set for the earliest deadline,
fires the callbacks that are due.

The heap is what keeps this cheap with many entries (thousands of idle connections waiting for
their head): adding and firing cost a logarithm of their number, and a discarded entry is only
forgotten, then dropped from the heap when it reaches the top or when the heap is rebuilt.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable, Hashable

logger = logging.getLogger(__name__)

# A loop's timer may wake a little before its time (uvloop counts in whole milliseconds): what is
# due this close to now fires now, instead of the timer being set again for the rest.
_EARLY = 0.002


class Deadlines:
    """Callbacks due at a time, on the running loop of their first `add` (the loop that owns
    whatever they time out); each fires once, unless discarded or added again first."""

    def __init__(self) -> None:
        self._due: dict[Hashable, tuple[float, int, Callable[[], None]]] = {}
        self._heap: list[tuple[float, int, Hashable]] = []
        self._order = itertools.count()  # ties and stale heap entries told apart
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._at = 0.0  # when the timer fires (loop time)

    def add(self, key: Hashable, seconds: float, callback: Callable[[], None]) -> None:
        """`callback` in `seconds`; a key added again keeps only its last deadline."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        deadline = self._loop.time() + seconds
        order = next(self._order)
        self._due[key] = (deadline, order, callback)
        heapq.heappush(self._heap, (deadline, order, key))
        if len(self._heap) > 2 * len(self._due) + 64:
            self._rebuild()
        if self._timer is None or deadline < self._at:
            self._arm(deadline)

    def discard(self, key: Hashable) -> None:
        # The timer stays: when it fires with nothing due, it sets itself for what is left.
        self._due.pop(key, None)

    def _rebuild(self) -> None:
        """The heap again from the live entries alone (discarded ones pile up otherwise)."""
        self._heap = [(deadline, order, key) for key, (deadline, order, _c) in self._due.items()]
        heapq.heapify(self._heap)

    def _earliest(self) -> float | None:
        heap = self._heap
        while heap:
            deadline, order, key = heap[0]
            entry = self._due.get(key)
            if entry is not None and entry[1] == order:
                return deadline
            heapq.heappop(heap)  # discarded, or added again since
        return None

    def _arm(self, deadline: float) -> None:
        assert self._loop is not None
        if self._timer is not None:
            self._timer.cancel()
        self._at = deadline
        self._timer = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        assert self._loop is not None
        now = self._loop.time() + _EARLY
        heap = self._heap
        while heap and heap[0][0] <= now:
            _deadline, order, key = heapq.heappop(heap)
            entry = self._due.get(key)
            if entry is None or entry[1] != order:
                continue  # discarded, or added again for later
            del self._due[key]
            try:
                entry[2]()
            except Exception:  # one failing callback must not leave the others unfired
                logger.exception("un plazo falló al vencer")
        # A callback may have added a deadline (and set the timer for it): the earliest one
        # left decides, whichever it is.
        earliest = self._earliest()
        if earliest is not None and (self._timer is None or earliest < self._at):
            self._arm(earliest)
