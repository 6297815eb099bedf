"""How many «Comprobar» of one student run at once: MAX_IN_FLIGHT, and a refusal beyond it.

A check waits on the student's sandbox (each step up to SANDBOX_RUN_TIMEOUT, and the sandbox's
check agent answers one check at a time), holding a request thread all along. Without a bound,
an attack review's student made each check wait (a FIFO where the check reads a file) and sent
60 at once: 60 threads waiting, and on a PostgreSQL with 40 connections other visitors' pages
got 500s («too many clients»). A check goes on after its client hangs up
(docs/reliability.md), so hanging up freed nothing. Two at once lets a student check one
exercise while the previous one finishes.

Per process, as the sandboxes' leases are (a student's requests go to one process: the route
cookie). The views are sync, each request in a thread of its own: hence the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

MAX_IN_FLIGHT = 2

_lock = threading.Lock()
_in_flight: dict[str, int] = {}


@contextmanager
def slot(owner: str) -> Iterator[bool]:
    """True while one of the owner's places is held for the check; False (nothing held) when
    they already have MAX_IN_FLIGHT checks running."""
    with _lock:
        taken = _in_flight.get(owner, 0) < MAX_IN_FLIGHT
        if taken:
            _in_flight[owner] = _in_flight.get(owner, 0) + 1
    try:
        yield taken
    finally:
        if taken:
            with _lock:
                _in_flight[owner] -= 1
                if not _in_flight[owner]:
                    del _in_flight[owner]
