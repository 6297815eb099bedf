"""Muelle's server: uvicorn with the options scripts/serve needs, plus a request-head timeout.

    python -m tutorial.server --host 127.0.0.1 --port 8000

uvicorn arms --timeout-keep-alive only after a first response, so a connection that never
completes its request head (slowloris: a few bytes now and then, or none at all) held a socket
and a file descriptor for ever. Here the HTTP protocol closes a connection whose request head is
not complete within HTTP_HEADER_TIMEOUT seconds (10; nginx's `client_header_timeout` does the
same): counted from the connection's start, and again from the end of each response while the
connection waits for its next request. Websocket upgrades leave the timer behind.

A request for a student's preview that is the common case (the owner's cookie, a plain request
without a body: sandbox.preview.fast_path) is served by the connection's protocol itself, written
to its transport (TransportBrowser), instead of going through the ASGI app, its router and its
messages (docs/ports.md says what that saves, measured). Every other request goes through the app.
It hooks uvicorn's `_start_asgi_task`, so uvicorn stays pinned (requirements.txt); the fast path's
tests fail if the hook is no longer called.

Request bodies are capped and timed by the app itself (tutorial.body_limits), so they hold
under any server; a reverse proxy in front is still the right place for TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import sys
from types import ModuleType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

from tutorial.env import env_duration

APP = "tutorial.asgi:application"
DEFAULT_HEADER_TIMEOUT = 10.0


class Config(uvicorn.Config):
    def __init__(
        self, *args: Any, header_timeout: float = DEFAULT_HEADER_TIMEOUT, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout


class HeadTimeout:
    """Mixed into one of uvicorn's HTTP protocols (one instance per connection)."""

    config: uvicorn.Config
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._await_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._await_head()  # keep-alive: the next request's head has the same time

    def handle_websocket_upgrade(self, *args: Any) -> None:
        self._stop_head_timer()  # the websocket protocol owns the connection from now on
        super().handle_websocket_upgrade(*args)  # type: ignore[misc]

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def _await_head(self) -> None:
        self._stop_head_timer()
        if not self.transport.is_closing():
            timeout = getattr(self.config, "header_timeout", DEFAULT_HEADER_TIMEOUT)
            self._head_timer = self.loop.call_later(timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        transport = self.transport
        if transport.is_closing() or transport.get_protocol() is not self:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # the head came in time; a request is being served
        transport.close()


class H11HeadTimeoutProtocol(HeadTimeout, H11Protocol):
    pass


class PreviewFastPath:
    """Mixed into uvicorn's httptools protocol. uvicorn starts each request, once its head is
    complete, in `_start_asgi_task` (also a pipelined one, when its turn comes); a request the
    preview's fast path plans runs there with a TransportBrowser in place of the ASGI app, in
    uvicorn's own task and error handling. The connection stays uvicorn's: keep-alive,
    pipelining, the head timer, a graceful shutdown."""

    app: Any

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if app is self.app:  # not uvicorn's 503 under --limit-concurrency
            fast_path = _preview_fast_path()
            planned = fast_path.plan(cycle.scope)
            if planned is not None:
                browser = TransportBrowser(cycle)

                async def app(scope: Any, _receive: Any, _send: Any) -> None:
                    await fast_path.serve(planned, scope, browser)

            else:
                # For a preview the ASGI app serves: a browser that stopped reading is dropped,
                # not closed (uvicorn's close would wait for it to read what is buffered).
                extensions = cycle.scope.setdefault("extensions", {})
                extensions[fast_path.forward.ABORT_EXTENSION] = functools.partial(_abort, cycle)
        super()._start_asgi_task(cycle, app)  # type: ignore[misc]


def _abort(cycle: Any) -> None:
    """Drops the connection: what it holds would never go out, so no orderly close. Marked as
    uvicorn marks a lost connection, so the unfinished answer is not logged as the app's fault."""
    cycle.transport.abort()
    cycle.disconnected = True


@functools.cache
def _preview_fast_path() -> ModuleType:
    # Imported once the app (and so Django) is loaded, not with this module.
    from sandbox.preview import fast_path

    return fast_path


class TransportBrowser:
    """A preview answer written to the browser's connection as uvicorn's RequestResponseCycle
    writes an app's (status line, uvicorn's default headers, Content-Length or chunked framing,
    keep-alive, the access log line, write backpressure), minus the ASGI messages and their
    checks: the container's header names and values were checked as uvicorn checks them
    (sandbox.preview.container_http), and the preview adds only fixed ones. The head waits for
    the body's first piece (or flush()): a page that came whole is one write, one TCP segment,
    as a web server sends it, instead of two the browser wakes up for."""

    def __init__(self, cycle: Any) -> None:
        self.cycle = cycle
        self.chunked = False
        self.head_only = cycle.scope["method"] == "HEAD"
        self.held = b""

    async def request_body(self) -> tuple[bytes, bool] | None:
        return b"", False  # the fast path takes requests without a body only

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        cycle = self.cycle
        cycle.response_started = True
        if cycle.access_log:
            scope = cycle.scope
            cycle.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),
                scope["method"],
                get_path_with_query_string(scope),
                scope["http_version"],
                status,
            )
        content = [STATUS_LINE[status]]
        framed = False
        for name, value in (*cycle.default_headers, *headers):
            framed = framed or name == b"content-length"
            content += (name, b": ", value, b"\r\n")
        if not cycle.keep_alive:
            content.append(b"connection: close\r\n")
        if not framed and not self.head_only and status not in (204, 304):
            self.chunked = True
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        self.held = b"".join(content)

    async def body(self, data: bytes, *, more: bool) -> None:
        cycle = self.cycle
        if cycle.flow.write_paused and not cycle.disconnected:
            forward = _preview_fast_path().forward
            try:
                await forward.or_stalled(cycle.flow.drain())
            except forward.Stalled:
                _abort(cycle)
                raise
        if cycle.disconnected:
            return
        if self.head_only:
            data = b""
        elif self.chunked:
            data = (b"%x\r\n%b\r\n" % (len(data), data) if data else b"") + (
                b"" if more else b"0\r\n\r\n"
            )
        if self.held:
            data, self.held = self.held + data, b""
        if data:
            cycle.transport.write(data)
        if not more:
            cycle.response_complete = True
            cycle.message_event.set()
            if not cycle.keep_alive:
                cycle.transport.close()
            cycle.on_response()

    def flush(self) -> None:
        if self.held and not self.cycle.disconnected:
            self.cycle.transport.write(self.held)
        self.held = b""

    def watch(self) -> None:
        pass  # uvicorn marks the cycle when the connection is lost

    def gone(self) -> bool:
        # The transport too: uvicorn marks only its newest cycle when a pipelined connection ends.
        return bool(self.cycle.disconnected) or self.cycle.transport.is_closing()

    def stop_watching(self) -> None:
        pass


class WebsocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, with the protocol's promise kept for a frame over
    TERMINAL_MAX_FRAME: uvicorn's parser refuses it and closes with 1009 before the app sees a
    byte, so the Spanish notice the page shows is written here, just ahead of the close frame."""

    def handle_parser_exception(self) -> None:
        closing = self.conn.close_sent
        if closing is not None and closing.code == 1009 and not self.transport.is_closing():
            try:
                self.transport.write(_text_frame(_too_big_event()))
            except Exception:  # the close below matters more than the explanation
                logging.getLogger(__name__).warning("no notice before 1009", exc_info=True)
        super().handle_parser_exception()


def _too_big_event() -> dict[str, Any]:
    # Imported here: the app (and so Django's settings) is loaded by the time a frame arrives,
    # not when this module is.
    from sandbox.consumers import too_big_notice

    return too_big_notice()


def _text_frame(event: dict[str, Any]) -> bytes:
    """One unmasked, uncompressed text frame (valid with or without permessage-deflate)."""
    payload = json.dumps(event, ensure_ascii=False, allow_nan=False).encode()
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


def http_protocol() -> type[asyncio.Protocol]:
    """What uvicorn's "auto" would pick (httptools when installed), with the head timeout."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is in requirements.txt
        return H11HeadTimeoutProtocol

    class HttpToolsHeadTimeoutProtocol(PreviewFastPath, HeadTimeout, HttpToolsProtocol):
        pass

    return HttpToolsHeadTimeoutProtocol


def _terminal_max_frame() -> int:
    # Read from the settings, not the environment again: one default and one grammar ("64k").
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorial.settings")
    from django.conf import settings

    return int(settings.TERMINAL_MAX_FRAME)


def build_config(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m tutorial.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=env_duration("HTTP_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT, minimum=0.1),
        help="seconds a client has to send a request's head (env HTTP_HEADER_TIMEOUT; 10)",
    )
    parser.add_argument("--timeout-keep-alive", type=float, default=5.0)
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    args = parser.parse_args(argv)
    return Config(
        APP,
        host=args.host,
        port=args.port,
        http=http_protocol(),
        header_timeout=args.header_timeout,
        # Terminal websockets: frames up to the terminal's own limit (over it: a notice, then
        # 1009, from WebsocketProtocol), backpressure, pings.
        ws=WebsocketProtocol,
        ws_max_size=_terminal_max_frame(),
        ws_max_queue=32,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        # "on", not "auto": a failing start-up must stop the server, not go unnoticed. The
        # lifespan starts the sandbox reaper and warm pool, and on shutdown removes this
        # process's sandboxes within the graceful budget (tutorial.asgi, sandbox.shutdown).
        lifespan="on",
        timeout_graceful_shutdown=10,
        timeout_keep_alive=args.timeout_keep_alive,
        server_header=False,
        # The client's address and scheme come from tutorial.client_address, which believes a
        # proxy header only from TRUSTED_PROXIES; uvicorn's own handling trusted 127.0.0.1.
        proxy_headers=False,
        log_level=args.log_level,
    )


def main(argv: list[str] | None = None) -> None:
    server = uvicorn.Server(build_config(argv))
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's own exit status for a failed start-up


if __name__ == "__main__":
    main()
