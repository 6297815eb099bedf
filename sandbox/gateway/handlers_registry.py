"""The course registry through the gateway: push, pull, login, search (docs/registry.md).

Students type the registry's course name (`registro.muelle/app:1`, REGISTRY_NAME). On the engine
their image is `m<key>/registro.muelle/app:1`, an ordinary own image (visibility, quotas and
cleanup as for any other). Only for the length of a push or a pull the gateway adds the real
name, `<registry address>/<key>/app:1`, has the engine push or pull it with Muelle's
credentials in X-Registry-Auth (never the student's), and removes that name again. The student's
repository path starts with their key, so they reach only their own namespace: another
student's image is simply not found. The progress stream is rewritten back to the course name.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from sandbox.loop_state import PerLoop

from . import quotas, registry_space
from .errors import GatewayError, bad_request, not_found, refused
from .handlers_system import denied
from .names import ImageRef, parse_image_ref
from .registry_client import RegistryClient, RegistryDown, course_names
from .server import Exchange
from .student import Student
from .upstream import API, EngineResponse
from .wire import (
    LAST_CHUNK,
    chunk,
    encode_request_head,
    encode_response_head,
    iter_body,
    line_batches,
    read_body,
    read_response_head,
    response_framing,
)

logger = logging.getLogger(__name__)

# One push or pull at a time per student: a quota check and the push it allows must not
# interleave with another push. Not the student's main lock: a push can take minutes.
_LOCKS: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _lock(student: Student) -> asyncio.Lock:
    lock = _LOCKS.get(student.ns.key)
    if lock is None:
        lock = asyncio.Lock()
        _LOCKS[student.ns.key] = lock
    return lock


def is_course_registry(student: Student, ref: ImageRef | None) -> bool:
    return ref is not None and bool(ref.domain) and ref.domain == student.config.registry_name


def registry_down() -> GatewayError:
    return GatewayError(
        503,
        _(
            "El registro del curso no responde ahora mismo: inténtalo de nuevo en un rato. El "
            "resto de Muelle (tus contenedores e imágenes) sigue funcionando."
        ),
    )


def _remote_repo(student: Student, ref: ImageRef) -> str:
    """The student's repository in the real registry: their key is the namespace."""
    return f"{student.ns.key}/{ref.path}"


def _engine_repo(student: Student, ref: ImageRef) -> str:
    return f"{student.config.registry_address}/{_remote_repo(student, ref)}"


def _says_error(line: bytes) -> bool:
    """The engine's progress line reporting a failure. Read as JSON: a tag or layer named
    `error` (`"id":"error"`) is progress, and a pull of `app:error` was taken for a failure."""
    try:
        message = json.loads(line)
    except ValueError:
        return False
    return isinstance(message, dict) and ("error" in message or "errorDetail" in message)


async def _engine_stream(
    ex: Exchange,
    path: str,
    query: list[tuple[str, str]],
    auth: str,
    rewrite: Callable[[bytes], bytes],
    finish: Callable[[bool], Awaitable[None]],
) -> None:
    """Runs a push/pull on the engine and relays its progress, rewritten. `finish(failed)` runs
    before the last chunk, so the student's name for a pulled image exists when the CLI's
    command returns."""
    headers = [
        ("User-Agent", "muelle-gateway"),
        ("X-Registry-Auth", auth),
        ("Content-Length", "0"),
        ("Connection", "close"),
    ]
    conn = await ex.gateway.connect_engine()
    try:
        conn.writer.write(encode_request_head("POST", API + path, query, headers))
        await conn.writer.drain()
        head = await read_response_head(conn.reader)
        framing = response_framing("POST", head)
        if head.status >= 300:
            data = await read_body(conn.reader, framing, 1024 * 1024)
            message = EngineResponse(head.status, head.headers, data).message
            raise GatewayError(head.status, rewrite(message.encode()).decode(errors="replace"))
        out = [("Content-Type", "application/json"), ("Api-Version", "1.41")]
        out.append(("Transfer-Encoding", "chunked"))
        if ex.close_after:
            out.append(("Connection", "close"))
        ex.responded = True
        ex.writer.write(encode_response_head(200, "OK", out))
        await ex.writer.drain()
        failed = False
        async for batch in line_batches(iter_body(conn.reader, framing)):
            failed = failed or any(_says_error(line) for line in [*batch.lines, batch.rest])
            ex.writer.write(chunk(batch.rewritten(rewrite)))
            await ex.writer.drain()
        await finish(failed)
        ex.writer.write(LAST_CHUNK)
        await ex.writer.drain()
    finally:
        conn.close()


