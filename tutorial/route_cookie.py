"""The cookie that keeps a student on one web process behind the proxy (Django middleware).

Only the web process that shows a student's terminal holds their published ports, so the proxy
(deploy/proxy/muelle.conf.template) must send the student's pages, terminal websocket and
previews to that one process, and it can only hash what each request carries. Preview hosts
(`<port>-<public id>.vista.<domain>`) carry the student's public id in their name and never
Muelle's cookies; so Muelle's origin carries the same public id in this cookie, and the proxy
hashes that one value on both origins.

The value is the public id (sandbox.ports.students.public_id) of the owner the terminal and the
ports use (sandbox.terminals.owner_key of the session key): of the session the browser holds
once this response arrives, so a session made or cycled by this very response (a login, the
terminal's start) already moves the cookie, and the terminal's websocket that follows carries
it. It is set when missing or stale and removed when the browser holds no session; it is read
from cookies alone (no session load, no database).

Placed outermost of the session middlewares (before tutorial.session_rate's, which may take a
new session back), so it sees their final cookies. It never touches a body (the lesson-page
cache joins HTML; this only adds a header), and never sets a cookie on a response a shared
cache may keep for others (`Cache-Control: public`, as lesson images have): the student's next
page sets it instead. Whitenoise answers static files before it. HttpOnly and host-only (no
Domain): preview hosts never receive it, and it is not set on them either. Over TLS its name
carries the __Host- prefix (settings.ROUTE_COOKIE_NAME), so no other host can set one in its place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers
from django.utils.decorators import sync_and_async_middleware

from sandbox.ports.students import public_id
from sandbox.preview.addresses import is_preview_host
from sandbox.terminals import owner_key


def route_of_session(session_key: str) -> str:
    """The route a browser with this session key carries: the public id in its preview hosts."""
    return public_id(owner_key(session_key))


def _session_after(request: HttpRequest, response: HttpResponseBase) -> str | None:
    """The session key the browser holds once it has this response."""
    sent = response.cookies.get(settings.SESSION_COOKIE_NAME)
    if sent is not None:
        return sent.value or None  # an empty value deletes the cookie
    return request.COOKIES.get(settings.SESSION_COOKIE_NAME) or None


def _shared_caches_may_keep(response: HttpResponseBase) -> bool:
    directives = {
        part.split("=", 1)[0].strip().lower()
        for part in (response.get("Cache-Control") or "").split(",")
    }
    if directives & {"private", "no-store"}:
        return False
    return bool(directives & {"public", "s-maxage", "max-age"})


def _with_route(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    if is_preview_host(request.META.get("HTTP_HOST")) or _shared_caches_may_keep(response):
        return response
    session_key = _session_after(request, response)
    wanted = route_of_session(session_key) if session_key else None
    held = request.COOKIES.get(settings.ROUTE_COOKIE_NAME)
    if wanted is not None and held != wanted:
        # As long as the session cookie lasts; a browser that lost it gets it again.
        lasting = not settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
        response.set_cookie(
            settings.ROUTE_COOKIE_NAME,
            wanted,
            max_age=settings.SESSION_COOKIE_AGE if lasting else None,
            path="/",
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    elif wanted is None and held is not None:
        response.delete_cookie(settings.ROUTE_COOKIE_NAME, path="/", samesite="Lax")
    else:
        return response
    # As Django's session and CSRF middlewares do when they set a cookie.
    patch_vary_headers(response, ("Cookie",))
    return response


@sync_and_async_middleware
def route_cookie_middleware(get_response: Callable[[HttpRequest], Any]) -> Any:
    # Both chains (tutorial.http_handler): cookies only, nothing that blocks the event loop.
    if iscoroutinefunction(get_response):
        async_get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = get_response

        async def middleware_async(request: HttpRequest) -> HttpResponseBase:
            return _with_route(request, await async_get_response(request))

        return middleware_async

    def middleware(request: HttpRequest) -> HttpResponseBase:
        return _with_route(request, get_response(request))

    return middleware
