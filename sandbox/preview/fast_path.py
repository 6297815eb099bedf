"""The preview's common request, served by the server's front without uvicorn or the ASGI app.

A page of a student's preview (and each of its scripts, styles and images) is a plain request
with the owner's cookie to one of their published ports. Profiles put most of the preview's own
cost in the machinery around the exchange with the container, not in its checks (docs/ports.md,
«Dónde se va el tiempo de la vista»). So the server's front (tutorial.front_protocol) reads each
request head itself and asks `plan()`; such a request is served by sandbox.preview.quick_exchange
with a browser that writes to the connection: the same code as the ASGI path from the cookie
check on (sandbox.preview.forward), without uvicorn's protocol, the ASGI app, its messages or
its router.

Anything else is not planned and goes to uvicorn and the ASGI app as before: a head the strict
reader doubts (sandbox.preview.request_head), another host, no valid cookie, the entry paths
under /__muelle__/, a port that is not the owner's, websockets and other upgrades, a request
body, `Expect`, a method other than GET and HEAD.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from sandbox.ports.table import PortTable

from . import access, addresses, request_head, tokens

# Entry, share and frame links (sandbox.preview.proxy): cookies are set there, by the ASGI app.
MUELLE_PATHS = "/__muelle__/"


@dataclass(frozen=True, slots=True)
class Planned:
    """A request the fast path serves: the request as ASGI would see it, whose port, through
    which table, framed by whom, and whether the browser keeps the connection."""

    scope: dict[str, Any]
    target: addresses.PreviewHost
    table: PortTable
    framer: str | None
    keep_alive: bool


# Who a (Host, Cookie) pair lets in, as addresses.parse_host and access.grant_from_cookies
# decided it: every request of a page (and each of its scripts and images) carries the same
# two headers, and reading them again was a measurable part of a preview request. The decision
# depends on nothing else but the time, and the grant's expiry is checked on every use. Only
# grants are kept, so no header pair that was refused is ever let in from here.
_granted: dict[tuple[bytes, bytes], tuple[addresses.PreviewHost, tokens.Grant]] = {}
_GRANTED_MAX = 1024  # a class's previews; emptied when full
# Only headers of a browser's size are remembered: a key is at most this big, so the cache is
# at most a few MiB however its keys are chosen (the attack review filled 70 MiB with 16 KiB
# Host headers before these bounds).
_GRANTED_KEY_MAX = 4096


def plan(head: bytes) -> Planned | None:
    """The request's preview, when `head` (up to its blank line) is the common case; None
    sends the connection to uvicorn."""
    request = request_head.parse(head)
    if request is None:
        return None
    host = cookie = None
    cookies = 0
    for name, value in request.headers:
        if name == b"host":
            if host is not None:
                return None
            host = value
        elif name == b"cookie":
            cookie, cookies = value, cookies + 1
    if host is None or cookie is None:
        return None  # no cookie, no preview: the ASGI app's 403 page, or Muelle's own page
    raw_path = request.raw_path
    path = unquote(raw_path.decode("ascii")) if b"%" in raw_path else raw_path.decode("ascii")
    if path.startswith(MUELLE_PATHS):
        return None
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": request.method,
        "path": path,
        "raw_path": raw_path,
        "query_string": request.query_string,
        "headers": request.headers,
    }
    key = (host, cookie)
    cacheable = cookies == 1 and len(host) + len(cookie) <= _GRANTED_KEY_MAX
    known = _granted.get(key) if cacheable else None
    if known is None or known[1].expires <= time.time():
        known = _decide(host, scope)
        if known is None:
            return None
        if cacheable:
            if len(_granted) >= _GRANTED_MAX:
                _granted.clear()
            _granted[key] = known
    target, grant = known
    table = access.table_for(target)
    if table is None:
        return None
    return Planned(scope, target, table, grant.framer, request.keep_alive)


def _decide(
    host: bytes, scope: dict[str, Any]
) -> tuple[addresses.PreviewHost, tokens.Grant] | None:
    target = addresses.parse_host(host.decode("latin-1"))
    if target is None:
        return None
    grant = access.grant_from_cookies(scope, target)
    return None if grant is None else (target, grant)
