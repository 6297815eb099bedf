"""The preview origin's ASGI app: HTTP/1.1 and websockets to a student's published port.

Only the owner (or whoever holds a share link they made) gets through: the entry link sets a
cookie of this preview host, and every request must carry it. The request goes to the student's
port table (sandbox/ports), which connects inside the container's own network namespace, so a
preview can reach that student's published ports and nothing else: not another student, not the
server, not the engine. Muelle's own cookie is removed before the request leaves, and cookies the
app sets cannot widen to other previews (their Domain attribute is dropped).

Why one module of about 550 lines: the HTTP and websocket paths share the entry checks (host,
cookie, share link), the limits and the Spanish error pages, and each step of a request depends on
the one before; reading the container's answer is apart, in container_http.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from django.conf import settings

from sandbox.ports import students as port_tables
from sandbox.ports.table import Idle, NothingListens, NotPublished, PortTable

from . import addresses, pages, tokens
from .container_http import Broken, ContainerConnection, NoAnswer

ENTRY_PATH = "/__muelle__/entrar"
SHARE_PATH = "/__muelle__/compartido"
FRAME_PATH = "/__muelle__/marco"
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
}
READ_SIZE = 64 * 1024


class RateLimit:
    """Bytes per second for one student's previews (a token bucket shared by their requests)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.tokens = float(rate)
        self.stamp = time.monotonic()

    async def take(self, amount: int) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= min(amount, self.rate):
                self.tokens -= amount
                return
            await asyncio.sleep((min(amount, self.rate) - self.tokens) / self.rate)


_limits: dict[str, RateLimit] = {}


def _limit_for(public_id: str) -> RateLimit:
    limit = _limits.get(public_id)
    if limit is None:
        limit = _limits[public_id] = RateLimit(settings.PREVIEW_BYTES_PER_SECOND)
    return limit


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
    grant = _grant_from_cookies(scope, target)
    if grant is None:
        await pages.send(send, 403, pages.expired())
        return
    table = _table(target)
    if table is None:
        await pages.send(send, 404, pages.not_published(target.host_port), grant.framer)
        return
    await _http(scope, receive, send, table, target, grant.framer)


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


def _grant_from_cookies(
    scope: dict[str, Any], target: addresses.PreviewHost
) -> tokens.Grant | None:
    """The first of the request's preview cookies that is valid for this host. Every one is
    tried: a page on another preview host can set a `muelle_vista` cookie for the whole preview
    domain (Domain=<PREVIEW_HOST>, from its own script), and the browser sends it beside the
    owner's; taking only one of them would let that page lock the owner out."""
    for name, value in _our_cookies(scope):
        frame = name == tokens.FRAME_COOKIE_NAME
        grant = tokens.read_cookie(value, target.public_id, target.host_port, frame=frame)
        if grant is not None:
            return grant
    return None


def _our_cookies(scope: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for header in _cookie_headers(scope):
        for part in header.split(";"):
            name, sep, value = part.partition("=")
            if sep and name.strip() in tokens.COOKIE_NAMES:
                found.append((name.strip(), value.strip().strip('"')))
    return found


def _cookie_headers(scope: dict[str, Any]) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"cookie"]


_OUR_NAMES = {name.encode() for name in tokens.COOKIE_NAMES}


def _without_our_cookie(value: bytes) -> bytes | None:
    kept = [
        part
        for part in value.split(b";")
        if part.strip() and part.split(b"=", 1)[0].strip() not in _OUR_NAMES
    ]
    return b";".join(kept).strip() or None


def _table(target: addresses.PreviewHost) -> PortTable | None:
    owner = port_tables.owner_of(target.public_id)
    return port_tables.table_of(owner) if owner else None


# --- HTTP ----------------------------------------------------------------------------------------
# Methods whose request may go again on a new connection when a kept-alive one turns out to have
# been closed by the container (RFC 9110 9.2.2); others always take a new connection.
IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}
# The browser's departure is watched (a task waiting on receive()) only for an answer that goes
# on: past this many body bytes, or after a second wait for the container. A page that arrives
# at once needs no watcher; a stream (endless body, server-sent events) is still cut when the
# browser leaves, since uvicorn drops what is sent after that without a word.
WATCH_AFTER_BYTES = 64 * 1024


class _Stale(Exception):
    """A kept-alive connection the container had already closed: nothing came back."""


