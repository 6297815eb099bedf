"""Opening and closing students' gateways inside the running event loop.

The gateways live in the ASGI process, on its event loop (see docs/gateway.md for why). The
sandbox code mounts a gateway folder read-only into the sandbox and asks for the student's
socket to be served in it:

    folder = await open_gateway(owner)            # the student's own folder, or
    folder = reserve_folder()                     # an empty one for a warm-pool container,
    await open_gateway(owner, folder=folder)      # ...served once the container is assigned
    await close_gateway(owner)                    # sandbox over: stop, clean up, remove folder

A folder is mounted, not the socket file: a socket opened again in the same folder (restart of
Muelle, late assignment of a pooled container) appears inside the running sandbox.

A gateway is served on the event loop that opened it. A gateway whose loop is gone (tests run one
loop per test) is forgotten and opened again on the current loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import secrets
import time
from collections.abc import Iterable
from pathlib import Path

from sandbox import engine_names
from sandbox.loop_state import PerLoop
from sandbox.ports import students as port_tables

from . import config as gateway_config
from . import disk_use, project
from .cleanup import cleanup_student
from .config import GatewayConfig
from .routes import route
from .server import Gateway
from .student import Student
from .upstream import Upstream

SOCKET_NAME = "docker.sock"
# Folder names: a student's own (their key) or one reserved for a warm-pool container.
FOLDER_NAME = engine_names.GATEWAY_FOLDER
RESERVED_NAME = re.compile(r"^p[0-9a-f]{16}\Z")  # reserve_folder()'s, for a warm container

_gateways: dict[Path, Gateway] = {}
# The socket file each gateway put in place (inode): with several web processes, another one
# that adopted the student's sandbox replaces it with its own (docs/despliegue.md).
_inodes: dict[Path, int] = {}
_students: dict[str, Student] = {}
# Opening and closing gateways one at a time (per event loop: asyncio locks belong to one).
_locks: PerLoop[asyncio.Lock] = PerLoop(asyncio.Lock)
_in_force: GatewayConfig | None = None


def configure(config: GatewayConfig | None) -> None:
    """Overrides the settings-derived configuration (tests, benchmark); None goes back to the
    settings."""
    gateway_config.set_override(config)
    _students.clear()


def current_config() -> GatewayConfig:
    """gateway_config.current_config(), forgetting the students made under another one."""
    global _in_force
    config = gateway_config.current_config()
    if config != _in_force:
        _in_force = config
        _students.clear()
    return config


def _alive_here(gateway: Gateway) -> bool:
    return gateway.loop is asyncio.get_running_loop() and not gateway.loop.is_closed()


def _socket_is_ours(gateway: Gateway) -> bool:
    """The socket file in the folder is the one this gateway listens on (not gone, not taken
    over by another web process that adopted the sandbox)."""
    try:
        return gateway.socket_path.stat().st_ino == _inodes.get(gateway.socket_path.parent)
    except OSError:
        return False


async def _close(gateway: Gateway) -> None:
    """Stops `gateway`; the socket file stays when it is another process's now."""
    if not _socket_is_ours(gateway):
        # Gateway.close() unlinks its socket path: point it at a name that is not there.
        gateway.socket_path = gateway.socket_path.with_name(".replaced")
    await gateway.close()


def _root(config: GatewayConfig) -> Path:
    root = config.socket_dir
    root.mkdir(parents=True, exist_ok=True)
    # Sandboxes traverse to their own folder; nobody may list the others.
    os.chmod(root, 0o711)  # noqa: S103
    return root


