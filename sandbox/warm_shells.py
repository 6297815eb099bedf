"""Login shells started in warm sandboxes before anyone takes them.

A warm sandbox started by this process gets its terminal's login shell (an exec with a TTY) at
once, so a student's first prompt does not wait for an exec: runs.open_tty takes the shell kept
here for that container, if there is one, and opens a new one otherwise (a container started by
another server process, or one whose shell is gone). A shell nobody took is closed when its
container is removed (sandboxes._remove_container).

Plain thread-safe bookkeeping: shells are kept from the event loop and dropped from the Docker
thread pool's threads; the reaper closes those of containers removed behind this process's back.
Until it is taken, nothing reads a kept shell's socket (the prompt waits in it).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from typing import Any

from sandbox.docker_api import execs

# container id -> ((exec id, the exec_start stream) as execs.exec_open returned them, when kept).
_shells: dict[str, tuple[tuple[str, Any], float]] = {}
_lock = threading.Lock()
# POLLRDHUP: the other end shut down its writing (Linux, where the engine runs); POLLHUP elsewhere.
_PEER_HUNG_UP = getattr(select, "POLLRDHUP", 0)


def keep(container_id: str, opened: tuple[str, Any]) -> None:
    """Keeps a shell for the container's first terminal (one per container; a second is closed)."""
    with _lock:
        previous = _shells.setdefault(container_id, (opened, time.monotonic()))[0]
    if previous is not opened:
        _close(opened)


def _alive(stream: Any) -> bool:
    """False once the engine has hung up the shell's stream (the shell ended), even with its
    last output still unread in the socket."""
    try:
        poller = select.poll()
        poller.register(stream._sock, select.POLLIN | _PEER_HUNG_UP)
        events = poller.poll(0)
    except (OSError, ValueError, AttributeError):
        return False  # closed already
    return not any(mask & (_PEER_HUNG_UP | select.POLLHUP | select.POLLERR) for _, mask in events)


def is_alive(container_id: str) -> bool:
    """A shell is kept for this container and still runs (so does the container, then)."""
    with _lock:
        kept = _shells.get(container_id)
    return kept is not None and _alive(kept[0][1])


def take(container_id: str) -> tuple[str, Any] | None:
    """The shell kept for this container (then no longer kept), or None."""
    with _lock:
        opened, _kept_at = _shells.pop(container_id, (None, 0.0))
    if opened is None:
        return None
    if not _alive(opened[1]):
        _close(opened)
        return None
    return opened


def discard(container_id: str) -> None:
    """The container goes: close its shell if nobody took it."""
    with _lock:
        opened, _kept_at = _shells.pop(container_id, (None, 0.0))
    if opened is not None:
        _close(opened)


def forget_missing(present: set[str], listed_at: float) -> int:
    """Closes the shells of containers that were gone from the engine's list taken at
    `listed_at` (time.monotonic()): removed behind this process's back (by hand, by another
    process's prune). Shells kept after that list are left alone. Returns how many."""
    with _lock:
        missing = [
            cid
            for cid, (_, kept_at) in _shells.items()
            if cid not in present and kept_at < listed_at
        ]
        dropped = [_shells.pop(cid)[0] for cid in missing]
    for opened in dropped:
        _close(opened)
    return len(dropped)


def kept() -> int:
    """How many shells wait for their terminal (tests, status)."""
    with _lock:
        return len(_shells)


def _close(opened: tuple[str, Any]) -> None:
    stream = opened[1]
    with contextlib.suppress(Exception):
        stream._sock.shutdown(socket.SHUT_RDWR)
    execs.close_stream(stream)
