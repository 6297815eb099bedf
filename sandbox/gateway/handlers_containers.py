"""Container endpoints: create (through policy.py), list, inspect, lifecycle, streams, exec."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from django.utils.translation import gettext as _

from sandbox.ports import bindings as port_bindings
from sandbox.ports import students as port_tables
from sandbox.ports.table import PortConflict

from . import copy_archive, policy, project, schemas, top_options
from .errors import GatewayError, bad_request
from .registry_client import course_names
from .rewrite import hide_in, name_matcher, strip_event_line
from .server import Exchange

_SIGNAL = re.compile(r"^[A-Z0-9+]{1,16}$", re.IGNORECASE)


def _pick(ex: Exchange, *names: str) -> list[tuple[str, str]]:
    """Only the query parameters the gateway knows for this endpoint, first value of each."""
    out = []
    for name in names:
        value = ex.q(name)
        if value is not None:
            out.append((name, value))
    return out


async def create(ex: Exchange) -> None:
    body = await ex.json_body(schemas.CONTAINER_CREATE)
    query = []
    name = ex.q("name")
    async with ex.student.lock:
        try:
            if name:
                query.append(("name", ex.student.ns.object_name(name, "container")))
            out = await policy.container_create(
                ex.student,
                body,
                (name or "").removeprefix("/") or None,
                # The folder this socket serves names its sandbox's project volume.
                project_folder=ex.gateway.socket_path.parent.name,
            )
        except GatewayError as exc:
            # A 404 here would make the CLI try to pull; only a missing image may say 404.
            if exc.status == 404 and not isinstance(exc, policy.ImageNotFound):
                raise GatewayError(400, exc.message) from None
            raise
        if ex.q("platform"):
            query.append(("platform", ex.q("platform") or ""))

        def remember(answer: Any) -> Any:
            if isinstance(answer, dict) and answer.get("Id"):
                ex.student.remember_container(answer["Id"])
            return answer

        await ex.forward(
            "POST",
            "/containers/create",
            query=query,
            body=json.dumps(out).encode(),
            content_type="application/json",
            rewrite=remember,
        )


async def _list_query(ex: Exchange) -> tuple[list[tuple[str, str]], Any] | None:
    student = ex.student
    filters = ex.q_filters()
    matcher = name_matcher(filters.pop("name", []))
    for key in ("before", "since"):
        if key in filters:
            filters[key] = [await student.container_id(v) for v in filters[key]]
    if "ancestor" in filters:
        resolved = [await student.image(v) for v in filters["ancestor"]]
        if any(r is None for r in resolved):
            return None
        filters["ancestor"] = [r.id for r in resolved if r]
    if "network" in filters:
        try:
            filters["network"] = [(await student.network(v))["Id"] for v in filters["network"]]
        except GatewayError:
            return None
    if "volume" in filters:
        filters["volume"] = [student.ns.object_prefix + v for v in filters["volume"]]
    query = [("all", "1" if ex.q_bool("all") else "0"), ("filters", student.filters(filters))]
    if ex.q_bool("size"):
        query.append(("size", "1"))
    if ex.q("limit") and matcher is None:
        query.append(("limit", ex.q("limit") or ""))
    return query, matcher


async def list_containers(ex: Exchange) -> None:
    prepared = await _list_query(ex)
    if prepared is None:
        await ex.reply_json(200, [])
        return
    query, matcher = prepared
    ns = ex.student.ns

    def rewrite(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for item in items:
            if not ns.owns_labels(item.get("Labels")):
                continue
            names = [ns.student_object_name(n) for n in item.get("Names") or []]
            if matcher and not any(matcher.search(n) or matcher.search("/" + n) for n in names):
                continue
            _show_ports_in_list(ex, item)
            project.show_as_binds(item)
            hide_in(item, "Labels")
            out.append(item)
        return out

    await ex.forward("GET", "/containers/json", query=query, rewrite=rewrite)


def _show_ports_in_list(ex: Exchange, item: dict[str, Any]) -> None:
    """`docker ps` shows published ports the way the engine would have (sandbox/ports)."""
    table = port_tables.table_of(ex.student.owner)
    published = table.published(item.get("Id", "")) if table else []
    if not published:
        return
    exposed = [
        (int(p["PrivatePort"]), str(p.get("Type") or "tcp"))
        for p in item.get("Ports") or []
        if isinstance(p, dict) and p.get("PrivatePort")
    ]
    item["Ports"] = port_bindings.ps_ports(sorted(set(exposed)), published)


def _hide_container(ex: Exchange) -> Any:
    def rewrite(info: dict[str, Any]) -> dict[str, Any]:
        config = info.get("Config") or {}
        request = port_bindings.Request.from_labels(config.get("Labels"))
        host = info.get("HostConfig")
        if isinstance(host, dict) and not request.empty:
            # As the student wrote them: the engine itself never saw them.
            host["PortBindings"] = request.port_bindings or None
            host["PublishAllPorts"] = request.publish_all
        table = port_tables.table_of(ex.student.owner)
        published = table.published(info.get("Id", "")) if table else []
        settings_ = info.get("NetworkSettings")
        if isinstance(settings_, dict) and published:
            settings_["Ports"] = port_bindings.network_settings_ports(
                port_bindings.exposed_ports(config), published
            )
        project.show_as_binds(info)
        hide_in(info, "Config", "Labels")
        return info

    return rewrite


async def inspect(ex: Exchange) -> None:
    cid = await ex.student.container_id(ex.params["id"])
    await ex.forward(
        "GET", f"/containers/{cid}/json", query=_pick(ex, "size"), rewrite=_hide_container(ex)
    )


async def start(ex: Exchange) -> None:
    await ex.no_body()
    cid = await ex.student.container_id(ex.params["id"])
    table = port_tables.table_of(ex.student.owner)
    if table is None:
        await ex.forward("POST", f"/containers/{cid}/start", query=_pick(ex, "detachKeys"))
        return
    # Host ports are chosen (or found taken) before the engine starts it, as the engine does;
    # and they are carried before the answer, so the next command can already use them.
    try:
        await table.plan(cid)
    except PortConflict as exc:
        raise GatewayError(500, exc.message) from None
    response = await ex.student.engine.request(
        "POST", f"/containers/{cid}/start", query=_pick(ex, "detachKeys")
    )
    if response.status < 300:
        await table.activate(cid)
    else:
        table.planned.pop(cid, None)
    content_type = response.headers.get("content-type") if response.body else None
    await ex.reply(response.status, ex.student.ns.strip_bytes(response.body), content_type)


async def simple_action(ex: Exchange) -> None:
    """stop, restart, kill, pause, unpause, wait, resize: no body, a few checked parameters."""
    await ex.no_body()
    action = ex.params["action"]
    cid = await ex.student.container_id(ex.params["id"])
    allowed = {
        "stop": ("t",),
        "restart": ("t",),
        "kill": ("signal",),
        "pause": (),
        "unpause": (),
        "wait": ("condition",),
        "resize": ("h", "w"),
    }[action]
    query = _pick(ex, *allowed)
    for key, value in query:
        if key == "signal" and not _SIGNAL.match(value):
            raise bad_request(_("Señal no válida: «%(s)s».") % {"s": value})
        if key in ("t", "h", "w") and not value.lstrip("-").isdigit():
            raise bad_request(_("Parámetro «%(k)s» no válido.") % {"k": key})
    # The engine answers /wait's headers at once and the body when the container stops; the
    # CLI only starts the container once it has those headers, so /wait is relayed as a stream.
    await ex.forward(
        "POST",
        f"/containers/{cid}/{action}",
        query=query,
        mode="stream" if action == "wait" else "buffer",
    )


async def rename(ex: Exchange) -> None:
    await ex.no_body()
    cid = await ex.student.container_id(ex.params["id"])
    name = ex.student.ns.object_name(ex.q("name") or "", "container")
    await ex.forward("POST", f"/containers/{cid}/rename", query=[("name", name)])


async def update(ex: Exchange) -> None:
    body = await ex.json_body(schemas.CONTAINER_UPDATE)
    cid = await ex.student.container_id(ex.params["id"])
    async with ex.student.lock:
        out = await policy.container_update(ex.student, cid, body)
        await ex.forward(
            "POST",
            f"/containers/{cid}/update",
            body=json.dumps(out).encode(),
            content_type="application/json",
        )


async def remove(ex: Exchange) -> None:
    await ex.no_body()
    cid = await ex.student.container_id(ex.params["id"])
    if ex.q_bool("link"):
        raise bad_request(_("docker rm --link no está disponible en Muelle."))
    # Anonymous volumes always go with their container: nothing is left unlabelled behind.
    query = [("v", "1"), ("force", "1" if ex.q_bool("force") else "0")]
    await ex.forward("DELETE", f"/containers/{cid}", query=query)


# An anonymous volume's name: the engine's 64 hex digits (a student's own volumes carry their
# prefix, project volumes theirs).
_ANONYMOUS_VOLUME = re.compile(r"[0-9a-f]{64}\Z")


async def prune(ex: Exchange) -> None:
    await ex.no_body()
    filters = ex.q_filters()
    # The engine's prune keeps the pruned containers' anonymous volumes (image VOLUMEs, `-v
    # /path`), which `docker rm` here never does (v=1): unlabelled, they would be left outside
    # every quota (disk_use.py) and every clean-up. Those of the containers the prune took go
    # after it (listed before and after: one that stopped meanwhile is taken too); one still
    # used by another container is refused by the engine and stays with it.
    before = await ex.student.containers()
    await ex.forward("POST", "/containers/prune", query=[("filters", ex.student.filters(filters))])
    left = {container["Id"] for container in await ex.student.containers()}
    anonymous = {
        mount["Name"]
        for container in before
        if container["Id"] not in left
        for mount in container.get("Mounts") or []
        if mount.get("Type") == "volume" and _ANONYMOUS_VOLUME.match(mount.get("Name") or "")
    }
    for name in sorted(anonymous):
        await ex.student.engine.request("DELETE", f"/volumes/{name}")


async def attach(ex: Exchange) -> None:
    await ex.no_body()
    cid = await ex.student.container_id(ex.params["id"])
    query = _pick(ex, "detachKeys", "logs", "stream", "stdin", "stdout", "stderr")
    await ex.forward("POST", f"/containers/{cid}/attach", query=query, mode="hijack")


async def logs(ex: Exchange) -> None:
    cid = await ex.student.container_id(ex.params["id"])
    query = _pick(ex, "follow", "stdout", "stderr", "since", "until", "timestamps", "tail")
    await ex.forward("GET", f"/containers/{cid}/logs", query=query, mode="stream")


async def stats(ex: Exchange) -> None:
    cid = await ex.student.container_id(ex.params["id"])
    ns = ex.student.ns
    await ex.forward(
        "GET",
        f"/containers/{cid}/stats",
        query=_pick(ex, "stream", "one-shot"),
        mode="stream",
        lines=lambda line: ns.strip_bytes(line),
    )


async def top(ex: Exchange) -> None:
    cid = await ex.student.container_id(ex.params["id"])
    # Checked word by word (top_options.py): the engine runs the host's ps with them.
    ps_args = top_options.checked(ex.q("ps_args") or "")
    await ex.forward(
        "GET", f"/containers/{cid}/top", query=[("ps_args", ps_args)] if ps_args else None
    )


async def changes(ex: Exchange) -> None:
    cid = await ex.student.container_id(ex.params["id"])
    await ex.forward("GET", f"/containers/{cid}/changes")


async def export(ex: Exchange) -> None:
    cid = await ex.student.container_id(ex.params["id"])
    await ex.forward("GET", f"/containers/{cid}/export", mode="stream")


async def archive(ex: Exchange) -> None:
    """docker cp, both ways; HEAD is the stat the CLI asks first."""
    cid = await ex.student.container_id(ex.params["id"])
    method = ex.head.method
    if method == "PUT":
        query = _pick(ex, "path", "noOverwriteDirNonDir", "copyUIDGID")
        # The engine unpacks the archive as root into the container's files (and mounted
        # volumes): it gets the gateway's own, checked copy (copy_archive.py), never the
        # student's bytes.
        data = await ex.body(limit=copy_archive.MAX_COPY_ARCHIVE)
        checked, members = await asyncio.to_thread(copy_archive.canonical, data)
        await copy_archive.charge_members(ex.gateway.byte_rate, members)
        await ex.forward(
            "PUT",
            f"/containers/{cid}/archive",
            query=query,
            body=checked,
            content_type="application/x-tar",
        )
        return
    await ex.no_body()
    await ex.forward(
        method,
        f"/containers/{cid}/archive",
        query=_pick(ex, "path"),
        mode="stream" if method == "GET" else "buffer",
    )


async def exec_create(ex: Exchange) -> None:
    body = policy.exec_create(await ex.json_body(schemas.EXEC_CREATE))
    cid = await ex.student.container_id(ex.params["id"])

    def remember(answer: Any) -> Any:
        if isinstance(answer, dict) and answer.get("Id"):
            ex.student.remember_exec(answer["Id"], cid)
        return answer

    await ex.forward(
        "POST",
        f"/containers/{cid}/exec",
        body=json.dumps(body).encode(),
        content_type="application/json",
        rewrite=remember,
    )


async def exec_start(ex: Exchange) -> None:
    body = await ex.json_body(schemas.EXEC_START)
    exec_id = ex.params["id"]
    await ex.student.exec_container(exec_id)
    await ex.forward(
        "POST",
        f"/exec/{exec_id}/start",
        body=json.dumps(body).encode(),
        content_type="application/json",
        mode="buffer" if body.get("Detach") else "hijack",
    )


async def exec_resize(ex: Exchange) -> None:
    await ex.no_body()
    exec_id = ex.params["id"]
    await ex.student.exec_container(exec_id)
    await ex.forward("POST", f"/exec/{exec_id}/resize", query=_pick(ex, "h", "w"))


async def exec_inspect(ex: Exchange) -> None:
    exec_id = ex.params["id"]
    await ex.student.exec_container(exec_id)
    await ex.forward("GET", f"/exec/{exec_id}/json")


def event_lines(ex: Exchange):  # noqa: ANN201
    # course_names also strips the prefixes, and hides the course registry's real address that
    # image events of a push or pull carry (docs/registry.md).
    rewrite = course_names(ex.student.config, ex.student.ns)
    return lambda line: rewrite(strip_event_line(line))
