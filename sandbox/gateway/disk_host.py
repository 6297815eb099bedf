"""One student's disk, measured on this server's filesystem (disk_walk), for the local engine.

The engine says where each object keeps its files (`GraphDriver` of containers and images,
`Mountpoint` of volumes, `HostsPath`, `State.Pid` of running containers); this server walks
them. Counted:

- each of the student's containers' writable layer (overlay2's upper directory) and the
  engine's folder for it (its /etc/hosts, /etc/resolv.conf and /etc/hostname are mounted from
  there, writable by the container's root; its log is there);
- the deleted files the processes of any of their containers hold open or mapped, on the disk
  of any of their containers or volumes; and those their sandbox's processes hold. A sandbox
  holds a file on disk that is not its own root's only if one of their containers passed it in
  (through a unix socket in ~/proyecto: its own files are read-only or memory), so a process
  of it that holds one is killed, past the limit or not, if half a second later it (or another
  process of the sandbox) still holds it: it is not stopped with the containers, and could
  write on through the descriptor without bound (disk_walk.held says what counts as holding);
- each volume labelled theirs or mounted by one of their containers, except the project volume
  (a tmpfs bounded by its own size);
- the layers of their own images (builds, commits, imports) that no image outside every
  student's (a course or Hub image) has: a layer two of their images share counts once. Image
  layers never change, so each is walked once in the life of the process.

None when this engine's storage is not visible from here (a Swarm node, another storage driver,
a data root this process cannot see): disk_use then uses the engine's own accounting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox import project_volume
from sandbox.engine_names import LABEL_STUDENT

from . import disk_walk, sandbox_lookup
from .config import GatewayConfig
from .student import Student
from .upstream import Upstream

logger = logging.getLogger(__name__)

_CACHE_MAX = 4096  # image ids and layer directories remembered; the oldest half goes when full
_image_layers: dict[str, frozenset[str]] = {}
_layer_tallies: dict[str, tuple[int, int, bool]] = {}  # directory -> bytes, files, capped


@dataclass(frozen=True)
class Usage:
    bytes: int
    files: int  # past DOCKER_GATEWAY_MAX_FILES when a walk stopped early, whatever it saw
    started: float = 0.0  # time.monotonic() when the measure started
    containers: list[dict[str, Any]] = field(default_factory=list)  # Id and State of each
    # A container's process the walk could not see through (still so at the second look): the
    # student is past the limit (`files` too), and is told why.
    unseen: bool = False


@dataclass
class _Plan:
    trees: list[str] = field(default_factory=list)  # writable layers and volumes
    layers: list[str] = field(default_factory=list)  # own image layers (never change)
    processes: list[tuple[int, str]] = field(default_factory=list)  # first pid, container id
    sandboxes: list[tuple[int, str]] = field(default_factory=list)  # the same, of their sandbox
    data_root: str = ""  # the engine's data root (its filesystem is disk)


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    # Worker threads call this at once (layer counts): pop, not del, for a key another took.
    if len(cache) >= _CACHE_MAX:
        for old in list(cache)[: _CACHE_MAX // 2]:
            cache.pop(old, None)
    cache[key] = value


def _overlay_dirs(info: dict[str, Any]) -> tuple[str, list[str]] | None:
    driver = info.get("GraphDriver") or {}
    data = driver.get("Data") or {}
    upper = data.get("UpperDir")
    if driver.get("Name") != "overlay2" or not isinstance(upper, str):
        return None
    lower = data.get("LowerDir")
    return upper, lower.split(":") if isinstance(lower, str) and lower else []


async def _layers_of(engine: Upstream, image_id: str) -> frozenset[str]:
    known = _image_layers.get(image_id)
    if known is not None:
        return known
    info = await engine.get_or_none(f"/images/{image_id}/json")
    dirs = _overlay_dirs(info or {})
    layers = frozenset([dirs[0], *dirs[1]]) if dirs else frozenset()
    if info is not None:
        _remember(_image_layers, image_id, layers)
    return layers


@dataclass(frozen=True)
class Listings:
    """The engine's volumes and images, listed once for every student measured in a pass."""

    volumes: list[dict[str, Any]]
    images: list[dict[str, Any]]
    at: float  # time.monotonic() when they were asked for: a measure is no newer than that


async def listings(engine: Upstream) -> Listings:
    at = time.monotonic()
    volumes = (await engine.json("GET", "/volumes") or {}).get("Volumes") or []
    return Listings(volumes, await engine.json("GET", "/images/json") or [], at)


