"""Muelle's server: uvicorn with the options scripts/serve needs, plus a request-head timeout.

    python -m tutorial.server --host 127.0.0.1 --port 8000

uvicorn arms --timeout-keep-alive only after a first response, so a connection that never
completes its request head (slowloris: a few bytes now and then, or none at all) held a socket
and a file descriptor for ever. Here the HTTP protocol closes a connection whose request head is
not complete within HTTP_HEADER_TIMEOUT seconds (10; nginx's `client_header_timeout` does the
same): counted from the connection's start, and again from the end of each response while the
connection waits for its next request. Websocket upgrades leave the timer behind.

Each connection starts with the front (tutorial.front_protocol): a request for a student's
preview that is the common case (the owner's cookie, a plain GET or HEAD: sandbox.preview.
fast_path) is served there, without uvicorn's protocol or the ASGI app (docs/ports.md says what
that saves, measured); at the first other request the connection goes to uvicorn's protocol.
It builds uvicorn's protocol as uvicorn does and hooks its `_start_asgi_task`, so uvicorn stays
pinned (requirements.txt); the fast path's tests fail if either no longer works.

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
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

from tutorial.env import env_duration
from tutorial.front_protocol import FrontProtocol
from tutorial.http_limits import RequestLimits

APP = "tutorial.asgi:application"
PINGS_PER_SECOND = 10
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
    # Set by the front (tutorial.front_protocol) on a connection it hands over: when the head
    # being read runs out of time (loop time), instead of a full HEADER_TIMEOUT from now.
    head_deadline: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._await_head(self.head_deadline)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._await_head()  # keep-alive: the next request's head has the same time

    def handle_websocket_upgrade(self, *args: Any) -> None:
        self._stop_head_timer()  # the websocket protocol owns the connection from now on
        super().handle_websocket_upgrade(*args)  # type: ignore[misc]

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def _await_head(self, deadline: float | None = None) -> None:
        self._stop_head_timer()
        if not self.transport.is_closing():
            timeout = getattr(self.config, "header_timeout", DEFAULT_HEADER_TIMEOUT)
            if deadline is not None:
                timeout = max(deadline - self.loop.time(), 0.0)
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


class PreviewAbort:
    """Mixed into uvicorn's httptools protocol: a preview the ASGI app serves (the front,
    tutorial.front_protocol, serves the common ones itself) may drop a browser that stopped
    reading, instead of closing in order (uvicorn's close would wait for it to read what is
    buffered)."""

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        extensions = cycle.scope.setdefault("extensions", {})
        extensions[_forward().ABORT_EXTENSION] = functools.partial(_abort, cycle)
        super()._start_asgi_task(cycle, app)  # type: ignore[misc]


def _abort(cycle: Any) -> None:
    """Drops the connection: what it holds would never go out, so no orderly close. Marked as
    uvicorn marks a lost connection, so the unfinished answer is not logged as the app's fault."""
    cycle.transport.abort()
    cycle.disconnected = True


@functools.cache
def _forward() -> ModuleType:
    # Imported once the app (and so Django) is loaded, not with this module.
    from sandbox.preview import forward

    return forward


class WebsocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, with the protocol's promise kept for a frame over
    TERMINAL_MAX_FRAME: uvicorn's parser refuses it and closes with 1009 before the app sees a
    byte, so the Spanish notice the page shows is written here, just ahead of the close frame.

    And with a bound on pings: uvicorn answers each one at once, whatever the rate and whether
    or not the client reads. An attack review flooded 8 connections with pings, never reading:
    a bystander's page took 23 s and the server held 110 MiB more. A client past PINGS_PER_SECOND
    (browsers send none; a keep-alive sends one every few seconds) is dropped."""

    _ping_window = 0.0  # loop time when the current second of pings began
    _pings = 0

    def handle_ping(self) -> None:
        now = self.loop.time()
        if now - self._ping_window >= 1.0:
            self._ping_window, self._pings = now, 0
        self._pings += 1
        if self._pings > PINGS_PER_SECOND:
            self.transport.abort()
            return
        super().handle_ping()

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
    """What uvicorn's "auto" would pick (httptools when installed), with the head timeout,
    behind the front that serves a preview's common requests (tutorial.front_protocol)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is in requirements.txt
        return H11HeadTimeoutProtocol

    class HttpToolsHeadTimeoutProtocol(RequestLimits, PreviewAbort, HeadTimeout, HttpToolsProtocol):
        pass

    class Front(FrontProtocol):
        inner = HttpToolsHeadTimeoutProtocol

    return Front


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
