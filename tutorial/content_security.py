"""A Content-Security-Policy on Muelle's own pages (Django middleware).

Muelle's pages show what students and their containers produce (published ports, what a check
found, file names). The templates escape all of it; the policy is the second wall should an
escape ever slip, on the origin that drives the student's terminal: scripts only from Muelle's
own files and the editor's import map (allowed by its hash: it is the one inline script), no
inline event handler, no plugin, no <base>, forms posted only to Muelle, websockets and fetches
only to Muelle ('self' covers ws: and wss: in CSP 3), frames only of Muelle and of the preview
origin (sandbox/preview), and framing by others as X-Frame-Options says (DENY, or SAMEORIGIN on
the Vista frame's link). Styles may be inline: xterm.js and CodeMirror write their own <style>
elements. Images may come from any https address: the lesson sanitizer lets an instructor show
a picture from another site.

HTML responses only, and never over a policy the view set itself (lesson assets have a stricter
one), nor on Django's debug pages (DEBUG, an error: their scripts are inline). Preview hosts
never reach Django (tutorial.asgi), so this never touches a student's app.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.template.loader import render_to_string
from django.utils.decorators import sync_and_async_middleware

IMPORT_MAP = "sandbox/importmap.json"
_ANCESTORS = {"DENY": "'none'", "SAMEORIGIN": "'self'"}


@functools.cache
def import_map_hash() -> str:
    """The CSP hash of the import map's text, as templates/sandbox/editor_panel.html writes it
    inside its <script> (the static file names are fixed while the process runs)."""
    digest = hashlib.sha256(render_to_string(IMPORT_MAP).encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@functools.cache
def policy(frame_ancestors: str | None, preview: str, preview_https: bool) -> str:
    """The header's value (the same for every page of a kind: built once)."""
    scheme = "https" if preview_https else "http"
    frames = f"'self' {scheme}://*.{preview}:*" if preview else "'self'"
    directives = [
        "default-src 'self'",
        f"script-src 'self' {import_map_hash()}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: https:",
        "font-src 'self' data:",
        "connect-src 'self'",
        f"frame-src {frames}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
    if frame_ancestors is not None:
        directives.append(f"frame-ancestors {frame_ancestors}")
    return "; ".join(directives)


def _with_policy(response: HttpResponseBase) -> HttpResponseBase:
    if "Content-Security-Policy" in response or not (
        response.get("Content-Type", "").startswith("text/html")
    ):
        return response
    if settings.DEBUG and response.status_code >= 400:
        return response  # Django's debug pages
    framing = _ANCESTORS.get(response.get("X-Frame-Options", "").upper())
    response["Content-Security-Policy"] = policy(
        framing, settings.PREVIEW_HOST, settings.PREVIEW_HTTPS
    )
    return response


@sync_and_async_middleware
def content_security_middleware(get_response: Callable[[HttpRequest], Any]) -> Any:
    # Both chains (tutorial.http_handler): headers only. The import map is rendered once (a
    # template read from disk): in a thread when the first page comes by the async chain.
    if iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> HttpResponseBase:
            response = await get_response(request)
            if import_map_hash.cache_info().currsize == 0:
                await sync_to_async(import_map_hash)()
            return _with_policy(response)

        return middleware_async

    def middleware(request: HttpRequest) -> HttpResponseBase:
        return _with_policy(get_response(request))

    return middleware
