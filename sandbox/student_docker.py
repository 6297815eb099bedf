"""A student's Docker objects as the student sees them, read through their own gateway socket.

Exercise checks ask "is there a container called «web», running?" about what the *student* made,
with the names the student typed. Asking the student's own gateway (the unix socket their `docker`
CLI uses) gives exactly that view: only their objects, prefixes stripped, course images visible.
Only GET requests are sent, so a check never changes what it looks at.

One read needs the engine itself: the content of a volume that no container of the student mounts.
It is read from a container the server creates on the engine (never through the gateway, never
labelled as the student's, never started): the volume's folder is bind-mounted read-only (a bind
mount of a missing folder fails instead of creating a volume), `docker cp`'s archive endpoint
reads the file, and the container is removed right after.

No Docker SDK: the gateway's own asyncio HTTP client (sandbox.gateway.upstream) is reused, so
nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import secrets
import tarfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from sandbox.gateway import SOCKET_NAME, open_gateway
from sandbox.gateway.config import engine_resolver
from sandbox.gateway.lifecycle import current_config
from sandbox.gateway.names import Namespace
from sandbox.gateway.student import Student
from sandbox.gateway.upstream import API, EngineResponse, Upstream
from sandbox.gateway.wire import (
    encode_request_head,
    iter_body,
    read_response_head,
    response_framing,
)

TIMEOUT = 10.0
# Label of the engine-side reader containers, so a crash between create and remove leaves
# something recognisable.
LABEL_READER = "muelle.volume-reader"
_BLOCK = tarfile.BLOCKSIZE


class DockerStateUnavailable(Exception):
    """The student's Docker endpoint cannot be asked (gateway off, engine gone...)."""


@dataclass(frozen=True)
class FileRead:
    """A file read from a container or volume: `kind` is "file", "missing" or "not-a-file"."""

    kind: str
    data: bytes = b""
    truncated: bool = False


