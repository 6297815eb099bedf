"""How much of the engine's disk each student's objects take, and what happens past the limit.

The engine cannot cap a container's writable layer or a volume on these servers (`--storage-opt
size` needs xfs with project quotas; overlay2 on ext4 has none), so one `dd` in a student's
container, a volume or a build step could fill the server's disk for every student. So Muelle
measures: at each heartbeat of the reaper (sandbox.reaper.periodic), the engine's own accounting
(`GET /system/df`: each container's writable layer, each volume, each image) is added up for
every student this process serves:

- each of their containers' writable layer (`SizeRw`);
- each volume labelled theirs or mounted by one of their containers (image `VOLUME`s are
  anonymous volumes without labels), except the project volume, a tmpfs bounded by its size;
- each image labelled theirs (builds, commits, imports), without the layers it shares with
  other images (its base).

A student past DOCKER_GATEWAY_MAX_DISK has their running containers killed (what writes stops
writing), and the gateway refuses what would write more (`check`: creating or starting a
container, a build, a commit, a pull or import, a new volume, a copy into a container) with a
Spanish message saying how much and what to delete. Their next such request measures again
(at once after they deleted something, otherwise at most every RECHECK_AFTER seconds), so
deleting is enough to carry on.

Not prevented: what a container writes between two measurements (SANDBOX_REAP_INTERVAL / 2, 15 s
by default) can pass the limit before it is killed. docs/gateway.md says how far.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from sandbox import project_volume

from .errors import refused
from .student import Student

logger = logging.getLogger(__name__)

# A refused student measures again on their next writing request, but not more often than this:
# `GET /system/df` walks every writable layer and volume on the engine.
RECHECK_AFTER = 3.0
# Docker 20.10 runs one `/system/df` at a time and answers any other at once with an error (a
# second web process, or a check while the reaper measures): it is asked again a few times.
DF_TRIES = 8
DF_PAUSE = 0.25


@dataclass(frozen=True)
class Over:
    used: int
    measured: float  # time.monotonic()


# Students of this process found past the limit at their last measure.
_over: dict[str, Over] = {}


def _mib(value: int) -> str:
    return f"{value / 1024**2:.0f} MiB"


async def engine_df(student: Student) -> dict[str, Any] | None:
    """The engine's disk accounting (every container, volume and image on it); None when the
    engine did not give it (logged)."""
    message = ""
    for _attempt in range(DF_TRIES):
        response = await student.engine.request("GET", "/system/df", timeout=120.0)
        if response.status < 400:
            data = response.json()
            return data if isinstance(data, dict) else {}
        message = response.message
        if "already running" not in message:
            break
        await asyncio.sleep(DF_PAUSE)
    logger.warning("disk: the engine gave no disk usage: %s", message)
    return None


def _size(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def usage(df: dict[str, Any], student: Student) -> int:
    """Bytes of the engine's disk that `student`'s objects take, from `engine_df`."""
    owns = student.ns.owns_labels
    containers = [c for c in df.get("Containers") or [] if owns(c.get("Labels"))]
    used = sum(_size(c.get("SizeRw")) for c in containers)
    mounted = {
        mount.get("Name")
        for container in containers
        for mount in container.get("Mounts") or []
        if mount.get("Type") == "volume"
    }
    for volume in df.get("Volumes") or []:
        name = volume.get("Name") or ""
        if project_volume.is_project_volume(name):
            continue  # a tmpfs: memory, bounded by its own size
        if owns(volume.get("Labels")) or name in mounted:
            used += _size((volume.get("UsageData") or {}).get("Size"))
    for image in df.get("Images") or []:
        if owns(image.get("Labels")):
            used += max(0, _size(image.get("Size")) - _size(image.get("SharedSize")))
    return used


async def enforce(students: Iterable[Student]) -> list[str]:
    """For the reaper: measures each student; kills the running containers of those past the
    limit. Returns the owners found past it. One `/system/df` per engine."""
    found: list[str] = []
    by_engine: dict[str, list[Student]] = {}
    for student in students:
        if student.config.max_disk:
            by_engine.setdefault(await student.engine.address(), []).append(student)
    for group in by_engine.values():
        df = await engine_df(group[0])
        if df is None:
            continue  # the next heartbeat measures again
        now = time.monotonic()
        for student in group:
            used = usage(df, student)
            if used <= student.config.max_disk:
                _over.pop(student.owner, None)
                continue
            _over[student.owner] = Over(used, now)
            found.append(student.owner)
            await _stop_writing(student, df)
    return found


async def _stop_writing(student: Student, df: dict[str, Any]) -> None:
    running = [
        c["Id"]
        for c in df.get("Containers") or []
        if student.ns.owns_labels(c.get("Labels")) and c.get("State") == "running"
    ]
    for container_id in running:
        response = await student.engine.request("POST", f"/containers/{container_id}/kill")
        if response.status >= 400 and response.status not in (404, 409):
            logger.warning("disk: could not kill %s: %s", container_id[:12], response.message)
    if running:
        logger.info(
            "disk: student %s past DOCKER_GATEWAY_MAX_DISK, %d container(s) killed",
            student.owner[:12],
            len(running),
        )


def measure_again(student: Student) -> None:
    """The student deleted something: their next check measures at once."""
    over = _over.get(student.owner)
    if over is not None:
        _over[student.owner] = Over(over.used, -float("inf"))


def forget(owner: str) -> None:
    """The student's gateway closed: what they had is gone with it."""
    _over.pop(owner, None)


async def check(student: Student) -> None:
    """Before a request that writes to the engine's disk: refused while the student is past the
    limit (measured again if the last measure is older than RECHECK_AFTER)."""
    limit = student.config.max_disk
    over = _over.get(student.owner)
    if not limit or over is None:
        return
    if time.monotonic() - over.measured >= RECHECK_AFTER:
        df = await engine_df(student)
        if df is not None:  # without a new measure, the last one stands
            used = usage(df, student)
            if used <= limit:
                _over.pop(student.owner, None)
                return
            over = _over[student.owner] = Over(used, time.monotonic())
    raise refused(
        _(
            "Tus contenedores, volúmenes e imágenes ocupan %(used)s del disco del servidor, más "
            "de los %(max)s que tienes en Muelle, y se han detenido tus contenedores en marcha. "
            "Borra lo que no necesites (míralo con «docker ps -a», «docker volume ls» y «docker "
            "images»; bórralo con «docker rm», «docker volume rm» y «docker rmi») y vuelve a "
            "intentarlo."
        )
        % {"used": _mib(over.used), "max": _mib(limit)}
    )
