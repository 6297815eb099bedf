"""A thread can have a descriptor table of its own (`unshare(CLONE_FILES)`, or `clone` without
CLONE_FILES): what it holds is only under /proc/<pid>/task/<tid>/fd. The disk measure reads
every table of a process (sandbox.gateway.disk_walk.held), here against the real kernel, with
this test's own process as the holder."""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from pathlib import Path

from sandbox.gateway import disk_walk

CLONE_FILES = 0x400
MiB = 1 << 20


def test_a_deleted_file_held_only_by_a_threads_own_table_counts(tmp_path: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    ready, done = threading.Event(), threading.Event()
    failed: list[int] = []

    def hold() -> None:
        if libc.unshare(CLONE_FILES) != 0:
            failed.append(ctypes.get_errno())
            ready.set()
            return
        fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o600)
        os.unlink(tmp_path / "f")
        os.write(fd, b"x" * (4 * MiB))
        os.fsync(fd)
        ready.set()
        done.wait(60)
        os.close(fd)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert ready.wait(60) and not failed, failed
        # Not in the process's own table: only the thread's has it.
        names = set()
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the listing's own descriptor, closed since
                names.add(os.readlink(f"/proc/self/fd/{fd}"))
        assert str(tmp_path / "f") + " (deleted)" not in names
        tally = disk_walk.Tally(cap=100_000)
        holders: set[int] = set()
        disk_walk.held([os.getpid()], tally, holders)
        assert tally.bytes >= 4 * MiB
        assert holders == {os.getpid()}
    finally:
        done.set()
        thread.join(60)
