"""A scripted websocket client against the real server, as the attacker's was."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from harness.live_server import LiveServer


def strict_json(text: str) -> Any:
    """json.loads refusing NaN/Infinity, which are not JSON (a browser's JSON.parse throws)."""

    def refuse(name: str) -> Any:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


async def open_socket(
    server: LiveServer,
    cookie: str,
    terminal_id: str,
    *,
    headers: dict[str, str] | None = None,
    origin: str | None = None,
    host: str = "127.0.0.1",
) -> ClientConnection:
    return await connect(
        f"ws://{host}:{server.port}/ws/terminal/?t={terminal_id}",
        origin=origin or server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie, **(headers or {})},
        open_timeout=60,
        max_size=2**20,
    )


async def until_event(ws: ClientConnection, kind: str, timeout: float = 60) -> dict[str, Any]:
    while True:
        frame = await asyncio.wait_for(ws.recv(), timeout)
        if isinstance(frame, str) and (event := strict_json(frame))["type"] == kind:
            return event


async def until_closed(ws: ClientConnection, timeout: float = 60) -> list[dict[str, Any]]:
    """Every JSON event up to the server's close (ws.close_code then holds its code)."""
    events = []
    try:
        while True:
            frame = await asyncio.wait_for(ws.recv(), timeout)
            if isinstance(frame, str):
                events.append(strict_json(frame))
    except ConnectionClosed:
        return events
