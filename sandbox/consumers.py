"""The terminal websocket (docs/terminal-protocol.md): a browser tab <-> one shell in its sandbox.

The consumer only checks the edge (session, terminal id, frame size and rate) and relays: the
shell, its output pump and its sandbox live in sandbox.terminals, outside any one connection, so a
reload reattaches to the same shell. Nothing here waits on Docker inside connect() or receive():
the terminal starts in its own task.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils.translation import gettext as _

from sandbox import control, engine, shutdown, terminal_holder
from sandbox.browser_session import live_key
from sandbox.session_end import session_ended_notice
from sandbox.terminal_buffers import TokenBucket
from sandbox.terminal_notices import address_full_notice, notice
from sandbox.terminals import (
    CLOSE_INPUT_FLOOD,
    CLOSE_INTERNAL,
    CLOSE_NO_ENGINE,
    CLOSE_NO_SESSION,
    CLOSE_POLICY,
    CLOSE_SERVICE_RESTART,
    CLOSE_TAB_CLOSED,
    CLOSE_TOO_BIG,
    CLOSE_TOO_MANY,
    Terminal,
    get_registry,
    is_terminal_id,
    owner_key,
)
from tutorial.client_address import client_address

logger = logging.getLogger(__name__)

# Session entry naming the sandbox this browser last had (a hash of the container id), so a new
# one can be announced as fresh.
SESSION_SANDBOX = "muelle_sandbox"


async def live_session_key(scope: dict[str, Any]) -> str | None:
    """The key of the handshake's Django session, if that session exists and has not expired."""
    session = scope.get("session")
    return None if session is None else await live_key(session)


def _size_param(params: dict[str, list[str]], name: str, default: int) -> int:
    try:
        value = int(params[name][0])
    except (KeyError, ValueError):
        return default
    return value if 1 <= value <= 500 else default


