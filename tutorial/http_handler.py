"""Django's HTTP side for the ASGI server: a request for a sync view crosses into a thread once.

Django's ASGIHandler runs the middleware chain in async mode. Django's own middleware (security,
sessions, locale, common, CSRF, auth, messages, clickjacking) are MiddlewareMixin classes, whose
async mode runs each process_request / process_response in a thread (sync_to_async) and comes
back to the event loop; whitenoise's middleware is sync only, so the chain below it is adapted
back (async_to_sync); a sync view crosses once more. A lesson page made about 40 such crossings,
each a few event-loop turns and lock handoffs: profiled, they were most of what a page cost
beyond a static file (docs/lessons.md#rendimiento-de-las-páginas).

So a request for a sync view (every page, the exercise checks, the 404 page, static files) goes
through the same MIDDLEWARE loaded in sync mode, run whole in the request's thread, as under
WSGI: one crossing (a sync view that awaits the sandbox, as the check does, crosses back to the
event loop for that part only). A request for an async view (the workspace's file operations)
keeps Django's async chain: it holds no thread while it waits, and a client that goes away still
cancels it. Both chains are loaded at start-up (about 0.1 s more:
whitenoise scans the static files once per chain).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponseBase
from django.urls import get_resolver

# Paths whose view kind is remembered: a static file's path matches no URL, and finding that out
# (Resolver404) cost a tenth of serving the file.
REMEMBERED_PATHS = 4096


class SyncChainHandler(ASGIHandler):
    """Django's ASGI handler (body reading, signals, disconnects, streaming) with the middleware
    chain in sync mode, entered from the event loop once per request."""

    def __init__(self) -> None:
        # BaseHandler's, not ASGIHandler's: that one loads the chain in async mode.
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # Thread-sensitive: the request's own thread (ASGIHandler opens a ThreadSensitiveContext
        # per request), where the request_started / request_finished handlers also run, so the
        # database connection the view opens is the one they close.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def is_async_view(scope: dict[str, Any]) -> bool:
    """Whether the URL resolves to an async view (the handler resolves it again, as always)."""
    path: str = scope["path"]
    root = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root) :]
    return _resolves_to_async_view(path)


@lru_cache(maxsize=REMEMBERED_PATHS)
def _resolves_to_async_view(path_info: str) -> bool:
    try:
        match = get_resolver().resolve(path_info)
    except Exception:  # no match (Resolver404) or anything odd: the sync chain says what
        return False
    return iscoroutinefunction(match.func)


def _on_setting_changed(setting: str, **_: object) -> None:
    if setting == "ROOT_URLCONF":  # tests swap URL confs
        _resolves_to_async_view.cache_clear()


setting_changed.connect(_on_setting_changed, dispatch_uid="tutorial.http_handler")


class HttpHandler:
    """The ASGI app for Django's HTTP requests: async views through `async_views` (Django's own
    ASGIHandler), everything else through a SyncChainHandler."""

    def __init__(self, async_views: ASGIHandler) -> None:
        self.async_views = async_views
        self.sync_views = SyncChainHandler()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        handler = self.async_views if is_async_view(scope) else self.sync_views
        await handler(scope, receive, send)
