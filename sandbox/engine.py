"""The only module that talks to Docker (Docker SDK for Python, docker 7, low-level APIClient).

CONTRACT (the terminal consumer and everything else code against this; nothing else imports
`docker`):

Every blocking SDK call runs in a dedicated ThreadPoolExecutor (settings.SANDBOX_DOCKER_THREADS),
never on the event loop and never on asyncio's default executor. Interactive streams are read
with loop.sock_recv on the raw, non-blocking exec socket: no thread per idle terminal.

    class EngineUnavailable(Exception)          # no engine answers; .message is Spanish
    class ImageMissing(EngineUnavailable)       # the course image is not built; .message
    class CapacityFull(Exception)               # global cap reached and no on_queue given
    class SessionLimitReached(Exception)        # SANDBOX_MAX_PER_SESSION reached; .message
    class SandboxGone(Exception)                # the container is not there (any more)

    @dataclass(frozen=True)
    class Sandbox:
        container_id: str
        owner: str                 # opaque owner key (hash of the browser session)
        created_at: datetime
        expires_at: datetime       # hard cap (SANDBOX_MAX_LIFETIME)
        name: str = ""             # container name, for logs

    @dataclass(frozen=True)
    class RunResult:
        exit_code: int | None      # None when timed out / cut off at the output cap
        output: bytes              # stdout+stderr interleaved, at most max_output bytes
        timed_out: bool
        truncated: bool

    @dataclass(frozen=True)
    class ContainerState: exists, running, status, oom_killed, exit_code, oom_kills
        # oom_killed: the main process died of OOM, or (while running) the OOM killer took any
        # process in the sandbox; oom_kills counts those, so a caller can spot a new one.

    @dataclass(frozen=True)
    class Expiry: idle_at, lifetime_at (datetimes); .reason ("idle"|"lifetime") and .at: first end

    @dataclass(frozen=True)
    class EngineStatus: available, message, version, api_version, image, image_present,
                        live, pool

    class TTY:                     # an interactive login shell inside a sandbox
        exit_code: int | None                # set once read() returned b""
        async def read(self) -> bytes        # b"" when the shell exited or close() was called
        async def write(self, data: bytes) -> None   # silently dropped once the shell is gone
        async def resize(self, rows: int, cols: int) -> None
        async def close(self) -> None        # idempotent; frees every fd

    async def acquire(owner: str, *, session: str | None = None,
                      on_queue: Callable[[int], Awaitable[None]] | None = None) -> Sandbox
        # reuse owner's live sandbox, or take one from the warm pool, or start one. When the
        # global cap is reached: without on_queue raise CapacityFull at once; with on_queue wait
        # FIFO, calling on_queue(position) whenever the position changes (1 = next).
    async def get(owner: str) -> Sandbox | None       # owner's live sandbox, if any
    async def open_tty(sandbox: Sandbox, rows: int = 24, cols: int = 80) -> TTY
    async def run(sandbox: Sandbox, argv: list[str], *, timeout: float | None = None,
                  max_output: int | None = None, stdin: bytes | None = None) -> RunResult
    async def release(sandbox: Sandbox) -> None        # schedules removal; ends the gateway
    async def touch(sandbox: Sandbox) -> None          # record activity (idle timeout)
    async def expiry(sandbox: Sandbox) -> Expiry       # idle and lifetime deadlines
    async def state(sandbox: Sandbox) -> ContainerState  # running / oom_killed / exit code
    async def list_managed() -> list[Sandbox]          # every sandbox of this instance
    async def engine_status() -> EngineStatus          # for the health endpoint
    def ensure_background_tasks() -> None              # reaper + warm pool on this event loop
    async def stop_background_tasks() -> None          # tests / orderly shutdown of one loop

Also here, for the rest of sandbox/ only (reaper, pool, shutdown, build_images, tests): create(),
assign(), to_sandbox(), remove_now(), managed_containers(), is_inflight(), call_sync(),
executor(), ping(), end_gateway(), gateway_folders_in_use(), owner_busy() and the image helpers.

Docker inside the sandbox (settings.DOCKER_GATEWAY_ENABLED, docs/gateway.md): every sandbox gets
its own gateway folder bind-mounted read-only at DOCKER_GATEWAY_MOUNT_TARGET and DOCKER_HOST
pointing at the socket in it. A new sandbox's folder is its student's, served at once; a warm
one's is reserved empty (its name in the muelle.gateway label) and served when it is handed out;
an adopted one's (after a restart) is served again. When an owner's last sandbox ends
(release, remove_now, the reaper) their gateway stops and everything they created goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import socket
import struct
import tarfile
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django.utils.translation import gettext as _

from sandbox import gateway as docker_gateway
from sandbox import hardening
from sandbox.models import Sandbox as SandboxRow

logger = logging.getLogger(__name__)

T = TypeVar("T")

# This server process: it holds the sandboxes it creates and keeps their heartbeat fresh.
BOOT_ID = uuid.uuid4().hex
PING_TIMEOUT = 3.0  # an absent engine must fail fast
API_TIMEOUT = 60.0
SHELL = ["/bin/bash", "-l"]
READ_CHUNK = 64 * 1024


# --- Errors ----------------------------------------------------------------------------------


class EngineUnavailable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImageMissing(EngineUnavailable):
    pass


class CapacityFull(Exception):
    def __init__(self, message: str | None = None) -> None:
        message = message or _(
            "Ahora mismo están en uso todos los entornos de práctica de este servidor."
        )
        super().__init__(message)
        self.message = message


class SessionLimitReached(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SandboxGone(Exception):
    pass


def _no_engine_message(host: str) -> str:
    return _(
        "No responde ningún motor de Docker (en %(host)s). Arráncalo (por ejemplo: sudo "
        "systemctl start docker) o instálalo si falta (sudo apt-get install docker.io); "
        "./scripts/serve hace las dos cosas cuando puede."
    ) % {"host": host}


def _image_missing_message() -> str:
    return _(
        "Falta la imagen del curso %(image)s en el motor de Docker. Constrúyela con "
        "«python manage.py build_images» (./scripts/serve lo hace al arrancar)."
    ) % {"image": settings.SANDBOX_IMAGE}


# --- Public data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sandbox:
    container_id: str
    owner: str
    created_at: datetime
    expires_at: datetime
    name: str = ""


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    output: bytes
    timed_out: bool
    truncated: bool


@dataclass(frozen=True)
class ContainerState:
    exists: bool
    running: bool
    status: str  # Docker's word: running, exited, ... or "gone"
    oom_killed: bool  # the main process, or (while running) any process, was OOM-killed
    exit_code: int | None
    oom_kills: int = 0  # processes OOM-killed so far in a running sandbox


@dataclass(frozen=True)
class Expiry:
    idle_at: datetime
    lifetime_at: datetime

    @property
    def reason(self) -> str:
        return "idle" if self.idle_at < self.lifetime_at else "lifetime"

    @property
    def at(self) -> datetime:
        return min(self.idle_at, self.lifetime_at)


@dataclass(frozen=True)
class EngineStatus:
    available: bool
    message: str
    version: str = ""
    api_version: str = ""
    image: str = ""
    image_present: bool = False
    live: int = 0
    pool: int = 0


@dataclass(frozen=True)
class ManagedContainer:
    """A container as the engine lists it (for the reaper)."""

    id: str
    name: str
    labels: dict[str, str]
    running: bool

    def label_ts(self, key: str) -> float | None:
        try:
            return float(self.labels.get(key, ""))
        except ValueError:
            return None


# --- Client and thread pool ------------------------------------------------------------------

_client_lock = threading.Lock()
_client: tuple[str, docker.APIClient] | None = None
_executor: ThreadPoolExecutor | None = None


def _engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def client() -> docker.APIClient:
    """The shared low-level client, rebuilt when DOCKER_HOST changes. Blocking: call it only
    from the Docker thread pool (or from sync code such as management commands)."""
    global _client
    host = _engine_address()
    with _client_lock:
        if _client is not None and _client[0] == host:
            return _client[1]
    try:
        # version="auto" asks the engine once; the short timeout makes an absent engine fail
        # fast, then ordinary calls get the longer one.
        api = docker.APIClient(
            version="auto", timeout=PING_TIMEOUT, **docker.utils.kwargs_from_env()
        )
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(_no_engine_message(host)) from exc
    api.timeout = API_TIMEOUT
    with _client_lock:
        _client = (host, api)
    return api


def _forget_client() -> None:
    global _client
    with _client_lock:
        _client = None


def executor() -> ThreadPoolExecutor:
    global _executor
    with _client_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=settings.SANDBOX_DOCKER_THREADS, thread_name_prefix="muelle-docker"
            )
        return _executor


@contextlib.contextmanager
def _engine_errors() -> Iterator[None]:
    """Turns 'nobody answers' into EngineUnavailable; leaves API errors as they are."""
    try:
        yield
    except (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        ConnectionError,
        FileNotFoundError,
    ) as exc:
        _forget_client()
        raise EngineUnavailable(_no_engine_message(_engine_address())) from exc
    except docker.errors.ImageNotFound as exc:
        raise ImageMissing(_image_missing_message()) from exc


def call_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(api, *args, **kwargs) with engine errors mapped; blocking."""
    with _engine_errors():
        return fn(client(), *args, **kwargs)


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor(), partial(call_sync, fn, *args, **kwargs))


