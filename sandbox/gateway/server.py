"""The per-student unix-socket server: one HTTP/1.1 exchange at a time per connection.

Who the student is comes from which socket accepted the connection, never from the request.
Each request is parsed, routed (routes.py) and answered by a handler that either answers
itself (refusals, synthesised replies) or sends its own, rewritten request to the engine with
`Exchange.forward`: buffered JSON (rewritten), a stream (logs, events, build output) or a
hijacked connection (attach, exec) spliced both ways with half-close.

Every task started here is kept in `Gateway.tasks` until it finishes: a task only the event
loop refers to can be garbage-collected mid-stream (it happened to the prototype: ~10% of
`docker run` outputs were cut).

Why one module of about 700 lines: an Exchange's three ways of answering (buffered, stream,
hijacked) share its connection's state and half-close handling, and Gateway, which accepts the
connections and runs the Exchanges, is what each Exchange reports back to (tasks, connection
count); split, the two halves would import each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from sandbox.token_bucket import RateLimit, paced

from . import canonical_json
from .errors import EngineError, GatewayError, bad_request, error_body
from .student import Student
from .upstream import API, EngineConnection
from .wire import (
    HOP_BY_HOP,
    LAST_CHUNK,
    MAX_HEAD,
    READ_SIZE,
    REASONS,
    BodyTooLarge,
    Framing,
    LineBatch,
    ProtocolError,
    RequestHead,
    ResponseHead,
    chunk,
    encode_request_head,
    encode_response_head,
    iter_body,
    line_batches,
    merged_batches,
    read_body,
    read_request_head,
    read_response_head,
    request_framing,
    response_framing,
)

log = logging.getLogger("sandbox.gateway")

SUPPORTED_VERSIONS = ("1.40", "1.41")
# Go's unicode.IsSpace: what strings.TrimSpace removes.
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
MAX_BUFFERED_RESPONSE = 64 * 1024 * 1024
MAX_DRAIN = 64 * 1024 * 1024

JsonRewrite = Callable[[Any], Any | Awaitable[Any]]
LineRewrite = Callable[[bytes], bytes]


class Exchange:
    """One request from the student and the answer to it."""

    def __init__(
        self,
        gateway: Gateway,
        head: RequestHead,
        path: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.gateway = gateway
        self.student: Student = gateway.student
        self.head = head
        self.path = path  # without the version prefix
        self.params: dict[str, str] = {}
        self.reader = reader
        self.writer = writer
        self.framing: Framing = request_framing(head)
        self.body_consumed = self.framing.kind == "none"
        self.responded = False
        self.status: int | None = None  # the answer's, once one is sent
        self.close_after = not head.keep_alive
        # Bytes of the student's next request read while watching for them leaving (see
        # _relay_watching_client); the next request head starts with them.
        self.carry = b""

    # --- the student's request ----------------------------------------------------------------
    def q(self, name: str, default: str | None = None) -> str | None:
        value = self.head.query_first(name)
        return default if value is None else value

    def q_bool(self, name: str) -> bool:
        """A boolean query parameter, read as the engine reads it (see go_bool). Handlers send
        the engine "1"/"0" of their own, never the student's spelling."""
        return go_bool(self.head.query_first(name))

    def q_filters(self) -> dict[str, list[str]]:
        """The `filters` parameter as {key: [values]} (both engine encodings accepted)."""
        raw = self.q("filters")
        if not raw:
            return {}
        data = canonical_json.parse_plain(raw.encode())
        if not isinstance(data, dict):
            raise bad_request(_("El parámetro filters no es válido."))
        out: dict[str, list[str]] = {}
        for key, value in data.items():
            if isinstance(value, dict):
                values = [k for k, on in value.items() if on is True]
            elif isinstance(value, list):
                values = value
            else:
                raise bad_request(_("El parámetro filters no es válido."))
            if not all(isinstance(v, str) for v in values):
                raise bad_request(_("El parámetro filters no es válido."))
            out[key] = values
        return out

    async def body(self, limit: int | None = None) -> bytes:
        limit = limit or self.student.config.max_json_body
        try:
            data = await read_body(self.reader, self.framing, limit, self.gateway.byte_rate)
        except BodyTooLarge:
            self.close_after = True
            self.body_consumed = True  # what is left is abandoned with the connection
            raise too_large(limit) from None
        self.body_consumed = True
        return data

    async def json_body(self, schema: canonical_json.Struct) -> dict[str, Any]:
        return canonical_json.canonicalise(await self.body(), schema)

    async def no_body(self) -> None:
        """Endpoints that take no body (e.g. /start): an old API accepted a HostConfig here."""
        data = (await self.body()).strip()
        if data and data not in (b"{}", b"null"):
            raise bad_request(
                _(
                    "Esta operación no admite cuerpo en la petición (la configuración se da al "
                    "crear el contenedor)."
                )
            )

    def body_stream(self) -> AsyncIterator[bytes]:
        self.body_consumed = True
        return paced(iter_body(self.reader, self.framing), self.gateway.byte_rate)

    async def drain(self) -> None:
        if self.body_consumed:
            return
        self.body_consumed = True
        try:
            async with asyncio.timeout(30):
                size = 0
                # Paced: a student sending big bodies to endpoints that take none (a loop of
                # `_ping` with 60 MiB each) had the web process read 2.3 GiB/s for nothing.
                pieces = paced(iter_body(self.reader, self.framing), self.gateway.byte_rate)
                async for data in pieces:
                    size += len(data)
                    if size > MAX_DRAIN:
                        self.close_after = True
                        return
        except (ProtocolError, TimeoutError, ConnectionError):
            self.close_after = True

    # --- answers made here ------------------------------------------------------------------
    async def reply_json(
        self, status: int, value: Any, headers: list[tuple[str, str]] | None = None
    ) -> None:
        data = json.dumps(value, ensure_ascii=False).encode() + b"\n"
        await self.reply(status, data, "application/json", headers)

    async def reply(
        self,
        status: int,
        data: bytes,
        content_type: str | None = "application/json",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        out = list(headers or [])
        if content_type:
            out.append(("Content-Type", content_type))
        out += [("Api-Version", "1.41"), ("Content-Length", str(len(data)))]
        if self.close_after:
            out.append(("Connection", "close"))
        self.responded = True
        self.status = status
        self.writer.write(encode_response_head(status, REASONS.get(status, ""), out))
        if self.head.method != "HEAD":
            self.writer.write(data)
        await self.writer.drain()

    async def reply_error(self, error: GatewayError) -> None:
        await self.reply(error.status, error_body(error.message))

    # --- answers from the engine ----------------------------------------------------------------
    async def forward(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | dict[str, str] | None = None,
        body: bytes | AsyncIterator[bytes] | None = None,
        content_type: str | None = None,
        mode: str = "buffer",
        rewrite: JsonRewrite | None = None,
        lines: LineRewrite | None = None,
        also: AsyncIterator[LineBatch] | None = None,
    ) -> int:
        """Sends the gateway's own request to the engine and relays the answer to the student.

        mode: "buffer" (JSON answer, rewritten and stripped of prefixes), "stream" (relayed as it
        comes; JSON-lines rewritten with `lines`), or "hijack" (attach/exec: spliced both ways).
        `also`: more lines for a stream with `lines`, from elsewhere, mixed in as they come (the
        stream ends when both have). Returns the engine's status.
        """
        if isinstance(query, dict):
            query = list(query.items())
        query = [(k, v) for k, v in (query or []) if v is not None]
        headers = [("User-Agent", self.head.headers.get("user-agent") or "muelle-gateway")]
        if content_type and _is_form(content_type):
            if body is not None and not isinstance(body, bytes):
                self.body_consumed = False  # a stream not started yet: drained by the refusal
            refuse_form(content_type)
        if content_type:
            headers.append(("Content-Type", content_type))
        if isinstance(body, bytes):
            headers.append(("Content-Length", str(len(body))))
        elif body is not None:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", "0"))
        if mode == "hijack":
            headers += [("Connection", "Upgrade"), ("Upgrade", "tcp")]
        else:
            headers.append(("Connection", "close"))
        conn = await self.gateway.connect_engine()
        try:
            conn.writer.write(encode_request_head(method, API + path, query, headers))
            if isinstance(body, bytes):
                # What the gateway wrote again (a cp archive, a build context) counts once more:
                # the web process copies it a second time, and may have uncompressed it.
                await self.gateway.byte_rate.take(len(body))
                conn.writer.write(body)
            elif body is not None:
                await self._send_stream_body(conn, body)
            with contextlib.suppress(ConnectionError):
                # The engine may answer and close before reading a body (e.g. /wait).
                await conn.writer.drain()
            if mode == "hijack" or not self.body_consumed:
                return await self._relay(method, conn, mode, rewrite, lines, also)
            return await self._relay_watching_client(method, conn, mode, rewrite, lines, also)
        finally:
            conn.close()

    async def _send_stream_body(self, conn: EngineConnection, body: AsyncIterator[bytes]) -> None:
        try:
            # Paced: `docker import` of a gzip of zeros is charged 1.8 MiB on the way in, and
            # 400 MiB uncompressed go on to the engine.
            async for data in paced(body, self.gateway.byte_rate):
                conn.writer.write(chunk(data))
                await conn.writer.drain()
            conn.writer.write(LAST_CHUNK)
        except ConnectionError:
            return

    async def _relay_watching_client(
        self,
        method: str,
        conn: EngineConnection,
        mode: str,
        rewrite: JsonRewrite | None,
        lines: LineRewrite | None,
        also: AsyncIterator[LineBatch] | None = None,
    ) -> int:
        """Relays, and gives up (closing the engine connection) if the student goes away.

        Going away is an end of file, nothing else: a byte that arrives meanwhile is the start of
        the student's next request (the CLI reuses the `HEAD /_ping` connection for its next
        request the moment the answer arrives; a client may pipeline). That byte is kept in
        `carry` for the next request head, like Go's server does in its background read. Taking
        it for "the client left" closed the connection and the CLI's next request got EOF.
        """
        relay = self.gateway.spawn(self._relay(method, conn, mode, rewrite, lines, also))
        watch = self.gateway.spawn(self.reader.read(1))
        done, _pending = await asyncio.wait({relay, watch}, return_when=asyncio.FIRST_COMPLETED)
        if watch not in done:
            watch.cancel()  # a pending read has consumed nothing
        try:
            data = await watch
        except (asyncio.CancelledError, ConnectionError, OSError):
            data = None  # cancelled before anything arrived, or the connection broke
        if data:
            self.carry = data
            return await relay
        if relay in done:
            if data == b"":
                self.close_after = True  # the student closed after their answer
            return relay.result()
        # The student closed the connection: stop relaying what nobody will read.
        self.close_after = True
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, ProtocolError):
            return await relay
        return 499

    async def _relay(
        self,
        method: str,
        conn: EngineConnection,
        mode: str,
        rewrite: JsonRewrite | None,
        lines: LineRewrite | None,
        also: AsyncIterator[LineBatch] | None = None,
    ) -> int:
        try:
            response = await read_response_head(conn.reader)
        except (ProtocolError, ConnectionError):
            raise GatewayError(502, _("El motor de Docker no ha respondido.")) from None
        framing = response_framing(method, response)
        if mode == "hijack" and (
            response.status == 101 or (response.status == 200 and framing.kind == "close")
        ):
            await self._splice(conn, response)
            return response.status
        if mode == "buffer" or response.status >= 300:
            try:
                data = await read_body(conn.reader, framing, MAX_BUFFERED_RESPONSE)
            except ProtocolError:
                # The engine's fault, not the student's request: not "Petición HTTP no válida".
                raise GatewayError(502, _("El motor de Docker no ha respondido.")) from None
            # Charged whole (up to MAX_BUFFERED_RESPONSE): parsing and rewriting it holds the
            # loop (json and re keep the GIL, so a thread would not free it), and the rate is
            # what bounds how often a student can ask for that.
            await self.gateway.byte_rate.take(len(data))
            data = await self._rewrite_buffered(response, data, rewrite)
            headers = self._response_headers(response)
            headers.append(("Content-Length", str(len(data))))
            if self.close_after:
                headers.append(("Connection", "close"))
            self.responded = True
            self.status = response.status
            self.writer.write(encode_response_head(response.status, response.reason, headers))
            if method != "HEAD":
                self.writer.write(data)
            await self.writer.drain()
            return response.status
        await self._stream(response, conn, framing, lines, also)
        return response.status

    async def _rewrite_buffered(
        self, response: ResponseHead, data: bytes, rewrite: JsonRewrite | None
    ) -> bytes:
        is_json = (response.headers.get("content-type") or "").startswith("application/json")
        if response.status < 300 and rewrite is not None and is_json and data:
            value = rewrite(json.loads(data))
            if asyncio.iscoroutine(value):
                value = await value
            data = json.dumps(value, ensure_ascii=False).encode() + b"\n"
        return self.student.ns.strip_bytes(data)

    def _response_headers(self, response: ResponseHead) -> list[tuple[str, str]]:
        out = []
        for name, value in response.headers.items:
            lower = name.lower()
            if lower in HOP_BY_HOP:
                continue
            if lower == "builder-version":
                value = "1"  # the classic builder is the only one students get
            out.append((name, value))
        return out

    async def _stream(
        self,
        response: ResponseHead,
        conn: EngineConnection,
        framing: Framing,
        lines: LineRewrite | None,
        also: AsyncIterator[LineBatch] | None = None,
    ) -> None:
        headers = self._response_headers(response)
        self.responded = True
        self.status = response.status
        if lines is None:
            await self._pass_through(response, headers, conn, framing)
            return
        chunked = framing.kind != "close"
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            self.close_after = True
            headers.append(("Connection", "close"))
        self.writer.write(encode_response_head(response.status, response.reason, headers))
        await self.writer.drain()
        pieces = paced(iter_body(conn.reader, framing), self.gateway.byte_rate)
        batches = line_batches(pieces)
        if also is not None:
            batches = merged_batches(batches, also)
        # Closed here, not left to the collector: a merge has tasks reading its sources.
        async with contextlib.aclosing(batches):
            async for batch in batches:
                data = batch.rewritten(lines)
                self.writer.write(chunk(data) if chunked else data)
                await self.writer.drain()
        if chunked:
            self.writer.write(LAST_CHUNK)
        await self.writer.drain()

    async def _pass_through(
        self,
        response: ResponseHead,
        headers: list[tuple[str, str]],
        conn: EngineConnection,
        framing: Framing,
    ) -> None:
        """Raw bytes (logs, exports, archives) relayed as the engine framed them. The engine
        closes this connection after its one response (Connection: close), so for a chunked
        body its last chunk is also the end of what arrives here."""
        if framing.kind == "chunked":
            headers.append(("Transfer-Encoding", "chunked"))
        elif framing.kind == "length":
            headers.append(("Content-Length", str(framing.length)))
        elif framing.kind == "close":
            self.close_after = True
            headers.append(("Connection", "close"))
        self.writer.write(encode_response_head(response.status, response.reason, headers))
        await self.writer.drain()
        if framing.kind == "none":
            return
        remaining = framing.length if framing.kind == "length" else -1
        while remaining:
            data = await conn.reader.read(READ_SIZE if remaining < 0 else min(remaining, READ_SIZE))
            if not data:
                if remaining > 0:
                    raise ProtocolError("engine body ended early")
                break
            remaining -= len(data) if remaining > 0 else 0
            await self.gateway.byte_rate.take(len(data))
            self.writer.write(data)
            await self.writer.drain()

    async def _splice(self, conn: EngineConnection, response: ResponseHead) -> None:
        """Attach/exec after the upgrade: bytes both ways until the engine ends its side."""
        self.close_after = True
        self.responded = True
        self.status = response.status
        headers = [(k, v) for k, v in response.headers.items if k.lower() not in HOP_BY_HOP]
        if response.status == 101:
            headers += [("Connection", "Upgrade"), ("Upgrade", "tcp")]
        self.writer.write(encode_response_head(response.status, response.reason, headers))
        await self.writer.drain()

        async def upstream() -> None:
            try:
                while data := await self.reader.read(READ_SIZE):
                    await self.gateway.byte_rate.take(len(data))
                    conn.writer.write(data)
                    await conn.writer.drain()
                if conn.writer.can_write_eof():
                    conn.writer.write_eof()  # the student's stdin ended (half-close)
            except (ConnectionError, OSError):
                return

        async def downstream() -> None:
            try:
                while data := await conn.reader.read(READ_SIZE):
                    await self.gateway.byte_rate.take(len(data))
                    self.writer.write(data)
                    await self.writer.drain()
            except (ConnectionError, OSError):
                return

        up = self.gateway.spawn(upstream())
        down = self.gateway.spawn(downstream())
        try:
            await down
        finally:
            up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await up


