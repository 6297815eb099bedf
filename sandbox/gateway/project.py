"""Bind mounts of the student's project folder, carried as their sandbox's project volume.

`-v /home/alumno/proyecto:/app` (or `--mount type=bind,src=...`) would make the engine resolve
a path on the host as root. The path the student means is inside their sandbox, where it is the
mount point of an engine-managed volume (sandbox/project_volume.py); the gateway sends a mount
of that volume by name instead, so no path the student controls is ever walked on the host.

The source is compared after the lexical normalisation the engine itself applies (trailing
slashes, `.`, `..`, repeated slashes); `$PWD` and `~` reach the gateway already expanded by the
shell. Only the folder itself is carried: Docker 20.10 has no volume subpath, so a subfolder is
refused with a message saying what works. `docker inspect` and `docker ps` show the bind the
student asked for, never the engine's volume name or its path on the server.
"""

from __future__ import annotations

import json
import logging
import posixpath
from collections.abc import Callable, Iterable
from typing import Any

from django.utils.translation import gettext as _

from sandbox import project_volume

from .errors import GatewayError, refused
from .upstream import Upstream

log = logging.getLogger("sandbox.gateway")

# The policy's pending state: the gateway folder serving this request, then whether a project
# bind was carried (container_create then checks that the sandbox's volume is really there).
FOLDER = "\0project-folder"
USED = "\0project-used"


def normalise(path: str) -> str:
    """`path` as the engine cleans it (Go's path.Clean): POSIX keeps a leading `//`, Go not."""
    return "/" + posixpath.normpath(path).lstrip("/") if path.startswith("/") else path


def is_project_source(source: str) -> bool:
    """True for the project folder itself; a refusal for anything under it; False otherwise."""
    folder = project_volume.directory()
    path = normalise(source)
    if path == folder:
        return True
    if path.startswith(folder + "/"):
        raise refused(
            _(
                "«%(source)s» es una subcarpeta de tu carpeta de proyecto. En Muelle solo se "
                "puede montar la carpeta %(folder)s entera: pon ahí los archivos que quieras "
                "compartir, o móntala entera (-v %(folder)s:/app) y usa la subcarpeta dentro "
                "del contenedor."
            )
            % {"source": source, "folder": folder}
        )
    return False


def volume_for(pending: dict[str, Any]) -> str:
    """The engine name of the project volume of the sandbox this request comes from."""
    folder = pending.get(FOLDER)
    if not folder:
        raise refused(_("Este entorno no tiene carpeta de proyecto."))
    pending[USED] = True
    return project_volume.volume_name(folder)


def bind_options(mode: str) -> str:
    """`ro`/`rw` as asked, always `nocopy`: a real bind never copies the image's files into the
    folder (an empty volume would get them, owned by root)."""
    kept = [m for m in mode.split(",") if m and m != "nocopy"]
    return ",".join([*kept, "nocopy"])


async def check_volume(engine: Upstream, pending: dict[str, Any]) -> None:
    """The project volume must exist and be the one Muelle made for this folder: a missing one
    would be created by the engine on the fly, as an ordinary volume nobody cleans up."""
    folder = pending.get(FOLDER)
    if not pending.get(USED) or not folder:
        return
    info = await engine.get_or_none(f"/volumes/{project_volume.volume_name(folder)}")
    labels = (info or {}).get("Labels") or {}
    if (
        labels.get(project_volume.LABEL_ROLE) != project_volume.ROLE
        or labels.get(project_volume.LABEL_FOLDER) != folder
    ):
        raise refused(_("Este entorno no tiene carpeta de proyecto."))


# --- showing it back as the bind the student asked for -----------------------------------------
def _bind_text(value: str) -> str:
    name, _sep, rest = value.partition(":")
    if not project_volume.is_project_volume(name):
        return value
    target, _sep, mode = rest.partition(":")
    kept = ",".join(m for m in mode.split(",") if m and m != "nocopy")
    return ":".join([project_volume.directory(), target, *([kept] if kept else [])])


def _mount_point(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("Type") != "volume" or not project_volume.is_project_volume(
        str(item.get("Name", ""))
    ):
        return item
    mode = ",".join(m for m in str(item.get("Mode", "")).split(",") if m and m != "nocopy")
    return {
        "Type": "bind",
        "Source": project_volume.directory(),
        "Destination": item.get("Destination", ""),
        "Mode": mode,
        "RW": bool(item.get("RW")),
        "Propagation": "rprivate",
    }


def _mount_spec(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("Type") != "volume" or not project_volume.is_project_volume(
        str(item.get("Source", ""))
    ):
        return item
    shown: dict[str, Any] = {
        "Type": "bind",
        "Source": project_volume.directory(),
        "Target": item.get("Target", ""),
    }
    if item.get("ReadOnly"):
        shown["ReadOnly"] = True
    return shown


def show_as_binds(info: dict[str, Any]) -> None:
    """Rewrites, in place, a container's inspect answer (or a `ps` item: Mounts only)."""
    if isinstance(info.get("Mounts"), list):
        info["Mounts"] = [_mount_point(m) if isinstance(m, dict) else m for m in info["Mounts"]]
    host = info.get("HostConfig")
    if not isinstance(host, dict):
        return
    if isinstance(host.get("Binds"), list):
        host["Binds"] = [_bind_text(b) if isinstance(b, str) else b for b in host["Binds"]]
    if isinstance(host.get("Mounts"), list):
        host["Mounts"] = [_mount_spec(m) if isinstance(m, dict) else m for m in host["Mounts"]]


# --- removal ---------------------------------------------------------------------------------
async def remove_volumes(engine: Upstream, folders: Iterable[str]) -> None:
    """Removes the project volumes of these gateway folders once the student's containers are
    gone (the engine refuses one still in use: a sandbox still running keeps its own)."""
    removed = []
    for folder in folders:
        name = project_volume.volume_name(folder)
        try:
            response = await engine.request("DELETE", f"/volumes/{name}")
        except (OSError, GatewayError):
            continue
        if response.status in (200, 204):
            removed.append(name)
    if removed:
        log.info("removed project volumes %s", ", ".join(sorted(removed)))


async def sweep_volumes(engine: Upstream) -> list[str]:
    """Removes the project volumes nothing uses any more, of any Muelle instance on this engine:
    left by a crash, by a sandbox removed while a student's container still mounted its folder,
    or by a test or bench that removed its sandboxes by hand. An unused one holds nothing (a
    tmpfs is emptied when its last container goes), and the engine refuses to remove a volume
    any container uses, running or not (a sandbox being created references its volume from the
    same call), so a live sandbox's stays."""
    return await remove_unused_volumes(
        engine,
        f"{project_volume.LABEL_ROLE}={project_volume.ROLE}",
        named=project_volume.is_project_volume,
    )


async def remove_unused_volumes(
    engine: Upstream, label: str, *, named: Callable[[str], bool] = lambda _name: True
) -> list[str]:
    """Removes the volumes carrying `label` (a key, or key=value) that no container uses, and
    whose name passes `named`; returns their names. The engine refuses to remove a volume any
    container uses, running or not, so one still needed stays."""
    filters = {"label": [label], "dangling": ["true"]}
    answer = await engine.json("GET", "/volumes", query={"filters": json.dumps(filters)})
    removed = []
    for item in answer.get("Volumes") or []:
        name = str(item.get("Name", ""))
        if not named(name):
            continue
        response = await engine.request("DELETE", f"/volumes/{name}")
        if response.status in (200, 204):
            removed.append(name)
    return removed
