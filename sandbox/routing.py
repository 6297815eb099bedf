"""Websocket routes of the sandbox app (gathered by tutorial.routing)."""

from __future__ import annotations

from django.urls import path

from sandbox.consumers import TerminalConsumer

websocket_urlpatterns = [
    path("ws/terminal/", TerminalConsumer.as_asgi()),
]
