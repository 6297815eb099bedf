"""Which Docker Engine API endpoints a student may use, and who handles each.

Anything not listed is refused with a Spanish explanation (403). The list follows what the
Docker CLI (20.10 and later, at API 1.41) and docker-compose 1.29 actually call.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import disk_use
from . import handlers_build as build
from . import handlers_containers as containers
from . import handlers_images as images
from . import handlers_objects as objects
from . import handlers_registry as registry
from . import handlers_system as system
from .server import Exchange, Handler

_ID = r"(?P<id>[^/]+)"
_NAME = r"(?P<name>.+)"


def _always(_exchange: Exchange) -> bool:
    return True


def _writes(handler: Handler, when: Callable[[Exchange], bool] = _always) -> Handler:
    """`handler` for a request that writes to the engine's disk: refused first while the
    student is past DOCKER_GATEWAY_MAX_DISK (disk_use.py)."""

    async def guarded(exchange: Exchange) -> None:
        if when(exchange):
            await disk_use.check(exchange.student)
        await handler(exchange)

    return guarded


def _frees(handler: Handler) -> Handler:
    """`handler` for a request that deletes one object: once the engine did, a student past the
    limit is measured again at their next writing request, not RECHECK_AFTER later. Not the
    prunes: they answer 200 whether or not they freed anything, so a loop of them would ask
    the engine for a measure each time for nothing."""

    async def deleting(exchange: Exchange) -> None:
        await handler(exchange)
        if exchange.status is not None and exchange.status < 400:
            disk_use.deleted(exchange.student)

    return deleting


def _starts_again(exchange: Exchange) -> bool:
    return exchange.params.get("action") in ("restart", "unpause")


def _puts(exchange: Exchange) -> bool:
    return exchange.head.method == "PUT"


_TABLE: list[tuple[str, str, Handler]] = [
    ("GET HEAD", r"/_ping", system.ping),
    ("GET", r"/version", system.version),
    ("GET", r"/info", system.info),
    ("GET", r"/events", system.events),
    ("GET", r"/containers/json", containers.list_containers),
    ("POST", r"/containers/create", _writes(containers.create)),
    ("POST", r"/containers/prune", containers.prune),
    ("GET", rf"/containers/{_ID}/json", containers.inspect),
    ("POST", rf"/containers/{_ID}/start", _writes(containers.start)),
    (
        "POST",
        rf"/containers/{_ID}/(?P<action>stop|restart|kill|pause|unpause|wait|resize)",
        _writes(containers.simple_action, _starts_again),
    ),
    ("POST", rf"/containers/{_ID}/rename", containers.rename),
    ("POST", rf"/containers/{_ID}/update", containers.update),
    ("POST", rf"/containers/{_ID}/attach", containers.attach),
    ("GET", rf"/containers/{_ID}/logs", containers.logs),
    ("GET", rf"/containers/{_ID}/stats", containers.stats),
    ("GET", rf"/containers/{_ID}/top", containers.top),
    ("GET", rf"/containers/{_ID}/changes", containers.changes),
    ("GET", rf"/containers/{_ID}/export", containers.export),
    ("GET HEAD PUT", rf"/containers/{_ID}/archive", _writes(containers.archive, _puts)),
    # Not _writes: an exec writes nothing to the engine's disk itself, and what it starts runs
    # in a container that the limit and the brake stop like any other (a refused exec would only
    # keep a student from looking inside).
    ("POST", rf"/containers/{_ID}/exec", containers.exec_create),
    ("DELETE", rf"/containers/{_ID}", _frees(containers.remove)),
    ("POST", rf"/exec/{_ID}/start", containers.exec_start),
    ("POST", rf"/exec/{_ID}/resize", containers.exec_resize),
    ("GET", rf"/exec/{_ID}/json", containers.exec_inspect),
    ("GET", r"/images/json", images.list_images),
    ("POST", r"/images/create", _writes(images.create)),
    ("POST", r"/images/prune", images.prune),
    ("GET", r"/images/get", _writes(images.save)),
    ("POST", r"/build", _writes(build.build)),
    ("POST", r"/build/prune", system.build_cache_prune),
    ("POST", r"/commit", _writes(images.commit)),
    ("GET", rf"/images/{_NAME}/json", images.inspect),
    ("GET", rf"/images/{_NAME}/history", images.history),
    ("GET", rf"/images/{_NAME}/get", _writes(images.save)),
    ("POST", rf"/images/{_NAME}/tag", images.tag),
    ("POST", rf"/images/{_NAME}/push", registry.push),
    ("GET", r"/images/search", registry.search),
    ("POST", r"/auth", registry.login),
    ("DELETE", rf"/images/{_NAME}", _frees(images.remove)),
    ("GET", r"/volumes", objects.list_volumes),
    ("POST", r"/volumes/create", _writes(objects.create_volume_endpoint)),
    ("POST", r"/volumes/prune", objects.prune_volumes),
    ("GET", rf"/volumes/{_NAME}", objects.inspect_volume),
    ("DELETE", rf"/volumes/{_NAME}", _frees(objects.remove_volume)),
    ("GET", r"/networks", objects.list_networks),
    ("POST", r"/networks/create", objects.create_network),
    ("POST", r"/networks/prune", objects.prune_networks),
    ("GET", rf"/networks/{_ID}", objects.inspect_network),
    ("POST", rf"/networks/{_ID}/connect", objects.connect),
    ("POST", rf"/networks/{_ID}/disconnect", objects.disconnect),
    ("DELETE", rf"/networks/{_ID}", objects.remove_network),
    ("GET", rf"/plugins/{_NAME}/json", system.plugin_not_found),
    # Read-only swarm probes answer as a node outside a swarm (503); the rest of swarm is 403.
    (
        "GET",
        r"/(?:swarm|swarm/unlockkey|nodes|services|tasks|secrets|configs)",
        system.swarm_inactive,
    ),
    ("GET", r"/(?:nodes|services|tasks|secrets|configs)/[^/]+", system.swarm_inactive),
    ("GET", r"/(?:services|tasks)/[^/]+/logs", system.swarm_inactive),
    ("POST", r"/swarm/leave", system.swarm_inactive),
    ("POST", r"/session", system.buildkit_session),
]

_ROUTES = [
    (frozenset(methods.split()), re.compile(f"^{pattern}/?$"), handler)
    for methods, pattern, handler in _TABLE
]


def route(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    if "\x00" in path or "/../" in path + "/" or "//" in path:
        return system.denied, {}
    for methods, pattern, handler in _ROUTES:
        if method in methods:
            match = pattern.match(path)
            if match:
                return handler, match.groupdict()
    return system.denied, {}
