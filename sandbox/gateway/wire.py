"""HTTP/1.1 framing for the gateway, on asyncio streams, both towards the CLI and the engine.

Deliberately small and strict: the gateway never forwards the client's bytes as they came; it
parses a request, decides, and writes a request of its own. So this module only has to read
what the Docker CLI, docker-py and the engine send, and refuse anything ambiguous (two
Content-Length headers, Content-Length with Transfer-Encoding, folded headers).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode

from sandbox.token_bucket import RateLimit, paced

MAX_HEAD = 64 * 1024
READ_SIZE = 64 * 1024
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "upgrade",
        "te",
        "trailer",
        "proxy-connection",
        "expect",
    }
)


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1 as the gateway accepts it."""


@dataclass
class Headers:
    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.items:
            if key.lower() == name:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.items if key.lower() == name]

    def has_token(self, name: str, token: str) -> bool:
        token = token.lower()
        return any(
            part.strip().lower() == token
            for value in self.get_all(name)
            for part in value.split(",")
        )


@dataclass
class RequestHead:
    method: str
    target: str
    path: str  # percent-decoded
    query: list[tuple[str, str]]
    http_version: str
    headers: Headers

    def query_first(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None

    def query_all(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]

    @property
    def keep_alive(self) -> bool:
        if self.headers.has_token("connection", "close"):
            return False
        if self.http_version == "HTTP/1.0":
            return self.headers.has_token("connection", "keep-alive")
        return True

    @property
    def wants_upgrade(self) -> bool:
        return self.headers.has_token("connection", "upgrade") and (
            (self.headers.get("upgrade") or "").lower() == "tcp"
        )


@dataclass
class ResponseHead:
    status: int
    reason: str
    headers: Headers


# Go's server (the engine) ends a head line at a bare LF too, and refuses other control
# characters: a CR, LF or NUL inside what the gateway takes for one header value would be read
# by the engine as more lines, even a second request, if the gateway copied it. So a head with
# any control character other than the CRLF line ends (and tabs in values) is refused.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _split_head(raw: bytes) -> tuple[str, Headers]:
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise ProtocolError("undecodable head") from exc
    lines = text[:-4].split("\r\n")
    if any(_CONTROL.search(line) for line in lines) or "\t" in lines[0]:
        raise ProtocolError("control character in a head")
    headers = Headers()
    for line in lines[1:]:
        if not line or line[0] in " \t":
            raise ProtocolError("folded or empty header line")
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.match(name):
            raise ProtocolError(f"bad header line {line!r}")
        headers.items.append((name, value.strip(" \t")))
    return lines[0], headers


async def _read_head(reader: asyncio.StreamReader, prefix: bytes = b"") -> bytes | None:
    """A head up to its blank line. `prefix`: its first byte(s), already read from `reader`
    (the server's watch for a client going away keeps the byte it took)."""
    try:
        return prefix + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not (prefix + exc.partial).strip():
            return None
        raise ProtocolError("connection closed in the middle of a head") from exc
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("head too large") from exc


async def read_request_head(
    reader: asyncio.StreamReader, prefix: bytes = b""
) -> RequestHead | None:
    """Reads one request head; None when the client closed the connection between requests."""
    raw = await _read_head(reader, prefix)
    if raw is None:
        return None
    first, headers = _split_head(raw.lstrip(b"\r\n"))
    parts = first.split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise ProtocolError(f"bad request line {first!r}")
    method, target, version = parts
    if not method.isalpha() or not method.isupper() or not target.startswith("/"):
        raise ProtocolError(f"bad request line {first!r}")
    if not target.isascii() or "#" in target or not _escapes_valid(target):
        # Go reads a raw "#" as part of the path or query (the gateway would cut it), and
        # refuses a bad %-escape (Python would keep it as text): read neither way.
        raise ProtocolError(f"bad request target {target!r}")
    raw_path, _, raw_query = target.partition("?")
    if ";" in raw_query:
        # Go 1.17+ (the engine is built with 1.19) refuses it, older Go split on it, Python
        # keeps it inside a value: three readings, so none.
        raise ProtocolError("';' in a query")
    path = unquote(raw_path, errors="strict")
    if _CONTROL.search(path):
        # No Docker object name holds one, and a regex's "$" would let a final "\n" through.
        raise ProtocolError("control character in the path")
    query = parse_qsl(raw_query, keep_blank_values=True, errors="strict")
    _check_framing_headers(headers)
    return RequestHead(method, target, path, query, version, headers)


_CHUNK_SIZE = re.compile(rb"^[0-9A-Fa-f]{1,16}$")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _escapes_valid(target: str) -> bool:
    return _ESCAPE.search(target) is None


async def read_response_head(reader: asyncio.StreamReader) -> ResponseHead:
    raw = await _read_head(reader)
    if raw is None:
        raise ProtocolError("engine closed the connection before answering")
    first, headers = _split_head(raw)
    version, _, rest = first.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ProtocolError(f"bad status line {first!r}")
    _check_framing_headers(headers)
    return ResponseHead(int(code), reason, headers)


def _check_framing_headers(headers: Headers) -> None:
    lengths = headers.get_all("content-length")
    encodings = headers.get_all("transfer-encoding")
    if len(lengths) > 1 or (lengths and encodings):
        raise ProtocolError("ambiguous message length")
    if lengths and not (lengths[0].isascii() and lengths[0].isdigit()):
        raise ProtocolError("bad Content-Length")
    if encodings and [e.strip().lower() for e in encodings] != ["chunked"]:
        raise ProtocolError("unsupported Transfer-Encoding")


@dataclass(frozen=True)
class Framing:
    """How a message body ends: a known length, chunked, at connection close, or empty."""

    kind: str  # "length" | "chunked" | "close" | "none"
    length: int = 0


def request_framing(head: RequestHead) -> Framing:
    if head.headers.get("transfer-encoding"):
        return Framing("chunked")
    length = head.headers.get("content-length")
    if length is not None and int(length) > 0:
        return Framing("length", int(length))
    return Framing("none")


def response_framing(method: str, head: ResponseHead) -> Framing:
    if method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
        return Framing("none")
    if head.headers.get("transfer-encoding"):
        return Framing("chunked")
    length = head.headers.get("content-length")
    if length is not None:
        return Framing("length", int(length)) if int(length) else Framing("none")
    return Framing("close")


async def iter_body(reader: asyncio.StreamReader, framing: Framing) -> AsyncIterator[bytes]:
    """Yields a body's bytes (de-chunked) as they arrive."""
    if framing.kind == "none":
        return
    if framing.kind == "length":
        remaining = framing.length
        while remaining:
            data = await reader.read(min(remaining, READ_SIZE))
            if not data:
                raise ProtocolError("body ended early")
            remaining -= len(data)
            yield data
        return
    if framing.kind == "close":
        while data := await reader.read(READ_SIZE):
            yield data
        return
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise ProtocolError("bad chunk header") from exc
        # As Go reads it: hex digits only (Python's int() would also take "0x5", "+5", "5_0"
        # or spaces), then an optional extension; a bare LF inside is a line end to Go.
        size_text = line[:-2].rstrip(b" \t").split(b";", 1)[0]
        if not _CHUNK_SIZE.match(size_text) or _CONTROL_BYTES.search(line[:-2]):
            raise ProtocolError("bad chunk size")
        size = int(size_text, 16)
        if size == 0:
            while True:  # trailers, ignored
                try:
                    trailer = await reader.readuntil(b"\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                    raise ProtocolError("bad trailer") from exc
                if trailer == b"\r\n":
                    return
                if _CONTROL_BYTES.search(trailer[:-2]):
                    raise ProtocolError("control character in a trailer")
        remaining = size
        while remaining:
            data = await reader.read(min(remaining, READ_SIZE))
            if not data:
                raise ProtocolError("chunk ended early")
            remaining -= len(data)
            yield data
        if await reader.readexactly(2) != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")


# A streamed JSON-lines answer (build, pull, push, events) is rewritten line by line; past this,
# a line without its end is passed on in pieces, so a student's endless line costs bounded memory.
LINE_CAP = 1024 * 1024


@dataclass(frozen=True)
class LineBatch:
    """What can be passed on from a JSON-lines body so far: whole lines (without their "\n") and
    `rest`, the start of a line longer than LINE_CAP or, at the end, a last line with no end."""

    lines: list[bytes]
    rest: bytes = b""

    def rewritten(self, rewrite: Callable[[bytes], bytes]) -> bytes:
        data = b"".join(rewrite(line) + b"\n" for line in self.lines)
        return data + (rewrite(self.rest) if self.rest else b"")


async def line_batches(
    pieces: AsyncIterator[bytes], cap: int = LINE_CAP
) -> AsyncGenerator[LineBatch, None]:
    """Regroups a body's pieces into whole lines. A piece with no line end (a long line, or a
    read that caught part of a chunk, common under load) is kept for the next one: dropping it
    once gave the docker CLI half a JSON message («invalid character»)."""
    pending = b""
    async for data in pieces:
        pending += data
        complete, sep, rest = pending.rpartition(b"\n")
        if sep:
            pending = rest
            yield LineBatch(complete.split(b"\n"))
        elif len(pending) > cap:
            yield LineBatch([], pending)
            pending = b""
    if pending:
        yield LineBatch([], pending)


async def merged_batches(
    first: AsyncIterator[LineBatch], second: AsyncIterator[LineBatch]
) -> AsyncGenerator[LineBatch, None]:
    """Both sources' batches as each arrives, until both have ended. An error of `first` (the
    engine's answer being relayed) ends the merge with it; `second` only adds lines, so its
    error just ends its part."""
    # Bounded: a student who reads slowly holds the sources back (as the engine's own stream
    # is held back by TCP), rather than the gateway reading ahead for them.
    queue: asyncio.Queue[tuple[int, LineBatch | BaseException | None]] = asyncio.Queue(2)

    async def pump(index: int, source: AsyncIterator[LineBatch]) -> None:
        try:
            async for batch in source:
                await queue.put((index, batch))
        except Exception as exc:  # handed to the reader (a cancellation is no Exception)
            await queue.put((index, exc))
            return
        finally:
            # A source waiting at its yield when the merge ends is closed now, not by the
            # collector some time later.
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()
        await queue.put((index, None))

    pumps = [asyncio.create_task(pump(i, s)) for i, s in enumerate((first, second))]
    running = len(pumps)
    # A line of `first` longer than LINE_CAP comes in pieces (a batch of `rest` only, until a
    # batch whose first line ends it): `second`'s lines wait meanwhile, or they would land
    # inside it and break its JSON.
    mid_line = False
    waiting: list[LineBatch] = []
    try:
        while running:
            index, item = await queue.get()
            if isinstance(item, LineBatch):
                if index == 1 and mid_line:
                    waiting.append(item)
                    continue
                yield item
            else:  # that source ended
                running -= 1
                if item is not None and index == 0:
                    raise item
            if index == 0:
                mid_line = isinstance(item, LineBatch) and bool(item.rest) and not item.lines
                if not mid_line:
                    for batch in waiting:
                        yield batch
                    waiting.clear()
    finally:
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


async def read_body(
    reader: asyncio.StreamReader, framing: Framing, limit: int, pace: RateLimit | None = None
) -> bytes:
    """Reads a whole body; ProtocolError past `limit` bytes. With `pace`, no faster than it."""
    if framing.kind == "length" and framing.length > limit:
        raise BodyTooLarge(limit)
    parts: list[bytes] = []
    size = 0
    pieces = iter_body(reader, framing)
    async for data in pieces if pace is None else paced(pieces, pace):
        size += len(data)
        if size > limit:
            raise BodyTooLarge(limit)
        parts.append(data)
    return b"".join(parts)


class BodyTooLarge(ProtocolError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


LAST_CHUNK = b"0\r\n\r\n"


# Characters a path keeps as they are; everything else (space, ?, #, %, CR, LF, non-ASCII...) is
# percent-encoded, and the engine decodes it back to exactly the path the gateway checked.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _header_lines(headers: list[tuple[str, str]]) -> list[str]:
    for name, value in headers:
        if not _TOKEN.match(name) or _CONTROL.search(value):
            raise ProtocolError(f"header {name!r} would not be one header line")
    return [f"{k}: {v}" for k, v in headers]


def encode_request_head(
    method: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> bytes:
    """The gateway's own request head: the path is percent-encoded (it was decoded to route it
    and may hold names with any character), the query re-encoded, header values checked."""
    if not _TOKEN.match(method):
        raise ProtocolError(f"bad method {method!r}")
    target = quote(path, safe=_PATH_SAFE) + ("?" + urlencode(query) if query else "")
    lines = [f"{method} {target} HTTP/1.1", "Host: docker", *_header_lines(headers or [])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def encode_response_head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
    reason = _CONTROL.sub("", reason) or "OK"
    lines = [f"HTTP/1.1 {status} {reason}", *_header_lines(headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