# --- Containers (blocking helpers, run in the pool) ------------------------------------------


def _create_and_start(api: docker.APIClient, spec: hardening.ContainerSpec) -> str:
    host_config = api.create_host_config(**spec.host_config)
    container = api.create_container(
        image=spec.image,
        command=spec.command,
        name=spec.name,
        hostname=spec.hostname,
        user=spec.user,
        working_dir=spec.working_dir,
        environment=spec.environment,
        labels=spec.labels,
        host_config=host_config,
    )
    container_id: str = container["Id"]
    _inflight_ids.add(container_id)
    try:
        api.start(container_id)
    except Exception:
        with contextlib.suppress(Exception):
            api.remove_container(container_id, force=True, v=True)
        _inflight_ids.discard(container_id)
        raise
    return container_id


def _remove(api: docker.APIClient, container_id: str) -> None:
    folder = ""
    with contextlib.suppress(docker.errors.APIError):
        labels = api.inspect_container(container_id).get("Config", {}).get("Labels") or {}
        folder = labels.get(hardening.LABEL_GATEWAY, "")
    try:
        api.remove_container(container_id, force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: a removal is already in progress
            raise
    if folder:
        # A warm container's reserved folder nobody was served in; a served one stays until
        # its student's gateway closes.
        docker_gateway.discard_folder(folder)


_OOM_KILL = re.compile(rb"^oom_kill (\d+)$", re.MULTILINE)
# cgroup v2, then v1: each holds a counter of processes the OOM killer took in this container.
_OOM_COUNTERS = ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"]


def _oom_kills(api: docker.APIClient, container_id: str) -> int:
    """How many processes the OOM killer took inside a running container. The engine's
    State.OOMKilled only covers the main process (it is set when the container stops)."""
    try:
        exec_id = api.exec_create(container_id, ["cat", *_OOM_COUNTERS], user=settings.SANDBOX_USER)
        output = api.exec_start(exec_id["Id"])
    except docker.errors.APIError:
        return 0  # e.g. a sandbox so full of processes that nothing more can start
    return sum(int(n) for n in _OOM_KILL.findall(output or b""))


def _state(api: docker.APIClient, container_id: str, *, count_ooms: bool = False) -> ContainerState:
    try:
        info = api.inspect_container(container_id)
    except docker.errors.NotFound:
        return ContainerState(False, False, "gone", False, None)
    st = info.get("State") or {}
    running = bool(st.get("Running"))
    oom_kills = _oom_kills(api, container_id) if running and count_ooms else 0
    return ContainerState(
        exists=True,
        running=running,
        status=str(st.get("Status") or ""),
        oom_killed=bool(st.get("OOMKilled")) or oom_kills > 0,
        exit_code=None if running else st.get("ExitCode"),
        oom_kills=oom_kills,
    )


def _gateway_label(api: docker.APIClient, container_id: str) -> tuple[bool, str]:
    """(running, gateway folder name) of a container; (False, "") when it is gone."""
    try:
        info = api.inspect_container(container_id)
    except docker.errors.NotFound:
        return False, ""
    labels = (info.get("Config") or {}).get("Labels") or {}
    running = bool((info.get("State") or {}).get("Running"))
    return running, labels.get(hardening.LABEL_GATEWAY, "")


def _assign(api: docker.APIClient, container_id: str, new_name: str) -> str:
    """Hands a warm container to its owner: it must still run; its name then says whose it is.
    Returns the name of its gateway folder ("" if it has none)."""
    running, folder = _gateway_label(api, container_id)
    if not running:
        raise SandboxGone(container_id)
    try:
        api.rename(container_id, new_name)
    except docker.errors.NotFound as exc:
        raise SandboxGone(container_id) from exc
    return folder


def _gateway_folders(api: docker.APIClient) -> set[str]:
    # Every instance's: folders are shared by whoever uses this checkout's var/gateway.
    found = api.containers(all=True, filters={"label": [hardening.LABEL_GATEWAY]})
    return {(item.get("Labels") or {}).get(hardening.LABEL_GATEWAY, "") for item in found} - {""}


def _list(api: docker.APIClient) -> list[ManagedContainer]:
    # Low-level list: containers.list() inspects each one and can raise NotFound mid-removal.
    found = api.containers(all=True, filters=hardening.managed_filters())
    return [
        ManagedContainer(
            id=item["Id"],
            name=(item.get("Names") or ["/"])[0].lstrip("/"),
            labels=item.get("Labels") or {},
            running=item.get("State") == "running",
        )
        for item in found
    ]


# Containers created by this process but not yet recorded in the table: not orphans.
_inflight_ids: set[str] = set()
# Containers whose removal this process scheduled: never handed out again.
_releasing: set[str] = set()


# --- Lifecycle ---------------------------------------------------------------------------------


def to_sandbox(row: SandboxRow) -> Sandbox:
    """The Sandbox a table row describes."""
    return Sandbox(
        container_id=row.container_id,
        owner=row.owner,
        created_at=row.created_at,
        expires_at=row.expires_at,
        name=row.name,
    )


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


async def create(*, owner: str, session: str, pool: bool) -> Sandbox:
    """Starts a new hardened container and records it. The caller holds a capacity slot."""
    now = timezone.now()
    expires = now + timedelta(seconds=settings.SANDBOX_MAX_LIFETIME)
    # A warm container may wait up to one lifetime before it is handed out and then lives one
    # more, so its (immutable) expiry label allows for both; the table has the real deadline.
    label_expires = expires + timedelta(seconds=settings.SANDBOX_MAX_LIFETIME) if pool else expires
    folder = None
    if settings.DOCKER_GATEWAY_ENABLED:
        # A warm container's student is not known yet: an empty folder, served on assignment.
        folder = (
            docker_gateway.reserve_folder() if pool else await docker_gateway.open_gateway(owner)
        )
    spec = hardening.new_spec(
        owner="" if pool else owner,
        created=_ts(now),
        expires=_ts(label_expires),
        pool=pool,
        gateway_folder=folder,
    )
    call = asyncio.ensure_future(_call(_create_and_start, spec))
    try:
        container_id = await asyncio.shield(call)
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError):
            # Cancelled (a shutdown stops the pool filler) while the engine thread is still
            # creating the container: that thread goes on, so remove what it makes.
            await _remove_when_made(call)
        if folder is not None:
            if pool:
                docker_gateway.discard_folder(folder)
            else:
                # The caller holds the owner's lock (acquire) and the owner has no live sandbox.
                await _close_gateway(owner)
        raise
    try:
        row = await SandboxRow.objects.acreate(
            container_id=container_id,
            name=spec.name,
            instance=settings.SANDBOX_INSTANCE,
            state=SandboxRow.State.POOL if pool else SandboxRow.State.LIVE,
            owner="" if pool else owner,
            session="" if pool else session,
            holder=BOOT_ID,
            heartbeat_at=now,
            created_at=now,
            assigned_at=None if pool else now,
            last_activity=now,
            expires_at=expires,
        )
    except BaseException:
        _schedule_removal(container_id)
        raise
    finally:
        _inflight_ids.discard(container_id)
    return to_sandbox(row)


