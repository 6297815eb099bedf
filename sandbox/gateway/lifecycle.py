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
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from pathlib import Path

from .config import GatewayConfig
from .server import Gateway
from .student import Student
from .upstream import Upstream

SOCKET_NAME = "docker.sock"

_gateways: dict[Path, Gateway] = {}
_students: dict[str, Student] = {}
_lock: asyncio.Lock | None = None
_config: GatewayConfig | None = None


def configure(config: GatewayConfig | None) -> None:
    """Overrides the settings-derived configuration (tests, benchmark)."""
    global _config
    _config = config
    _students.clear()


def current_config() -> GatewayConfig:
    global _config
    if _config is None:
        _config = GatewayConfig.from_settings()
    return _config


def _get_lock() -> asyncio.Lock:
    global _lock
    if _lock is None:
        _lock = asyncio.Lock()
    return _lock


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
        student = _students[owner] = Student(owner, config, Upstream(config.engine_socket))
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
    async with _get_lock():
        gateway = _gateways.get(folder)
        if gateway is not None and gateway.student.owner != owner:
            raise ValueError(f"{folder} already serves another student")
        if gateway is not None and gateway.socket_path.exists():
            return folder
        if gateway is not None:
            await gateway.close()
        gateway = Gateway(student, folder / SOCKET_NAME)
        await gateway.start()
        _gateways[folder] = gateway
        return folder


async def close_gateway(owner: str, *, cleanup: bool = True) -> None:
    """Stops serving `owner` in every folder; with cleanup (the sandbox is over) also removes
    the folders and everything the student created. Without it (shutting Muelle down) the
    folders stay for the next start."""
    async with _get_lock():
        closing = [f for f, g in _gateways.items() if g.student.owner == owner]
        gateways = [_gateways.pop(f) for f in closing]
    for gateway in gateways:
        await gateway.close()
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
        from .cleanup import cleanup_student

        await cleanup_student(owner)


def open_owners() -> list[str]:
    return sorted({g.student.owner for g in _gateways.values()})


async def close_all(*, cleanup: bool = False) -> None:
    for owner in open_owners():
        await close_gateway(owner, cleanup=cleanup)
