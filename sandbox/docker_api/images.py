"""Image calls for the build_images command and the course images (blocking)."""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors

from sandbox.engine_names import LABEL_STUDENT

from .client import ImageMissing, call_sync, engine_errors


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
    with engine_errors():
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
            api.remove_container(container, force=True, v=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.next()
            source = tar.extractfile(member) if member else None
            if source is None:
                raise FileNotFoundError(path)
            return source.read()

    return call_sync(read)


def remove_dangling_images(label: str, *, current_by: str) -> int:
    """Removes the untagged images carrying `label` that no container uses; how many went.
    A student's own image built FROM one of them inherits the label: it is theirs, not ours.
    So is a layer of a student's build still under way: between two steps its newest layer is
    an untagged leaf, and only its last step adds the student's label (gateway/dockerfile.py).
    Such a layer inherits the `current_by` label of the tagged image it was built from, which a
    superseded image does not share with any tagged one: those are kept."""

    def remove(api: docker.APIClient) -> int:
        current = {
            (item.get("Labels") or {}).get(current_by)
            for item in api.images(filters={"label": current_by})
            if any(tag != "<none>:<none>" for tag in item.get("RepoTags") or [])
        }
        current.discard(None)
        gone = 0
        for item in api.images(filters={"dangling": True, "label": label}):
            labels = item.get("Labels") or {}
            if LABEL_STUDENT in labels or labels.get(current_by) in current:
                continue
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                api.remove_image(item["Id"], force=False)
                gone += 1
        return gone

    return call_sync(remove)


# A build step's container is named with this prefix and found again by it, never by a label: a
# commit keeps the container's labels in the image it makes, so every container anyone runs from
# a stand-in (a student's nginx, mariadb, wordpress) carries the build container's labels too.
BUILD_CONTAINER_PREFIX = "muelle-stand-in-build-"


def remove_build_leftovers() -> int:
    """Removes the build-step containers of run_and_commit that a killed build left behind."""

    def remove(api: docker.APIClient) -> int:
        listed = api.containers(all=True, filters={"name": f"^/{BUILD_CONTAINER_PREFIX}"})
        # The engine's name filter matches a pattern; only our own prefix, whole, counts.
        found = [
            item
            for item in listed
            if any(name.startswith(f"/{BUILD_CONTAINER_PREFIX}") for name in item["Names"] or [])
        ]
        for item in found:
            try:
                api.remove_container(item["Id"], force=True, v=True)
            except docker.errors.APIError as error:
                # 404: gone meanwhile; 409: the engine is already removing it (an earlier
                # removal that outlived its client's timeout). Either way it is going.
                if error.status_code not in (404, 409):
                    raise
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
            name=f"{BUILD_CONTAINER_PREFIX}{secrets.token_hex(6)}",
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
            api.remove_container(container, force=True, v=True)

    return call_sync(run)
