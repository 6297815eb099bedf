"""HTTP framing as the gateway reads it: strict where requests could be read two ways."""

from __future__ import annotations

import asyncio
import random

import pytest

from sandbox.gateway.server import go_bool
from sandbox.gateway.wire import (
    ProtocolError,
    encode_request_head,
    iter_body,
    line_batches,
    read_request_head,
    request_framing,
)


def parse(raw: bytes):
    async def go():
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        head = await read_request_head(reader)
        body = b"".join([d async for d in iter_body(reader, request_framing(head))])
        return head, body

    return asyncio.run(go())


def test_chunk_extensions_trailers_and_trailing_spaces_are_read_as_go_does():
    head, body = parse(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3 \r\nabc\r\nA;name=value\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    assert body == b"abc0123456789"


def test_chunked_body_and_decoded_path():
    head, body = parse(
        b"POST /v1.41/images/a%2Fb/tag?repo=x&repo=y HTTP/1.1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n"
    )
    assert head.path == "/v1.41/images/a/b/tag"
    assert head.query_first("repo") == "x"
    assert body == b"abcde"


@pytest.mark.parametrize(
    "raw",
    [
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        b"GET http://x/ HTTP/1.1\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        # Chunk sizes as Go reads them: hex digits only; a bare LF ends Go's chunk line.
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n" + b"a" * 10,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\nabc\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\nb\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: \u00b2\r\n\r\nab".encode("latin-1"),
        b"POST / HTTP/1.1\r\nContent-Length: +2\r\n\r\nab",
    ],
)
def test_ambiguous_requests_are_refused(raw):
    with pytest.raises(ProtocolError):
        parse(raw)


@pytest.mark.parametrize(
    "raw",
    [
        # A bare LF ends a line for Go: the engine would read a second header (or request).
        b"GET / HTTP/1.1\r\nUser-Agent: a\nX-Registry-Auth: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nUser-Agent: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nUser-Agent: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Name: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad(Name): a\r\n\r\n",
        # Go keeps a raw "#" in the path or query; Go refuses bad escapes and ";" separators.
        b"GET /containers/x#y/json HTTP/1.1\r\n\r\n",
        b"GET /containers/json?all=1#x HTTP/1.1\r\n\r\n",
        b"GET /containers/json?name=%zz HTTP/1.1\r\n\r\n",
        b"GET /containers/%2 HTTP/1.1\r\n\r\n",
        b"GET /containers/json?all=1;size=1 HTTP/1.1\r\n\r\n",
        "GET /containers/ñ/json HTTP/1.1\r\n\r\n".encode(),
        b"GET\t/ HTTP/1.1\r\n\r\n",
    ],
)
def test_heads_go_would_read_differently_are_refused(raw):
    with pytest.raises(ProtocolError):
        parse(raw)


def test_the_paths_the_gateway_writes_are_percent_encoded():
    head = encode_request_head("GET", "/images/a b?c#d\r\nX: y/%41é/json", [("t", "a&b")])
    first = head.split(b"\r\n")[0]
    assert first == b"GET /images/a%20b%3Fc%23d%0D%0AX:%20y/%2541%C3%A9/json?t=a%26b HTTP/1.1"
    with pytest.raises(ProtocolError):
        encode_request_head("GET", "/", None, [("User-Agent", "a\nb")])


def test_a_request_read_after_a_kept_byte_is_whole():
    async def go():
        reader = asyncio.StreamReader()
        reader.feed_data(b"ET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        reader.feed_eof()
        return await read_request_head(reader, b"G")

    head = asyncio.run(go())
    assert (head.method, head.path) == ("GET", "/_ping")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        ("", False),
        ("0", False),
        (" No ", False),
        ("FALSE\u3000", False),
        ("\u2003none\u00a0", False),
        ("1", True),
        ("yes", True),
        ("true", True),
        # Python's strip() removes U+001C-U+001F, Go's TrimSpace does not: true for the engine.
        ("\x1cfalse", True),
        ("false\x1f", True),
    ],
)
def test_booleans_are_read_like_the_engines_bool_value(value, expected):
    assert go_bool(value) is expected


def _regrouped(pieces: list[bytes], cap: int) -> list:
    async def source():
        for piece in pieces:
            yield piece

    async def go():
        return [batch async for batch in line_batches(source(), cap)]

    return asyncio.run(go())


@pytest.mark.parametrize("seed", range(40))
def test_json_lines_cut_anywhere_come_out_whole_and_in_order(seed: int) -> None:
    # Pieces as the engine's stream may arrive: cut at any byte, lines of any length.
    rng = random.Random(seed)  # noqa: S311 (reproducible cuts, not secrets)
    lines = [b"x" * rng.choice([0, 1, 5, 70, 300]) + str(n).encode() for n in range(30)]
    body = b"\n".join(lines) + (b"\n" if seed % 2 else b"")
    cuts = sorted(rng.sample(range(1, len(body)), 12))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    batches = _regrouped(pieces, cap=1000)
    assert b"".join(batch.rewritten(lambda line: line) for batch in batches) == body
    whole = [line for batch in batches for line in batch.lines]
    assert whole == lines[: len(whole)]  # every line passed on whole: none cut, none lost
    assert all(not batch.rest for batch in batches[:-1])


def test_a_line_past_the_cap_goes_on_in_pieces() -> None:
    batches = _regrouped([b"a" * 600, b"a" * 600, b"a" * 100 + b"\nfin\n"], cap=1000)
    assert [len(batch.rest) for batch in batches] == [1200, 0]
    assert batches[1].lines == [b"a" * 100, b"fin"]