class StudentDocker:
    """Read-only GETs on one student's gateway socket. One instance serves one look (a click on
    «Comprobar»): answers are kept, so several checks of a click share one container list."""

    def __init__(self, socket_path: Path | str, owner: str | None = None) -> None:
        self.gateway = Upstream(str(socket_path))
        self.owner = owner
        self._answers: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}

    async def _get(
        self, path: str, query: dict[str, str] | None = None, absent: tuple[int, ...] = (404,)
    ) -> Any:
        """The JSON answer, or None on 404 (or another `absent` status). DockerStateUnavailable
        on anything else."""
        key = (path, tuple(sorted((query or {}).items())))
        if key not in self._answers:
            self._answers[key] = await self._fetch(path, query, absent)
        return self._answers[key]

    async def _fetch(
        self, path: str, query: dict[str, str] | None, absent: tuple[int, ...] = (404,)
    ) -> Any:
        try:
            response: EngineResponse = await self.gateway.request(
                "GET", path, query=query, timeout=TIMEOUT
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise DockerStateUnavailable(str(exc)) from exc
        if response.status in absent:
            return None
        if response.status >= 400:
            raise DockerStateUnavailable(f"{response.status} {response.message}")
        try:
            return response.json()
        except ValueError as exc:
            raise DockerStateUnavailable("not JSON") from exc

    async def containers(self) -> list[dict[str, Any]]:
        return list(await self._get("/containers/json", {"all": "1"}) or [])

    async def container(self, ref: str) -> dict[str, Any] | None:
        return await self._get(f"/containers/{_quote(ref)}/json")

    async def image(self, ref: str) -> dict[str, Any] | None:
        # An image name keeps its slashes (`registro.muelle/app:1`), as the docker CLI sends it:
        # the gateway routes on the raw path, and an escaped %2F names no image.
        return await self._get(f"/images/{urllib.parse.quote(ref, safe=':@/')}/json")

    async def image_history(self, ref: str) -> list[dict[str, Any]] | None:
        """`docker history`: one entry per layer, newest first; None when there is no image."""
        return await self._get(f"/images/{urllib.parse.quote(ref, safe=':@/')}/history")

    async def processes(self, ref: str) -> dict[str, Any] | None:
        """`docker top`: {"Titles": [...], "Processes": [[...], ...]}; None when the container
        is gone or not running (the engine answers 409 then)."""
        return await self._get(f"/containers/{_quote(ref)}/top", absent=(404, 409))

    async def logs(self, ref: str, tty: bool, cap: int) -> bytes | None:
        """The first `cap` bytes of what the container wrote (stdout and stderr, as `docker logs`
        shows them), frames removed; None when the container is gone."""
        read = await _read_capped(
            self.gateway,
            f"/containers/{_quote(ref)}/logs",
            [("stdout", "1"), ("stderr", "1")],
            cap if tty else cap + cap // 8 + 64,
        )
        if read is None:
            return None
        return read[:cap] if tty else demultiplex(read)[:cap]

    async def images(self) -> list[dict[str, Any]]:
        """The images the student sees, each with the tags as they see them; their own first
        (what they built or tagged is what a message about a missing image should name).

        Only a failing check's message lists them ("Imágenes que ves: …"). The engine's image
        list is its dearest read (a size per image, under one lock): a class checking at once
        shares one engine call (engine_images) and each student's view is cut from it with the
        gateway's own visibility rule, instead of twenty lists through twenty gateways."""
        if self.owner is None:
            return list(await self._get("/images/json") or [])
        key = ("engine:/images/json", ())
        if key not in self._answers:
            config = current_config()
            student = Student(self.owner, config, Upstream(config.engine_socket))
            own: list[dict[str, Any]] = []
            shared: list[dict[str, Any]] = []
            for image in await engine_images(await _engine_address(self.owner)):
                tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
                visibility = student.image_visibility(tags, image.get("Labels"))
                if visibility is None:
                    continue
                seen = [student.ns.strip(t) for t in tags if student.image_visibility([t], None)]
                (own if visibility == "own" else shared).append(
                    {**image, "RepoTags": sorted(seen), "Labels": None}
                )
            self._answers[key] = sorted(own, key=_first_tag) + sorted(shared, key=_first_tag)
        return list(self._answers[key])

    async def search(self, term: str) -> list[dict[str, Any]]:
        """`docker search`: the gateway answers from the course registry, with what the student
        pushed (each repository's tags in its description)."""
        return list(await self._get("/images/search", {"term": term}) or [])

    async def volumes(self) -> list[dict[str, Any]]:
        data = await self._get("/volumes") or {}
        return list(data.get("Volumes") or [])

    async def volume(self, name: str) -> dict[str, Any] | None:
        return await self._get(f"/volumes/{_quote(name)}")

    async def networks(self) -> list[dict[str, Any]]:
        return list(await self._get("/networks") or [])

    async def network(self, ref: str) -> dict[str, Any] | None:
        return await self._get(f"/networks/{_quote(ref)}")

    async def read_file(self, container: str, path: str, cap: int) -> FileRead:
        """The first `cap` bytes of a file inside one of the student's containers (running or
        not), through the archive endpoint `docker cp` uses (GET: reads only)."""
        return await _read_archive(
            self.gateway, f"/containers/{_quote(container)}/archive", path, cap
        )


def _first_tag(image: dict[str, Any]) -> list[str]:
    return list(image["RepoTags"][:1])


def _quote(ref: str) -> str:
    return urllib.parse.quote(ref, safe=":@")


async def for_owner(owner: str) -> StudentDocker:
    """The student's view. Serving their gateway is idempotent; this only makes sure it is
    served on this event loop (e.g. after a restart)."""
    if not settings.DOCKER_GATEWAY_ENABLED:
        raise DockerStateUnavailable("the Docker gateway is switched off")
    folder = await open_gateway(owner)
    return StudentDocker(folder / SOCKET_NAME, owner)


def _owner_engine(owner: str) -> Upstream:
    """The engine that holds `owner`'s objects: this server's, or with sandboxes placed across
    a Swarm the engine of their sandbox's node (an attack review found the checks reading
    images and volumes on this server's engine instead)."""
    config = current_config()
    return Upstream(config.engine_socket, engine_resolver(owner))


async def _engine_address(owner: str) -> str:
    try:
        return await _owner_engine(owner).address()
    except ConnectionRefusedError as exc:  # no sandbox of theirs known here: nothing to read
        raise DockerStateUnavailable(str(exc)) from exc


_Key = tuple[asyncio.AbstractEventLoop, str]
_in_flight: dict[_Key, asyncio.Future[list[dict[str, Any]]]] = {}


async def engine_images(address: str) -> list[dict[str, Any]]:
    """GET /images/json of the engine at `address`, one call shared by everyone who asks while
    it is under way (no answer is kept after it: the next caller gets a fresh list)."""
    key = (asyncio.get_running_loop(), address)
    pending = _in_flight.get(key)
    if pending is None:
        pending = key[0].create_task(_list_engine_images(address))
        _in_flight[key] = pending
        pending.add_done_callback(lambda _task: _in_flight.pop(key, None))
    return list(await asyncio.shield(pending))


async def _list_engine_images(address: str) -> list[dict[str, Any]]:
    try:
        return list(await Upstream(address).json("GET", "/images/json"))
    except Exception as exc:
        raise DockerStateUnavailable(str(exc)) from exc


async def _read_archive(client: Upstream, endpoint: str, path: str, cap: int) -> FileRead:
    """Streams a tar from GET `endpoint`?path=..., stopping after the first file's `cap` bytes."""
    # Enough for a few extended headers, the file's header and `cap` bytes of it.
    wanted = cap + 8 * _BLOCK + 64 * 1024
    data = await _read_capped(client, endpoint, [("path", path)], wanted)
    if data is None:
        return FileRead("missing")
    return first_file(data, cap)


async def _read_capped(
    client: Upstream, endpoint: str, query: list[tuple[str, str]], cap: int
) -> bytes | None:
    """At most `cap` bytes of a GET's streamed body (a log can be endless); None on 404."""
    try:
        conn = await client.connect()
    except OSError as exc:
        raise DockerStateUnavailable(str(exc)) from exc
    buffer = bytearray()
    try:
        async with asyncio.timeout(TIMEOUT):
            conn.writer.write(
                encode_request_head("GET", API + endpoint, query, [("Connection", "close")])
            )
            await conn.writer.drain()
            head = await read_response_head(conn.reader)
            if head.status == 404:
                return None
            if head.status >= 400:
                raise DockerStateUnavailable(f"{endpoint}: {head.status}")
            async for data in iter_body(conn.reader, response_framing("GET", head)):
                buffer += data
                if len(buffer) >= cap:
                    break
    except (OSError, TimeoutError, ValueError) as exc:
        raise DockerStateUnavailable(str(exc)) from exc
    finally:
        conn.close()
    return bytes(buffer[:cap])


def demultiplex(stream: bytes) -> bytes:
    """The payload of the engine's multiplexed stream (a container without a TTY): frames of an
    8-byte header (stream, 0, 0, 0, big-endian size) and their bytes. A cut last frame keeps
    what arrived."""
    out = bytearray()
    position = 0
    while position + 8 <= len(stream):
        size = int.from_bytes(stream[position + 4 : position + 8], "big")
        out += stream[position + 8 : position + 8 + size]
        position += 8 + size
    return bytes(out)


def first_file(tar: bytes, cap: int) -> FileRead:
    """The first member of a (possibly cut) tar stream: its first `cap` bytes if it is a regular
    file. Parsed by hand, header by header: the stream is cut on purpose after `cap` bytes."""
    position = 0
    while position + _BLOCK <= len(tar):
        block = tar[position : position + _BLOCK]
        if block == bytes(_BLOCK):
            break
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.TarError:
            return FileRead("not-a-file")
        data_start = position + _BLOCK
        padded = (info.size + _BLOCK - 1) // _BLOCK * _BLOCK
        if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME):
            # Metadata for the next member (long name, PAX headers): skip it.
            position = data_start + padded
            continue
        if not info.isreg():
            return FileRead("not-a-file")
        size = min(info.size, cap)
        data = tar[data_start : data_start + size]
        return FileRead("file", data, truncated=info.size > cap)
    return FileRead("missing")


