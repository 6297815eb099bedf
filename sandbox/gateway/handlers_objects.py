"""Volumes and networks: only the student's own, created with Muelle's labels and limits.

A student's network is always an internal bridge with no IPv4 address on the host side
(`com.docker.network.bridge.inhibit_ipv4`): `--internal` alone still lets containers reach
every service listening on the host through the bridge's gateway address (checked here).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.utils.translation import gettext as _

from . import quotas, schemas
from .errors import not_found, refused
from .names import network_name_error
from .policy import _endpoint, with_alias
from .policy import labels as own_labels
from .rewrite import hide_in, name_matcher
from .server import Exchange
from .volumes import create_volume

NETWORK_OPTIONS = {"com.docker.network.bridge.inhibit_ipv4": "true"}


# --- volumes -------------------------------------------------------------------------------------
async def list_volumes(ex: Exchange) -> None:
    student = ex.student
    filters = ex.q_filters()
    names = filters.pop("name", [])

    def rewrite(answer: dict[str, Any]) -> dict[str, Any]:
        volumes = []
        for volume in answer.get("Volumes") or []:
            if not student.ns.owns_labels(volume.get("Labels")):
                continue
            bare = student.ns.student_object_name(volume.get("Name", ""))
            if names and not any(n in bare for n in names):
                continue
            hide_in(volume, "Labels")
            volumes.append(volume)
        answer["Volumes"] = volumes
        return answer

    await ex.forward(
        "GET", "/volumes", query=[("filters", student.filters(filters))], rewrite=rewrite
    )


def _hide_volume(volume: dict[str, Any]) -> dict[str, Any]:
    hide_in(volume, "Labels")
    return volume


async def create_volume_endpoint(ex: Exchange) -> None:
    student = ex.student
    body = await ex.json_body(schemas.VOLUME_CREATE)
    if body.get("Driver", "local") not in ("", "local"):
        raise refused(_("Solo está disponible el driver de volúmenes «local»."))
    if body.get("DriverOpts"):
        raise refused(
            _(
                "--opt no está permitido en Muelle: con opciones, un volumen local puede montar "
                "carpetas del servidor."
            )
        )
    labels = own_labels(student, body.get("Labels"))
    name = body.get("Name") or secrets.token_hex(32)
    student.ns.object_name(name, "volumen")  # validates
    async with student.lock:
        existing = await student.volume(name)
        if existing is None:
            if await student.engine.get_or_none(f"/volumes/{student.ns.object_prefix}{name}"):
                raise refused(_("El volumen «%(name)s» no está disponible.") % {"name": name})
            await quotas.check_new_volumes(student, 1)
            existing = await create_volume(student, name, labels)
    await ex.reply(201, student.ns.strip_bytes(json.dumps(_hide_volume(existing)).encode()))


async def _own_volume(ex: Exchange) -> str:
    name = ex.params["name"]
    if await ex.student.volume(name) is None:
        raise not_found(_("No existe el volumen: %(name)s") % {"name": name})
    return ex.student.ns.object_prefix + name


async def inspect_volume(ex: Exchange) -> None:
    name = await _own_volume(ex)
    await ex.forward("GET", f"/volumes/{name}", rewrite=_hide_volume)


async def remove_volume(ex: Exchange) -> None:
    await ex.no_body()
    name = await _own_volume(ex)
    await ex.forward(
        "DELETE", f"/volumes/{name}", query=[("force", "1" if ex.q_bool("force") else "0")]
    )


async def prune_volumes(ex: Exchange) -> None:
    await ex.no_body()
    await ex.forward(
        "POST", "/volumes/prune", query=[("filters", ex.student.filters(ex.q_filters()))]
    )


# --- networks ------------------------------------------------------------------------------------
def _hide_network(network: dict[str, Any]) -> dict[str, Any]:
    hide_in(network, "Labels")
    return network


async def list_networks(ex: Exchange) -> None:
    student = ex.student
    filters = ex.q_filters()
    matcher = name_matcher(filters.pop("name", []))

    def rewrite(networks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for network in networks:
            if not student.ns.owns_labels(network.get("Labels")):
                continue
            bare = student.ns.student_object_name(network.get("Name", ""))
            if matcher and not matcher.search(bare):
                continue
            out.append(_hide_network(network))
        return out

    await ex.forward(
        "GET", "/networks", query=[("filters", student.filters(filters))], rewrite=rewrite
    )


async def inspect_network(ex: Exchange) -> None:
    network = await ex.student.network(ex.params["id"])
    query = [("verbose", "false")]
    await ex.forward("GET", f"/networks/{network['Id']}", query=query, rewrite=_hide_network)


async def create_network(ex: Exchange) -> None:
    student = ex.student
    body = await ex.json_body(schemas.NETWORK_CREATE)
    if body.get("Driver", "bridge") not in ("", "bridge"):
        raise refused(_("Solo está disponible el driver de red «bridge»."))
    if body.get("Options"):
        raise refused(_("--opt no está permitido en las redes de Muelle."))
    ipam = body.get("IPAM") or {}
    if (
        not isinstance(ipam, dict)
        or ipam.get("Config")
        or ipam.get("Options")
        or (ipam.get("Driver") not in (None, "", "default"))
    ):
        raise refused(
            _(
                "--subnet, --ip-range, --gateway y --ipam-driver no están disponibles: Muelle "
                "elige "
                "la subred de tus redes."
            )
        )
    if body.get("EnableIPv6"):
        raise refused(_("--ipv6 no está disponible en Muelle."))
    for field in ("Ingress", "ConfigOnly", "ConfigFrom"):
        if body.get(field):
            raise refused(_("Esta opción de red es de Swarm y no está disponible en Muelle."))
    if body.get("Scope") not in (None, "", "local"):
        raise refused(_("Solo hay redes locales en Muelle."))
    error = network_name_error(body.get("Name", ""))
    if error is not None:
        raise error
    name = student.ns.object_prefix + body["Name"]
    out = {
        "Name": name,
        "CheckDuplicate": True,
        "Driver": "bridge",
        "Internal": True,  # never a way out of the engine's host
        "Attachable": bool(body.get("Attachable")),
        "EnableIPv6": False,
        "Options": NETWORK_OPTIONS,
        "Labels": own_labels(student, body.get("Labels")),
    }
    async with student.lock:
        await quotas.check_new_network(student)
        await ex.forward(
            "POST",
            "/networks/create",
            body=json.dumps(out).encode(),
            content_type="application/json",
        )


async def connect(ex: Exchange) -> None:
    student = ex.student
    body = await ex.json_body(schemas.NETWORK_CONNECT)
    network = await student.network(ex.params["id"])
    container = await student.container_id(body.get("Container", ""))
    endpoint = _endpoint(body.get("EndpointConfig") or {})  # checked before changing anything
    info = await student.engine.json("GET", f"/containers/{container}/json")
    name = student.ns.student_object_name(info.get("Name", ""))
    attached = (info.get("NetworkSettings") or {}).get("Networks") or {}
    if "none" in attached:
        # Muelle's default is "none" where Docker's is "bridge"; "none" cannot be combined with
        # another network, so leave it first, as `docker network connect` does on real Docker.
        # (Only while attached: NetworkMode still says "none" after it was left.)
        await student.engine.json(
            "POST", "/networks/none/disconnect", body={"Container": container, "Force": True}
        )
    out: dict[str, Any] = {"Container": container, "EndpointConfig": with_alias(endpoint, name)}
    await ex.forward(
        "POST",
        f"/networks/{network['Id']}/connect",
        body=json.dumps(out).encode(),
        content_type="application/json",
    )


async def disconnect(ex: Exchange) -> None:
    student = ex.student
    body = await ex.json_body(schemas.NETWORK_DISCONNECT)
    network = await student.network(ex.params["id"])
    container = await student.container_id(body.get("Container", ""))
    out = {"Container": container, "Force": bool(body.get("Force"))}
    await ex.forward(
        "POST",
        f"/networks/{network['Id']}/disconnect",
        body=json.dumps(out).encode(),
        content_type="application/json",
    )


async def remove_network(ex: Exchange) -> None:
    await ex.no_body()
    network = await ex.student.network(ex.params["id"])
    await ex.forward("DELETE", f"/networks/{network['Id']}")


async def prune_networks(ex: Exchange) -> None:
    await ex.no_body()
    await ex.forward(
        "POST", "/networks/prune", query=[("filters", ex.student.filters(ex.q_filters()))]
    )
