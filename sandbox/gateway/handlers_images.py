"""Image endpoints: list/inspect what the student may see, tag/commit/import as theirs, pulls
only from Docker Hub and only allowlisted repositories (a pull is a request the engine makes
from the host's network: `docker pull 127.0.0.1:PORT/x` would reach host services)."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import shutil
import tempfile
import threading
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from sandbox.loop_state import PerLoop

from . import copy_archive, dockerfile_parse, health_interval, quotas, schemas
from . import handlers_registry as registry
from .errors import GatewayError, bad_request, not_found, refused
from .names import LABEL_COURSE, PREFIXED, ImageRef, parse_image_ref
from .policy import labels as own_labels
from .rewrite import hide_in
from .server import Exchange, refuse_form, too_large
from .student import ResolvedImage, Student

_CHANGE_KEYWORDS = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "USER",
    "VOLUME",
    "WORKDIR",
    "STOPSIGNAL",
    "HEALTHCHECK",
)


def _visible_tags(
    student: Student, tags: list[str] | None, labels: dict[str, str] | None = None
) -> list[str]:
    # A course image's own names (the stand-ins: nginx:latest, python:3.11-slim…) are shown to
    # everyone; another student's tag on it (m<key>/…) never is.
    course = (labels or {}).get(LABEL_COURSE) == "1"
    return [
        t
        for t in tags or []
        if t == "<none>:<none>"
        or student.image_visibility([t], None) is not None
        or (course and not PREFIXED.match(t) and not _registry_name(t))
    ]


def _registry_name(tag: str) -> bool:
    """A name with a registry domain: on a course image, only ever the real-address name the
    gateway adds for the length of someone's push or pull (handlers_registry)."""
    first, sep, _rest = tag.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def _shape_image(student: Student, image: dict[str, Any]) -> dict[str, Any]:
    labels = image.get("Labels") or (image.get("Config") or {}).get("Labels")
    image["RepoTags"] = _visible_tags(student, image.get("RepoTags"), labels)
    image["RepoDigests"] = [
        d
        for d in image.get("RepoDigests") or []
        if student.image_visibility([d.partition("@")[0] + ":x"], None) is not None
        or d.startswith("<none>")
    ]
    hide_in(image, "Labels")
    hide_in(image, "Config", "Labels")
    hide_in(image, "ContainerConfig", "Labels")
    return image


async def _resolve(ex: Exchange, ref: str) -> ResolvedImage:
    image = await ex.student.image(ref)
    if image is None:
        raise not_found(_("No existe la imagen: %(ref)s") % {"ref": ref})
    return image


