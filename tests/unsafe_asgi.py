"""An ASGI application whose websocket routes lack origin validation (for the checks' tests)."""

from __future__ import annotations

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

application = ProtocolTypeRouter({"http": get_asgi_application(), "websocket": URLRouter([])})
