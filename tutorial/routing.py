"""Websocket routes of every app, gathered in one list for tutorial.asgi."""

from __future__ import annotations

from sandbox.routing import websocket_urlpatterns as sandbox_routes

websocket_urlpatterns = [*sandbox_routes]
