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
never costs more than that), plus the files their containers' processes hold open or mapped
after deleting them (`held`, from /proc). Their sandbox's processes may hold no file on disk
but their own root's: `held` with `Own` names any that does, to be stopped.

The walk goes by directory descriptors (`openat` with O_NOFOLLOW, `fstatat` without following
links): a student who swaps a directory for a link while it is walked cannot send it elsewhere.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import re
import signal
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

# Deeper than this counts as past the cap: each level holds a directory descriptor open.
MAX_DEPTH = 128
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
logger = logging.getLogger(__name__)


@dataclass
class Tally:
    """What one student's directories and open files hold; a walk stops once `files` > `cap`.
    A tally that stopped early (`capped`) is past the limit, whatever it counted."""

    cap: int
    bytes: int = 0
    files: int = 0
    capped: bool = False
    looked: int = 0  # descriptors and mappings of their processes looked at (held)
    # (device, inode) of files with several links, or held open: their blocks count once.
    seen: set[tuple[int, int]] = field(default_factory=set)
    # Filesystem type by device, for this measure only (a device number is reused after an
    # unmount): a million deleted files in memory cost one statfs, not a million.
    types: dict[int, int] = field(default_factory=dict)
    # Processes the walk could not see through (held()), to be looked at again.
    unseen: set[int] = field(default_factory=set)
    # (device, inode) of what a sandbox's processes hold that they must not (held() with Own).
    flagged: set[tuple[int, int]] = field(default_factory=set)

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


# held() names a process again after this long before it counts (confirm()).
CONFIRM_AFTER = 0.5
_OVERLAY = 0x794C7630  # statfs f_type of overlayfs: a container's root, the sandbox's too
# kcmp's number differs by architecture; elsewhere it is not called (every thread's table is
# read, which costs more and misses nothing).
_SYS_KCMP = {"x86_64": 312, "aarch64": 272}.get(platform.machine())
_KCMP_FILES = 2


@dataclass(frozen=True)
class Own:
    """What a student's sandbox may hold on disk: the files of its own root (read-only), and
    what the engine mounts into it from the server's disk (`exempt`, (device, inode) of each
    mount's root: its /etc/hosts, /etc/resolv.conf and /etc/hostname, the gateway folder,
    docker-init), found in its mountinfo (a sandbox cannot mount anything: no CAP_SYS_ADMIN).
    `disk`: statfs types that are disk here (overlayfs, and the filesystem of the engine's
    data). Any other file or directory on disk can only have come in from one of their
    containers, through a passed descriptor."""

    root_device: int
    exempt: frozenset[tuple[int, int]]
    disk: frozenset[int]

    @classmethod
    def of(cls, pid: int, data_root: str) -> Own | None:
        """For the sandbox whose first process is `pid`; None when it ended."""
        try:
            root = os.stat(f"/proc/{pid}/root/").st_dev
            with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="replace") as lines:
                points = [_unescape(line.split()[4]) for line in lines if len(line.split()) > 4]
        except OSError:
            return None
        exempt = set()
        for point in points:
            try:
                st = os.stat(f"/proc/{pid}/root{point}")
            except OSError:
                continue
            exempt.add((st.st_dev, st.st_ino))
        disk = {_OVERLAY}
        data_type = _filesystem_type(data_root)
        if data_type is not None:
            disk.add(data_type)
        return cls(root, frozenset(exempt), frozenset(disk))


