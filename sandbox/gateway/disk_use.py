"""How much of the engine's disk each student's objects take, and what happens past the limit.

The engine cannot cap a container's writable layer or a volume on these servers (`--storage-opt
size` needs xfs with project quotas; overlay2 on ext4 has none), so one `dd` in a student's
container, a volume or a build step could fill the server's disk for every student. So Muelle
measures, at each heartbeat of the reaper (sandbox.reaper.periodic), every student this process
serves: their containers' writable layers, their volumes and their own images' layers.

- The local engine (its data on this server): disk_host walks those directories itself,
  counting allocated blocks, entries (DOCKER_GATEWAY_MAX_FILES) and deleted files still held
  open, by their containers' processes or their sandbox's; the engine's own accounting missed
  all three (docs/gateway.md).
- An engine elsewhere (a Swarm node): the engine's accounting, `GET /system/df`, one run per
  engine shared by the reaper and requests (`df_usage`), with the gaps docs/gateway.md lists.

A student past DOCKER_GATEWAY_MAX_DISK (or the files limit) has their running (and restarting,
and paused) containers stopped (what writes stops writing), and the gateway refuses what would
write more (`check`: creating or starting a container, a build, a commit, a pull or import, a
save, a new volume, a copy into a container) with a Spanish message saying how much and what to
delete. Their next such request measures again: as soon as it may after they deleted something
(REQUEST_GAP), otherwise at most every RECHECK_AFTER seconds.

Not prevented by the measure: what a container writes between two measurements
(SANDBOX_REAP_INTERVAL / 2, 15 s by default) can pass the limit before it is stopped, and a
deleted file whose descriptor is in flight in a unix socket is held by no process, so no walk
sees it. Hence a last line where the engine's data is on this server: when its disk has less
than DOCKER_GATEWAY_MIN_FREE_DISK free, every student this process serves on that engine has
their running, restarting and paused containers stopped (and their sandbox's processes that
hold a file on disk not its own killed, as every measure does: disk_host) at the reaper's
pass (before the walks: a pass that runs out of time still brakes; a descriptor in flight goes
with the last process holding its socket; one in a sandbox's socket stays until the sandbox
ends), and every writing request reads the disk itself and is refused, until the disk has that
much free again and a little more (HYSTERESIS_MAX). docs/gateway.md.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from sandbox import project_volume
from sandbox.loop_state import PerLoop

from . import disk_host
from .errors import EngineError, refused
from .quotas import mib
from .student import Student
from .upstream import Upstream
from .wire import ProtocolError

logger = logging.getLogger(__name__)

# A student past the limit measures again on their next writing request, but not more often
# than this unless they deleted something: `GET /system/df` walks every writable layer and
# volume on the engine.
RECHECK_AFTER = 3.0
# Docker 20.10 runs one `/system/df` at a time and answers any other at once with an error (a
# second web process is measuring): it is asked again, for up to 10 s.
DF_PAUSE = 0.25
DF_TRIES = 40
DF_TIMEOUT = 60.0
# The runs requests start (after a delete, or RECHECK_AFTER on) are at least this far apart
# per engine: deleting in a loop must not keep the engine's one `system df` busy.
REQUEST_GAP = 1.0
# Images walked down to their base: ids are content hashes, so a known base never changes.
_BASES_MAX = 4096
_MAX_ANCESTORS = 512


@dataclass
class _Run:
    started: float  # time.monotonic()
    task: asyncio.Task[None] | None = None  # None once it ended: no reference to its loop
    result: dict[str, Any] | None = None  # None: the engine did not give it


@dataclass(frozen=True)
class Measure:
    used: int  # bytes
    started: float  # when the measure started (time.monotonic())
    files: int | None = None  # None: not counted (the engine's accounting)
    unseen: bool = False  # a container's process could not be seen through (disk_host.Usage)


# One `/system/df` per engine at a time in this process, shared by the reaper and requests;
# and, per engine, the start of the last run the reaper used.
_runs: PerLoop[dict[str, _Run]] = PerLoop(dict)
_reaper_used: PerLoop[dict[str, float]] = PerLoop(dict)
_bases: dict[str, int] = {}  # a student's image id -> the size of the base below it


async def _fetch(engine: Upstream, tries: int) -> dict[str, Any] | None:
    message = ""
    for _attempt in range(tries):
        try:
            response = await engine.request("GET", "/system/df", timeout=DF_TIMEOUT)
            if response.status < 400:
                data = response.json()
                return data if isinstance(data, dict) else {}
            message = response.message
        except Exception as exc:  # noqa: BLE001 - a measure that failed is logged, never raised
            message = repr(exc)
            break
        if "already running" not in message:
            break
        await asyncio.sleep(DF_PAUSE)
    logger.warning("disk: the engine gave no disk usage: %s", message)
    return None


async def _measure(run: _Run, engine: Upstream, tries: int) -> None:
    try:
        run.result = await _fetch(engine, tries)
    finally:
        run.task = None


async def _wait(run: _Run) -> tuple[float, dict[str, Any] | None]:
    task = run.task
    if task is not None:
        try:
            # Shielded: a caller that goes away must not cancel the run the others wait for.
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # this caller was cancelled
            # The run was (its loop is ending): no measure.
    return run.started, run.result


async def engine_df(
    engine: Upstream,
    address: str,
    *,
    newer_than: float,
    tries: int,
    any_under_way: bool = False,
    gap: float = 0.0,
) -> tuple[float, dict[str, Any] | None]:
    """(when it started, the engine's disk accounting) from a run started after `newer_than`
    (or, with `any_under_way`, one under way): the one under way or the last one, else a new
    one, started at least `gap` seconds after the last. None: the engine did not give it."""
    runs = _runs.get()
    run = runs.get(address)
    if run is not None and run.task is not None:
        if any_under_way or run.started > newer_than:
            return await _wait(run)
        await _wait(run)  # too old, but a second one now would only be refused: it ends first
        run = runs.get(address)
    if run is not None and run.started > newer_than and run.result is not None:
        return run.started, run.result
    if run is not None and gap:
        pause = run.started + gap - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
            latest = runs.get(address)
            if latest is not run and latest is not None:  # another caller started one meanwhile
                return await _wait(latest)
    run = runs[address] = _Run(time.monotonic())
    run.task = asyncio.ensure_future(_measure(run, engine, tries))
    return await _wait(run)


def _size(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


async def _base_size(engine: Upstream, image_id: str, owns: Callable[[Any], bool]) -> int:
    """The size of the first image below `image_id` that is not the student's (0: none). Kept
    for every image of theirs on the way: the next image built on them stops there."""
    known = _bases.get(image_id)
    if known is not None:
        return known
    base = 0
    path = [image_id]
    info = await engine.get_or_none(f"/images/{image_id}/json")
    for _step in range(_MAX_ANCESTORS):
        parent = (info or {}).get("Parent") or ""
        if not parent:
            break
        info = await engine.get_or_none(f"/images/{parent}/json")
        if info is None:
            break
        if not owns((info.get("Config") or {}).get("Labels")):
            base = _size(info.get("Size"))
            break
        if parent in _bases:
            base = _bases[parent]
            break
        path.append(parent)
    if len(_bases) + len(path) > _BASES_MAX:
        for old in list(_bases)[: _BASES_MAX // 2]:  # the oldest half
            del _bases[old]
    for owned in path:
        _bases[owned] = base
    return base


async def df_usage(df: dict[str, Any], student: Student) -> int:
    """Bytes of the engine's disk that `student`'s objects take, from `engine_df` (an engine
    whose storage is not on this server: disk_host measures the local one)."""
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
            base = await _base_size(student.engine, str(image.get("Id")), owns)
            used += max(0, _size(image.get("Size")) - base)
    return used


def _record(
    student: Student, used: int, started: float, files: int | None = None, unseen: bool = False
) -> bool:
    """Keeps a measure, unless the student has a newer one; True if the student is past the
    limit (of bytes, or of files: `files` past DOCKER_GATEWAY_MAX_FILES, as when a process of
    theirs could not be seen through: `unseen`)."""
    if started < student.disk_measured:
        return student.disk_over is not None
    student.disk_measured = started
    too_many = files is not None and files > student.config.max_files
    past = used > student.config.max_disk or too_many or unseen
    student.disk_over = used if past else None
    student.disk_files_over = files if too_many else None
    student.disk_unseen = unseen
    return past


async def _host_measure(
    student: Student, listed_here: disk_host.Listings | None = None
) -> disk_host.Usage | None:
    """The measure on this server's filesystem; None when the engine's storage is elsewhere.
    One at a time per student, shared by whoever asks meanwhile (the reaper, and requests sent
    at once after a delete), and disk_host.WALKERS at a time in the process (one per walking
    thread). _NotMeasured when a call to the engine failed (logged)."""
    loop = asyncio.get_running_loop()
    while True:
        task = student.disk_task
        if task is None or task.done() or task.get_loop() is not loop:
            student.disk_task_started = time.monotonic()
            task = student.disk_task = loop.create_task(_host_measure_once(student, listed_here))
            # Every caller may have gone (a heartbeat out of time): its error is logged there,
            # not as "never retrieved".
            task.add_done_callback(_retrieved)
            break
        if student.disk_deleted <= student.disk_task_started:
            break  # under way since their last delete: shared
        # Under way since before their last delete: it may still count what went. It ends
        # first; then the first caller starts a new one and the others share it.
        await asyncio.wait([task])
    try:
        # Shielded: a caller that goes away (a heartbeat out of time) leaves it to the others.
        return await asyncio.shield(task)
    except (OSError, TimeoutError, ProtocolError, EngineError, ValueError):
        logger.warning("disk: %s not measured", student.owner[:12], exc_info=True)
        raise _NotMeasured from None


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("disk: a measure failed", exc_info=task.exception())


async def _host_measure_once(
    student: Student, listed_here: disk_host.Listings | None
) -> disk_host.Usage | None:
    """Measures, and acts on it here: a measure that ends after its caller gave up (a heartbeat
    out of time) still stops what writes, and a refusal sees it."""
    async with _host_gates.get():
        found = await disk_host.usage(student, listed_here)
    if found is not None and _record(
        student, found.bytes, found.started, found.files, found.unseen
    ):
        try:
            await _stop_writing(student, found.containers)
        except (OSError, TimeoutError, ProtocolError, EngineError, ValueError):
            logger.warning("disk: %s not stopped", student.owner[:12], exc_info=True)
    return found


_host_gates: PerLoop[asyncio.Semaphore] = PerLoop(lambda: asyncio.Semaphore(disk_host.WALKERS))


class _NotMeasured(Exception):
    pass


async def _enforce_on_host(students: list[Student], measured: dict[str, Measure]) -> None:
    """The local engine's students, measured a few at a time (each walk runs in a thread), in
    a new order at each pass: a pass cut short by the heartbeat's time leaves out others."""
    listed_here = await disk_host.listings(students[0].engine)

    async def one(student: Student) -> None:
        try:
            found = await _host_measure(student, listed_here)
        except _NotMeasured:
            return
        if found is not None:
            measured[student.owner] = Measure(found.bytes, found.started, found.files, found.unseen)

    order = list(students)
    random.shuffle(order)
    await asyncio.gather(*(one(student) for student in order))


# Engines (by address) whose disk was under DOCKER_GATEWAY_MIN_FREE_DISK at the last look: the
# state of the engine, not of a student, so a student who arrives meanwhile is braked too.
_low: dict[str, bool] = {}
# Once braked, the disk must have this much more than the reserve free to let writes go again:
# one delete that brings it just over the line does not buy another full window of writing.
HYSTERESIS_MAX = 256 * 1024 * 1024
# Stops sent at once by the brake (each a call to the engine).
_BRAKE_STOPS = 8


async def _low_disk(student: Student, address: str) -> int | None:
    """The free bytes of the engine's disk when under the reserve (with its hysteresis once
    low), else None, also when the disk is not on this server. Records the state for every
    student of that engine."""
    reserve = student.config.min_free_disk
    if not reserve or not await disk_host.storage_here(student, address):
        return None
    free = await disk_host.free_space(address)
    if free is None:
        return None
    line = reserve + min(reserve // 8, HYSTERESIS_MAX) if _low.get(address) else reserve
    low = _low[address] = free < line
    return free if low else None


async def _brake(students: list[Student], address: str) -> None:
    """The last line: the engine's disk is almost full, whoever filled it (what no measure of
    one student sees: a descriptor in flight, what was written since the last measure, or many
    students each under their limit). Every student here stops writing until it is not. Run
    before the walks, so a pass that runs out of time still brakes."""
    reserve = students[0].config.min_free_disk
    free = await _low_disk(students[0], address)
    if free is None:
        return
    logger.error(
        "disk: %s free on the engine's disk, under DOCKER_GATEWAY_MIN_FREE_DISK (%s): the "
        "running, restarting and paused containers of its %d student(s) here are stopped",
        mib(free),
        mib(reserve),
        len(students),
    )
    gate = asyncio.Semaphore(_BRAKE_STOPS)
    # The terminals' looks (engine calls, then a walker thread) have places of their own.
    looks = asyncio.Semaphore(_BRAKE_STOPS)

    async def stop(student: Student) -> None:
        async with gate:
            try:
                # Listed now: what started since the last pass is stopped too.
                listed = await student.containers()
                await _stop_writing(student, listed, "on a disk under DOCKER_GATEWAY_MIN_FREE_DISK")
            except (OSError, TimeoutError, ProtocolError, EngineError, ValueError):
                logger.warning("disk: %s not stopped", student.owner[:12], exc_info=True)
        # And their sandbox's holders of a file passed in (every measure stops them, but the
        # measures come after the brake, and may not all run in time). Out of the gate: this
        # waits for a walker thread (and half a second to confirm), and must not hold up the
        # other students' containers meanwhile.
        try:
            async with looks:
                await disk_host.stop_sandbox_holders(student)
        except (OSError, TimeoutError, ProtocolError, EngineError, ValueError):
            logger.warning("disk: %s's terminal not looked at", student.owner[:12], exc_info=True)

    await asyncio.gather(*(stop(student) for student in students))


async def enforce(students: Iterable[Student]) -> dict[str, Measure]:
    """For the reaper: measures each student (on this server, or one `/system/df` per remote
    engine) and stops the running containers of those past the limit. Returns each measured
    student's measure."""
    measured: dict[str, Measure] = {}
    by_engine: dict[str, list[Student]] = {}  # by the engine's address
    for student in students:
        if not student.config.max_disk:
            continue
        try:
            by_engine.setdefault(await student.engine.address(), []).append(student)
        except Exception:  # noqa: BLE001 - a node no longer known: the others are measured
            logger.info("disk: no engine for %s", student.owner[:12], exc_info=True)
    for address, students_here in by_engine.items():
        try:
            here = await disk_host.storage_here(students_here[0], address)
        except (OSError, TimeoutError, ProtocolError, EngineError, ValueError):
            logger.warning("disk: the engine did not answer", exc_info=True)
            continue
        if here:
            try:
                await _brake(students_here, address)
            except OSError:
                logger.warning("disk: the engine's free space not read", exc_info=True)
            try:
                await _enforce_on_host(students_here, measured)
            except (OSError, TimeoutError, ProtocolError, EngineError, ValueError):
                logger.warning("disk: the engine's objects not listed", exc_info=True)
                continue
            # Those the host could not measure (storage not here): the engine's accounting.
            group = [s for s in students_here if s.owner not in measured]
        else:
            group = students_here
        if not group:
            continue
        # A run newer than the last this reaper used: the one under way, or one that ended
        # since (a request's, or one a heartbeat that ran out of time left going), else new.
        used_by_reaper = _reaper_used.get()
        started, df = await engine_df(
            group[0].engine,
            address,
            newer_than=used_by_reaper.get(address, -float("inf")),
            tries=DF_TRIES,
            any_under_way=True,
        )
        if df is None:
            continue  # the next heartbeat measures again
        used_by_reaper[address] = started
        for student in group:
            try:
                used = await df_usage(df, student)
                measured[student.owner] = Measure(used, started)
                if _record(student, used, started):
                    owns = student.ns.owns_labels
                    containers = [c for c in df.get("Containers") or [] if owns(c.get("Labels"))]
                    await _stop_writing(student, containers)
            except (OSError, TimeoutError, ProtocolError, EngineError, ValueError):
                logger.warning("disk: %s not measured", student.owner[:12], exc_info=True)
    return measured


async def _stop_writing(
    student: Student, containers: list[dict[str, Any]], why: str = "past DOCKER_GATEWAY_MAX_DISK"
) -> None:
    """Stops the student's `containers` (Id and State of each) that may write."""
    # Restarting too: one between two runs of its restart policy would write again at the next.
    # The engine takes a stop through its API for the user's own: the policy leaves it down.
    # Paused too: a paused process keeps what it holds (a deleted file, a descriptor in flight),
    # and the engine stops a paused container as any other.
    writing = [c["Id"] for c in containers if c.get("State") in ("running", "restarting", "paused")]
    for container_id in writing:
        response = await student.engine.request(
            "POST", f"/containers/{container_id}/stop", query={"t": "0"}
        )
        if response.status >= 400 and response.status not in (304, 404, 409):
            logger.warning("disk: could not stop %s: %s", container_id[:12], response.message)
    if writing:
        logger.info(
            "disk: student %s %s, %d container(s) stopped", student.owner[:12], why, len(writing)
        )


def deleted(student: Student) -> None:
    """The student deleted something: their next check measures again at once."""
    student.disk_deleted = time.monotonic()


async def check(student: Student) -> None:
    """Before a request that writes to the engine's disk: refused while the student is past the
    limit. Measured again first after a delete, or when the last measure is RECHECK_AFTER old;
    without a new measure (the engine did not give one), the last one stands."""
    limit = student.config.max_disk
    if not limit:
        return
    # The engine's disk, read at each writing request (a statvfs): a disk that went under the
    # reserve since the last pass refuses at once, and one with room again lets go at once.
    try:
        low = await _low_disk(student, await student.engine.address())
    except (OSError, TimeoutError, ProtocolError, EngineError, ValueError):
        logger.warning("disk: the engine's free space not read", exc_info=True)
        low = None
    if low is not None:
        raise refused(_low_disk_refusal())
    if student.disk_over is None:
        return
    now = time.monotonic()
    if student.disk_deleted > student.disk_measured or now - student.disk_measured >= RECHECK_AFTER:
        if await _measure_again(student):
            return
    if student.disk_over is None:
        return  # a measure that ended meanwhile (the reaper's) found them under the limit
    raise refused(_refusal(student))


async def _measure_again(student: Student) -> bool:
    """A new measure for a student past the limit; True if it found them under it."""
    pause = student.disk_measured + REQUEST_GAP - time.monotonic()
    if pause > 0:  # deleting in a loop must not walk their files in a loop
        await asyncio.sleep(pause)
    try:
        found = await _host_measure(student)
    except _NotMeasured:
        return False  # the last measure stands
    if found is not None:
        return student.disk_over is None  # recorded by the measure itself
    started, df = await engine_df(
        student.engine,
        await student.engine.address(),
        newer_than=max(student.disk_deleted, student.disk_measured),
        tries=DF_TRIES,
        gap=REQUEST_GAP,
    )
    if df is None:
        return False
    try:
        used = await df_usage(df, student)
    except (OSError, TimeoutError, ProtocolError, EngineError, ValueError):
        logger.warning("disk: %s not measured", student.owner[:12], exc_info=True)
        return False
    return not _record(student, used, started)


def _low_disk_refusal() -> str:
    return _(
        "El disco del servidor de Muelle está casi lleno, así que se han detenido los "
        "contenedores en marcha y no puedes crear ni arrancar contenedores, construir o "
        "descargar imágenes ni crear volúmenes. Si tienes contenedores, volúmenes o imágenes "
        "que no necesitas, bórralos («docker rm», «docker volume rm», «docker rmi») y vuelve "
        "a intentarlo en un momento; si no, avisa a quien administre este Muelle."
    )


def _refusal(student: Student) -> str:
    if student.disk_unseen:
        return _(
            "Uno de tus contenedores tenía un proceso cuyos archivos Muelle no puede ver (por "
            "ejemplo, uno que usa io_uring o cuyo primer hilo terminó mientras los demás "
            "siguían), así que cuenta como si pasaras tu límite de disco, y Muelle ha detenido "
            "tus contenedores. Vuelve a intentarlo en unos segundos; si arrancas otra vez ese "
            "contenedor, volverá a pasar."
        )
    what: dict[str, object] = {
        "used": mib(student.disk_over or 0),
        "max": mib(student.config.max_disk),
    }
    if student.disk_files_over is not None:
        what = {"max": student.config.max_files}
        reason = _(
            "Tus contenedores, volúmenes e imágenes tienen más de los %(max)d archivos y "
            "carpetas que puedes tener en Muelle."
        )
    else:
        reason = _(
            "Tus contenedores, volúmenes e imágenes ocupan %(used)s del disco del servidor, más "
            "de los %(max)s que tienes en Muelle."
        )
    what_then = _(
        "Mientras sea así, tus contenedores en marcha se detienen y no puedes crear ni "
        "arrancar contenedores, construir o descargar imágenes ni crear volúmenes. Borra lo "
        "que no necesites (míralo con «docker ps -a», «docker volume ls» y «docker images»; "
        "bórralo con «docker rm», «docker volume rm» y «docker rmi») y vuelve a intentarlo."
    )
    return f"{reason % what} {what_then}"