async def _remove_when_made(call: asyncio.Future[str]) -> None:
    """Waits (briefly) for a create whose caller was cancelled and removes the container it made;
    if this wait is cancelled too, the removal is left to a callback."""

    def remove(done: asyncio.Future[str]) -> None:
        if not done.cancelled() and done.exception() is None:
            _inflight_ids.discard(done.result())
            _schedule_removal(done.result())

    try:
        await asyncio.wait({call}, timeout=30)
    except BaseException:
        call.add_done_callback(remove)
        return
    if call.done():
        remove(call)
    else:
        call.add_done_callback(remove)


async def assign(row: SandboxRow) -> str:
    """Renames a claimed warm container after its new owner (raises SandboxGone if it died, or
    has no gateway folder while the gateway is on) and serves the owner's Docker gateway in the
    folder it mounts; returns the new name, also recorded in the table."""
    token = row.name.rsplit("-", 1)[-1]
    name = hardening.container_name(token, row.owner)
    folder = await _call(_assign, row.container_id, name)
    await SandboxRow.objects.filter(pk=row.pk).aupdate(name=name)
    if settings.DOCKER_GATEWAY_ENABLED:
        if not folder:
            raise SandboxGone(row.container_id)  # started before the gateway was switched on
        await docker_gateway.open_gateway(
            row.owner, folder=docker_gateway.socket_dir(row.owner).parent / folder
        )
    return name


