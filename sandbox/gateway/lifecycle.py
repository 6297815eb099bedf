"""Opening and closing students' gateways inside the running event loop.

The gateways live in the ASGI process, on its event loop (see docs/gateway.md for why): the
sandbox code calls `open_gateway(owner)` before starting a sandbox and mounts the folder it
returns; `close_gateway(owner)` when the sandbox ends.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from .config import GatewayConfig
from .server import Gateway
from .student import Student
from .upstream import Upstream

SOCKET_NAME = "docker.sock"

_gateways: dict[str, Gateway] = {}
_lock: asyncio.Lock | None = None
_config: GatewayConfig | None = None


def configure(config: GatewayConfig | None) -> None:
    """Overrides the settings-derived configuration (tests, benchmark)."""
    global _config
    _config = config


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


def socket_dir(owner: str, config: GatewayConfig | None = None) -> Path:
    config = config or current_config()
    student = Student(owner, config, Upstream(config.engine_socket))
    return config.socket_dir / student.ns.key


async def open_gateway(owner: str) -> Path:
    """Serves `owner`'s Docker endpoint; returns the folder to bind-mount (read-only) into
    their sandbox. Idempotent: a second call returns the same folder."""
    config = current_config()
    async with _get_lock():
        gateway = _gateways.get(owner)
        if gateway is not None and gateway.socket_path.exists():
            return gateway.socket_path.parent
        if gateway is not None:
            await gateway.close()
        student = Student(owner, config, Upstream(config.engine_socket))
        root = config.socket_dir
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o711)  # others may traverse to their own folder, not list the rest
        folder = root / student.ns.key
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o755)
        gateway = Gateway(student, folder / SOCKET_NAME)
        await gateway.start()
        _gateways[owner] = gateway
        return folder


async def close_gateway(owner: str, *, cleanup: bool = True) -> None:
    """Stops serving `owner` and (by default) removes everything they created."""
    async with _get_lock():
        gateway = _gateways.pop(owner, None)
    if gateway is not None:
        await gateway.close()
        try:
            gateway.socket_path.parent.rmdir()
        except OSError:
            pass
    if cleanup:
        from .cleanup import cleanup_student

        await cleanup_student(owner)


def open_owners() -> list[str]:
    return list(_gateways)


async def close_all(*, cleanup: bool = False) -> None:
    for owner in open_owners():
        await close_gateway(owner, cleanup=cleanup)
