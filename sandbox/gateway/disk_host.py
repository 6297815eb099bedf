"""One student's disk, measured on this server's filesystem (disk_walk), for the local engine.

The engine says where each object keeps its files (`GraphDriver` of containers and images,
`Mountpoint` of volumes, `State.Pid` of running containers); this server walks them. Counted:

- each of the student's containers' writable layer (overlay2's upper directory), and the files
  its processes hold open after deleting them;
- each volume labelled theirs or mounted by one of their containers, except the project volume
  (a tmpfs bounded by its own size);
- the layers of their own images (builds, commits, imports) that no image outside every
  student's (a course or Hub image) has: a layer two of their images share counts once. Image
  layers never change, so each is walked once in the life of the process.

None when this engine's storage is not on this server (a Swarm node, or a driver other than
overlay2): disk_use then uses the engine's own accounting.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox import project_volume
from sandbox.engine_names import LABEL_STUDENT

from . import disk_walk
from .student import Student
from .upstream import Upstream

_CACHE_MAX = 4096  # image ids and layer directories remembered; the oldest half goes when full
_image_layers: dict[str, frozenset[str]] = {}
_layer_tallies: dict[str, tuple[int, int, bool]] = {}  # directory -> bytes, files, capped


@dataclass(frozen=True)
class Usage:
    bytes: int
    files: int | None  # None: not counted (the engine's accounting)
    capped: bool = False  # more files than DOCKER_GATEWAY_MAX_FILES: past the limit
    started: float = 0.0  # time.monotonic() when the measure started
    containers: list[dict[str, Any]] = field(default_factory=list)  # Id and State of each


@dataclass
class _Plan:
    trees: list[str] = field(default_factory=list)  # writable layers and volumes
    layers: list[str] = field(default_factory=list)  # own image layers (never change)
    processes: list[tuple[int, str, str]] = field(default_factory=list)  # pid, id, merged dir
    volumes: list[str] = field(default_factory=list)


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= _CACHE_MAX:
        for old in list(cache)[: _CACHE_MAX // 2]:
            del cache[old]
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


async def listings(engine: Upstream) -> Listings:
    volumes = (await engine.json("GET", "/volumes") or {}).get("Volumes") or []
    return Listings(volumes, await engine.json("GET", "/images/json") or [])


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
        if dirs is None or not os.path.isdir(dirs[0]):
            return None  # its files are not on this server
        plan.trees.append(dirs[0])
        mounted.update(m.get("Name") for m in info.get("Mounts") or [] if m.get("Type") == "volume")
        pid = (info.get("State") or {}).get("Pid")
        merged = ((info.get("GraphDriver") or {}).get("Data") or {}).get("MergedDir")
        if isinstance(pid, int) and pid > 0 and isinstance(merged, str):
            plan.processes.append((pid, str(info.get("Id")), merged))
    owns = student.ns.owns_labels
    for volume in listed_here.volumes:
        name = volume.get("Name") or ""
        if project_volume.is_project_volume(name) or volume.get("Driver") != "local":
            continue
        if (owns(volume.get("Labels")) or name in mounted) and volume.get("Mountpoint"):
            plan.trees.append(volume["Mountpoint"])
            plan.volumes.append(volume["Mountpoint"])
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


def _count(plan: _Plan, cap: int) -> tuple[int, int, bool]:
    """The walk itself, in a worker thread."""
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
            disk_walk.walk(layer, walked)
            known = (walked.bytes, walked.files, walked.capped)
            if not walked.capped and os.path.isdir(layer):
                _remember(_layer_tallies, layer, known)  # a whole count: the layer never changes
        tally.bytes += known[0]
        tally.files += known[1]
        tally.capped = tally.capped or known[2] or tally.files > cap
    volume_devices = {d for d in map(disk_walk.device, plan.volumes) if d is not None}
    for pid, container_id, merged in plan.processes:
        devices = set(volume_devices)
        overlay = disk_walk.device(merged)
        if overlay is not None:
            devices.add(overlay)
        disk_walk.held_deleted(disk_walk.container_pids(pid, container_id), devices, tally)
    return tally.bytes, tally.files, tally.capped


def is_local(student: Student, address: str) -> bool:
    """Whether the student's engine (at `address`) is the one on this server."""
    return address == student.config.engine_socket


async def usage(student: Student, listed_here: Listings | None = None) -> Usage | None:
    """The student's disk and files on this server, or None when the engine keeps its data
    elsewhere. `listed_here`: the engine's listings, when several students share them."""
    if not is_local(student, await student.engine.address()):
        return None
    started = time.monotonic()
    if listed_here is None:
        listed_here = await listings(student.engine)
    planned = await _plan(student, listed_here)
    if planned is None:
        return None
    plan, listed = planned
    used, files, capped = await asyncio.to_thread(_count, plan, student.config.max_files)
    states = [{"Id": c.get("Id"), "State": c.get("State")} for c in listed]
    return Usage(used, files, capped, started, states)
