"""The preview origin's ASGI app: HTTP/1.1 and websockets to a student's published port.

Only the owner (or whoever holds a share link they made) gets through: the entry link sets a
cookie of this preview host, and every request must carry it (sandbox.preview.access). The
request goes to the student's port table (sandbox/ports), which connects inside the container's
own network namespace, so a preview can reach that student's published ports and nothing else:
not another student, not the server, not the engine. Muelle's own cookie is removed before the
request leaves, and cookies the app sets cannot widen to other previews (their Domain attribute is
dropped): sandbox.preview.forward, which the server's fast path (sandbox.preview.fast_path) runs
too for the common request, without this app.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from sandbox.ports import byte_rate
from sandbox.ports.table import NothingListens, NotPublished

from . import access, addresses, forward, pages, tokens

ENTRY_PATH = "/__muelle__/entrar"
SHARE_PATH = "/__muelle__/compartido"
FRAME_PATH = "/__muelle__/marco"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    target = addresses.parse_host(addresses.header(scope, b"host"))
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send, target)
        return
    if scope["type"] != "http":
        return
    if target is None:
        await pages.send(send, 400, pages.bad_host())
        return
    path = scope.get("path") or "/"
    if path in (ENTRY_PATH, SHARE_PATH, FRAME_PATH):
        await _enter(scope, send, target, path)
        return
    grant = access.grant_from_cookies(scope, target)
    if grant is None:
        await pages.send(send, 403, pages.expired())
        return
    table = access.table_for(target)
    if table is None:
        await pages.send(send, 404, pages.not_published(target.host_port), grant.framer)
        return
    abort = scope.get("extensions", {}).get(forward.ABORT_EXTENSION)
    await forward.serve(scope, AsgiBrowser(receive, send, abort), table, target, grant.framer)


class AsgiBrowser:
    """The browser's side of a preview request as the ASGI server's messages."""

    def __init__(self, receive: Any, send: Any, abort: Callable[[], None] | None = None) -> None:
        self.receive = receive
        self.send = send
        # Drops the connection (tutorial.server's scope extension); without it, as under
        # another ASGI server, a stalled browser's connection is only closed.
        self.abort = abort
        self._left: asyncio.Future[None] | None = None

    async def request_body(self) -> tuple[bytes, bool] | None:
        try:
            async with asyncio.timeout(settings.HTTP_BODY_TIMEOUT):
                message = await self.receive()
        except TimeoutError:
            raise forward.SlowBody from None
        if message["type"] == "http.disconnect":
            return None
        return message.get("body", b""), bool(message.get("more_body"))

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def body(self, data: bytes, *, more: bool) -> None:
        # The ASGI server waits inside send() while the browser reads nothing.
        message = {"type": "http.response.body", "body": data, "more_body": more}
        try:
            await forward.or_stalled(self.send(message))
        except forward.Stalled:
            if self.abort is not None:
                self.abort()
            raise

    def flush(self) -> None:
        pass  # the ASGI server writes the head when it gets it

    def watch(self) -> None:
        if self._left is None:
            self._left = asyncio.ensure_future(self._disconnected())

    def gone(self) -> bool:
        return self._left is not None and self._left.done()

    def stop_watching(self) -> None:
        if self._left is not None:
            self._left.cancel()

    async def _disconnected(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass


# --- entry ---------------------------------------------------------------------------------------
async def _enter(
    scope: dict[str, Any], send: Any, target: addresses.PreviewHost, path: str
) -> None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    token = (query.get("t") or [""])[0]
    if path == FRAME_PATH:
        grant = tokens.read_frame_entry(token, target.public_id, target.host_port)
    else:
        grant = tokens.read_entry(
            token, target.public_id, target.host_port, share=path == SHARE_PATH
        )
    if grant is None:
        await pages.send(send, 403, pages.expired())
        return
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", b"/"),
                (b"set-cookie", _entry_cookie(grant).encode("latin-1")),
                (b"cache-control", b"no-store"),
                (b"referrer-policy", b"no-referrer"),
                *pages.framing(grant.framer),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _entry_cookie(grant: tokens.Grant) -> str:
    max_age = str(max(0, grant.expires - int(time.time())))
    if grant.framer is not None:
        # Inside Muelle's page the preview is a cross-site frame: Chromium neither stores nor
        # sends a SameSite=Lax (or unpartitioned None) cookie there, with third-party cookies
        # blocked as they now are by default. A partitioned one (CHIPS) is kept under Muelle's
        # site only. CHIPS needs Secure, which Chromium also accepts on http://*.localhost
        # (a secure context), so the same attributes serve local runs and production; over
        # plain HTTP on any other host the browser drops it, and the frame says «Enlace
        # caducado» (docs/ports.md).
        value = tokens.cookie_value(grant)
        return (
            f"{tokens.FRAME_COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; HttpOnly; "
            "SameSite=None; Secure; Partitioned"
        )
    cookie = SimpleCookie()
    cookie[tokens.COOKIE_NAME] = tokens.cookie_value(grant)
    morsel = cookie[tokens.COOKIE_NAME]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Lax"
    morsel["max-age"] = max_age
    if settings.PREVIEW_HTTPS:
        morsel["secure"] = True
    return morsel.OutputString()


# --- websockets ----------------------------------------------------------------------------------
def _same_student(scope: dict[str, Any], target: addresses.PreviewHost) -> bool:
    """A browser's websocket comes from a page of one of this student's own previews (or from
    no page at all: no Origin). Every preview host is the same site, so the owner's SameSite=Lax
    cookie also goes with a handshake a script on *another* student's preview makes in the
    owner's browser; unlike a fetch, nothing like CORS then keeps the answer from that script."""
    origin = addresses.header(scope, b"origin")
    if origin is None:
        return True
    page = addresses.parse_host(urlsplit(origin).netloc) if "://" in origin else None
    return page is not None and page.public_id == target.public_id