def _expired(row: SandboxRow, now: datetime, slack: float = 0.0) -> bool:
    if row.state != SandboxRow.State.LIVE:
        return False
    idle_end = row.last_activity + timedelta(seconds=settings.SANDBOX_IDLE_TIMEOUT + slack)
    return now >= row.expires_at or now >= idle_end


async def _live_row(owner: str) -> SandboxRow | None:
    rows = SandboxRow.objects.filter(
        instance=settings.SANDBOX_INSTANCE, owner=owner, state=SandboxRow.State.LIVE
    ).order_by("-created_at")
    async for row in rows:
        if row.container_id not in _releasing:
            return row
    return None


_owner_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _owner_lock(owner: str) -> asyncio.Lock:
    locks = _owner_locks.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(owner)
    if lock is None:
        lock = locks[owner] = asyncio.Lock()
    return lock


def owner_busy(owner: str) -> bool:
    """True while acquire() or end_gateway() works for `owner` on this event loop (the reaper
    leaves their gateway alone meanwhile)."""
    lock = _owner_locks.get(asyncio.get_running_loop(), {}).get(owner)
    return lock is not None and lock.locked()


async def _close_gateway(owner: str) -> None:
    try:
        await docker_gateway.close_gateway(owner)
    except Exception:
        # The reaper's sweep (sweep_orphans) removes whatever was left.
        logger.warning("gateway of %s not cleaned up", owner[:8], exc_info=True)


async def end_gateway(owner: str) -> None:
    """`owner`'s sandbox is over: unless they have another live one, stop their Docker gateway
    and remove everything they created through it (containers, volumes, networks, images)."""
    if not (settings.DOCKER_GATEWAY_ENABLED and owner):
        return
    async with _owner_lock(owner):
        if await _live_row(owner) is None:
            await _close_gateway(owner)


async def acquire(
    owner: str,
    *,
    session: str | None = None,
    on_queue: Callable[[int], Awaitable[None]] | None = None,
) -> Sandbox:
    from sandbox import capacity, pool

    if not owner:
        raise ValueError("owner must be a non-empty key")
    if not settings.SANDBOX_ENABLED:
        raise EngineUnavailable(
            _("Los entornos de práctica están desactivados (SANDBOX_ENABLED=0).")
        )
    ensure_background_tasks()
    session = session or owner
    lock = _owner_lock(owner)
    async with lock:
        current = await _reusable(owner)
        if current is not None:
            return current
        others = await (
            SandboxRow.objects.filter(
                instance=settings.SANDBOX_INSTANCE,
                session=session,
                state=SandboxRow.State.LIVE,
            )
            .exclude(owner=owner)
            .acount()
        )
        if others >= settings.SANDBOX_MAX_PER_SESSION:
            raise SessionLimitReached(
                _(
                    "Ya tienes %(n)d entornos de práctica abiertos, el máximo por persona. Cierra "
                    "alguno y vuelve a intentarlo."
                )
                % {"n": others}
            )
        warm = await pool.take(owner, session)
        if warm is not None:
            return warm
        async with capacity.get().slot(on_queue):
            return await create(owner=owner, session=session, pool=False)