def _prepare(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    os.chmod(folder, 0o755)  # noqa: S103 (the socket inside is what is restricted)
    return folder


def _student(owner: str, config: GatewayConfig) -> Student:
    student = _students.get(owner)
    if student is None:
        engine = Upstream(config.engine_socket, gateway_config.engine_resolver(owner))
        sandbox_folder = functools.partial(_folder_of, owner)
        student = _students[owner] = Student(owner, config, engine, sandbox_folder)
    return student


def socket_dir(owner: str, config: GatewayConfig | None = None) -> Path:
    """The student's own folder (whether or not it is being served)."""
    config = config or current_config()
    return config.socket_dir / Student(owner, config, Upstream(config.engine_socket)).ns.key


def reserve_folder() -> Path:
    """An empty folder to mount into a container whose student is not known yet (warm pool);
    `open_gateway(owner, folder=...)` serves it once the container is assigned."""
    config = current_config()
    return _prepare(_root(config) / f"p{secrets.token_hex(8)}")


async def open_gateway(owner: str, *, folder: Path | None = None) -> Path:
    """Serves `owner`'s Docker endpoint in `folder` (default: the student's own folder) and
    returns the folder to bind-mount read-only into their sandbox. Idempotent."""
    config = current_config()
    root = _root(config)
    student = _student(owner, config)
    folder = _prepare(folder if folder is not None else root / student.ns.key)
    if folder.parent.resolve() != root.resolve():
        raise ValueError(f"{folder} is not a gateway folder under {root}")
    async with _locks.get():
        gateway = _gateways.get(folder)
        if gateway is not None and gateway.student.owner != owner:
            raise ValueError(f"{folder} already serves another student")
        if gateway is not None and _alive_here(gateway) and _socket_is_ours(gateway):
            port_tables.open_table(student, student.sandbox_folder)
            return folder
        if gateway is not None and _alive_here(gateway):
            await _close(gateway)
        # (A gateway of another, finished loop is only forgotten: its server died with it.)
        gateway = Gateway(student, folder / SOCKET_NAME, route)
        await gateway.start()
        _gateways[folder] = gateway
        _inodes[folder] = gateway.socket_path.stat().st_ino
        # Published ports follow the student's containers from now on (and those still
        # running from before a restart of Muelle are carried again).
        port_tables.open_table(student, student.sandbox_folder)
        return folder


def _folder_of(owner: str) -> str | None:
    """The gateway folder the student's sandbox mounts (its label names it)."""
    for folder, gateway in _gateways.items():
        if gateway.student.owner == owner:
            return folder.name
    return None


async def close_gateway(owner: str, *, cleanup: bool = True) -> None:
    """Stops serving `owner` in every folder; with cleanup (the sandbox is over) also removes
    the folders and everything the student created. Without it (shutting Muelle down) the
    folders stay for the next start."""
    async with _locks.get():
        closing = [f for f, g in _gateways.items() if g.student.owner == owner]
        gateways = [_gateways.pop(f) for f in closing]
    await port_tables.close_table(owner)
    for gateway in gateways:
        if _alive_here(gateway):
            await _close(gateway)
        _inodes.pop(gateway.socket_path.parent, None)
        if cleanup:
            # Only when the sandbox is over: a running sandbox has this very folder mounted.
            with contextlib.suppress(OSError):
                gateway.socket_path.parent.rmdir()
    if cleanup:
        _students.pop(owner, None)
        own = socket_dir(owner)  # also after a restart, when nothing was serving it here
        with contextlib.suppress(OSError):
            (own / SOCKET_NAME).unlink()
            own.rmdir()
        await cleanup_student(owner)
        # Now that no container of the student mounts them (gateway/project.py).
        await project.remove_volumes(
            Upstream(current_config().engine_socket), {own.name, *(f.name for f in closing)}
        )


def open_owners() -> list[str]:
    """Students served on the running event loop."""
    return [student.owner for student in open_students()]


def open_students() -> list[Student]:
    """The students served on the running event loop (one each)."""
    found = {g.student.owner: g.student for g in _gateways.values() if _alive_here(g)}
    return [found[owner] for owner in sorted(found)]


async def enforce_disk_limit() -> dict[str, disk_use.Measure]:
    """For the reaper: DOCKER_GATEWAY_MAX_DISK over this loop's students (disk_use.py)."""
    return await disk_use.enforce(open_students())


def is_open(owner: str) -> bool:
    return owner in open_owners()


def serving(folder: Path) -> Gateway | None:
    """The gateway serving `folder`, if one does (its connection count, for tests and benches)."""
    return _gateways.get(folder)


async def close_all(*, cleanup: bool = False) -> None:
    """Stops every gateway of this event loop (process shutdown: cleanup=False keeps the folders
    and the students' objects, so sandboxes adopted after a restart carry on)."""
    for owner in open_owners():
        await close_gateway(owner, cleanup=cleanup)


def discard_folder(folder: Path | str) -> None:
    """Removes a reserved folder nobody is served in (a warm container removed before it was
    handed out). Never touches a folder a gateway serves, nor a student's own folder: that one
    is every sandbox of theirs, so the removal of an old one (in the background) could take it
    while their next sandbox's gateway was opening in it (the socket's bind then failed, a
    flaky CI failure); close_gateway and the reaper's sweep remove it."""
    config = current_config()
    path = config.socket_dir / Path(folder).name
    if path in _gateways or not RESERVED_NAME.match(path.name):
        return
    with contextlib.suppress(OSError):
        path.rmdir()


def sweep_folders(in_use: Iterable[str], *, grace: float = 120.0) -> list[str]:
    """Removes the gateway folders no container mounts any more (`in_use`: the folder names of
    every container on the engine, of any instance), left by a crash or a killed process.
    Folders served here and folders younger than `grace` seconds (a sandbox being created)
    stay. Returns the names removed."""
    config = current_config()
    root = config.socket_dir
    if not root.is_dir():
        return []
    keep = set(in_use) | {f.name for f in _gateways}
    removed = []
    now = time.time()
    for folder in root.iterdir():
        if folder.name in keep or not FOLDER_NAME.match(folder.name) or not folder.is_dir():
            continue
        try:
            if now - folder.stat().st_mtime < grace:
                continue
            with contextlib.suppress(FileNotFoundError):
                (folder / SOCKET_NAME).unlink()
            folder.rmdir()
        except OSError:
            continue
        removed.append(folder.name)
    return removed
