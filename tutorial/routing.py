"""Websocket routes of every app, gathered in one list for tutorial.asgi."""

from __future__ import annotations

from typing import Any

from django.urls import re_path

from sandbox.routing import websocket_urlpatterns as sandbox_routes


async def no_such_socket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A websocket to a path no app serves: refused at the handshake (HTTP 403). Without it,
    Channels' router raised, and each such handshake was a 500 with a 30-line traceback in the
    log, at no cost to whoever sent it (an attack review)."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": 1008})


# Channels' router takes any ASGI app; django-stubs types re_path for Django views only.
websocket_urlpatterns = [*sandbox_routes, re_path(r"", no_such_socket)]  # type: ignore[arg-type]
