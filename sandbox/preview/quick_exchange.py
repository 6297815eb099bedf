"""A planned preview request (sandbox.preview.fast_path), answered from callbacks when it can be.

The common exchange is a page on a kept-alive connection to the container that arrives whole.
Here the request goes out at once, and the answer goes to the browser in one write from the
container connection's own callback, once all of it is in: no task, no coroutine, one timer for
the wait. Measured, the coroutine machinery around the exchange, not its checks, was most of
what the preview added to a request straight to the container (docs/ports.md, «El protocolo
delantero»).

Everything else goes to the coroutine path (sandbox.preview.forward), in a task, running the
same code as under ASGI:
- no kept connection: a new one is opened;
- a kept connection that turns out to be closed: the request goes again on a new one, as
  forward retries;
- the byte rate spent;
- an answer that goes on: over WATCH_AFTER_BYTES, or not complete when its head is in;
- the 504 page when nothing came in time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from django.conf import settings

from sandbox.ports import byte_rate
from sandbox.token_bucket import RateLimit

from . import forward, pages
from .container_http import ContainerConnection
from .fast_path import Planned

logger = logging.getLogger(__name__)
# Connections opened ahead for servers that close each one: nobody waits for them.
_background: set[asyncio.Task[None]] = set()


class Browser(forward.Browser, Protocol):
    def answer_now(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """A whole answer, written at once."""

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Runs `work` (which answers) in a task, and is done when it ends."""

    def done(self) -> None:
        """The request is over: its answer is out, or it ended."""

    def abort(self) -> None:
        """The request failed: the connection is dropped, and the request is over."""


def serve(planned: Planned, browser: Browser) -> None:
    scope = planned.scope
    if logger.isEnabledFor(logging.DEBUG):  # tests tell the two paths apart by this line
        logger.debug("vista directa: %s %s", scope["method"], scope["raw_path"].decode("latin-1"))
    kept = planned.table.take_idle(planned.target.host_port)
    if kept is None:
        browser.spawn(_coroutine_path(planned, browser))
        return
    conn = kept.connection
    assert isinstance(conn, ContainerConnection)
    try:
        head, _chunked = forward.container_head(scope, whole_body=0)
        conn.begin(head_request=scope["method"] == "HEAD")
        conn.write(head)
    except (ValueError, ConnectionError):
        # The 502 page for a head that would split, or a new connection for a closed one.
        conn.close()
        browser.spawn(_coroutine_path(planned, browser))
        return
    _Exchange(planned, browser, conn).wait()


async def _coroutine_path(planned: Planned, browser: Browser) -> None:
    await forward.serve(planned.scope, browser, planned.table, planned.target, planned.framer)


class _Exchange:
    """One request written on a kept connection, waiting for its answer."""

    def __init__(self, planned: Planned, browser: Browser, conn: ContainerConnection) -> None:
        self.planned = planned
        self.browser = browser
        self.conn = conn
        self.port = planned.target.host_port
        busy = planned.table.busy
        busy[self.port] = busy.get(self.port, 0) + 1

    def wait(self) -> None:
        self.conn.listener = self._progress
        self.planned.table.waits.add(self, settings.PREVIEW_IDLE_SECONDS, self._timed_out)
        if self.conn.head_done() or self.conn.failed():
            # What a server that speaks first sent on a connection opened ahead is already
            # read: no callback would come for it.
            self._progress()

    def _stop_waiting(self) -> None:
        self.conn.listener = None
        self.planned.table.waits.discard(self)

    def _progress(self) -> None:
        # Called from the container connection's callbacks: an error here would end that
        # connection with nothing said to the browser.
        try:
            self._on_progress()
        except Exception:
            logger.exception("vista: error en el intercambio con el contenedor")
            self._stop_waiting()
            self.conn.close()
            self._release()
            self.browser.abort()

    def _on_progress(self) -> None:
        conn, browser, planned = self.conn, self.browser, self.planned
        if not conn.head_done():
            if conn.failed():
                # Nothing came back: the kept connection had been closed. As forward does,
                # once more on a new connection.
                self._stop_waiting()
                conn.close()
                self._release()
                browser.spawn(_coroutine_path(planned, browser))
            return
        headers = forward.browser_headers(conn.headers, planned.framer)
        limit = byte_rate.limit_for(planned.target.public_id)
        size = conn.queued()
        if conn.complete() and size <= forward.WATCH_AFTER_BYTES and limit.take_now(size):
            browser.answer_now(conn.status, headers, conn.take_body())
            # The browser has its answer; what is left is this side's bookkeeping.
            self._stop_waiting()
            self._end(conn.reusable())
            browser.done()
        else:
            self._stop_waiting()
            browser.spawn(self._relay(headers, limit))

    async def _relay(self, headers: list[tuple[bytes, bytes]], limit: RateLimit) -> None:
        reusable = False
        try:
            conn = self.conn
            idle = settings.PREVIEW_IDLE_SECONDS
            reusable = await forward.relay_body(
                self.browser, conn, conn.status, headers, limit, idle
            )
        finally:
            self._end(reusable)

    def _timed_out(self) -> None:
        self.conn.listener = None
        self.conn.close()
        self._release()
        page = pages.timed_out(self.port)
        self.browser.spawn(forward.send_page(self.browser, 504, page, self.planned.framer))

    def _end(self, reusable: bool) -> None:
        table, conn = self.planned.table, self.conn
        forward.keep_or_close(table, self.port, conn, reusable)
        self._release()
        if not reusable and conn.complete() and not table.busy[self.port]:
            # The container closes after each answer: the next request's connection is opened
            # now, while the browser is busy with this answer.
            task = asyncio.get_running_loop().create_task(
                table.open_ahead(self.port, ContainerConnection)
            )
            _background.add(task)
            task.add_done_callback(_background.discard)

    def _release(self) -> None:
        self.planned.table.busy[self.port] -= 1