async def _untag_remote_names(student: Student, engine_repo: str, tags: list[str]) -> None:
    """Removes the real-address tags and digest references the engine left on the image(s)."""
    refs = [f"{engine_repo}:{t}" for t in tags]
    for tag_ref in list(refs):
        info = await student.engine.get_or_none(f"/images/{tag_ref}/json")
        for digest in (info or {}).get("RepoDigests") or []:
            if digest.startswith(f"{engine_repo}@"):
                refs.append(digest)
    for name in refs:
        await student.engine.request("DELETE", f"/images/{name}", query={"noprune": "1"})


async def _used(client: RegistryClient, student: Student, usage: Any) -> int:
    """What counts in the student's REGISTRY_MAX_SIZE: on the registry Muelle runs, what their
    repositories hold on its disk (registry_space.footprint: a version pushed over, a push cut
    off, all of it); elsewhere, what their tags refer to and what their pushes left behind."""
    folder = registry_space.own_folder(student.config)
    if folder is not None:
        on_disk = await asyncio.to_thread(registry_space.footprint, folder, student.ns.key)
        return max(on_disk, usage.size)
    return int(usage.size) + registry_space.left_behind(student.ns.key)


async def _count_left_behind(
    client: RegistryClient, student: Student, before: Any, *, failed: bool, adding: int
) -> None:
    """A push over a tag with another image leaves the old one's blobs on disk, unseen by the
    tags: what the student's tags referred to before the push and not after counts in their
    quota until the registry's next collection (registry_space), with, for a push that `failed`
    or was cut off, `adding` (what it may have left without a manifest; and a collection is
    then due whatever that says: an image's size on the engine can be far below what its push
    uploads, as for an image of many empty files)."""
    try:
        after = (await client.usage(student.ns.key)).blobs
    except RegistryDown:
        after = {}  # not known: everything counts until the collection
    gone = sum(size for digest, size in before.blobs.items() if digest not in after)
    registry_space.leave(student.ns.key, gone + (adding if failed else 0))
    if failed:
        registry_space.deleted()


async def _usage(client: RegistryClient, student: Student) -> Any:
    try:
        return await client.usage(student.ns.key)
    except RegistryDown:
        raise registry_down() from None


async def push(ex: Exchange) -> None:
    """POST /images/{name}/push: only to the course registry, only from the student's images."""
    student = ex.student
    name = ex.params["name"]
    tag = ex.q("tag") or ""
    ref = parse_image_ref(name + (f":{tag}" if tag else ""))
    if not is_course_registry(student, ref):
        await denied(ex)  # any other registry: refused as before
        return
    assert ref is not None
    await ex.no_body()
    config = student.config
    client = RegistryClient(config)
    if not client.configured:
        raise refused(_("Este Muelle no tiene registro del curso."))
    if ref.digest:
        raise bad_request(_("Sube una etiqueta, no un digest: docker push %(n)s:1") % {"n": name})
    own_repo = student.ns.own_image_repo(ref)
    if ref.tag:
        tags = [ref.tag]
    else:  # docker push --all-tags
        tags = [
            t.rpartition(":")[2]
            for _v, image in await student.image_summaries()
            for t in image.get("RepoTags") or []
            if t.rpartition(":")[0] == own_repo
        ]
    if not tags:
        raise not_found(
            _("No tienes ninguna imagen «%(r)s»: ponle ese nombre con docker tag.")
            % {"r": f"{config.registry_name}/{ref.path}"}
        )
    remote = _remote_repo(student, ref)
    engine_repo = _engine_repo(student, ref)
    async with _lock(student), registry_space.in_use():
        # Read under the lock, and what is pushed is tagged from these ids, not by name: a
        # `docker tag` onto the same name while the push waited for the lock (an attack review
        # measured a small image, then pushed a 40 MiB one past the quota) changes nothing.
        ids: dict[str, str] = {}
        images: dict[str, int] = {}
        for t in tags:
            info = await student.engine.get_or_none(f"/images/{own_repo}:{t}/json")
            if info is None:
                raise not_found(
                    _("No tienes ninguna imagen «%(r)s:%(t)s»: ponle ese nombre con docker tag.")
                    % {"r": f"{config.registry_name}/{ref.path}", "t": t}
                )
            ids[t] = info["Id"]
            images[info["Id"]] = int(info.get("Size") or 0)
        usage = await _usage(client, student)
        new = [t for t in tags if (remote, t) not in usage.tags]
        if len(usage.tags) + len(new) > config.registry_max_images:
            raise refused(
                _(
                    "Ya tienes %(n)d imágenes en el registro del curso y el máximo es %(max)d. "
                    "Con docker search %(name)s/ ves cuáles son."
                )
                % {
                    "n": len(usage.tags),
                    "max": config.registry_max_images,
                    "name": config.registry_name,
                }
            )
        # The image's size on disk (uncompressed) is an upper bound of what the push adds.
        adding = sum(images.values())
        used = await _used(client, student, usage)
        left = max(used - usage.size, 0)
        if used + adding > config.registry_max_size:
            message = _(
                "No cabe en tu espacio del registro del curso: ya ocupas %(used)s, esta imagen "
                "ocupa hasta %(new)s y el máximo es %(max)s."
            ) % {
                "used": quotas.mib(used),
                "new": quotas.mib(adding),
                "max": quotas.mib(config.registry_max_size),
            }
            if left:
                message += " " + _(
                    "De lo que ocupas, %(left)s son capas que ya no usa ninguna de tus etiquetas "
                    "(versiones anteriores de una etiqueta que volviste a subir, o subidas que no "
                    "terminaron): el registro las libera en su próxima limpieza, en unos minutos."
                ) % {"left": quotas.mib(left)}
            raise refused(message)
        counted, ended = [False], [False]
        try:
            for t in tags:
                await student.engine.json(
                    "POST", f"/images/{ids[t]}/tag", query={"repo": engine_repo, "tag": t}
                )

            async def finish(failed: bool) -> None:
                # The engine's stream has ended (its manifest is stored): never cut off now.
                ended[0] = True
                await _untag_remote_names(student, engine_repo, tags)
                # Before the stream's end: the student's next command sees it counted.
                await _count_left_behind(client, student, usage, failed=failed, adding=adding)
                counted[0] = True

            stream = _engine_stream(
                ex,
                f"/images/{engine_repo}/push",
                [("tag", ref.tag)],
                client.engine_auth(),
                course_names(student.config, student.ns),
                finish,
            )
            await _cut_off_past_quota(ex, stream, finished=lambda: ended[0])
        finally:
            await _untag_remote_names(student, engine_repo, tags)
            if not counted[0]:
                # Cut off: it may have uploaded layers with no manifest, counted at their upper
                # bound until the next collection.
                await _count_left_behind(client, student, usage, failed=True, adding=adding)