async def _reusable(owner: str) -> Sandbox | None:
    row = await _live_row(owner)
    if row is None:
        return None
    now = timezone.now()
    if _expired(row, now):
        _schedule_removal(row.container_id)
        return None
    running, folder = await _call(_gateway_label, row.container_id)
    if not running or (settings.DOCKER_GATEWAY_ENABLED and not folder):
        # (Without a gateway folder it predates the gateway being switched on: a new one.)
        _schedule_removal(row.container_id)
        return None
    if settings.DOCKER_GATEWAY_ENABLED:
        # Idempotent; after a restart of the server this serves the student's socket again.
        await docker_gateway.open_gateway(
            owner, folder=docker_gateway.socket_dir(owner).parent / folder
        )
    # Adopt it: after a restart of the server the owner's sandbox carries on here.
    await SandboxRow.objects.filter(pk=row.pk).aupdate(holder=BOOT_ID, heartbeat_at=now)
    return to_sandbox(row)


async def get(owner: str) -> Sandbox | None:
    row = await _live_row(owner)
    if row is None or _expired(row, timezone.now()):
        return None
    return to_sandbox(row)


async def touch(sandbox: Sandbox) -> None:
    now = timezone.now()
    await SandboxRow.objects.filter(
        container_id=sandbox.container_id, state=SandboxRow.State.LIVE
    ).aupdate(last_activity=now, heartbeat_at=now)


async def expiry(sandbox: Sandbox) -> Expiry:
    row = await SandboxRow.objects.filter(container_id=sandbox.container_id).afirst()
    if row is None or row.state == SandboxRow.State.RELEASING:
        now = timezone.now()
        return Expiry(idle_at=now, lifetime_at=min(now, sandbox.expires_at))
    idle_at = row.last_activity + timedelta(seconds=settings.SANDBOX_IDLE_TIMEOUT)
    return Expiry(idle_at=idle_at, lifetime_at=row.expires_at)


async def state(sandbox: Sandbox) -> ContainerState:
    return await _call(_state, sandbox.container_id, count_ooms=True)


async def release(sandbox: Sandbox) -> None:
    """Removes the sandbox in the Docker pool (it finishes even if the caller is cut off), then
    ends the owner's Docker gateway and removes what they created, unless they already have
    another live sandbox."""
    _schedule_removal(sandbox.container_id)
    await end_gateway(sandbox.owner)


def schedule_removal(container_id: str) -> None:
    """Removes a container in the Docker pool, without touching any gateway (pool.take)."""
    _schedule_removal(container_id)


def _schedule_removal(container_id: str) -> None:
    if container_id in _releasing:
        return
    _releasing.add(container_id)
    executor().submit(_remove_and_forget, container_id)


def _remove_and_forget(container_id: str) -> None:
    try:
        SandboxRow.objects.filter(container_id=container_id).update(
            state=SandboxRow.State.RELEASING
        )
    except Exception:
        logger.warning("could not mark sandbox %s releasing", container_id[:12], exc_info=True)
    try:
        call_sync(_remove, container_id)
    except Exception:
        # The reaper tries again (its row says releasing, or it has no row).
        logger.warning("could not remove sandbox %s", container_id[:12], exc_info=True)
    else:
        try:
            SandboxRow.objects.filter(container_id=container_id).delete()
        except Exception:
            logger.warning("could not forget sandbox %s", container_id[:12], exc_info=True)
    finally:
        _releasing.discard(container_id)
        close_old_connections()
        from sandbox import capacity

        capacity.notify_threadsafe()


async def remove_now(container_id: str, *, end_gateway_of: str | None = None) -> None:
    """Removes a container and its row, waiting for it (reaper, tests), then ends its owner's
    gateway like release() does. `end_gateway_of=""` skips that (pool.take, which holds the
    owner's lock); by default the owner comes from the table."""
    _releasing.add(container_id)
    owner = end_gateway_of
    try:
        if owner is None:
            owner = await (
                SandboxRow.objects.filter(container_id=container_id)
                .values_list("owner", flat=True)
                .afirst()
            )
        await _call(_remove, container_id)
        await SandboxRow.objects.filter(container_id=container_id).adelete()
    finally:
        _releasing.discard(container_id)
    from sandbox import capacity

    capacity.notify_threadsafe()
    if owner:
        await end_gateway(owner)


async def gateway_folders_in_use() -> set[str]:
    """The gateway folder names that containers on the engine mount (any instance)."""
    return await _call(_gateway_folders)


async def managed_containers() -> list[ManagedContainer]:
    return await _call(_list)


def is_inflight(container_id: str) -> bool:
    return container_id in _inflight_ids or container_id in _releasing


async def list_managed() -> list[Sandbox]:
    containers = await managed_containers()
    rows = {
        row.container_id: row
        async for row in SandboxRow.objects.filter(instance=settings.SANDBOX_INSTANCE)
    }
    result = []
    for item in containers:
        row = rows.get(item.id)
        if row is not None:
            result.append(to_sandbox(row))
            continue
        created = item.label_ts(hardening.LABEL_CREATED) or 0.0
        expires = item.label_ts(hardening.LABEL_EXPIRES) or 0.0
        result.append(
            Sandbox(
                container_id=item.id,
                owner=item.labels.get(hardening.LABEL_OWNER, ""),
                created_at=datetime.fromtimestamp(created, UTC),
                expires_at=datetime.fromtimestamp(expires, UTC),
                name=item.name,
            )
        )
    return result


