"""The preview's common request, served by the server's connection without the ASGI app.

A page of a student's preview (and each of its scripts, styles and images) is a plain request
with the owner's cookie to one of their published ports. A profile put most of its cost under
ASGI in the machinery around the exchange with the container (docs/ports.md, «Dónde se va el
tiempo de la vista», with what this path measured). So the server's HTTP protocol
(tutorial.server) asks `plan()` on each complete request head; for such a request it runs
`serve()` with a `forward.Browser` that writes to its own transport: the same code as the ASGI
path from the cookie check on (sandbox.preview.forward), without the ASGI app, its messages or
its router.

Anything else is not planned and goes through the ASGI app as before: another host, no valid
cookie, the entry paths under /__muelle__/, a port that is not the owner's, websockets and other
upgrades, a request body, `Expect`, HTTP/1.0, a non-idempotent method.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sandbox.ports.table import PortTable

from . import access, addresses, forward

logger = logging.getLogger(__name__)

# Entry, share and frame links (sandbox.preview.proxy): cookies are set there, by the ASGI app.
MUELLE_PATHS = "/__muelle__/"
# Headers that make a request more than a head: a body, an upgrade, an expectation.
_NOT_PLAIN = {b"transfer-encoding", b"upgrade", b"expect"}


@dataclass(frozen=True, slots=True)
class Planned:
    """A request the fast path serves: whose port, through which table, framed by whom."""

    target: addresses.PreviewHost
    table: PortTable
    framer: str | None


def plan(scope: dict[str, Any]) -> Planned | None:
    """The request's preview, when it is the common case; None sends it through ASGI."""
    # The host first: every request of Muelle's own pages comes through here too, and leaves
    # after this one header lookup.
    target = addresses.parse_host(addresses.header(scope, b"host"))
    if target is None or scope["path"].startswith(MUELLE_PATHS):
        return None
    if scope.get("http_version") != "1.1" or scope["method"] not in forward.IDEMPOTENT:
        return None
    for name, value in scope["headers"]:
        if name in _NOT_PLAIN or (name == b"content-length" and value.strip() != b"0"):
            return None
    grant = access.grant_from_cookies(scope, target)
    if grant is None:
        return None
    table = access.table_for(target)
    if table is None:
        return None
    return Planned(target, table, grant.framer)


async def serve(planned: Planned, scope: dict[str, Any], browser: forward.Browser) -> None:
    if logger.isEnabledFor(logging.DEBUG):  # tests tell the two paths apart by this line
        logger.debug("vista directa: %s %s", scope["method"], scope["raw_path"].decode("latin-1"))
    await forward.serve(scope, browser, planned.table, planned.target, planned.framer)