def _unescape(path: str) -> str:
    """A mountinfo path: spaces, tabs, newlines and backslashes come as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def held(
    pids: Iterable[int],
    tally: Tally,
    holders: set[int] | None = None,
    own: Own | None = None,
) -> None:
    """Adds the deleted regular files the processes `pids` hold, open or mapped: their disk
    comes back only when the last holder lets go. Any disk: a file passed from another of the
    student's containers, even one removed since, is on that container's overlay. Not counted:
    what is memory (see _MEMORY_FILESYSTEMS).

    Deleted is what the file says (no links left), not its /proc name: a file whose container
    was removed keeps its old name there, and a path too long is not even read. Every thread's
    descriptor table is read (a thread cloned without CLONE_FILES has its own), and a process
    the walk cannot see through goes to `tally.unseen` (to confirm(), then: for a container's
    process, the student is past the limit): its first thread ended while others go on (its
    table and mappings read empty), or it has files registered with io_uring (held without any
    descriptor). For a container's processes, each descriptor or mapping looked at counts
    against the tally's cap, as an entry of a walk does (past it, the tally is capped); with
    `holders`, each process has the cap to itself, and one past it is a holder.

    `holders` gets each process that holds a deleted file on disk (counted here or before),
    an unseen one, one past the cap, and, with `own` (a sandbox's), any process with a file or
    directory on disk that is not its own: open, mapped shared (a private mapping cannot write
    to its file), or as a thread's working directory. Their (device, inode) go to
    `tally.flagged`. Not seen: a descriptor in flight in a unix socket that nobody
    received, and a ring of io_uring registered and closed (docs/gateway.md). map_files needs
    CAP_SYS_ADMIN, as setns does."""
    for pid in pids:
        tables = _tables(pid)
        if tables is None:
            continue  # ended
        if not tables:
            _unseen(pid, tally, holders)
            continue
        if own is not None and holders is not None and _outside(pid, tally, own):
            holders.add(pid)
        looked_here = 0
        for base in tables:
            try:
                names = os.listdir(base)
            except OSError:
                continue  # ended
            # Only a sandbox's mappings are told apart (one read of its maps per process).
            mapped = own is not None and base.endswith("/map_files")
            shared = _shared_mappings(pid) if mapped else None
            if holders is not None:
                # A budget per process: another's many descriptors must not hide this one's.
                looked_here += len(names)
                if looked_here > tally.cap:
                    holders.add(pid)  # not all looked at: it may hold one
                    break
            else:
                tally.looked += len(names)
                if tally.looked > tally.cap:
                    tally.capped = True
                    return
            for name in names:
                if shared is not None and name not in shared:
                    # A private mapping cannot write to its file (runc's own binary, mapped
                    # by every `docker exec` for a moment): its blocks, if deleted, still count.
                    _entry(f"{base}/{name}", tally, None)
                    continue
                found = _entry(f"{base}/{name}", tally, own)
                if found is _UNSEEN:
                    _unseen(pid, tally, holders)
                elif found and holders is not None:
                    holders.add(pid)


def _unseen(pid: int, tally: Tally, holders: set[int] | None) -> None:
    tally.unseen.add(pid)
    if holders is not None:
        holders.add(pid)


def _outside(pid: int, tally: Tally, own: Own) -> bool:
    """Whether a thread of `pid` works in (or was rooted in) a directory on disk not its own:
    a passed directory descriptor it moved into, from which it can create files there."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for thread in threads:
        if _entry(f"/proc/{pid}/task/{thread}/cwd", tally, own):
            return True
    return False


def _shared_mappings(pid: int) -> set[str]:
    """The address ranges (as map_files names them) of `pid`'s shared mappings: the only ones
    through which it can write to a file."""
    ranges = set()
    try:
        with open(f"/proc/{pid}/maps", encoding="ascii", errors="replace") as lines:
            for line in lines:
                fields = line.split(maxsplit=2)
                if len(fields) >= 2 and fields[1].endswith("s"):
                    start, _, end = fields[0].partition("-")
                    ranges.add(f"{int(start, 16):x}-{int(end, 16):x}")
    except (OSError, ValueError):
        pass
    return ranges


def confirm(
    pids: Iterable[int], first: set[int], flagged: set[tuple[int, int]], own: Own, cap: int
) -> set[int]:
    """Looks again at a sandbox's processes `pids`, CONFIRM_AFTER seconds after held() named
    `first` (holding `flagged`): returns those it names again, being one of `first` or holding
    one of the same files (a descriptor handed from process to process is still the same file).
    A process caught in a passing state is left alone: a process that is ending may show its
    first thread gone before the others."""
    time.sleep(CONFIRM_AFTER)
    confirmed = set()
    for pid in pids:
        again = Tally(cap=cap)
        named: set[int] = set()
        held([pid], again, named, own)
        if named and (pid in first or again.flagged & flagged):
            confirmed.add(pid)
    return confirmed


_UNSEEN = object()


def _tables(pid: int) -> list[str] | None:
    """The /proc folders of `pid`'s descriptor tables and mappings; [] when it is unmeasurable
    (its first thread ended while others go on); None when it ended."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat_file:
            state = stat_file.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return None
    if state in ("Z", "X"):
        return [] if len(threads) > 1 else None
    tables = [f"/proc/{pid}/fd", f"/proc/{pid}/map_files"]
    for thread in threads:
        if thread != str(pid) and _kcmp(pid, int(thread), _KCMP_FILES) != 0:
            tables.append(f"/proc/{pid}/task/{thread}/fd")
    return tables


_libc_syscall = _libc.syscall
_libc_syscall.restype = ctypes.c_long


def _kcmp(pid: int, other: int, kind: int) -> int:
    """0 when the two share the resource; anything else (different, or kcmp unavailable) reads
    the other's too."""
    if _SYS_KCMP is None:
        return -1
    args = (ctypes.c_long(pid), ctypes.c_long(other), ctypes.c_long(kind))
    return int(_libc_syscall(ctypes.c_long(_SYS_KCMP), *args, ctypes.c_long(0), ctypes.c_long(0)))


def _entry(path: str, tally: Tally, own: Own | None) -> object:
    """Counts `path` (a /proc link) once if it is a deleted file on disk. True if its holder
    holds a file it must not (deleted on disk; or, for a sandbox, any file on disk not its own);
    _UNSEEN for io_uring with registered files."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if stat.S_IFMT(st.st_mode) == 0:  # an anonymous inode: io_uring, epoll, eventfd...
        return _UNSEEN if "/fd/" in path and _io_uring_with_files(path) else False
    regular = stat.S_ISREG(st.st_mode)
    if not regular and not (own is not None and stat.S_ISDIR(st.st_mode)):
        return False
    key = (st.st_dev, st.st_ino)
    if own is not None and (st.st_dev == own.root_device or key in own.exempt):
        return False
    if regular and st.st_nlink == 0:
        if key not in tally.seen:
            if _type_of(path, st.st_dev, tally) in _MEMORY_FILESYSTEMS:
                return False
            tally.seen.add(key)
            tally.bytes += st.st_blocks * 512
    elif own is None or _type_of(path, st.st_dev, tally) not in own.disk:
        return False
    if own is not None:
        tally.flagged.add(key)
    return True


def _type_of(path: str, device: int, tally: Tally) -> int | None:
    known = tally.types.get(device)
    if known is None:
        known = _filesystem_type(path)
        if known is not None:  # None: the file went meanwhile; the next one asks again
            tally.types[device] = known
    return known


def _io_uring_with_files(path: str) -> bool:
    try:
        if os.readlink(path) != "anon_inode:[io_uring]":
            return False
        with open(path.replace("/fd/", "/fdinfo/"), encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("UserFiles:"):
                    return int(line.split()[1]) > 0
    except (OSError, ValueError, IndexError):
        return False
    return False


def stop_holders(holders: Iterable[int], container_id: str) -> int:
    """Kills the processes `holders` that are still in the container `container_id` (its
    cgroup, read through a pidfd, so a number reused by another process meanwhile is never
    signalled); returns how many. For a student's sandbox: a descriptor passed into it is the
    only way it holds a file on disk, and its processes are not stopped with their containers."""
    stopped = 0
    for pid in holders:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue  # ended
        except OSError:
            logger.warning("disk: process %d not stopped", pid, exc_info=True)
            continue
        try:
            # Read after the pidfd pins the process. If it ended and its number went to
            # another before this read, the signal below finds the pinned one gone (ESRCH).
            with open(f"/proc/{pid}/cgroup", encoding="ascii", errors="replace") as lines:
                theirs = container_id in lines.read()
            if theirs:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                stopped += 1
        except (ProcessLookupError, FileNotFoundError):
            continue  # ended meanwhile
        except OSError:
            logger.warning("disk: process %d not stopped", pid, exc_info=True)
            continue
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
