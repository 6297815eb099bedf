"""The student's project folder: an engine-managed volume, not a host folder.

A real bind mount makes the engine walk a host path as root, and a student controls every path
inside their sandbox (symlinks included): any scheme where the engine resolves a student's path
on the host is a check-then-use escape. So each sandbox mounts one named volume at
`~/proyecto`, and the Docker gateway turns a student's bind of exactly that folder into a mount
of this volume (sandbox/gateway/project.py). The engine finds a volume by name under its own data
root; a symlink inside it is only ever followed inside some container's own mount namespace.

The volume is a tmpfs (local driver): its size is bounded like the home's, its files belong to
the sandbox user, setuid bits and device files planted by a student's container mean nothing
(nosuid, nodev), and its contents go when the last container using it stops.

Plain data: sandbox.hardening puts the mount in the sandbox's spec (the engine creates the
volume with the container), sandbox.docker_api removes it with the sandbox, and the gateway's
cleanup sweeps leftovers.
"""

from __future__ import annotations

import posixpath
from typing import Any

from django.conf import settings

from sandbox import engine_names
from tutorial.env import format_size, parse_size

PREFIX = "muelle-proyecto-"
FOLDER_NAME = "proyecto"
ROLE = "project"
# The volume's labels are the gateway's (sandbox/engine_names.py): it sweeps volumes by them.
LABEL_ROLE = engine_names.LABEL_ROLE
LABEL_FOLDER = engine_names.LABEL_GATEWAY


def directory() -> str:
    """Where the project folder is inside the sandbox (and what a student binds)."""
    return posixpath.join(settings.SANDBOX_WORKDIR, FOLDER_NAME)


def volume_name(gateway_folder: str) -> str:
    """One volume per gateway folder: the gateway serving a folder knows its sandbox's volume."""
    return PREFIX + gateway_folder


def is_project_volume(name: str) -> bool:
    """A project volume's name: the prefix and a gateway folder's name, nothing else."""
    return name.startswith(PREFIX) and bool(engine_names.GATEWAY_FOLDER.match(name[len(PREFIX) :]))


def labels(gateway_folder: str, instance: str) -> dict[str, str]:
    return {
        engine_names.LABEL_MANAGED: "1",
        engine_names.LABEL_INSTANCE: instance,
        LABEL_ROLE: ROLE,
        LABEL_FOLDER: gateway_folder,
    }


def mount(gateway_folder: str) -> dict[str, Any]:
    """The sandbox's mount of its project volume (Engine API Mount), created with the sandbox."""
    uid, _, gid = settings.SANDBOX_USER.partition(":")
    size = format_size(parse_size(settings.SANDBOX_WORKDIR_SIZE))
    options = f"size={size},uid={uid.strip()},gid={(gid or uid).strip()},mode=0755,nosuid,nodev"
    return {
        "Type": "volume",
        "Source": volume_name(gateway_folder),
        "Target": directory(),
        "ReadOnly": False,
        "VolumeOptions": {
            "NoCopy": True,
            "Labels": labels(gateway_folder, settings.SANDBOX_INSTANCE),
            "DriverConfig": {
                "Name": "local",
                "Options": {"type": "tmpfs", "device": "tmpfs", "o": options},
            },
        },
    }