# How often a push's footprint on the registry's disk is measured while it uploads. The engine
# compresses each layer as it sends it (a few MiB/s here), so a push is cut off within a small
# fraction of a MiB past the quota.
WATCH_EVERY = 0.1
# The measures run on a thread of their own: in the default executor they would wait behind
# other students' archive rewrites and build contexts, and the push would go on unmeasured.
_MEASURING: PerLoop[ThreadPoolExecutor] = PerLoop(
    lambda: ThreadPoolExecutor(1, thread_name_prefix="muelle-registry-footprint")
)


async def _cut_off_past_quota(
    ex: Exchange, stream: Coroutine[Any, Any, None], finished: Callable[[], bool]
) -> None:
    """Runs the push `stream`; on the registry Muelle runs, cuts it off once what the student's
    repositories hold on its disk passes REGISTRY_MAX_SIZE. Before a push only the image's size
    on the engine is known, and what the push uploads can be far more: an image of many empty
    files weighs nothing there, but each file is a tar header in the upload (an attack review
    pushed 13.8 MiB from an image of 1.9 MiB, against a quota of 8). Once `finished()` (the
    engine's push is over, its tag made, and the answer's end may be on its way), it is not
    cut off: the student would read that a push that worked did not."""
    student = ex.student
    folder = registry_space.own_folder(student.config)
    if folder is None:
        await stream
        return
    limit = student.config.registry_max_size
    pushing = ex.gateway.spawn(stream)
    watching = ex.gateway.spawn(_until_past(folder, student.ns.key, limit))
    try:
        await asyncio.wait({pushing, watching}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # the gateway closing: neither goes on
        for task in (pushing, watching):
            task.cancel()
        await asyncio.wait({pushing, watching})
        raise
    if watching.done() and watching.exception() is not None:
        # Measuring failed, which says nothing of the quota: the push goes on unwatched.
        logger.warning(
            "no se pudo medir lo que ocupa una subida en el registro del curso",
            exc_info=watching.exception(),
        )
        await pushing
        return
    watching.cancel()
    if pushing.done() or finished():
        await pushing
        return
    # Closing the engine's connection (the stream's `finally`) ends the engine's push.
    pushing.cancel()
    await asyncio.wait({pushing})
    _past_quota(ex, limit)


async def _until_past(folder: Path, key: str, limit: int) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            measured = await loop.run_in_executor(
                _MEASURING.get(), registry_space.footprint, folder, key
            )
            if measured > limit:
                return
        except OSError:
            pass  # a folder the registry moved during the walk (an upload that finished)
        await asyncio.sleep(WATCH_EVERY)


def _past_quota(ex: Exchange, limit: int) -> None:
    message = _(
        "La subida se ha cortado: ya no cabía en tu espacio del registro del curso (el máximo es "
        "%(max)s). Lo que llegó a subir se libera en la próxima limpieza del registro, en unos "
        "minutos. Una imagen con muchos ficheros ocupa en el registro más de lo que dice docker "
        "images."
    ) % {"max": quotas.mib(limit)}
    if not ex.responded:
        raise refused(message)
    line = json.dumps({"errorDetail": {"message": message}, "error": message}, ensure_ascii=False)
    ex.writer.write(chunk(line.encode() + b"\n"))
    ex.writer.write(LAST_CHUNK)


async def pull(ex: Exchange, ref: ImageRef) -> None:
    """`docker pull registro.muelle/app:1` (called by handlers_images.create): from the
    student's own namespace only; the image gets the student's name, never the real one."""
    student = ex.student
    await ex.no_body()
    client = RegistryClient(student.config)
    if not client.configured:
        raise refused(_("Este Muelle no tiene registro del curso."))
    if ref.digest:
        raise bad_request(_("Descarga una etiqueta, no un digest."))
    tag = ref.tag or "latest"
    shown = f"{student.config.registry_name}/{ref.path}:{tag}"
    remote = _remote_repo(student, ref)
    engine_repo = _engine_repo(student, ref)
    tagged = ImageRef(ref.domain, ref.path, tag, "")
    own = student.ns.own_image_ref(tagged)
    async with _lock(student), registry_space.in_use():
        try:
            found = await client.manifest(remote, tag)
        except RegistryDown:
            raise registry_down() from None
        if found is None:
            raise not_found(
                _(
                    "No existe «%(i)s» en el registro del curso (ahí solo están las imágenes que "
                    "tú has subido: docker search %(name)s/)."
                )
                % {"i": shown, "name": student.config.registry_name}
            )
        exists = await student.engine.get_or_none(f"/images/{own}/json") is not None
        places = quotas.image_places(student, 0 if exists else 1)

        async def finish(failed: bool) -> None:
            if not failed:
                repo, _sep, own_tag = own.rpartition(":")
                await student.engine.json(
                    "POST", f"/images/{engine_repo}:{tag}/tag", query={"repo": repo, "tag": own_tag}
                )
            await _untag_remote_names(student, engine_repo, [tag])

        try:
            async with places:
                await _engine_stream(
                    ex,
                    "/images/create",
                    [("fromImage", engine_repo), ("tag", tag)],
                    client.engine_auth(),
                    course_names(student.config, student.ns),
                    finish,
                )
        finally:
            await _untag_remote_names(student, engine_repo, [tag])


def _server_host(address: str) -> str:
    host = address.strip().partition("://")[2] or address.strip()
    return host.split("/")[0].lower()


async def login(ex: Exchange) -> None:
    """POST /auth: `docker login registro.muelle` succeeds and nothing is stored or checked
    here: the engine always uses Muelle's own credentials, so a student's cannot matter."""
    raw = await ex.body(64 * 1024)
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise bad_request(_("El cuerpo de docker login no es JSON válido.")) from None
    server = _server_host(str((data or {}).get("serveraddress") or ""))
    name = ex.student.config.registry_name
    if server != name:
        raise refused(
            _(
                "En Muelle solo hay un registro, el del curso: %(name)s. Entra con "
                "«docker login %(name)s» (o no entres: no hace falta)."
            )
            % {"name": name}
        )
    await ex.reply_json(200, {"Status": "Login Succeeded", "IdentityToken": ""})


async def search(ex: Exchange) -> None:
    """GET /images/search: `docker search registro.muelle/[texto]` lists what the student
    pushed (their own namespace in the registry's catalog, nothing else)."""
    await ex.no_body()
    student = ex.student
    name = student.config.registry_name
    term = (ex.q("term") or "").strip()
    if term != name and not term.startswith(name + "/"):
        raise refused(
            _(
                "docker search solo busca en el registro del curso, entre tus imágenes: "
                "docker search %(name)s/"
            )
            % {"name": name}
        )
    text = term[len(name) + 1 :]
    client = RegistryClient(student.config)
    try:
        async with registry_space.in_use():
            repositories = await client.repositories(student.ns.key)
            results = await _search_results(client, repositories, text, name)
    except RegistryDown:
        raise registry_down() from None
    limit = int(ex.q("limit") or 25) if (ex.q("limit") or "25").isdigit() else 25
    await ex.reply_json(200, results[: max(limit, 1)])


async def _search_results(
    client: RegistryClient, repositories: list[str], text: str, name: str
) -> list[dict[str, Any]]:
    results = []
    for repository in sorted(repositories):
        path = repository.partition("/")[2]
        if text not in path:
            continue
        tags = sorted(await client.tags(repository))
        if not tags:
            continue  # every tag deleted: the catalog keeps the empty repository
        results.append(
            {
                "name": f"{name}/{path}",
                "description": _("etiquetas: %(t)s") % {"t": ", ".join(tags)},
                "star_count": 0,
                "is_official": False,
                "is_automated": False,
            }
        )
    return results
