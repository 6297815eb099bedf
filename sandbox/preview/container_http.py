"""The preview's HTTP/1.1 client side: one connection to a container's published port.

An asyncio protocol that feeds what the container sends straight into httptools (llhttp, in C)
and queues the response for the proxy; no stream reader in between and no pure-Python parser
(h11 was most of the proxy's own time per request). Everything the container sends is hostile:
the response head is capped in size, its header names and values are checked as the ASGI server
would refuse them, and reading pauses while the browser side is behind.

One exchange at a time: `begin()` before each request (a fresh parser), then `head()`, then
`body()` until the response is complete. `reusable()` says whether the connection may carry the
next request (kept alive by the port table between requests).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import httptools

HEAD_LIMIT = 64 * 1024  # bytes of status line and headers
HIGH_WATER = 256 * 1024  # queued body bytes before reading from the container pauses
LOW_WATER = 64 * 1024

# What uvicorn refuses in a response header (it would drop the connection mid-response instead
# of the proxy's own 502 page); h11 refused the same.
_BAD_NAME = re.compile(b'[\x00-\x1f\x7f()<>@,;:\\[\\]={} \t\\\\"]')
_BAD_VALUE = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")


class NoAnswer(Exception):
    """The connection ended, or the container sent something that is not a valid HTTP response
    head, before a response started."""


class Broken(Exception):
    """The response broke off after it had started (reset, truncated, or invalid)."""


class _TooBig(Exception):
    pass


class _SecondAnswer(Exception):
    pass


class ContainerConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._parser = _parser(self)
        self._head_request = False
        self._used = False
        self._head_done = False
        self._head_size = 0
        self._fed = 0
        self._until_close = False
        self._complete = False
        self._keep_alive = False
        self._extra = False
        self._body: list[bytes] = []
        self._queued = 0
        self._error: Exception | None = None
        self._lost = False
        self._reading_paused = False
        self._writing_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        # Told of every change the coroutine methods would wake for: the quick exchange
        # (sandbox.preview.quick_exchange) waits with callbacks alone.
        self.listener: Callable[[], None] | None = None

    # --- the exchange ------------------------------------------------------------------------
    def begin(self, *, head_request: bool) -> None:
        """A request is about to go out. A response to HEAD has no body whatever its
        Content-Length says (the parser cannot know the method). On a connection used before,
        a fresh response state; on a new one, what the container may already have sent (a
        server that speaks first) is kept."""
        if not self._used:
            self._used = True
            self._head_request = head_request
            return
        if not self.reusable():
            self._parser = _parser(self)
        # else: the last answer ended cleanly by its own framing, and the parser stands at the
        # start of the next one (llhttp resets itself on a kept-alive connection), as a new
        # parser would: making one for each request showed in a preview request's cost.
        self._head_request = head_request
        self._head_done = self._complete = self._keep_alive = self._until_close = False
        self._extra = False
        self._head_size = self._fed = 0
        self.status = 0
        self.headers = []
        self._body.clear()
        self._queued = 0
        self._error = None

    def write(self, data: bytes) -> None:
        if self._lost or self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the container closed the connection")
        self.transport.write(data)

    async def drain(self) -> None:
        if self._lost:
            raise ConnectionResetError("the container closed the connection")
        if self._writing_paused:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    async def head(self, timeout: float) -> tuple[int, list[tuple[bytes, bytes]]]:
        """The response's status and headers (raw names). NoAnswer, or TimeoutError when
        nothing came within `timeout` seconds."""
        while not self._head_done:
            if self._error is not None:
                raise NoAnswer from self._error
            if self._lost:
                raise NoAnswer
            await self._wait(timeout)
        return self.status, self.headers

    def head_done(self) -> bool:
        return self._head_done

    def failed(self) -> bool:
        """The connection ended or went wrong (before the head: NoAnswer for head())."""
        return self._error is not None or self._lost

    def has_body(self) -> bool:
        return bool(self._body) or self._complete

    def queued(self) -> int:
        """Body bytes received and not taken yet."""
        return self._queued

    async def body(self, timeout: float) -> tuple[bytes, bool]:
        """Every body byte received so far (waiting up to `timeout` seconds if there is none),
        and whether the response is complete. Broken if it broke off, TimeoutError if nothing
        came in time."""
        while not self._body and not self._complete:
            if self._error is not None or self._lost:
                raise Broken from self._error
            await self._wait(timeout)
        return self.take_body(), self._complete

    def take_body(self) -> bytes:
        """The body bytes received so far (reading from the container resumes)."""
        data = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body.clear()
        self._queued = 0
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    def reusable(self) -> bool:
        """The response ended cleanly by its own framing, nothing followed it, and the
        container did not ask to close."""
        return (
            self._complete
            and self._keep_alive
            and not self._extra
            and not self._head_request
            and not self._lost
            and self._error is None
        )

    def complete(self) -> bool:
        """The whole response came (whether or not the connection may carry another)."""
        return self._complete

    def is_open(self) -> bool:
        """Still connected, and nothing arrived beyond the last response (which would be taken
        for the next request's answer)."""
        return (
            not self._lost
            and not self._extra
            and self.transport is not None
            and not self.transport.is_closing()
        )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def _wait(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.listener is not None:
            self.listener()

    def _fail(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc
        if self.transport is not None:
            self.transport.close()

    # --- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._complete or self._error is not None:
            self._extra = True  # bytes beyond the response (or after a failure): never reused
            return
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            # A 101 to a request that asked for no upgrade, or anything that is not HTTP.
            self._fail(exc)
        if not self._head_done:
            self._fed += len(data)
            if self._fed > HEAD_LIMIT:
                self._fail(_TooBig())
        elif self._queued > HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        if self._head_done and not self._complete and self._until_close:
            self._complete = True  # a body without a length ends with the connection
        self._lost = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if exc is not None and self._error is None and not self._complete:
            self._error = exc
        self._wake()
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionResetError("the container closed the connection"))

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- httptools callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._head_done:
            # A second answer to one request (in the same segment as the first, so the parser
            # reads on): it must not replace the first one's status and headers, which the
            # browser gets with the first one's body. The connection fails and is not reused.
            self._extra = True
            raise _SecondAnswer
        self.headers = []  # a new answer after an informational one
        self._head_size = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size > HEAD_LIMIT:
            raise _TooBig
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status == 101:
            raise NoAnswer("a switch of protocols nobody asked for")
        if 100 <= status < 200:
            return  # informational (100 Continue, 103 Early Hints): the real answer follows
        # Every name and every value checked in one pass each: a bad byte in any of them is a
        # bad byte in their concatenation (tab, the values' separator, is allowed in a value).
        names = b"".join(name for name, _value in self.headers)
        if _BAD_NAME.search(names) or _BAD_VALUE.search(b"\t".join(v for _n, v in self.headers)):
            raise NoAnswer("invalid response header")
        self.status = status
        self._head_done = True
        if self._head_request or status in (204, 304):
            self._complete = True
            self._keep_alive = self._parser.should_keep_alive()
            return
        framed = False
        for name, value in self.headers:
            lower = name.lower()
            if lower == b"content-length" or (
                lower == b"transfer-encoding" and value.lower().rstrip().endswith(b"chunked")
            ):
                framed = True
        self._until_close = not framed

    def on_body(self, body: bytes) -> None:
        if self._complete:
            return  # a HEAD response's "body": never relayed, and the connection is not reused
        self._body.append(body)
        self._queued += len(body)

    def on_message_complete(self) -> None:
        if not self._head_done or self._complete:
            return
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()


def _parser(callbacks: ContainerConnection) -> httptools.HttpResponseParser:
    parser = httptools.HttpResponseParser(callbacks)
    # Header lines ending in a bare LF, as CGI scripts write them (busybox httpd passes them
    # on) and as h11 accepted: the answer only ever reaches its own student's browser, so the
    # leniency cannot smuggle anything between students.
    parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
    return parser


def _time_out(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


Factory = Callable[[], ContainerConnection]