class TerminalConsumer(AsyncWebsocketConsumer):
    terminal: Terminal | None = None
    closing = False
    session_watch: asyncio.Task[None] | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every message it hands a consumer:
        # a hop to the database thread, about 0.2 ms of CPU. A keystroke, a resize or a ping
        # touches no database, and they are most of a terminal's messages; connecting and
        # disconnecting (the session, the sandbox's rows) still get it.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def connect(self) -> None:
        self.input_bucket = TokenBucket(
            settings.TERMINAL_INPUT_RATE, burst=settings.TERMINAL_INPUT_RATE
        )
        self.input_bytes = TokenBucket(
            settings.TERMINAL_INPUT_BYTES_RATE, burst=settings.TERMINAL_INPUT_BURST
        )
        params = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        terminal_id = params.get("t", [""])[0]
        session_key = await live_session_key(self.scope)
        # Accept first in every case: a refused handshake reaches the page as a bare 1006, while
        # an accepted one can carry a Spanish explanation and a close code the page acts on.
        await self.accept()
        if not settings.SANDBOX_ENABLED:
            await self.end(CLOSE_NO_ENGINE, _disabled_notice())
        elif session_key is None:
            await self.end(CLOSE_NO_SESSION, _no_session_notice())
        elif not is_terminal_id(terminal_id):
            await self.end(CLOSE_POLICY, _bad_terminal_id_notice())
        else:
            # The reaper and the warm pool start with the server (ASGI lifespan, tutorial.asgi);
            # under a server without lifespan (daphne, channels' test communicator) the first
            # terminal starts them, from an empty context: tasks started from this one would
            # inherit thread executors that end with this connection. A no-op once running.
            contextvars.Context().run(engine.ensure_background_tasks)
            rows = _size_param(params, "rows", 24)
            cols = _size_param(params, "cols", 80)
            owner = owner_key(session_key)
            address = client_address(self.scope)
            registry = get_registry()
            if registry.address_full(address, owner, terminal_id):
                await self.end(CLOSE_TOO_MANY, address_full_notice())
                return
            self.terminal = registry.connect(
                owner, terminal_id, self, rows=rows, cols=cols, address=address
            )
            if self.terminal is None:
                await self.end(CLOSE_TOO_MANY, _too_many_notice())
            else:
                self.session_watch = asyncio.create_task(self._watch_session(session_key, owner))

    async def _watch_session(self, session_key: str, owner: str) -> None:
        """Ends the owner's terminals once its browser session is gone: flushed (a logout in
        another process), its key cycled (a login), expired or deleted. A logout in this process
        is quicker (sandbox.session_end); this is the check that holds everywhere."""
        store = import_module(settings.SESSION_ENGINE).SessionStore
        while not self.closing:
            await asyncio.sleep(settings.TERMINAL_SESSION_CHECK)
            try:
                alive = await store().aexists(session_key)
            except Exception:
                logger.warning("could not check a terminal's session", exc_info=True)
                continue
            if not alive and not self.closing:
                get_registry().end_session(owner, session_ended_notice())
                return

    async def disconnect(self, code: int) -> None:
        self.closing = True
        if self.session_watch is not None:
            self.session_watch.cancel()
        terminal = self.terminal
        if terminal is None:
            return
        if code == CLOSE_SERVICE_RESTART and terminal_holder.enabled():
            # The server is stopping, but the shell is held in the sandbox: the page reconnects
            # to another web process, which adopts the sandbox (docs/despliegue.md). A hand-made
            # client sending 1012 only leaves its own sandbox to the next connection.
            terminal.registry.hand_over(terminal.owner, CLOSE_SERVICE_RESTART)
        elif code == CLOSE_SERVICE_RESTART:
            # The server is stopping (uvicorn closes every websocket with 1012 on SIGTERM): no
            # reconnect can reach this process, so the sandbox goes now, and the server waits
            # for it (it waits for this handler) instead of exiting with the container left.
            # A browser can't send 1012; a hand-made client that does only ends its own sandbox.
            lease = terminal.registry.end_owner(terminal.owner, CLOSE_SERVICE_RESTART)
            if lease is not None:
                await shutdown.wait_for_lease(lease)
        elif code == CLOSE_TAB_CLOSED:
            # The student closed this terminal's tab in the workspace: nothing will come back
            # for it, so its shell ends now and its place is free for another tab at once.
            if terminal.client is self:
                terminal.close()
        else:
            # A reload, a closed browser tab, a dropped network: keep the shell for the grace
            # period.
            terminal.unbind(self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        try:
            await self._receive(text_data, bytes_data)
        except Exception:
            # Whatever a frame did, the page gets a reason and the shell goes: an exception
            # escaping here dropped the socket (1006, no notice) with the terminal still counted
            # as shown, and three of them locked the session out of terminals.
            logger.exception("terminal frame handling failed")
            await self.refuse(CLOSE_INTERNAL, _internal_error_notice())

    async def _receive(self, text_data: str | None, bytes_data: bytes | None) -> None:
        size = len(bytes_data) if bytes_data is not None else len((text_data or "").encode())
        if size > settings.TERMINAL_MAX_FRAME:
            await self.end(CLOSE_TOO_BIG, too_big_notice())
            return
        if not self.input_bucket.try_take() or not self.input_bytes.try_take(size):
            await self.end(CLOSE_INPUT_FLOOD, _flood_notice())
            return
        if bytes_data is not None:
            if self.terminal is not None:
                self.terminal.input(bytes_data)
            return
        await self._control(text_data or "")

    async def _control(self, text: str) -> None:
        message = control.parse(text)
        if message is None:
            # Only a hand-made client sends anything else: its shell ends at once (no grace),
            # so it never holds one of the session's terminal places.
            await self.refuse(CLOSE_POLICY, _bad_control_notice())
        elif message.kind == "resize":
            if self.terminal is not None and message.size is not None:
                self.terminal.resize(*message.size)
        elif message.kind == "ping":
            await self.send_event({"type": "pong", "t": message.stamp})

    # TerminalClient (called by sandbox.terminals) ---------------------------------------------

    async def send_output(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            await self.send(bytes_data=data)
        except Exception:
            # The socket went away under us; disconnect() follows.
            self.closing = True

    async def send_event(self, event: dict[str, Any]) -> None:
        if self.closing:
            return
        try:
            # allow_nan=False: what goes out is always valid JSON, or nothing.
            await self.send(text_data=json.dumps(event, ensure_ascii=False, allow_nan=False))
        except Exception:
            self.closing = True

    async def end(self, code: int, event: dict[str, Any] | None) -> None:
        """Explains (when there is something to say) and closes with `code`."""
        if self.closing:
            return
        if event is not None:
            await self.send_event(event)
        self.closing = True
        if self.terminal is not None:
            self.terminal.unbind(self)
        try:
            await self.close(code=code)
        except Exception:
            logger.debug("closing a terminal socket that was already gone", exc_info=True)

    async def refuse(self, code: int, event: dict[str, Any]) -> None:
        """Explains, closes with `code` and ends this connection's shell at once (no grace): for
        what only a hand-made client sends. The session's terminal place is free right away."""
        terminal = self.terminal
        await self.end(code, event)
        if terminal is not None:
            terminal.close()

    async def sandbox_is_fresh(self, sandbox: engine.Sandbox) -> bool:
        """True when this browser had another sandbox before (gone after the grace period, an
        expiry or a crash), so the page can say the files from before are not there."""
        session = self.scope.get("session")
        if session is None:
            return False
        mark = hashlib.sha256(sandbox.container_id.encode()).hexdigest()[:16]
        previous = await session.aget(SESSION_SANDBOX)  # loaded in connect(): no query
        if previous == mark:
            return False
        # Remember it without holding up the first prompt (a write, under a burst of students).
        get_registry().spawn(_remember_sandbox(session, mark))
        return previous is not None


async def _remember_sandbox(session: Any, mark: str) -> None:
    try:
        await session.aset(SESSION_SANDBOX, mark)
        await session.asave()
    except Exception:
        logger.warning("could not record the sandbox in the session", exc_info=True)


# --- Messages ---------------------------------------------------------------------------------


def _disabled_notice() -> dict[str, Any]:
    return notice(
        "error",
        _(
            "La terminal está desactivada en este servidor (SANDBOX_ENABLED=0). Puedes seguir "
            "leyendo las lecciones."
        ),
    )


def _no_session_notice() -> dict[str, Any]:
    return notice(
        "error",
        _(
            "No encontramos tu sesión del navegador. Recarga la página para empezar una nueva; si "
            "tu navegador bloquea las cookies, permítelas para este sitio."
        ),
    )


def _bad_terminal_id_notice() -> dict[str, Any]:
    return notice(
        "error",
        _("La página pidió la terminal con un identificador no válido. Recarga la página."),
    )


def _too_many_notice() -> dict[str, Any]:
    limit = settings.SANDBOX_MAX_TERMINALS_PER_SESSION
    return notice(
        "error",
        _(
            "Ya tienes %(n)d terminales abiertas, el máximo por persona. Cierra alguna (una "
            "pestaña de terminal o del navegador) y vuelve a intentarlo."
        )
        % {"n": limit},
    )


def too_big_notice() -> dict[str, Any]:
    kib = settings.TERMINAL_MAX_FRAME // 1024
    return notice(
        "error",
        _(
            "Has enviado demasiado texto de una vez (el máximo es %(kib)d KB). Pégalo en partes "
            "más pequeñas y vuelve a conectar."
        )
        % {"kib": kib},
    )


def _bad_control_notice() -> dict[str, Any]:
    return notice(
        "error",
        _(
            "La terminal recibió un mensaje de control que no entiende y se ha cerrado. Recarga "
            "la página para abrir otra."
        ),
    )


def _internal_error_notice() -> dict[str, Any]:
    return notice(
        "error",
        _("Algo ha fallado en la terminal y se ha cerrado. Vuelve a conectar en unos segundos."),
    )


def _flood_notice() -> dict[str, Any]:
    return notice(
        "error",
        _(
            "La terminal ha recibido demasiados mensajes por segundo y se ha desconectado para "
            "proteger el servidor. Tu sesión sigue ahí: vuelve a conectar y, si pegabas texto, "
            "hazlo en partes más pequeñas."
        ),
    )