Handler = Callable[[Exchange], Coroutine[Any, Any, None]]
Router = Callable[[str, str], tuple[Handler, dict[str, str]]]


class Gateway:
    """One student's endpoint: a unix socket server and every task serving it."""

    def __init__(self, student: Student, socket_path: Path, router: Router) -> None:
        self.student = student
        self.socket_path = socket_path
        # routes.route, given by lifecycle.py: routes imports the handlers, which import this
        # module, so this module does not import routes.
        self.router = router
        self.tasks: set[asyncio.Task[Any]] = set()
        self.server: asyncio.AbstractServer | None = None
        self.connections = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        # Every byte of the student's streams (exec and attach, cp, export, logs, build output,
        # bodies they send) is copied by the web process: without a rate, a student in a loop of
        # them took its time from every other student (docs/gateway.md). One bucket for all of
        # the student's connections.
        self.byte_rate = RateLimit(student.config.stream_bytes_per_second)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def connect_engine(self) -> EngineConnection:
        try:
            return await self.student.engine.connect()
        except OSError:
            raise GatewayError(502, _("El motor de Docker no responde.")) from None

    async def start(self) -> None:
        """Listens on a temporary name, sets owner and mode, then renames it into place: the
        sandbox, which sees this folder live, never meets the socket missing (a stale one from
        before a restart is replaced in one step) or with the wrong owner (a `docker` command
        in that moment failed with "permission denied")."""
        path = self.socket_path
        self.loop = asyncio.get_running_loop()
        staging = path.with_name(f".s{secrets.token_hex(3)}")  # shorter than docker.sock
        self.server = await asyncio.start_unix_server(
            self._on_client, path=str(staging), limit=MAX_HEAD
        )
        config = self.student.config
        try:
            try:
                os.chown(staging, config.socket_uid, config.socket_gid)
                os.chmod(staging, 0o660)
            except PermissionError:
                # Not root: the folder is only mounted into this student's sandbox, so let any
                # uid inside it connect (documented in docs/gateway.md).
                os.chmod(staging, 0o666)  # noqa: S103
            os.replace(staging, path)
        except BaseException:
            self.server.close()
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
            raise

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        config = self.student.config
        if self.connections >= config.max_connections:
            writer.close()  # a student cannot exhaust Muelle's file descriptors
            return
        self.connections += 1
        carry = b""
        try:
            while True:
                try:
                    async with asyncio.timeout(config.idle_timeout):
                        head = await read_request_head(reader, carry)
                except (ProtocolError, UnicodeDecodeError, ValueError):
                    writer.write(
                        encode_response_head(
                            400,
                            "Bad Request",
                            [
                                ("Content-Type", "application/json"),
                                ("Connection", "close"),
                                (
                                    "Content-Length",
                                    str(len(error_body(_("Petición HTTP no válida.")))),
                                ),
                            ],
                        )
                    )
                    writer.write(error_body(_("Petición HTTP no válida.")))
                    await writer.drain()
                    return
                if head is None:
                    return
                exchange = await self._handle(head, reader, writer)
                if exchange is None or exchange.close_after:
                    return
                carry = exchange.carry
        except (ConnectionError, asyncio.IncompleteReadError, ProtocolError, TimeoutError):
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("gateway connection failed")
        finally:
            self.connections -= 1
            writer.close()

    async def _handle(
        self, head: RequestHead, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Exchange | None:
        """Answers one request; None when the connection broke (nothing more to answer)."""
        path, version_error = _split_version(head.path)
        log.debug("%s %s %s", self.student.ns.key, head.method, head.target)
        exchange = Exchange(self, head, path, reader, writer)
        try:
            if version_error:
                raise version_error
            handler, params = self.router(head.method, path)
            exchange.params = params
            await handler(exchange)
            if not exchange.close_after:
                # A body the handler had no use for: skip it, so the next request on this
                # connection is read from its own first byte, never from inside this body.
                await exchange.drain()
        except EngineError as exc:
            await self._fail(exchange, GatewayError(exc.status, self.student.ns.strip(exc.message)))
        except GatewayError as exc:
            await self._fail(exchange, exc)
        except ProtocolError:
            # A body framed in a way the gateway does not read (see wire.py): answered, then
            # the connection closes, since where the next request would start is unknown.
            exchange.close_after = True
            if not exchange.responded:
                with contextlib.suppress(ConnectionError):
                    await exchange.reply_error(bad_request(_("Petición HTTP no válida.")))
            return None
        except (ConnectionError, asyncio.IncompleteReadError):
            return None
        except OSError as exc:
            log.warning("engine unreachable: %s", exc)
            await self._fail(exchange, GatewayError(502, _("El motor de Docker no responde.")))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("gateway handler failed: %s %s", head.method, path)
            exchange.close_after = True
            await self._fail(exchange, GatewayError(500, _("Error interno de Muelle.")))
        return exchange

    async def _fail(self, exchange: Exchange, error: GatewayError) -> None:
        if exchange.responded:
            exchange.close_after = True
            return
        await exchange.drain()
        await exchange.reply_error(error)


def go_bool(value: str | None) -> bool:
    """The engine's httputils.BoolValue: strings.ToLower(strings.TrimSpace(v)) is not one of
    "", "0", "no", "false", "none". Go's TrimSpace trims less than Python's strip() (not
    U+001C-U+001F), so the set is Go's own."""
    if value is None:
        return False
    return value.strip(GO_SPACE).lower() not in ("", "0", "no", "false", "none")


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        413, _("La petición es demasiado grande (máximo %(n)d bytes).") % {"n": limit}
    )


def refuse_form(content_type: str | None) -> None:
    """A form body is refused: Go's ParseForm reads it into the same values as the query,
    before it, so the engine would take the student's body for the gateway's checked query."""
    if content_type and _is_form(content_type):
        raise bad_request(
            _(
                "Muelle no admite cuerpos de formulario (%(type)s) en la API de Docker: los "
                "parámetros van en la URL."
            )
            % {"type": content_type.split(";")[0].strip()}
        )


def _is_form(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media in ("application/x-www-form-urlencoded", "multipart/form-data")


def _split_version(path: str) -> tuple[str, GatewayError | None]:
    """Strips /vX.Y; only the versions the gateway's policy was written for are accepted."""
    if not path.startswith("/v"):
        return path, None
    version, sep, rest = path[2:].partition("/")
    if not version.replace(".", "").isdigit():
        return path, None
    if version not in SUPPORTED_VERSIONS:
        return "/" + rest, bad_request(
            _(
                "La versión %(version)s de la API de Docker no está admitida en Muelle "
                "(solo %(supported)s). Usa un cliente docker actual."
            )
            % {"version": version, "supported": ", ".join(SUPPORTED_VERSIONS)}
        )
    return "/" + rest if sep else "/", None
