"""Engine-wide endpoints, narrowed to the student: ping, version, info, events, refusals."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from . import object_events
from .errors import GatewayError, refused
from .handlers_containers import event_lines
from .server import SUPPORTED_VERSIONS, Exchange


async def ping(ex: Exchange) -> None:
    await ex.forward(ex.head.method, "/_ping")


async def version(ex: Exchange) -> None:
    def rewrite(info: dict[str, Any]) -> dict[str, Any]:
        info["MinAPIVersion"] = SUPPORTED_VERSIONS[0]
        for component in info.get("Components") or []:
            details = component.get("Details") or {}
            if "MinAPIVersion" in details:
                details["MinAPIVersion"] = SUPPORTED_VERSIONS[0]
        return info

    await ex.forward("GET", "/version", rewrite=rewrite)


async def info(ex: Exchange) -> None:
    student = ex.student

    async def rewrite(info: dict[str, Any]) -> dict[str, Any]:
        containers = await student.containers()
        states = [c.get("State") for c in containers]
        info.update(
            Containers=len(containers),
            ContainersRunning=states.count("running"),
            ContainersPaused=states.count("paused"),
            ContainersStopped=len(containers) - states.count("running") - states.count("paused"),
            # As the engine counts: every image object the student sees, intermediate layers
            # included, i.e. the entries of `docker images -a` (one per image, not per tag).
            Images=len(await student.image_summaries(all_layers=True)),
            ID="",
            Name="muelle",
            DockerRootDir="",
            HttpProxy="",
            HttpsProxy="",
            NoProxy="",
            Labels=[],
        )
        # As an engine outside any Swarm says it: the student's engine is not in one (every
        # Swarm call answers so), and a node's block would show the cluster's id, its CA and
        # managers (found by an attack review).
        info["Swarm"] = {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        }
        return info

    await ex.forward("GET", "/info", rewrite=rewrite)


async def events(ex: Exchange) -> None:
    student = ex.student
    filters = ex.q_filters()
    if "container" in filters:
        filters["container"] = [await student.container_id(v) for v in filters["container"]]
    if "image" in filters:
        images = [await student.image(v) for v in filters["image"]]
        filters["image"] = [i.id for i in images if i] or ["sha256:none"]
    for key in ("volume", "network"):
        if key in filters:
            filters[key] = [student.ns.object_prefix + v for v in filters[key]]
    for key in ("daemon", "node", "service", "secret", "config", "plugin", "scope"):
        filters.pop(key, None)
    times = [(key, ex.q(key) or "") for key in ("since", "until") if ex.q(key)]
    query = [("filters", student.filters(filters)), *times]
    # The student's networks and volumes come from a second stream (object_events: the engine
    # puts no labels on their events), mixed in as they come.
    wanted = object_events.object_filters(filters)
    conn = None
    also = None
    try:
        if wanted is not None:
            conn = await ex.gateway.connect_engine()
            framing = await object_events.open_stream(conn, wanted, times)
            if framing is not None:
                take = ex.gateway.byte_rate.take
                also = object_events.own_batches(conn, framing, student.ns, take)
        await ex.forward(
            "GET", "/events", query=query, mode="stream", lines=event_lines(ex), also=also
        )
    finally:
        if conn is not None:
            conn.close()


async def plugin_not_found(ex: Exchange) -> None:
    # `docker inspect NAME` probes plugins too; a 404 lets it report "no such object".
    raise GatewayError(404, _("No existe el plugin: %(name)s") % {"name": ex.params["name"]})


async def buildkit_session(ex: Exchange) -> None:
    """BuildKit opens a session first and only then sends the build. Refusing the session makes
    the CLI print a bare "unable to upgrade to h2c, received 403"; so an upgrade is accepted
    here and goes nowhere (nothing is forwarded to the engine, no byte is read as a request),
    and the CLI's next call, POST /build?version=2, gets the refusal it prints in full."""
    upgrade = (ex.head.headers.get("upgrade") or "").lower()
    if ex.head.headers.has_token("connection", "upgrade") and upgrade == "h2c":
        await ex.no_body()
        ex.close_after = True
        ex.responded = True
        ex.writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        )
        await ex.writer.drain()
        # Discarded until the CLI hangs up, at the student's byte rate: unpaced, a client that
        # kept sending had the web process read 2.9 GiB/s.
        while data := await ex.reader.read(65536):
            await ex.gateway.byte_rate.take(len(data))
        return
    raise refused(
        _(
            "BuildKit no está disponible en Muelle: sus pasos de construcción no se pueden "
            "limitar aquí. Construye con el constructor clásico: DOCKER_BUILDKIT=0 docker build ..."
        )
    )


async def build_cache_prune(ex: Exchange) -> None:
    """`docker system prune` ends with a build-cache prune. Students cannot use BuildKit (its
    `/session` is refused), so no BuildKit cache is theirs: the true answer is "nothing". The
    classic builder's cache is the student's own images, pruned with `docker image prune`."""
    await ex.no_body()
    await ex.reply_json(200, {"CachesDeleted": [], "SpaceReclaimed": 0})


async def swarm_inactive(ex: Exchange) -> None:
    """The read-only swarm probes clients make (`swarm leave`, `node ls`, the SDK's cleanups)
    get what a node outside a swarm answers: 503, which clients read as "nothing to do"; a 403
    makes cleanup scripts stop half-way. Everything that would change something stays 403."""
    await ex.drain()
    if ex.path.rstrip("/").endswith("/swarm/leave"):
        message = _("Este nodo no forma parte de un swarm (Swarm no está disponible en Muelle).")
    else:
        message = _(
            "Este nodo no es un gestor de swarm (Swarm no está disponible en Muelle: "
            "docker swarm init y docker swarm join se rechazan)."
        )
    raise GatewayError(503, message)


async def denied(ex: Exchange) -> None:
    await ex.drain()
    raise refused(_denied_message(ex.head.method, ex.path))


def _denied_message(method: str, path: str) -> str:
    first = path.strip("/").split("/")[0]
    reasons = {
        "swarm": _("Swarm no está disponible en Muelle."),
        "nodes": _("Swarm no está disponible en Muelle."),
        "services": _("Swarm no está disponible en Muelle."),
        "tasks": _("Swarm no está disponible en Muelle."),
        "secrets": _("Swarm no está disponible en Muelle."),
        "configs": _("Swarm no está disponible en Muelle."),
        "plugins": _("Los plugins de Docker no están disponibles en Muelle."),
        "auth": _("No hay registros de imágenes en Muelle: docker login no hace falta."),
        "distribution": _("No hay registros de imágenes en Muelle."),
        "system": _(
            "docker system df no está disponible en Muelle: usa docker ps -a -s, "
            "docker images y docker volume ls."
        ),
        "grpc": _("BuildKit no está disponible en Muelle."),
    }
    return reasons.get(first) or (
        _("Muelle no permite esta operación de Docker (%(method)s %(path)s).")
        % {"method": method, "path": path}
    )
