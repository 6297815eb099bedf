"""`docker events` for a student's networks and volumes, which the engine's label filter misses.

The gateway asks the engine for a student's events with their labels as a filter: that keeps
every other student's events out on the engine's side. But the engine puts no labels on network
and volume events (only `name` and `type`, or the volume's `driver`), so a student's own
`network create` or `volume rm` never showed. These come from a second stream of the engine's
network and volume events, with the student's own filters and no label, of which only the
events of objects named with the student's prefix are kept. Every other student's are dropped
here, before anything is written: the test in tests/gateway/test_isolation_between_students.py
watches both students at once.

The engine matches filters the same way for both streams (keys AND, values OR): a `container`,
`image` or `label` filter matches no network or volume event, and a `type` filter without
network or volume excludes them, so then there is no second stream at all.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .names import Namespace
from .upstream import API, EngineConnection
from .wire import (
    Framing,
    LineBatch,
    ProtocolError,
    encode_request_head,
    iter_body,
    line_batches,
    read_response_head,
    response_framing,
)

OBJECT_TYPES = ("network", "volume")
# Filters no network or volume event can pass (the engine matches them on containers, images
# and labels only).
_EXCLUDING = ("container", "image", "label")


def object_filters(filters: dict[str, list[str]]) -> dict[str, list[str]] | None:
    """The second stream's filters from the student's (already narrowed: prefixed network and
    volume names, no daemon or scope keys); None when no network or volume event could pass."""
    if any(filters.get(key) for key in _EXCLUDING):
        return None
    wanted = filters.get("type")
    types = [t for t in OBJECT_TYPES if not wanted or t in wanted]
    if not types:
        return None
    return {**{k: v for k, v in filters.items() if k not in _EXCLUDING}, "type": types}


def owned(ns: Namespace, line: bytes) -> bool:
    """A network or volume event of one of the student's objects; anything else is not."""
    try:
        event = json.loads(line)
    except ValueError:
        return False
    if not isinstance(event, dict):
        return False
    actor = event.get("Actor")
    if not isinstance(actor, dict):
        return False
    attributes = actor.get("Attributes")
    if event.get("Type") == "network" and isinstance(attributes, dict):
        name: Any = attributes.get("name")
    elif event.get("Type") == "volume":
        name = actor.get("ID")
    else:
        return False
    return isinstance(name, str) and ns.owns_object_name(name)


async def open_stream(
    conn: EngineConnection, filters: dict[str, list[str]], query: list[tuple[str, str]]
) -> Framing | None:
    """Asks the engine for its network and volume events on `conn`: the answer's framing, or
    None if it refused or broke (the student's own stream still goes on, and says why if the
    engine refuses it too)."""
    request = [("filters", json.dumps(filters)), *query]
    headers = [("Connection", "close"), ("Content-Length", "0")]
    try:
        conn.writer.write(encode_request_head("GET", API + "/events", request, headers))
        await conn.writer.drain()
        head = await read_response_head(conn.reader)
    except (ProtocolError, ConnectionError):
        return None
    return response_framing("GET", head) if head.status == 200 else None


async def own_batches(
    conn: EngineConnection,
    framing: Framing,
    ns: Namespace,
    take: Callable[[int], Awaitable[None]],
) -> AsyncIterator[LineBatch]:
    """The student's own lines of an opened stream, each batch charged to `take` (their byte
    rate) for what is kept; a line longer than the engine ever writes is dropped."""
    pieces = iter_body(conn.reader, framing)
    async for batch in line_batches(pieces):
        kept = [line for line in batch.lines if owned(ns, line)]
        if kept:
            await take(sum(len(line) + 1 for line in kept))
            yield LineBatch(kept)
