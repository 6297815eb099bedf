"""Bounds on what one connection can make uvicorn's httptools protocol hold before the app runs.

An attack review found two, each from a single anonymous connection:
- httptools has no limit on a request head (h11 has one): a head of endless 8 KB header lines
  took 2.4 GB of the server's memory in the 10 s the head may take;
- pipelined requests are all parsed and queued from what was read, even after reading pauses:
  1 MB of short requests, never reading the answers, held 43 MB each, with no time limit.

So a head (its target and header lines) past HEAD_MAX gets a 431 and the connection closes, and
a connection with more than PIPELINE_MAX requests waiting behind the one being served is
dropped: browsers never pipeline, and a client that does gets a few in flight, not thousands.
"""

from __future__ import annotations

from typing import Any

# Far above any browser's (Chromium sends at most 256 KiB of cookies across a site; a page of
# Muelle's or of a preview sends a few KiB) and below what would hurt: 64 KiB per connection.
HEAD_MAX = 64 * 1024
PIPELINE_MAX = 16
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: %d\r\n\r\n%s"
)
TOO_LARGE_TEXT = "La cabecera de la petición es demasiado grande.\n".encode()


class RequestLimits:
    """Mixed into uvicorn's httptools protocol (one instance per connection)."""

    transport: Any
    pipeline: Any
    _head_size = 0  # bytes of the target and headers of the request being read
    _refused = False

    def on_message_begin(self) -> None:
        self._head_size = 0
        super().on_message_begin()  # type: ignore[misc]

    def on_url(self, url: bytes) -> None:
        if self._counted(len(url)):
            super().on_url(url)  # type: ignore[misc]

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._counted(len(name) + len(value) + 4):
            super().on_header(name, value)  # type: ignore[misc]

    def on_headers_complete(self) -> None:
        if self._refused:
            return  # no request is made of a refused head
        super().on_headers_complete()  # type: ignore[misc]
        if len(self.pipeline) > PIPELINE_MAX:
            self._refused = True
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)  # type: ignore[misc]

    def _counted(self, size: int) -> bool:
        """Adds to the head's size; False (and the 431 sent) once it is past HEAD_MAX."""
        if self._refused:
            return False
        self._head_size += size
        if self._head_size <= HEAD_MAX:
            return True
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(TOO_LARGE % (len(TOO_LARGE_TEXT), TOO_LARGE_TEXT))
            self.transport.close()
        return False