async def _websocket(
    scope: dict[str, Any], receive: Any, send: Any, target: addresses.PreviewHost | None
) -> None:
    from websockets.asyncio.client import connect as ws_connect

    first = await receive()
    if first["type"] != "websocket.connect":
        return
    grant = (
        access.grant_from_cookies(scope, target)
        if target and _same_student(scope, target)
        else None
    )
    table = access.table_for(target) if target and grant else None
    if target is None or table is None:
        await send({"type": "websocket.close", "code": 4403})
        return
    try:
        reader, writer = await table.connect(target.host_port)
    except (NotPublished, NothingListens, OSError):
        await send({"type": "websocket.close", "code": 1011})
        return
    sock = writer.get_extra_info("socket")
    path = (scope.get("raw_path") or (scope.get("path") or "/").encode()).decode("latin-1")
    if scope.get("query_string"):
        path += "?" + scope["query_string"].decode("latin-1")
    host = addresses.header(scope, b"host") or "localhost"
    # The app's own cookies only: the preview's are this origin's, never the app's.
    headers = [
        ("cookie", kept.decode("latin-1"))
        for k, v in scope.get("headers") or []
        if k.lower() == b"cookie" and (kept := access.without_our_cookie(v))
    ]
    # The websocket client takes over the socket: detach it from the stream made by connect().
    raw = sock.dup()
    writer.transport.abort()
    limit = byte_rate.limit_for(target.public_id)
    try:
        async with ws_connect(
            f"ws://{host}{path}",
            sock=raw,
            subprotocols=scope.get("subprotocols") or None,
            additional_headers=headers or None,
            max_size=settings.PREVIEW_WS_MAX_MESSAGE,
            open_timeout=10,
        ) as upstream:
            await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})

            async def browser_to_app() -> None:
                while True:
                    message = await receive()
                    if message["type"] == "websocket.disconnect":
                        return
                    data = message.get("bytes") or (message.get("text") or "")
                    await limit.take(len(data) + 1)
                    await upstream.send(data)

            async def app_to_browser() -> None:
                async for data in upstream:
                    await limit.take(len(data) + 1)
                    if isinstance(data, bytes):
                        await send({"type": "websocket.send", "bytes": data})
                    else:
                        await send({"type": "websocket.send", "text": data})

            tasks = [
                asyncio.ensure_future(browser_to_app()),
                asyncio.ensure_future(app_to_browser()),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": 1000})
    except Exception:  # noqa: BLE001 - any failure ends this one preview websocket
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": 1011})
    finally:
        raw.close()