def volume_path(path: str) -> str:
    """A path inside a volume, relative to its root, with no way above it ("" is the root)."""
    return posixpath.normpath("/" + path.strip()).lstrip("/").removeprefix(".")


async def read_volume_file(
    owner: str, view: StudentDocker, volume: str, path: str, cap: int
) -> FileRead:
    """A file of the student's volume `volume` (a name as they see it), read without changing
    anything: through a container of theirs that mounts it, else through a reader container
    made on the engine for this read alone."""
    inside = volume_path(path)
    for summary in await view.containers():
        for mount in summary.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name") == volume:
                destination = str(mount.get("Destination") or "")
                if destination.startswith("/"):
                    target = posixpath.join(destination, inside) if inside else destination
                    return await view.read_file(str(summary.get("Id") or ""), target, cap)
    return await _read_with_reader(owner, volume, inside, cap)


async def _read_with_reader(owner: str, volume: str, inside: str, cap: int) -> FileRead:
    config = current_config()
    engine = _owner_engine(owner)
    names = Namespace(owner, config.instance)
    try:
        info = await engine.get_or_none(f"/volumes/{_quote(names.object_prefix + volume)}")
    except Exception as exc:
        raise DockerStateUnavailable(str(exc)) from exc
    if not info or not names.owns_labels(info.get("Labels")) or not info.get("Mountpoint"):
        return FileRead("missing")
    body = {
        "Image": settings.SANDBOX_IMAGE,
        "Cmd": ["true"],
        "User": "65534:65534",
        "NetworkDisabled": True,
        "Labels": {LABEL_READER: "1"},
        "HostConfig": {
            "Mounts": [
                {
                    "Type": "bind",
                    "Source": info["Mountpoint"],
                    "Target": "/volumen",
                    "ReadOnly": True,
                }
            ],
            "NetworkMode": "none",
            "CapDrop": ["ALL"],
            "ReadonlyRootfs": True,
            "SecurityOpt": ["no-new-privileges"],
            "Memory": 32 * 1024 * 1024,
            "PidsLimit": 8,
        },
    }
    name = f"muelle-lector-{secrets.token_hex(6)}"
    try:
        created = await engine.request(
            "POST", "/containers/create", query={"name": name}, body=body, timeout=TIMEOUT
        )
    except (OSError, TimeoutError, ValueError) as exc:
        raise DockerStateUnavailable(str(exc)) from exc
    if created.status >= 400:
        raise DockerStateUnavailable(f"reader: {created.status} {created.message}")
    container_id = str((created.json() or {}).get("Id") or name)
    try:
        # Never started: the archive endpoint mounts the container's file systems by itself.
        target = posixpath.join("/volumen", inside) if inside else "/volumen"
        return await _read_archive(engine, f"/containers/{container_id}/archive", target, cap)
    finally:
        with contextlib.suppress(Exception):
            await engine.request(
                "DELETE", f"/containers/{container_id}", query={"force": "1"}, timeout=TIMEOUT
            )


