"""ASGI entry point: HTTP through Django, websockets through Channels, and the server's start and
stop (ASGI lifespan) for the sandboxes' background work and their removal."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from typing import Any

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorial.settings")
# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from exercises import housekeeping  # noqa: E402
from lessons import warm_up  # noqa: E402
from sandbox import engine, shutdown  # noqa: E402
from sandbox.preview import addresses as preview_addresses  # noqa: E402
from sandbox.preview import proxy as preview_proxy  # noqa: E402
from tutorial.body_limits import BodyLimitMiddleware  # noqa: E402
from tutorial.client_address import resolve  # noqa: E402
from tutorial.http_handler import HttpHandler  # noqa: E402
from tutorial.origin import SameOriginValidator  # noqa: E402
from tutorial.routing import websocket_urlpatterns  # noqa: E402

logger = logging.getLogger(__name__)


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Start-up: the sandbox reaper and the warm-pool filler begin on the server's event loop,
    so the pool is full before the first student arrives, and the lesson pages are warmed up
    in a thread (lessons.warm_up). Shutdown (after uvicorn has closed
    every connection): every sandbox this process holds is removed, and waited for, before the
    process exits."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                # An empty context: nothing of this start-up's leaks into the long-lived tasks.
                contextvars.Context().run(engine.ensure_background_tasks)
            except Exception as exc:
                logger.exception("sandbox background tasks did not start")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            # Expired sessions and unreachable anonymous progress, every hour.
            cleaning = asyncio.get_running_loop().create_task(housekeeping.periodic())
            if settings.LESSON_PAGE_WARM_UP:
                # The first class after a start must not pay the process's one-time costs; a
                # warm-up that cannot even start only leaves the first pages slower.
                try:
                    warm_up.start()
                except RuntimeError:
                    logger.warning("lesson pages not warmed up", exc_info=True)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            cleaning.cancel()
            try:
                await shutdown.release_everything()
            except Exception as exc:
                logger.exception("sandboxes not removed at shutdown")
                await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


class EdgeRouter(ProtocolTypeRouter):
    """The client's address is settled before anything else (a trusted proxy's header, or the
    socket's peer: tutorial.client_address): the per-address limits, the Origin check's scheme
    and Django's REMOTE_ADDR all read it. HTTP bodies are capped and timed before Django reads
    them (tutorial.body_limits); websockets must come from their own page's origin, scheme and
    port included (tutorial.origin)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] in ("http", "websocket"):
            scope = resolve(scope)
            # A student's published port, on its own origin: never Django's or Channels' pages.
            if preview_addresses.is_preview_scope(scope):
                return await preview_proxy.app(scope, receive, send)
        return await super().__call__(scope, receive, send)


application = EdgeRouter(
    {
        # Sync views (every page) cross into a thread once per request (tutorial.http_handler).
        "http": BodyLimitMiddleware(HttpHandler(async_views=django_asgi_app)),
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        "lifespan": lifespan,
    }
)
