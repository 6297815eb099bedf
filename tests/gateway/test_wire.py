"""HTTP framing as the gateway reads it: strict where requests could be read two ways."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.gateway.wire import ProtocolError, iter_body, read_request_head, request_framing


def parse(raw: bytes):
    async def go():
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        head = await read_request_head(reader)
        body = b"".join([d async for d in iter_body(reader, request_framing(head))])
        return head, body

    return asyncio.run(go())


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
    ],
)
def test_ambiguous_requests_are_refused(raw):
    with pytest.raises(ProtocolError):
        parse(raw)
