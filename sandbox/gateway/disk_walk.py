"""The disk and the files a student's objects hold, read from the server's own filesystem.

The engine's accounting (`GET /system/df`) adds up each file's apparent size (`st_size`) and
nothing else, so an attack review wrote past it unseen, without bound:
- a file deleted while a process keeps it open is in no directory the engine walks;
- `fallocate --keep-size` takes blocks without changing the apparent size;
- a million empty files take a million inodes and 0 bytes (the disk's inodes run out first);
- and a walk that slow, engine-wide, made every `system df` time out for every student.

So, where the engine keeps its data on this server (the local engine), Muelle walks each
student's own directories itself and counts what the filesystem allocated (`st_blocks`) and how
many entries there are, stopping at a cap (a student at the cap is past the limit: their walk
never costs more than that), plus the files their containers' processes hold open after
deleting them (`/proc/<pid>/fd`).

The walk goes by directory descriptors (`openat` with O_NOFOLLOW, `fstatat` without following
links): a student who swaps a directory for a link while it is walked cannot send it elsewhere.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field

# Deeper than this counts as past the cap: each level holds a directory descriptor open.
MAX_DEPTH = 128
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_DELETED = " (deleted)"
logger = logging.getLogger(__name__)


@dataclass
class Tally:
    """What one student's directories and open files hold; a walk stops once `files` > `cap`.
    A tally that stopped early (`capped`) is past the limit, whatever it counted."""

    cap: int
    bytes: int = 0
    files: int = 0
    capped: bool = False
    looked: int = 0  # descriptors and mappings of their processes looked at (held_deleted)
    # (device, inode) of files with several links, or held open: their blocks count once.
    seen: set[tuple[int, int]] = field(default_factory=set)

    def add(self, st: os.stat_result) -> bool:
        """Counts one entry; False once past the cap. Every entry counts toward the cap, a
        hard link too (millions of links to one file would otherwise cost a stat each at every
        measure, never reaching it); only the blocks of a file are counted once."""
        self.files += 1
        if self.files > self.cap:
            self.capped = True
            return False
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in self.seen:
                return True
            self.seen.add(key)
        self.bytes += st.st_blocks * 512
        return True


def walk(root: str, tally: Tally) -> bool:
    """Adds the tree under `root` (not `root` itself) to `tally`; False when `root` is not a
    directory here (removed meanwhile, or not on this server)."""
    if tally.capped:
        return True
    try:
        top = os.open(root, _DIRECTORY)
    except OSError:
        return False
    # Depth first, one descriptor per level: each frame is a directory and its subdirectories
    # still to visit (names, opened relative to it). A descriptor goes into `frames` as soon as
    # it is open, so the `finally` closes it whatever happens next.
    frames: list[tuple[int, list[str]]] = [(top, [])]
    try:
        # One filesystem, as `du -x`: a mount inside (a container's /dev/shm, a tmpfs) is
        # memory or someone else's, not this tree's disk.
        device = os.fstat(top).st_dev
        frames[0] = (top, _read(top, tally, device))
        while frames and not tally.capped:
            fd, pending = frames[-1]
            if not pending:
                os.close(fd)
                frames.pop()
                continue
            name = pending.pop()
            if len(frames) >= MAX_DEPTH:
                tally.capped = True
                break
            try:
                child = os.open(name, _DIRECTORY, dir_fd=fd)
            except OSError:
                continue  # removed, or swapped for something that is not a directory
            frames.append((child, []))
            frames[-1] = (child, _read(child, tally, device))
    finally:
        for fd, _pending in frames:
            os.close(fd)
    return True


def _read(fd: int, tally: Tally, device: int) -> list[str]:
    """Counts a directory's entries; returns its subdirectories' names on `device`."""
    subdirectories = []
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not tally.add(st):
                    break
                if stat.S_ISDIR(st.st_mode) and st.st_dev == device:
                    subdirectories.append(entry.name)
    except OSError:
        pass  # removed while walked
    return subdirectories


# Filesystems in memory (statfs f_type): tmpfs, which also holds shared anonymous memory (a
# database's shared buffers), System V segments and memfds; ramfs; hugetlbfs; mqueue. A deleted
# file there is memory, bounded by the memory limit, not disk.
_MEMORY_FILESYSTEMS = {0x01021994, 0x858458F6, 0x958458F6, 0x19800202}
_libc = ctypes.CDLL(None, use_errno=True)
_STATFS_SIZE = 256  # more than struct statfs; f_type is its first field, a C long


def _filesystem_type(path: str) -> int | None:
    buffer = ctypes.create_string_buffer(_STATFS_SIZE)
    if _libc.statfs(os.fsencode(path), buffer) != 0:
        return None
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF


def held_deleted(pids: Iterable[int], tally: Tally, holders: set[int] | None = None) -> None:
    """Adds the deleted regular files the processes `pids` hold, open or mapped: their disk
    comes back only when the last holder lets go. Any disk: a file passed from another of the
    student's containers, even one stopped since, is on that container's overlay. Not counted:
    what is memory (see _MEMORY_FILESYSTEMS). Each descriptor or mapping looked at counts
    against the tally's cap, as an entry of a walk does: past it, the student is past the limit
    (a deleted file hidden behind a million). Not seen: a descriptor in flight in a unix socket
    that nobody received (docs/gateway.md). map_files needs CAP_SYS_ADMIN, as setns does.
    `holders`: gets each process that holds such a file (counted here or before), and the one
    whose descriptors took the tally past its cap (it may hold one among them)."""
    for pid in pids:
        for kind in ("fd", "map_files"):
            base = f"/proc/{pid}/{kind}"
            try:
                names = os.listdir(base)
            except OSError:
                continue  # ended
            tally.looked += len(names)
            if tally.looked > tally.cap:
                tally.capped = True
                if holders is not None:
                    holders.add(pid)  # not all looked at: it may hold one
                return
            for name in names:
                if _held(f"{base}/{name}", tally) and holders is not None:
                    holders.add(pid)


def _held(path: str, tally: Tally) -> bool:
    """Counts `path` (a /proc link) once if it is a deleted file on disk; True if it is one."""
    try:
        if not os.readlink(path).endswith(_DELETED):
            return False
        st = os.stat(path)
    except OSError:
        return False
    if st.st_nlink or not stat.S_ISREG(st.st_mode):
        return False
    key = (st.st_dev, st.st_ino)
    if key in tally.seen:
        return True
    if _filesystem_type(path) in _MEMORY_FILESYSTEMS:
        return False
    tally.seen.add(key)
    tally.bytes += st.st_blocks * 512
    return True


def stop_holders(holders: Iterable[int], container_id: str) -> int:
    """Kills the processes `holders` that are still in the container `container_id` (its
    cgroup, read through a pidfd, so a number reused by another process meanwhile is never
    signalled); returns how many. For a student's sandbox: a descriptor passed into it is the
    only way it holds a file on disk, and its processes are not stopped with their containers."""
    stopped = 0
    for pid in holders:
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue  # ended
        try:
            # Read after the pidfd pins the process. If it ended and its number went to
            # another before this read, the signal below finds the pinned one gone (ESRCH).
            with open(f"/proc/{pid}/cgroup", encoding="ascii", errors="replace") as lines:
                theirs = container_id in lines.read()
            if theirs:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                stopped += 1
        except OSError:
            continue  # ended meanwhile
        finally:
            os.close(pidfd)
    return stopped


def container_pids(pid: int, container_id: str, cgroup_root: str, proc: str = "/proc") -> list[int]:
    """The processes of the container whose first process is `pid`: its own cgroup's (an
    `exec` is not a child of the first process). Empty when `pid` is not in the container's
    cgroup (the process ended and its number went to another: its files are not theirs); only
    `pid` when the cgroup's list cannot be read (logged). `proc`: where /proc is (the tests of
    cgroup v2's layouts, which these machines do not run, give one of their own)."""
    try:
        with open(f"{proc}/{pid}/cgroup", encoding="ascii", errors="replace") as lines:
            groups = dict(
                (controllers, path)
                for _number, controllers, path in (
                    line.rstrip("\n").split(":", 2) for line in lines if line.count(":") >= 2
                )
            )
    except OSError:
        return []
    if not any(container_id in path for path in groups.values()):
        return []
    # `cgroup_root`: the host's hierarchy (in deploy/, the web container sees it elsewhere). A
    # reader in its own cgroup namespace (cgroup v2's default for a container) sees other
    # containers' paths as "/../…": the engine's own layouts are tried then.
    for controllers, mount in (("pids", f"{cgroup_root}/pids"), ("", cgroup_root)):
        path = groups.get(controllers)
        if path is None or container_id not in path:
            continue
        candidates = [path] if not path.startswith("/..") else []
        candidates += [f"/docker/{container_id}", f"/system.slice/docker-{container_id}.scope"]
        for candidate in candidates:
            try:
                with open(f"{mount}{candidate}/cgroup.procs", encoding="ascii") as procs:
                    found = [int(line) for line in procs if line.strip().isdigit()]
            except OSError:
                continue
            if pid in found:
                return found
    logger.warning("disk: the cgroup of %s not found: only its first process", container_id[:12])
    return [pid]