def _status(api: docker.APIClient) -> tuple[str, str, bool]:
    api.ping()
    version = api.version()
    try:
        api.inspect_image(settings.SANDBOX_IMAGE)
        present = True
    except docker.errors.ImageNotFound:
        present = False
    return str(version.get("Version", "")), str(version.get("ApiVersion", "")), present


async def engine_status() -> EngineStatus:
    image = settings.SANDBOX_IMAGE
    try:
        version, api_version, present = await asyncio.wait_for(_call(_status), PING_TIMEOUT * 2)
    except (EngineUnavailable, TimeoutError, docker.errors.DockerException) as exc:
        message = getattr(exc, "message", "") or _no_engine_message(_engine_address())
        return EngineStatus(available=False, message=message, image=image)
    counts: dict[str, int] = {SandboxRow.State.LIVE: 0, SandboxRow.State.POOL: 0}
    async for row_state in SandboxRow.objects.filter(
        instance=settings.SANDBOX_INSTANCE
    ).values_list("state", flat=True):
        if row_state in counts:
            counts[row_state] += 1
    return EngineStatus(
        available=True,
        message=_("El motor de Docker responde.") if present else _image_missing_message(),
        version=version,
        api_version=api_version,
        image=image,
        image_present=present,
        live=counts[SandboxRow.State.LIVE],
        pool=counts[SandboxRow.State.POOL],
    )


# --- Interactive shell ---------------------------------------------------------------------


def _hijacked(stream: Any) -> tuple[socket.socket, bytes]:
    """The raw socket of an exec stream, non-blocking, plus any bytes the HTTP layer had
    already buffered past the upgrade response (they would be lost otherwise)."""
    sock: socket.socket = stream._sock
    sock.setblocking(False)
    pending = b""
    with contextlib.suppress(Exception):
        buffered = stream._response.raw._fp.fp
        with contextlib.suppress(BlockingIOError):
            pending = buffered.read1(READ_CHUNK) or b""
    return sock, pending


def _close_stream(stream: Any) -> None:
    # Closing only the socket leaves the response's fds open until garbage collection.
    with contextlib.suppress(Exception):
        stream._sock.close()
    with contextlib.suppress(Exception):
        stream._response.close()
    with contextlib.suppress(Exception):
        stream.close()


def _exec_kwargs() -> dict[str, Any]:
    return {
        "user": settings.SANDBOX_USER,
        "workdir": settings.SANDBOX_WORKDIR,
        "environment": hardening.sandbox_env(),
        "privileged": False,
    }


def _exec_open(
    api: docker.APIClient, container_id: str, cmd: list[str], *, tty: bool, stdin: bool
) -> tuple[str, Any]:
    try:
        exec_id = api.exec_create(
            container_id, cmd, stdin=stdin, tty=tty, stdout=True, stderr=True, **_exec_kwargs()
        )["Id"]
    except docker.errors.NotFound as exc:
        raise SandboxGone(container_id) from exc
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # not running
            raise SandboxGone(container_id) from exc
        raise
    stream = api.exec_start(exec_id, tty=tty, socket=True)
    return exec_id, stream


def _exec_exit_code(api: docker.APIClient, exec_id: str) -> int | None:
    # The stream ends a moment before the engine records the exit: look a few times.
    for _attempt in range(20):
        try:
            info = api.exec_inspect(exec_id)
        except docker.errors.NotFound:
            return None
        if not info.get("Running"):
            code = info.get("ExitCode")
            return int(code) if code is not None else None
        time.sleep(0.01)
    return None


def _exec_resize(api: docker.APIClient, exec_id: str, rows: int, cols: int) -> None:
    try:
        api.exec_resize(exec_id, height=rows, width=cols)
    except docker.errors.APIError:
        # Right after exec_start the process may not be registered yet: retry once.
        time.sleep(0.05)
        with contextlib.suppress(docker.errors.APIError):
            api.exec_resize(exec_id, height=rows, width=cols)