async def _plan(
    student: Student, listed_here: Listings
) -> tuple[_Plan, list[dict[str, Any]]] | None:
    engine = student.engine
    plan = _Plan()
    listed = await student.containers()
    mounted: set[str] = set()
    for container in listed:
        info = await engine.get_or_none(f"/containers/{container['Id']}/json")
        if info is None:
            continue  # removed meanwhile
        dirs = _overlay_dirs(info)
        if dirs is None:
            return None  # another storage driver: the engine's accounting
        plan.trees.append(dirs[0])
        # The engine's own folder for the container: /etc/hosts, /etc/resolv.conf and
        # /etc/hostname are bind-mounted from it, writable by the container's root (an attack
        # review wrote 90 MiB there unseen), and its log is there.
        hosts = info.get("HostsPath")
        if isinstance(hosts, str) and os.path.basename(os.path.dirname(hosts)) == info.get("Id"):
            plan.trees.append(os.path.dirname(hosts))
        mounted.update(m.get("Name") for m in info.get("Mounts") or [] if m.get("Type") == "volume")
        pid = (info.get("State") or {}).get("Pid")
        if isinstance(pid, int) and pid > 0:
            plan.processes.append((pid, str(info.get("Id"))))
    plan.sandboxes = await sandboxes(student)
    owns = student.ns.owns_labels
    for volume in listed_here.volumes:
        name = volume.get("Name") or ""
        if project_volume.is_project_volume(name) or volume.get("Driver") != "local":
            continue
        if (owns(volume.get("Labels")) or name in mounted) and volume.get("Mountpoint"):
            plan.trees.append(volume["Mountpoint"])
    own: set[str] = set()
    shared: set[str] = set()
    for image in listed_here.images:
        labels = image.get("Labels")
        if owns(labels):
            own |= await _layers_of(engine, str(image.get("Id")))
        elif not (labels or {}).get(LABEL_STUDENT):
            shared |= await _layers_of(engine, str(image.get("Id")))
    plan.layers = sorted(own - shared)
    return plan, listed


async def sandboxes(student: Student) -> list[tuple[int, str]]:
    """(first pid, id) of the student's running sandbox (sandbox_lookup)."""
    found = []
    for sandbox_id in await sandbox_lookup.running_sandboxes(
        student.engine, student.sandbox_folder()
    ):
        info = await student.engine.get_or_none(f"/containers/{sandbox_id}/json")
        pid = ((info or {}).get("State") or {}).get("Pid")
        if isinstance(pid, int) and pid > 0:
            found.append((pid, sandbox_id))
    return found


def _stop_sandbox_holders(
    sandboxes: list[tuple[int, str]],
    tally: disk_walk.Tally,
    cgroup_root: str,
    data_root: str,
    owner: str,
) -> None:
    """Counts the deleted files on disk the sandboxes' processes hold, and kills the processes
    that hold a file on disk not their sandbox's own (disk_walk.Own), once confirmed."""
    for pid, container_id in sandboxes:
        own = disk_walk.Own.of(pid, data_root)
        if own is None:
            continue  # ended
        # The first process too: docker-init runs as the sandbox's user, who could make it
        # hold something (ptrace); its own binary, mounted by the engine, is exempt (Own).
        pids = disk_walk.container_pids(pid, container_id, cgroup_root)
        holders: set[int] = set()
        disk_walk.held(pids, tally, holders, own)
        if not holders:
            continue
        # Listed again: a descriptor may have gone on to a process started since.
        pids = disk_walk.container_pids(pid, container_id, cgroup_root)
        confirmed = disk_walk.confirm(pids, holders, tally.flagged, own, tally.cap)
        stopped = disk_walk.stop_holders(confirmed, container_id) if confirmed else 0
        if stopped:
            logger.warning(
                "disk: student %s: killed %d process(es) of their sandbox %s that held a file "
                "on disk passed in from a container (or could not be seen through)",
                owner[:12],
                stopped,
                container_id[:12],
            )


async def stop_sandbox_holders(student: Student) -> None:
    """For the brake (disk_use), at once: kills the processes of the student's sandbox that
    hold a file on disk not its own."""
    root = _roots.get(await student.engine.address())
    if root is None:
        return
    found = await sandboxes(student)
    if found:
        await asyncio.get_running_loop().run_in_executor(
            _walkers, _brake_sandboxes, found, student.config, student.owner, root
        )


def _brake_sandboxes(
    found: list[tuple[int, str]], config: GatewayConfig, owner: str, data_root: str
) -> None:
    tally = disk_walk.Tally(cap=config.max_files)
    _stop_sandbox_holders(found, tally, str(config.build_cgroup_root), data_root, owner)