def _request_head(scope: dict[str, Any], *, whole_body: int | None) -> bytes:
    """The request line and headers for the container, as they came minus hop-by-hop headers
    and Muelle's preview cookies. ValueError on a byte that would split the request."""
    target = scope.get("raw_path") or quote(scope.get("path") or "/").encode()
    query = scope.get("query_string") or b""
    if query:
        target += b"?" + query
    method = scope["method"].encode("ascii")
    lines = [method, b" ", target, b" HTTP/1.1\r\n"]
    has_length = False
    for name, value in scope.get("headers") or []:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            continue
        if lower == b"cookie":
            value = _without_our_cookie(value)  # type: ignore[assignment]
            if not value:
                continue
        elif lower == b"content-length":
            has_length = True
        lines += (name, b": ", value, b"\r\n")
    if not has_length:
        if whole_body is not None and (whole_body or scope["method"] not in IDEMPOTENT):
            # The browser's chunked body arrived whole: sent with its length, as most servers
            # prefer (some refuse chunked requests).
            lines.append(b"content-length: %d\r\n" % whole_body)
        elif whole_body is None:
            lines.append(b"transfer-encoding: chunked\r\n")
    lines.append(b"\r\n")
    head = b"".join(lines)
    # Only the line ends written here may hold CR or LF (one of each per line), and no NUL.
    ends = head.count(b"\n")
    if head.count(b"\r") != ends or head.count(b"\r\n") != ends or b"\0" in head:
        raise ValueError("a request byte that would split the request")
    return head


def _response_headers(
    headers: list[tuple[bytes, bytes]], framer: str | None
) -> list[tuple[bytes, bytes]]:
    out = []
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            continue
        if lower == b"clear-site-data":
            # Browsers clear cookies for the whole registrable domain: every student's
            # previews (and Muelle's session, were previews under Muelle's own domain).
            continue
        if lower == b"set-cookie":
            value = _host_only(value)
        out.append((lower, value))
    # Beside any policy of the app's own (the browser enforces all of them).
    out.extend(pages.framing(framer))
    return out


def _host_only(set_cookie: bytes) -> bytes:
    """A cookie the student's app sets stays on its own preview host: a Domain attribute would
    hand it to every student's preview (and, for a parent domain, to Muelle)."""
    # The attribute's name as a browser reads it (RFC 6265 5.2): up to the first "=", with the
    # spaces around it trimmed, so "Domain =x" or " DOMAIN\t= x" is a Domain attribute too.
    name, *attributes = set_cookie.split(b";")
    kept = [a for a in attributes if a.split(b"=", 1)[0].strip().lower() != b"domain"]
    return b";".join([name, *kept])


async def _http(
    scope: dict[str, Any],
    receive: Any,
    send: Any,
    table: PortTable,
    target: addresses.PreviewHost,
    framer: str | None,
) -> None:
    first = await receive()
    if first["type"] == "http.disconnect":
        return
    body = first.get("body", b"")
    streaming = bool(first.get("more_body"))
    if len(body) > settings.PREVIEW_MAX_REQUEST_BYTES:
        await pages.send(send, 413, pages.too_big(), framer)
        return
    limit = _limit_for(target.public_id)
    if body:
        await limit.take(len(body))
    try:
        head = _request_head(scope, whole_body=None if streaming else len(body))
    except ValueError:
        await pages.send(send, 502, pages.bad_answer(target.host_port), framer)
        return
    host_port = target.host_port
    table.busy[host_port] = table.busy.get(host_port, 0) + 1
    try:
        closes_each = await _forward(
            receive, send, table, target, framer, head, body, streaming, limit, scope["method"]
        )
    finally:
        table.busy[host_port] -= 1
    if closes_each and not table.busy[host_port]:
        # The container closes after each answer: the next request's connection is opened
        # now, the browser already has this answer (no task of its own: this request's).
        await table.open_ahead(host_port, ContainerConnection)


