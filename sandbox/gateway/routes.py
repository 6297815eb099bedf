"""Which Docker Engine API endpoints a student may use, and who handles each.

Anything not listed is refused with a Spanish explanation (403). The list follows what the
Docker CLI (20.10 and later, at API 1.41) and docker-compose 1.29 actually call.
"""

from __future__ import annotations

import re

from . import handlers_containers as containers
from . import handlers_system as system
from .server import Handler

_ID = r"(?P<id>[^/]+)"
_NAME = r"(?P<name>.+)"

_TABLE: list[tuple[str, str, Handler]] = [
    ("GET HEAD", r"/_ping", system.ping),
    ("GET", r"/version", system.version),
    ("GET", r"/info", system.info),
    ("GET", r"/events", system.events),
    ("GET", r"/containers/json", containers.list_containers),
    ("POST", r"/containers/create", containers.create),
    ("POST", r"/containers/prune", containers.prune),
    ("GET", rf"/containers/{_ID}/json", containers.inspect),
    ("POST", rf"/containers/{_ID}/start", containers.start),
    ("POST", rf"/containers/{_ID}/(?P<action>stop|restart|kill|pause|unpause|wait|resize)",
     containers.simple_action),
    ("POST", rf"/containers/{_ID}/rename", containers.rename),
    ("POST", rf"/containers/{_ID}/update", containers.update),
    ("POST", rf"/containers/{_ID}/attach", containers.attach),
    ("GET", rf"/containers/{_ID}/logs", containers.logs),
    ("GET", rf"/containers/{_ID}/stats", containers.stats),
    ("GET", rf"/containers/{_ID}/top", containers.top),
    ("GET", rf"/containers/{_ID}/changes", containers.changes),
    ("GET", rf"/containers/{_ID}/export", containers.export),
    ("GET HEAD PUT", rf"/containers/{_ID}/archive", containers.archive),
    ("POST", rf"/containers/{_ID}/exec", containers.exec_create),
    ("DELETE", rf"/containers/{_ID}", containers.remove),
    ("POST", rf"/exec/{_ID}/start", containers.exec_start),
    ("POST", rf"/exec/{_ID}/resize", containers.exec_resize),
    ("GET", rf"/exec/{_ID}/json", containers.exec_inspect),
    ("GET", rf"/plugins/{_NAME}/json", system.plugin_not_found),
    ("POST", r"/session", system.buildkit_session),
]

_ROUTES = [
    (frozenset(methods.split()), re.compile(f"^{pattern}/?$"), handler)
    for methods, pattern, handler in _TABLE
]


def add_routes(table: list[tuple[str, str, Handler]]) -> None:
    """Other handler modules register here (images, build, volumes, networks)."""
    for methods, pattern, handler in table:
        _ROUTES.append((frozenset(methods.split()), re.compile(f"^{pattern}/?$"), handler))


def route(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    if "\x00" in path or "/../" in path + "/" or "//" in path:
        return system.denied, {}
    for methods, pattern, handler in _ROUTES:
        if method in methods:
            match = pattern.match(path)
            if match:
                return handler, match.groupdict()
    return system.denied, {}