class TTY:
    """A login shell in a sandbox, streamed over the exec's raw socket (raw bytes: with a TTY
    the engine does not frame the stream)."""

    def __init__(self, sandbox: Sandbox, exec_id: str, stream: Any) -> None:
        self.sandbox = sandbox
        self.exec_id = exec_id
        self._stream = stream
        self._sock, self._pending = _hijacked(stream)
        self._closed = False
        self._eof = False
        self.exit_code: int | None = None

    async def read(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        if self._closed or self._eof:
            return b""
        loop = asyncio.get_running_loop()
        try:
            data = await loop.sock_recv(self._sock, READ_CHUNK)
        except OSError:
            data = b""
        if not data:
            self._eof = True
            if not self._closed:
                with contextlib.suppress(Exception):
                    self.exit_code = await _call(_exec_exit_code, self.exec_id)
        return data

    async def write(self, data: bytes) -> None:
        if self._closed or self._eof or not data:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_sendall(self._sock, data)
        except OSError:
            self._eof = True

    async def resize(self, rows: int, cols: int) -> None:
        if self._closed:
            return
        rows = max(1, min(int(rows), 1000))
        cols = max(1, min(int(cols), 1000))
        try:
            await _call(_exec_resize, self.exec_id, rows, cols)
        except EngineUnavailable:
            raise
        except Exception:
            logger.debug("resize of %s failed", self.exec_id[:12], exc_info=True)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # shutdown() wakes a pending sock_recv with EOF and hangs up the shell; then let the
        # reader run before the fd goes away.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        await asyncio.sleep(0)
        _close_stream(self._stream)


async def open_tty(sandbox: Sandbox, rows: int = 24, cols: int = 80) -> TTY:
    exec_id, stream = await _call(
        _exec_open, sandbox.container_id, list(SHELL), tty=True, stdin=True
    )
    tty = TTY(sandbox, exec_id, stream)
    try:
        # API 1.41 has no initial console size.
        await tty.resize(rows, cols)
    except BaseException:
        await tty.close()
        raise
    return tty


# --- One-shot commands ------------------------------------------------------------------------

_FRAME = struct.Struct(">BxxxL")


async def run(
    sandbox: Sandbox,
    argv: list[str],
    *,
    timeout: float | None = None,
    max_output: int | None = None,
    stdin: bytes | None = None,
) -> RunResult:
    """Runs argv (no shell unless argv names one) as the sandbox user. The process is killed
    after `timeout` seconds by coreutils' `timeout -s KILL` inside the container; output is
    capped at `max_output` bytes (then the stream is dropped: exit_code None, truncated)."""
    if not isinstance(argv, list | tuple) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("argv must be a non-empty list of strings")
    timeout = settings.SANDBOX_RUN_TIMEOUT if timeout is None else float(timeout)
    max_output = settings.SANDBOX_RUN_OUTPUT_CAP if max_output is None else int(max_output)
    cmd = ["timeout", "-s", "KILL", f"{timeout:.3f}", *argv]
    started = time.monotonic()
    exec_id, stream = await _call(
        _exec_open, sandbox.container_id, cmd, tty=False, stdin=stdin is not None
    )
    sock, pending = _hijacked(stream)
    loop = asyncio.get_running_loop()
    buffer = bytearray(pending)
    output = bytearray()
    truncated = eof = False
    writer: asyncio.Task[None] | None = None

    async def feed() -> None:
        assert stdin is not None
        with contextlib.suppress(OSError):
            await loop.sock_sendall(sock, stdin)
            sock.shutdown(socket.SHUT_WR)  # EOF on the process's stdin

    try:
        if stdin is not None:
            writer = loop.create_task(feed())
        # The in-container timeout does the killing; this one only guards against an engine
        # that stops answering.
        async with asyncio.timeout(timeout + 10):
            while not truncated:
                while len(buffer) >= _FRAME.size:
                    _kind, size = _FRAME.unpack_from(buffer)
                    if len(buffer) < _FRAME.size + size:
                        break
                    payload = bytes(buffer[_FRAME.size : _FRAME.size + size])
                    del buffer[: _FRAME.size + size]
                    room = max_output - len(output)
                    if len(payload) > room:
                        output += payload[:room]
                        truncated = True
                        break
                    output += payload
                if truncated:
                    break
                try:
                    chunk = await loop.sock_recv(sock, READ_CHUNK)
                except OSError:
                    chunk = b""
                if not chunk:
                    eof = True
                    break
                buffer += chunk
    except TimeoutError:
        pass
    finally:
        if writer is not None:
            writer.cancel()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        _close_stream(stream)
    exit_code = await _call(_exec_exit_code, exec_id) if eof else None
    elapsed = time.monotonic() - started
    # timeout(1) with -s KILL takes itself down too (137); 124 if only the child got it.
    timed_out = (not eof and not truncated) or (
        exit_code in (124, 137) and elapsed >= timeout - 0.05
    )
    return RunResult(
        exit_code=None if timed_out else exit_code,
        output=bytes(output),
        timed_out=timed_out,
        truncated=truncated,
    )


# --- Background work ------------------------------------------------------------------------

_background: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Task[Any]]] = (
    weakref.WeakKeyDictionary()
)


def ensure_background_tasks() -> None:
    """Starts the periodic reaper (with the heartbeat) and the warm-pool filler on the running
    event loop, once per loop. Called by acquire(), the terminal consumer and the health view:
    there is no ASGI lifespan in a Channels app to do it at start-up."""
    if not settings.SANDBOX_ENABLED:
        return
    loop = asyncio.get_running_loop()
    tasks = _background.get(loop)
    if tasks and not all(task.done() for task in tasks):
        return
    from sandbox import pool, reaper

    _background[loop] = [
        loop.create_task(reaper.periodic(), name="muelle-reaper"),
        loop.create_task(pool.keep_filled(), name="muelle-warm-pool"),
    ]


async def stop_background_tasks() -> None:
    """For tests and orderly shutdowns of one event loop. The Docker gateways this loop serves
    stop too, keeping their folders and what students made (a sandbox adopted after a restart
    carries on; releasing one still removes its student's objects)."""
    tasks = _background.pop(asyncio.get_running_loop(), [])
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(BaseException):
            await task
    with contextlib.suppress(Exception):
        await docker_gateway.close_all(cleanup=False)


# --- Images (blocking; for the build_images command) ----------------------------------------


def image_labels(name: str) -> dict[str, str] | None:
    """The labels of a local image, or None when it is not there."""
    try:
        info = call_sync(lambda api: api.inspect_image(name))
    except (ImageMissing, docker.errors.NotFound):
        return None
    return (info.get("Config") or {}).get("Labels") or {}


