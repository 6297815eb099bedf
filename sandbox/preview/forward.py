"""A preview's HTTP request to a student's container, and its answer back to the browser.

The browser's side is a `Browser`: the ASGI server's messages (sandbox.preview.proxy) or, for
the common request, the server connection's own transport (tutorial.server, through
sandbox.preview.fast_path). Everything between is one piece of code whichever way the request
came in: the request head for the container (hop-by-hop headers and Muelle's cookie gone), the
kept-alive connections and their retry, the size and byte-rate limits, the timeout, the answer's
headers (cookie Domain attributes dropped) and the Spanish error pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Protocol
from urllib.parse import quote

from django.conf import settings

from sandbox.ports.byte_rate import limit_for
from sandbox.ports.table import Idle, NothingListens, NotPublished, PortTable
from sandbox.token_bucket import RateLimit

from . import addresses, pages
from .access import without_our_cookie
from .container_http import Broken, ContainerConnection, NoAnswer

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


# Methods whose request may go again on a new connection when a kept-alive one turns out to have
# been closed by the container (RFC 9110 9.2.2); others always take a new connection.
IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}
# The browser's departure is watched (under ASGI, a task waiting on receive()) only for an answer
# that goes on: past this many body bytes, or after a second wait for the container. A page that
# arrives at once needs no watcher; a stream (endless body, server-sent events) is still cut when
# the browser leaves, since uvicorn drops what is sent after that without a word.
WATCH_AFTER_BYTES = 64 * 1024


class _Stale(Exception):
    """A kept-alive connection the container had already closed: nothing came back."""


class SlowBody(Exception):
    """The browser sent no piece of its request's body for HTTP_BODY_TIMEOUT seconds: the
    server's head timer ends with the head, and a request that then sends nothing would hold
    its connection for ever. Timed per piece, not as a whole (an upload may take long, as long
    as it moves; nginx's client_body_timeout does the same), by the Browser that waits."""


class Stalled(Exception):
    """The browser took none of the answer for PREVIEW_IDLE_SECONDS while more waited to go: a
    browser that stops reading would hold its connection, the container's and this request's
    task for ever (nginx's send_timeout does the same). Raised by the Browser that waited, which
    has given its connection up."""


# The scope extension (a callable, set by tutorial.server) that drops a request's connection at
# once, for a browser that stopped reading under the ASGI app.
ABORT_EXTENSION = "muelle.abort"


async def or_stalled(waiting: Awaitable[None]) -> None:
    """`waiting` (the browser taking bytes of the answer) within PREVIEW_IDLE_SECONDS, or
    Stalled."""
    try:
        async with asyncio.timeout(settings.PREVIEW_IDLE_SECONDS):
            await waiting
    except TimeoutError:
        raise Stalled from None


class Browser(Protocol):
    """The browser's side of one preview request."""

    async def request_body(self) -> tuple[bytes, bool] | None:
        """The next piece of the request's body and whether more follows; None once the
        browser has left. SlowBody when it does not come within HTTP_BODY_TIMEOUT."""

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """The answer's head. It may be held until the first piece of the body, so that a
        page that came whole goes out in one write; flush() sends it before any wait."""

    async def body(self, data: bytes, *, more: bool) -> None:
        """A piece of the answer's body; Stalled when the browser took nothing for
        PREVIEW_IDLE_SECONDS while earlier pieces waited."""

    def flush(self) -> None:
        """Out with a held head: the body's next piece may take a while."""

    def watch(self) -> None:
        """From now on the answer goes on: notice the browser leaving (see gone())."""

    def gone(self) -> bool:
        """The browser left (reliable once watch() was called)."""

    def stop_watching(self) -> None: ...


async def send_page(browser: Browser, status: int, page: bytes, framer: str | None) -> None:
    await browser.start(status, pages.headers(page, framer))
    await browser.body(page, more=False)


def container_head(scope: dict[str, Any], *, whole_body: int | None) -> tuple[bytes, bool]:
    """The request line and headers for the container, as they came minus hop-by-hop headers
    and Muelle's preview cookies, and whether the body goes chunked (a streamed body without
    the browser's Content-Length; with it, the body goes as it came, framed by that length).
    ValueError on a byte that would split the request."""
    target = scope.get("raw_path") or quote(scope.get("path") or "/").encode()
    query = scope.get("query_string") or b""
    if query:
        target += b"?" + query
    method = scope["method"].encode("ascii")
    lines = [method, b" ", target, b" HTTP/1.1\r\n"]
    has_length = False
    headers = scope.get("headers") or []
    # With Transfer-Encoding, the browser's Content-Length says nothing (RFC 9112 6.3: the
    # server de-chunked the body by the former); kept, it would frame the body wrongly.
    dechunked = any(name.lower() == b"transfer-encoding" for name, _value in headers)
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP or (dechunked and lower == b"content-length"):
            continue
        if lower == b"cookie":
            value = without_our_cookie(value)  # type: ignore[assignment]
            if not value:
                continue
        elif lower == b"content-length":
            has_length = True
        lines += (name, b": ", value, b"\r\n")
    chunked = False
    if not has_length:
        if whole_body is not None and (whole_body or scope["method"] not in IDEMPOTENT):
            # The browser's chunked body arrived whole: sent with its length, as most servers
            # prefer (some refuse chunked requests).
            lines.append(b"content-length: %d\r\n" % whole_body)
        elif whole_body is None:
            lines.append(b"transfer-encoding: chunked\r\n")
            chunked = True
    lines.append(b"\r\n")
    head = b"".join(lines)
    # Only the line ends written here may hold CR or LF (one of each per line), and no NUL.
    ends = head.count(b"\n")
    if head.count(b"\r") != ends or head.count(b"\r\n") != ends or b"\0" in head:
        raise ValueError("a request byte that would split the request")
    return head, chunked


def browser_headers(
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


async def serve(
    scope: dict[str, Any],
    browser: Browser,
    table: PortTable,
    target: addresses.PreviewHost,
    framer: str | None,
) -> None:
    """One request the owner may make (their cookie was checked) to one of their ports."""
    try:
        first = await browser.request_body()
    except SlowBody:
        await send_page(browser, 408, pages.too_slow(), framer)
        return
    if first is None:
        return
    body, streaming = first
    if len(body) > settings.PREVIEW_MAX_REQUEST_BYTES:
        await send_page(browser, 413, pages.too_big(), framer)
        return
    limit = limit_for(target.public_id)
    if body:
        await limit.take(len(body))
    try:
        head, chunked = container_head(scope, whole_body=None if streaming else len(body))
    except ValueError:
        await send_page(browser, 502, pages.bad_answer(target.host_port), framer)
        return
    host_port = target.host_port
    table.busy[host_port] = table.busy.get(host_port, 0) + 1
    try:
        closes_each = await _forward(
            browser, table, target, framer, head, body, streaming, chunked, limit, scope["method"]
        )
    finally:
        table.busy[host_port] -= 1
    if closes_each and not table.busy[host_port]:
        # The container closes after each answer: the next request's connection is opened
        # now, the browser already has this answer (no task of its own: this request's).
        await table.open_ahead(host_port, ContainerConnection)


async def _forward(
    browser: Browser,
    table: PortTable,
    target: addresses.PreviewHost,
    framer: str | None,
    head: bytes,
    body: bytes,
    streaming: bool,
    chunked: bool,
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
                await send_page(browser, 404, pages.not_published(target.host_port), framer)
                return False
            except NothingListens as exc:
                page = pages.nothing_listens(exc.name, exc.container_port)
                await send_page(browser, 502, page, framer)
                return False
            except OSError:
                await send_page(browser, 503, pages.too_many(), framer)
                return False
        reused, kept = kept is not None, None
        reusable = False
        try:
            conn.begin(head_request=method == "HEAD")
            reusable = await _exchange(browser, conn, head, body, streaming, chunked, limit, framer)
        except SlowBody:
            await send_page(browser, 408, pages.too_slow(), framer)
        except _Stale:
            if reused:
                continue  # that one was closed while idle: once more, on a new connection
            await send_page(browser, 502, pages.bad_answer(target.host_port), framer)
        except TimeoutError:
            await send_page(browser, 504, pages.timed_out(target.host_port), framer)
        finally:
            keep_or_close(table, target.host_port, conn, reusable)
        return replayable and not reusable and conn.complete()


def keep_or_close(
    table: PortTable, host_port: int, conn: ContainerConnection, reusable: bool
) -> None:
    """After an exchange: the connection waits for the next request, or goes."""
    if reusable:
        table.keep_idle(host_port, Idle(conn, 0.0))
    else:
        conn.close()


async def _exchange(
    browser: Browser,
    conn: ContainerConnection,
    head: bytes,
    body: bytes,
    streaming: bool,
    chunked: bool,
    limit: RateLimit,
    framer: str | None,
) -> bool:
    """One request and its answer on `conn`. True when the connection may carry another one;
    _Stale (or TimeoutError) when nothing of an answer went out to the browser yet, SlowBody
    when the browser's body stalled."""

    def framed(piece: bytes) -> bytes:
        # Chunks only when the head says so: a body under the browser's Content-Length goes as
        # it came (chunk lines inside it would be body bytes to the container, and the end of
        # the body the start of another request on the same connection).
        return b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece

    try:
        if body and not streaming and len(body) <= READ_SIZE:
            conn.write(head + body)  # one segment for a small request
        else:
            conn.write(head)
            if body:
                conn.write(framed(body))
        if streaming:
            sent = len(body)
            while True:
                piece = await browser.request_body()
                if piece is None:
                    return False
                chunk, more = piece
                sent += len(chunk)
                if sent > settings.PREVIEW_MAX_REQUEST_BYTES:
                    await send_page(browser, 413, pages.too_big(), framer)
                    return False
                if chunk:
                    await limit.take(len(chunk))
                    conn.write(framed(chunk))
                    await conn.drain()
                if not more:
                    break
            if chunked:
                conn.write(b"0\r\n\r\n")
        await conn.drain()
        idle = settings.PREVIEW_IDLE_SECONDS
        status, headers = await conn.head(idle)
        response_headers = browser_headers(headers, framer)
    except TimeoutError:  # before OSError, of which it is a kind
        raise
    except (NoAnswer, ConnectionError, OSError):
        raise _Stale from None
    return await relay_body(browser, conn, status, response_headers, limit, idle)


async def relay_body(
    browser: Browser,
    conn: ContainerConnection,
    status: int,
    headers: list[tuple[bytes, bytes]],
    limit: RateLimit,
    idle: float,
) -> bool:
    """Relays the answer once its head is valid: a status goes out now, so errors from here on
    only end the stream (the browser sees the connection end)."""
    await browser.start(status, headers)
    watching = False
    relayed = waits = 0
    try:
        while True:
            if not conn.has_body():
                waits += 1
                browser.flush()
            data, done = await conn.body(idle)
            if data:
                await limit.take(len(data))
                relayed += len(data)
            if done:
                break
            if not watching and (relayed > WATCH_AFTER_BYTES or waits > 1):
                watching = True
                browser.watch()
            if watching and browser.gone():
                return False
            if data:
                await browser.body(data, more=True)
        # The last piece and the end in one message (one write to the browser for a page that
        # came whole).
        await browser.body(data, more=False)
    except (TimeoutError, Broken, Stalled):
        return False
    finally:
        if watching:
            browser.stop_watching()
    return conn.reusable()