async def snapshot(owner: str) -> dict[str, list[str]]:
    """A summary of everything the student has made, to tell whether something changed it.

    Containers, volumes and networks as their gateway shows them. Images come from the engine,
    only the student's own (their tag prefix or labels): the gateway also shows shared images
    (course images, allowed pulls), which others rebuild or pull at any time, and it hides the
    labels that would tell them apart."""
    view = await for_owner(owner)
    containers = sorted(
        f"{','.join(c.get('Names') or [])} {c.get('Image')} {c.get('State')}"
        for c in await view.containers()
    )
    volumes = sorted(str(v.get("Name")) for v in await view.volumes())
    networks = sorted(str(n.get("Name")) for n in await view.networks())
    config = current_config()
    names = Namespace(owner, config.instance)
    try:
        listed = await _owner_engine(owner).json("GET", "/images/json")
    except Exception as exc:
        raise DockerStateUnavailable(str(exc)) from exc
    images = []
    for image in listed:
        own = [names.strip(t) for t in image.get("RepoTags") or [] if names.owns_image_tag(t)]
        if own or names.owns_labels(image.get("Labels")):
            images.append(f"{image.get('Id')} {','.join(sorted(own))}")
    return {
        "containers": containers,
        "images": sorted(images),
        "volumes": volumes,
        "networks": networks,
    }