def import_rootfs(stream: Any, repository: str, tag: str, changes: list[str]) -> str:
    """`docker import` from a tar stream (e.g. mmdebstrap's stdout)."""
    result = call_sync(
        lambda api: api.import_image_from_stream(
            stream, repository=repository, tag=tag, changes=changes
        )
    )
    return str(result)


def import_tar(source: bytes | Path, repository: str, tag: str, changes: list[str]) -> str:
    """`docker import` of a root filesystem tar held in memory or in a file (course images)."""
    if isinstance(source, Path):
        result = call_sync(
            lambda api: api.import_image_from_file(
                str(source), repository=repository, tag=tag, changes=changes
            )
        )
    else:
        result = call_sync(
            lambda api: api.import_image_from_data(
                source, repository=repository, tag=tag, changes=changes
            )
        )
    return str(result)


def build_image(
    path: str, tag: str, labels: dict[str, str], buildargs: dict[str, str]
) -> Iterator[str]:
    """Classic-builder build of the folder `path`; yields the engine's progress lines."""
    stream = call_sync(
        lambda api: api.build(
            path=path,
            tag=tag,
            labels=labels,
            buildargs=buildargs,
            rm=True,
            forcerm=True,
            decode=True,
            pull=False,
        )
    )
    with _engine_errors():
        for item in stream:
            if "error" in item:
                raise docker.errors.BuildError(item["error"], [])
            text = item.get("stream") or item.get("status") or ""
            if text.strip():
                yield text.rstrip()


def registry_answers(image: str, timeout: float) -> bool:
    """True when `image` can be pulled within `timeout` seconds (then it is pulled)."""
    api = docker.APIClient(version="auto", timeout=timeout, **docker.utils.kwargs_from_env())
    try:
        repository, _sep, tag = image.partition(":")
        api.pull(repository, tag=tag or "latest")
        return True
    except Exception:
        return False
    finally:
        api.close()


def image_id(name: str) -> str | None:
    try:
        return str(call_sync(lambda api: api.inspect_image(name))["Id"])
    except (ImageMissing, docker.errors.NotFound):
        return None


def remove_unused_image(image: str) -> bool:
    """Removes an image nothing uses any more (a superseded build); False if it is in use."""
    try:
        call_sync(lambda api: api.remove_image(image, force=False))
    except (ImageMissing, docker.errors.NotFound):
        return True
    except docker.errors.APIError:
        return False
    return True


def tag_image(image: str, repository: str, tag: str) -> None:
    """`docker tag image repository:tag` (moves the tag if it names another image)."""
    call_sync(lambda api: api.tag(image, repository, tag=tag, force=True))


def image_size(name: str) -> int | None:
    try:
        return int(call_sync(lambda api: api.inspect_image(name))["Size"])
    except (ImageMissing, docker.errors.NotFound):
        return None


class StepFailed(Exception):
    """A build step's command exited non-zero; the message is the end of its output."""


def read_image_file(image: str, path: str) -> bytes:
    """One regular file of an image, read through a container that is created, never started."""

    def read(api: docker.APIClient) -> bytes:
        container = api.create_container(image, command=["true"], network_disabled=True)["Id"]
        try:
            stream, _stat = api.get_archive(container, path)
            data = b"".join(stream)
        finally:
            api.remove_container(container, force=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.next()
            source = tar.extractfile(member) if member else None
            if source is None:
                raise FileNotFoundError(path)
            return source.read()

    return call_sync(read)


def remove_dangling_images(label: str) -> int:
    """Removes the untagged images carrying `label` that no container uses; how many went."""

    def remove(api: docker.APIClient) -> int:
        gone = 0
        for item in api.images(filters={"dangling": True, "label": label}):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                api.remove_image(item["Id"], force=False)
                gone += 1
        return gone

    return call_sync(remove)


def remove_labelled_containers(label: str) -> int:
    """Removes every container carrying `label` (e.g. a build step a killed process left)."""

    def remove(api: docker.APIClient) -> int:
        found = api.containers(all=True, filters={"label": label})
        for item in found:
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_container(item["Id"], force=True)
        return len(found)

    return call_sync(remove)


def run_and_commit(
    image: str,
    archive: bytes,
    command: list[str],
    *,
    repository: str,
    tag: str,
    changes: list[str],
    timeout: float,
) -> str:
    """Unpacks `archive` at / of a new container of `image`, runs `command` there without network
    (as the image's user: the stand-ins' base runs as root) and commits the result as
    repository:tag with Dockerfile-style `changes`: one layer over `image`, how the course's
    stand-ins add packages to a shared base. The container is always removed; a non-zero exit
    raises StepFailed with the end of its output."""

    def run(api: docker.APIClient) -> str:
        container = api.create_container(
            image,
            command=command,
            labels={"muelle.build": "stand-in"},
            host_config=api.create_host_config(network_mode="none"),
        )["Id"]
        try:
            api.put_archive(container, "/", archive)
            api.start(container)
            status = api.wait(container, timeout=timeout).get("StatusCode")
            if status != 0:
                tail = api.logs(container, tail=30).decode(errors="replace")
                raise StepFailed(f"exit {status}:\n{tail}")
            return str(api.commit(container, repository=repository, tag=tag, changes=changes)["Id"])
        finally:
            api.remove_container(container, force=True)

    return call_sync(run)


def ping() -> None:
    """Raises EngineUnavailable unless an engine answers (blocking, short timeout)."""
    call_sync(lambda api: api.ping())