async def _forward(
    receive: Any,
    send: Any,
    table: PortTable,
    target: addresses.PreviewHost,
    framer: str | None,
    head: bytes,
    body: bytes,
    streaming: bool,
    limit: RateLimit,
    method: str,
) -> bool:
    """Sends the request and relays the answer; True when the answer came whole and the
    container closed the connection after it (a server that closes each one)."""
    # A request whose whole body is here may take a kept-alive connection (and go again on a
    # new one if that had been closed); a streamed or non-idempotent one takes a new one.
    replayable = not streaming and method in IDEMPOTENT
    if replayable:
        kept = table.take_idle(target.host_port) or await table.opened_ahead(target.host_port)
    else:
        kept = None
        table.close_idle(target.host_port)
    while True:
        if kept is not None:
            conn = kept.connection
            assert isinstance(conn, ContainerConnection)
        else:
            try:
                conn = await table.open(target.host_port, ContainerConnection)
            except NotPublished:
                await pages.send(send, 404, pages.not_published(target.host_port), framer)
                return False
            except NothingListens as exc:
                page = pages.nothing_listens(exc.name, exc.container_port)
                await pages.send(send, 502, page, framer)
                return False
            except OSError:
                await pages.send(send, 503, pages.too_many(), framer)
                return False
        reused, kept = kept is not None, None
        reusable = False
        try:
            conn.begin(head_request=method == "HEAD")
            reusable = await _exchange(receive, send, conn, head, body, streaming, limit, framer)
        except _Stale:
            if reused:
                continue  # that one was closed while idle: once more, on a new connection
            await pages.send(send, 502, pages.bad_answer(target.host_port), framer)
        except TimeoutError:
            await pages.send(send, 504, pages.timed_out(target.host_port), framer)
        finally:
            if reusable:
                table.keep_idle(target.host_port, Idle(conn, 0.0))
            else:
                conn.close()
        return replayable and not reusable and conn.complete()


async def _exchange(
    receive: Any,
    send: Any,
    conn: ContainerConnection,
    head: bytes,
    body: bytes,
    streaming: bool,
    limit: RateLimit,
    framer: str | None,
) -> bool:
    """One request and its answer on `conn`. True when the connection may carry another one;
    _Stale (or TimeoutError) when nothing of an answer went out to the browser yet."""
    try:
        if body and not streaming and len(body) <= READ_SIZE:
            conn.write(head + body)  # one segment for a small request
        else:
            conn.write(head)
            if body:
                conn.write(b"%x\r\n%b\r\n" % (len(body), body) if streaming else body)
        if streaming:
            sent = len(body)
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return False
                chunk = message.get("body", b"")
                sent += len(chunk)
                if sent > settings.PREVIEW_MAX_REQUEST_BYTES:
                    await pages.send(send, 413, pages.too_big(), framer)
                    return False
                if chunk:
                    await limit.take(len(chunk))
                    conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    await conn.drain()
                if not message.get("more_body"):
                    break
            conn.write(b"0\r\n\r\n")
        await conn.drain()
        idle = settings.PREVIEW_IDLE_SECONDS
        status, headers = await conn.head(idle)
        response_headers = _response_headers(headers, framer)
    except TimeoutError:  # before OSError, of which it is a kind
        raise
    except (NoAnswer, ConnectionError, OSError):
        raise _Stale from None
    return await _relay_body(receive, send, conn, status, response_headers, limit, idle)


async def _relay_body(
    receive: Any,
    send: Any,
    conn: ContainerConnection,
    status: int,
    headers: list[tuple[bytes, bytes]],
    limit: RateLimit,
    idle: float,
) -> bool:
    """Relays the answer once its head is valid: a status goes out now, so errors from here on
    only end the stream (the browser sees the connection end)."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    left: asyncio.Future[None] | None = None
    relayed = waits = 0
    try:
        while True:
            if not conn.has_body():
                waits += 1
            data, done = await conn.body(idle)
            if data:
                await limit.take(len(data))
                relayed += len(data)
            if done:
                break
            if left is None and (relayed > WATCH_AFTER_BYTES or waits > 1):
                left = asyncio.ensure_future(_disconnected(receive))
            if left is not None and left.done():
                return False
            if data:
                await send({"type": "http.response.body", "body": data, "more_body": True})
    except (TimeoutError, Broken):
        return False
    finally:
        if left is not None:
            left.cancel()
    # The last piece and the end in one message (one write to the browser for a page that came
    # whole).
    await send({"type": "http.response.body", "body": data})
    return conn.reusable()


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


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
    grant = _grant_from_cookies(scope, target) if target and _same_student(scope, target) else None
    table = _table(target) if target and grant else None
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
    headers = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in scope.get("headers") or []
        if k.lower() == b"cookie" and _without_our_cookie(v)
    ]
    # The websocket client takes over the socket: detach it from the stream made by connect().
    raw = sock.dup()
    writer.transport.abort()
    limit = _limit_for(target.public_id)
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
