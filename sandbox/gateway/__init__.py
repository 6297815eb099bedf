"""Muelle's Docker API gateway: each sandbox's `docker` talks to its own checked endpoint.

Public API for the rest of the app (see docs/gateway.md):

    await open_gateway(owner) -> Path        # folder to bind-mount read-only into the sandbox
    reserve_folder() -> Path                 # empty folder for a warm-pool container; later
    await open_gateway(owner, folder=f)      # ...serve the student there once assigned
    await close_gateway(owner)               # stop serving and remove what the student created
    await cleanup_student(owner)             # remove everything labelled for `owner`
    await sweep_orphans(live_owners)         # reaper: clean students with no live sandbox
    await enforce_disk_limit()               # reaper: stop and refuse past DOCKER_GATEWAY_MAX_DISK
    await close_all(cleanup=False)           # process shutdown: stop this loop's gateways
    discard_folder(folder)                   # a reserved folder whose container is gone
    sweep_folders(in_use)                    # reaper: folders no container mounts any more
    sandbox_docker_env()                     # {"DOCKER_HOST": ..., "DOCKER_BUILDKIT": "0"}
"""

from __future__ import annotations

from .cleanup import cleanup_student, sweep_orphans
from .lifecycle import (
    SOCKET_NAME,
    close_all,
    close_gateway,
    discard_folder,
    enforce_disk_limit,
    is_open,
    open_gateway,
    open_owners,
    reserve_folder,
    socket_dir,
    sweep_folders,
)


def sandbox_docker_env() -> dict[str, str]:
    from django.conf import settings

    # BuildKit needs a session the gateway refuses; the classic builder is the one it checks.
    return {
        "DOCKER_HOST": f"unix://{settings.DOCKER_GATEWAY_MOUNT_TARGET}/{SOCKET_NAME}",
        "DOCKER_BUILDKIT": "0",
    }


__all__ = [
    "SOCKET_NAME",
    "cleanup_student",
    "close_all",
    "close_gateway",
    "discard_folder",
    "enforce_disk_limit",
    "is_open",
    "open_gateway",
    "open_owners",
    "reserve_folder",
    "sandbox_docker_env",
    "socket_dir",
    "sweep_folders",
    "sweep_orphans",
]
