"""A cgroup per student that every classic-build step runs under, to cap processes and memory.

`POST /build` has memory and CPU parameters but no pids limit; a `cgroupparent` whose pids
(and memory) limit the gateway set beforehand covers every RUN step, and a fork bomb in a
Dockerfile stops there. Works with the engine's cgroupfs driver on cgroup v1 and v2; where the
gateway cannot create it (not root, systemd driver), builds are refused rather than unlimited.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from .config import GatewayConfig

log = logging.getLogger("sandbox.gateway")


def _is_v2(root: Path) -> bool:
    return (root / "cgroup.controllers").exists()


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def ensure_build_cgroup(config: GatewayConfig, key: str) -> str | None:
    """Creates (or refreshes the limits of) the student's build cgroup; returns the
    `cgroupparent` to pass to the engine, or None when it cannot be made here."""
    root = config.build_cgroup_root
    relative = f"{config.build_cgroup_parent}/{key}"
    try:
        if _is_v2(root):
            parent = root / config.build_cgroup_parent
            parent.mkdir(exist_ok=True)
            _write(root / "cgroup.subtree_control", "+pids +memory")
            _write(parent / "cgroup.subtree_control", "+pids +memory")
            group = parent / key
            group.mkdir(exist_ok=True)
            _write(group / "pids.max", str(config.build_pids))
            _write(group / "memory.max", str(config.build_memory))
            with contextlib.suppress(OSError):
                _write(group / "memory.swap.max", "0")
        else:
            pids = root / "pids" / relative
            memory = root / "memory" / relative
            pids.mkdir(parents=True, exist_ok=True)
            memory.mkdir(parents=True, exist_ok=True)
            _write(pids / "pids.max", str(config.build_pids))
            _write(memory / "memory.limit_in_bytes", str(config.build_memory))
            with contextlib.suppress(OSError):
                _write(memory / "memory.memsw.limit_in_bytes", str(config.build_memory))
    except OSError as exc:
        log.warning("cannot prepare the build cgroup %s: %s", relative, exc)
        return None
    return "/" + relative


def remove_build_cgroup(config: GatewayConfig, key: str) -> None:
    """Removes the student's build cgroup in every hierarchy (only possible when empty)."""
    root = config.build_cgroup_root
    relative = f"{config.build_cgroup_parent}/{key}"
    candidates = (
        [root / relative]
        if _is_v2(root)
        else [h / relative for h in root.iterdir() if h.is_dir() and not h.is_symlink()]
        if root.exists()
        else []
    )
    for path in candidates:
        with contextlib.suppress(OSError):
            path.rmdir()
