"""Login shells started with their sandbox, kept until its first terminal takes them.

A sandbox started by this process (a warm one or a student's) runs its first terminal's login
shell as its main process, on the container's own TTY (hardening.MAIN_SHELL_COMMAND), and the
attach to that TTY, made before the start, is kept here: runs.open_tty takes it for the
container's first terminal, so the student's first prompt costs no exec. Other terminals, and
containers started by another server process, open an exec shell instead. A shell nobody took
is closed when its container is removed (sandboxes._remove_container).

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
from collections.abc import Set as AbstractSet
from typing import Any

from sandbox import hardening
from sandbox.docker_api import execs

# container id -> ((exec id, stream), when kept): the exec id is None for the attach to the
# container's own TTY (docker_containers.create_and_start), else an exec's (execs.exec_open).
Opened = tuple[str | None, Any]
_shells: dict[str, tuple[Opened, float]] = {}
_lock = threading.Lock()
# POLLRDHUP: the other end shut down its writing (Linux, where the engine runs); POLLHUP elsewhere.
_PEER_HUNG_UP = getattr(select, "POLLRDHUP", 0)
# How much of a kept main shell's unread output is looked at for its end: a greeting and a
# prompt are a few hundred bytes; nobody types in a shell before its terminal takes it.
_PEEK = 64 * 1024


def keep(container_id: str, opened: Opened) -> None:
    """Keeps a shell for the container's first terminal (one per container; a second is closed)."""
    with _lock:
        previous = _shells.setdefault(container_id, (opened, time.monotonic()))[0]
    if previous is not opened:
        _close(opened)


def _alive(opened: Opened) -> bool:
    """False once the shell has ended, even with its last output still unread in the socket:
    the engine has hung up an exec's stream; the main process has printed its marker on the
    container's TTY (the attach stays open: the container goes on without that shell)."""
    exec_id, stream = opened
    try:
        poller = select.poll()
        poller.register(stream._sock, select.POLLIN | _PEER_HUNG_UP)
        events = poller.poll(0)
    except (OSError, ValueError, AttributeError):
        return False  # closed already
    if any(mask & (_PEER_HUNG_UP | select.POLLHUP | select.POLLERR) for _, mask in events):
        return False
    if exec_id is None and events:
        # Nothing has read this socket yet: all the shell printed is in it (the attach was
        # answered before the container started, so none of it sits in the HTTP layer's buffer).
        try:
            unread = stream._sock.recv(_PEEK, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except OSError:
            return False
        return hardening.MAIN_SHELL_ENDED not in hardening.folded_for_end_marker(unread)
    return True


def is_alive(container_id: str) -> bool:
    """A shell is kept for this container and still runs (so does the container, then)."""
    with _lock:
        kept = _shells.get(container_id)
    return kept is not None and _alive(kept[0])


def take(container_id: str) -> Opened | None:
    """The shell kept for this container (then no longer kept), or None."""
    with _lock:
        opened, _kept_at = _shells.pop(container_id, (None, 0.0))
    if opened is None:
        return None
    if not _alive(opened):
        _close(opened)
        return None
    return opened


def discard(container_id: str) -> None:
    """The container goes: close its shell if nobody took it."""
    with _lock:
        opened, _kept_at = _shells.pop(container_id, (None, 0.0))
    if opened is not None:
        _close(opened)


def forget_missing(present: AbstractSet[str], listed_at: float) -> int:
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


def _close(opened: Opened) -> None:
    stream = opened[1]
    with contextlib.suppress(Exception):
        stream._sock.shutdown(socket.SHUT_RDWR)
    execs.close_stream(stream)