def _count(plan: _Plan, config: GatewayConfig, owner: str) -> tuple[int, int, bool]:
    """The walk itself, in a worker thread: bytes, files, and whether a container's process
    could not be seen through. On an engine whose storage is here, a directory that is not
    there was removed meanwhile: it holds nothing."""
    cap = config.max_files
    cgroup_root = str(config.build_cgroup_root)
    tally = disk_walk.Tally(cap=cap)
    for tree in plan.trees:
        disk_walk.walk(tree, tally)
    for layer in plan.layers:
        if tally.capped:
            break
        known = _layer_tallies.get(layer)
        if known is None:
            # Only what is left of the cap: a student's many layers cost no more than one walk.
            walked = disk_walk.Tally(cap=cap - tally.files)
            whole = disk_walk.walk(layer, walked) and not walked.capped
            known = (walked.bytes, walked.files, walked.capped)
            if whole:
                _remember(_layer_tallies, layer, known)  # a whole count: the layer never changes
        tally.bytes += known[0]
        tally.files += known[1]
        tally.capped = tally.capped or known[2] or tally.files > cap
    for pid, container_id in plan.processes:
        if tally.capped:
            break
        pids = disk_walk.container_pids(pid, container_id, cgroup_root)
        disk_walk.held(pids, tally)
    unseen = False
    if tally.unseen and not tally.capped:
        # What the walk could not see through may be anything: past the limit, unless it was
        # only passing (confirm).
        time.sleep(disk_walk.CONFIRM_AFTER)
        again = disk_walk.Tally(cap=cap, seen=tally.seen)
        disk_walk.held(sorted(tally.unseen), again)
        unseen = bool(again.unseen)
        tally.capped = unseen or again.capped
        tally.bytes += again.bytes
    # The sandbox's processes, with a budget of their own (a student's many descriptors
    # elsewhere must not make a process of their terminal look like a holder), also past the
    # cap. A file both hold counts once (`seen`). A sandbox holds a file on disk only if one
    # of their containers passed it in: whatever the measure, its holders are stopped, here
    # and not after (the ones just found are still theirs: stop_holders checks).
    sandbox_tally = disk_walk.Tally(cap=cap, seen=tally.seen)
    _stop_sandbox_holders(plan.sandboxes, sandbox_tally, cgroup_root, plan.data_root, owner)
    tally.bytes += sandbox_tally.bytes
    # A walk that stopped early (the cap, or MAX_DEPTH) is past the limit whatever it counted:
    # what it did not reach may be anything.
    files = max(tally.files, cap + 1) if tally.capped else tally.files
    return tally.bytes, files, unseen


# Walks run in threads of their own: however slow, they never hold up the default executor's
# work (copies into containers, imports, build contexts). As many as disk_use lets run at once.
WALKERS = 4
_walkers = concurrent.futures.ThreadPoolExecutor(WALKERS, thread_name_prefix="disk-walk")

_visible: dict[str, bool] = {}  # an engine's address -> whether its storage is on this server
_roots: dict[str, str] = {}  # an engine's address -> its data root, when it is on this server


async def storage_here(student: Student, address: str) -> bool:
    """Whether this server can walk the student's engine's files: the engine it serves (not a
    Swarm node) with overlay2, its data root a directory here. Not so in the deploy/ stack,
    whose web container mounts only the engine's socket: the engine's accounting is used."""
    if address != student.config.engine_socket:
        return False
    known = _visible.get(address)
    if known is None:
        info = await student.engine.json("GET", "/info") or {}
        root = info.get("DockerRootDir")
        known = (
            info.get("Driver") == "overlay2"
            and isinstance(root, str)
            and os.path.isdir(os.path.join(root, "overlay2"))
        )
        _visible[address] = known
        if known:
            _roots[address] = str(root)
    return known


def _free(root: str) -> int:
    found = os.statvfs(root)
    return found.f_bavail * found.f_frsize


async def free_space(address: str) -> int | None:
    """Bytes free (for users other than root) on the disk of the engine's data, when
    storage_here() found it on this server; else None. In the default executor, not the
    walkers': a request's check must not wait behind the walks."""
    root = _roots.get(address)
    if root is None:
        return None
    return await asyncio.get_running_loop().run_in_executor(None, _free, root)


async def usage(student: Student, listed_here: Listings | None = None) -> Usage | None:
    """The student's disk and files on this server, or None when the engine keeps its data
    elsewhere. `listed_here`: the engine's listings, when several students share them."""
    address = await student.engine.address()
    if not await storage_here(student, address):
        return None
    if listed_here is None:
        listed_here = await listings(student.engine)
    started = listed_here.at
    planned = await _plan(student, listed_here)
    if planned is None:
        return None
    plan, listed = planned
    plan.data_root = _roots[address]
    config = student.config
    used, files, unseen = await asyncio.get_running_loop().run_in_executor(
        _walkers, _count, plan, config, student.owner
    )
    states = [{"Id": c.get("Id"), "State": c.get("State")} for c in listed]
    return Usage(used, files, started, states, unseen)