async def list_images(ex: Exchange) -> None:
    student = ex.student
    filters = ex.q_filters()
    references = filters.pop("reference", [])
    for key in ("before", "since"):
        if key in filters:
            filters[key] = [(await _resolve(ex, v)).id for v in filters[key]]
    query = [("all", "1" if ex.q_bool("all") else "0")]
    if filters:
        query.append(("filters", json.dumps(filters)))
    if ex.q_bool("digests"):
        query.append(("digests", "1"))

    def matching(image: dict[str, Any]) -> bool:
        """As the engine does, a `reference` filter also narrows RepoTags to what matched."""
        if not references:
            return True
        kept = []
        for tag in image["RepoTags"]:
            bare = student.ns.strip(tag)
            names = [bare, bare.rpartition(":")[0]]
            if any(fnmatch.fnmatchcase(n, p) for n in names for p in references):
                kept.append(tag)
        image["RepoTags"] = kept
        return bool(kept)

    def rewrite(images: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for image in images:
            if student.image_visibility(image.get("RepoTags"), image.get("Labels")) is None:
                continue
            image = _shape_image(student, image)
            if matching(image):
                out.append(image)
        return out

    await ex.forward("GET", "/images/json", query=query, rewrite=rewrite)


async def inspect(ex: Exchange) -> None:
    image = await _resolve(ex, ex.params["name"])
    student = ex.student
    await ex.forward(
        "GET", f"/images/{image.id}/json", rewrite=lambda info: _shape_image(student, info)
    )


async def history(ex: Exchange) -> None:
    image = await _resolve(ex, ex.params["name"])
    student = ex.student

    def rewrite(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for layer in layers:
            layer["Tags"] = _visible_tags(student, layer.get("Tags")) or None
        return layers

    await ex.forward("GET", f"/images/{image.id}/history", rewrite=rewrite)


async def save(ex: Exchange) -> None:
    """`docker save`. The engine first copies every layer of the images, uncompressed, to its
    own disk, and removes the copy only when the stream ends: a reader that never reads holds
    it. An attack review held many GiB that way, unseen by any measure. So one save at a time
    per student, of images whose layers add up to at most DOCKER_GATEWAY_MAX_DISK, and none
    while they are past it or the disk is almost full (routes: disk_use.check)."""
    if "name" in ex.params:
        names = [ex.params["name"]]
    else:
        names = ex.head.query_all("names")
    images = [await _resolve(ex, name) for name in names]
    if not images:
        raise bad_request(_("Indica qué imágenes guardar."))
    student = ex.student
    if student.saving:
        raise refused(
            _("Ya estás guardando imágenes con «docker save»: espera a que termine y repite.")
        )
    limit = student.config.max_disk
    if limit:
        size = 0
        for image_id in {image.id for image in images}:
            info = await student.engine.get_or_none(f"/images/{image_id}/json") or {}
            size += int(info.get("Size") or 0)
        if size > limit:
            raise refused(
                _(
                    "Esas imágenes ocupan %(size)s y «docker save» las copia enteras en el disco "
                    "del servidor mientras las guarda: en Muelle puedes guardar hasta %(max)s a "
                    "la vez. Guarda menos imágenes de una vez."
                )
                % {"size": quotas.mib(size), "max": quotas.mib(limit)}
            )
    student.saving = True
    try:
        await ex.forward(
            "GET", "/images/get", query=[("names", i.engine_ref) for i in images], mode="stream"
        )
    finally:
        student.saving = False


def _own_target(student: Student, repo: str, tag: str | None) -> tuple[str, str]:
    """(repository, tag) on the engine for a name the student gives to an image of theirs."""
    ref = parse_image_ref(repo + (f":{tag}" if tag else ""))
    if ref is None or ref.digest:
        raise bad_request(_("Nombre de imagen no válido: «%(r)s».") % {"r": repo})
    if not ref.on_docker_hub and not registry.is_course_registry(student, ref):
        raise refused(
            _(
                "«%(r)s» lleva el nombre de otro registro: en Muelle solo se sube al registro del "
                "curso, %(name)s (por ejemplo, %(name)s/miapp:1.0). O usa un nombre sin "
                "registro, como miapp:1.0."
            )
            % {"r": repo, "name": student.config.registry_name}
        )
    return student.ns.own_image_repo(ref), ref.tag or "latest"


async def tag(ex: Exchange) -> None:
    await ex.no_body()
    student = ex.student
    source = await _resolve(ex, ex.params["name"])
    repo, tag_name = _own_target(student, ex.q("repo") or "", ex.q("tag"))
    async with student.lock:
        existing = await student.engine.get_or_none(f"/images/{repo}:{tag_name}/json")
        if existing is None:  # retagging an existing name adds nothing
            await quotas.check_new_image(student)
        await ex.forward(
            "POST", f"/images/{source.id}/tag", query=[("repo", repo), ("tag", tag_name)]
        )


async def remove(ex: Exchange) -> None:
    await ex.no_body()
    student = ex.student
    name = ex.params["name"]
    query = [
        ("force", "1" if ex.q_bool("force") else "0"),
        ("noprune", "1" if ex.q_bool("noprune") else "0"),
    ]
    ref = parse_image_ref(name)
    if ref is not None and (ref.on_docker_hub or registry.is_course_registry(student, ref)):
        tagged = ref if (ref.tag or ref.digest) else ImageRef(ref.domain, ref.path, "latest", "")
        own = student.ns.own_image_ref(tagged)
        if await student.engine.get_or_none(f"/images/{own}/json") is not None:
            await ex.forward("DELETE", f"/images/{own}", query=query)
            return
    image = await _resolve(ex, name)
    info = await student.engine.json("GET", f"/images/{image.id}/json")
    tags = [t for t in info.get("RepoTags") or [] if t != "<none>:<none>"]
    own_tags = [t for t in tags if student.ns.owns_image_tag(t)]
    if (
        image.own
        and student.ns.owns_labels((info.get("Config") or {}).get("Labels"))
        and (len(own_tags) == len(tags))
    ):
        await ex.forward("DELETE", f"/images/{image.id}", query=query)
        return
    if not own_tags:
        raise GatewayError(
            409,
            _(
                "«%(n)s» es una imagen del curso y no se puede borrar; solo puedes borrar las "
                "tuyas (docker images te las muestra)."
            )
            % {"n": name},
        )
    answer: list[Any] = []
    for own_tag in own_tags:  # only the student's names for a shared image
        result = await student.engine.json("DELETE", f"/images/{own_tag}")
        answer += result or []
    await ex.reply(200, student.ns.strip_bytes(json.dumps(answer).encode()))


async def prune(ex: Exchange) -> None:
    await ex.no_body()
    await ex.forward(
        "POST", "/images/prune", query=[("filters", ex.student.filters(ex.q_filters()))]
    )


def _checked_changes(values: list[str]) -> list[str]:
    """`docker commit --change`, read as the engine reads it: 20.10 joins every change with a
    newline and parses the result as a Dockerfile (so a newline or a trailing escape in one
    change makes more instructions, and quotes vanish from label keys). The same parser reads
    it here, each instruction is checked, and only what was checked is sent, one per change."""
    text = dockerfile_parse.prepare("\n".join(values).encode())
    parsed = dockerfile_parse.parse(text)
    if parsed.syntax is not None or parsed.escape != "\\":
        raise refused(_("--change no admite directivas de Dockerfile en Muelle."))
    out = []
    for node in parsed.nodes:
        keyword = node.keyword.upper()
        if keyword not in _CHANGE_KEYWORDS or node.flags:
            raise refused(_("--change %(k)s no está permitido en Muelle.") % {"k": keyword})
        if (
            keyword == "LABEL"
            and "$" not in node.args
            and dockerfile_parse.sets_reserved_label(node.args)
        ):
            raise refused(_("Las etiquetas «muelle.*» están reservadas para Muelle."))
        if keyword == "LABEL" and "$" in node.args:
            # The engine expands variables (the container's ENV and earlier ENV changes) in
            # LABEL keys and values: `ENV P=muelle` then `LABEL ${P}.student=…` would write a
            # reserved label the check above never saw.
            raise refused(_("--change LABEL no admite variables ($) en Muelle."))
        out.append(f"{keyword} {node.args}")
    return out


async def commit(ex: Exchange) -> None:
    student = ex.student
    body = await ex.json_body(schemas.CONTAINER_CONFIG)
    if body.get("OnBuild"):
        raise refused(_("ONBUILD no está permitido en docker commit en Muelle."))
    health_interval.check_config(body.get("Healthcheck"))
    body["Labels"] = own_labels(student, body.get("Labels"))
    cid = await student.container_id(ex.q("container") or "")
    query = [("container", cid)]
    if ex.q("repo"):
        repo, tag_name = _own_target(student, ex.q("repo") or "", ex.q("tag"))
        query += [("repo", repo), ("tag", tag_name)]
    query += [("changes", c) for c in _checked_changes(ex.head.query_all("changes"))]
    for name in ("comment", "author", "pause"):
        if ex.q(name) is not None:
            query.append((name, ex.q(name) or ""))
    async with student.lock:
        await quotas.check_new_image(student)
        await ex.forward(
            "POST",
            "/commit",
            query=query,
            body=json.dumps(body).encode(),
            content_type="application/json",
        )


async def create(ex: Exchange) -> None:
    """POST /images/create: a pull (fromImage) or an import (fromSrc)."""
    if ex.q("fromSrc") is not None:
        await _import(ex)
        return
    await ex.no_body()
    student = ex.student
    image = ex.q("fromImage") or ""
    tag_name = ex.q("tag") or ""
    # The CLI sends a pull by digest as tag=sha256:…: joined with «:» it read as no name at all,
    # and a pull by digest from the course registry was told «never from other registries».
    joint = "@" if tag_name.startswith("sha256:") else ":"
    text = image + (
        f"{joint}{tag_name}"
        if tag_name and ":" not in image.rpartition("/")[2] and "@" not in image
        else ""
    )
    ref = parse_image_ref(text)
    if registry.is_course_registry(student, ref):
        assert ref is not None
        await registry.pull(ex, ref)
        return
    if ref is not None and ref.on_docker_hub and ref.digest:
        # A digest names no tag: the image would come untagged, seen by no one (not even its
        # student), counted by no quota and removed by no clean-up; and the allowlist is a
        # list of tags.
        raise refused(
            _("Descarga una etiqueta, no un digest: docker pull %(n)s:…") % {"n": ref.hub_path()}
        )
    if ref is not None and ref.on_docker_hub:
        text = ref.hub_path() + (f":{ref.tag}" if ref.tag else "")
    allowed = sorted(student.config.pull_allowlist)
    if ref is None or not ref.on_docker_hub:
        raise refused(
            _(
                "No se puede descargar «%(i)s»: en Muelle solo se descargan imágenes de Docker Hub "
                "de una lista permitida, nunca de otros registros."
            )
            % {"i": text}
        )
    if not student.pull_allowed(text):
        raise refused(
            _(
                "No se puede descargar «%(i)s»: en Muelle solo se pueden descargar %(list)s. Las "
                "imágenes del curso ya están aquí: míralas con «docker images»."
            )
            % {"i": text, "list": ", ".join(allowed) or _("(ninguna)")}
        )
    query = [("fromImage", (ref.domain + "/" if ref.domain else "") + ref.path)]
    if ref.tag or ref.digest:
        query.append(("tag", ref.digest or ref.tag))
    if ex.q("platform"):
        query.append(("platform", ex.q("platform") or ""))
    ns = student.ns
    await ex.forward(
        "POST",
        "/images/create",
        query=query,
        mode="stream",
        lines=lambda line: ns.strip_bytes(line),
    )


async def _import(ex: Exchange) -> None:
    student = ex.student
    # The engine gets the gateway's own tar (below), never this body: a form is refused for
    # what it is, before anything is read.
    refuse_form(ex.head.headers.get("content-type"))
    if ex.q("fromSrc") != "-":
        raise refused(
            _(
                "docker import desde una URL no está disponible: en Muelle no se "
                "descarga nada. Importa un fichero: docker import fichero.tar nombre"
            )
        )
    changes = _checked_changes(ex.head.query_all("changes"))
    label_text = " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in student.ns.labels.items())
    changes.append(f"LABEL {label_text}")
    query = [("fromSrc", "-")] + [("changes", c) for c in changes]
    if ex.q("repo"):
        repo, tag_name = _own_target(student, ex.q("repo") or "", ex.q("tag"))
        query += [("repo", repo), ("tag", tag_name)]
    if ex.q("message"):
        query.append(("message", ex.q("message") or ""))
    async with quotas.image_places(student):
        ns = student.ns
        # The tar becomes an image layer as it is: the engine gets the gateway's checked copy
        # (copy_archive.py: no extended attributes, devices or setuid bits), never the student's.
        limit = student.config.import_max
        folder = Path(
            await asyncio.shield(asyncio.to_thread(tempfile.mkdtemp, prefix="muelle-import-"))
        )
        try:
            received, checked = folder / "recibido", folder / "revisado.tar"
            await _spool(ex, received, limit)
            async with _REWRITES.get():
                members = await _in_thread_to_the_end(
                    copy_archive.canonical_file, str(received), str(checked), limit
                )
            await asyncio.to_thread(received.unlink)  # up to IMPORT_MAX: not kept while waiting
            await copy_archive.charge_members(ex.gateway.byte_rate, members)
            async with contextlib.aclosing(_read_file(checked)) as body:
                await ex.forward(
                    "POST",
                    "/images/create",
                    query=query,
                    body=body,
                    content_type="application/x-tar",
                    mode="stream",
                    lines=lambda line: ns.strip_bytes(line),
                )
        finally:
            # A whole file system: removed off the loop, even when the request was cancelled.
            await asyncio.shield(asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True))


# Rewrites of imported archives at once (each holds a thread of the default executor for as long
# as it reads the archive: builds, `docker cp` and the registry share those threads).
_REWRITES: PerLoop[asyncio.Semaphore] = PerLoop(lambda: asyncio.Semaphore(2))


async def _in_thread_to_the_end(
    rewrite: Callable[..., int], source: str, target: str, limit: int
) -> int:
    """Runs `rewrite` in a thread; if the request is cancelled meanwhile, tells it to stop and
    waits for it, so that its files are not removed under it."""
    stop = threading.Event()
    work = asyncio.ensure_future(asyncio.to_thread(rewrite, source, target, limit, stop))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.shield(work)
        raise


async def _spool(ex: Exchange, path: Path, limit: int) -> None:
    """The request's body into `path` (off the event loop), up to `limit` bytes."""
    size = 0
    out = await asyncio.to_thread(path.open, "wb")
    try:
        async for data in ex.body_stream():
            size += len(data)
            if size > limit:
                ex.close_after = True  # what is left is abandoned with the connection
                raise too_large(limit)
            await asyncio.to_thread(out.write, data)
    finally:
        await asyncio.to_thread(out.close)


async def _read_file(path: Path) -> AsyncGenerator[bytes, None]:
    with await asyncio.to_thread(path.open, "rb") as source:
        while data := await asyncio.to_thread(source.read, 256 * 1024):
            yield data
