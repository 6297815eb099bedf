"""Bounds on what one connection can make uvicorn's httptools protocol hold before the app runs.

An attack review found two, each from a single anonymous connection:
- httptools has no limit on a request head (h11 has one): a head of endless 8 KB header lines
  took 2.4 GB of the server's memory in the 10 s the head may take; and one endless header
  line is worse, since the parser copies the growing value again at each read (16 MiB took 4 s
  of the event loop);
- pipelined requests are all parsed and queued from what was read, even after reading pauses:
  1 MB of short requests, never reading the answers, held 43 MB each, with no time limit.

So the bytes of a head are counted as they arrive, before the parser sees them: past HEAD_MAX
without the head's end, the answer is a 431 and nothing more of the connection is read. And a
connection with more than PIPELINE_MAX requests waiting behind the one being served is dropped:
browsers never pipeline, and a client that does gets a few in flight, not thousands.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

# Far above any browser's head (a page of Muelle's or of a preview sends a few KiB; nginx, in
# front in production, takes at most 4 lines of 8 KiB) and below what would hurt.
HEAD_MAX = 64 * 1024
PIPELINE_MAX = 16


def too_large() -> bytes:
    text = (_("La cabecera de la petición es demasiado grande.") + "\n").encode()
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(text), text)
    )


class RequestLimits:
    """Mixed into uvicorn's httptools protocol (one instance per connection)."""

    transport: Any
    pipeline: Any
    _reading_head = True  # between the end of a request (or the start) and its head's end
    _head_size = 0  # bytes fed to the parser since the head being read began
    _refused = False

    def data_received(self, data: bytes) -> None:
        # A head is fed at most HEAD_MAX + 1 bytes at a time: the parser never holds more of a
        # head than that, and a piece that ends the head goes on with the body as before.
        while data and not self._refused:
            if not self._reading_head:
                super().data_received(data)  # type: ignore[misc]
                return
            room = HEAD_MAX + 1 - self._head_size
            piece, data = data[:room], data[room:]
            self._head_size += len(piece)
            super().data_received(piece)  # type: ignore[misc]
            if self.transport.get_protocol() is not self or self.transport.is_closing():
                return  # upgraded to a websocket, or closed (a 400): the rest is not for us
            if self._reading_head and self._head_size > HEAD_MAX and not self._refused:
                self._refuse()

    def on_headers_complete(self) -> None:
        if self._refused:
            return  # no request is made of what follows a refusal
        self._reading_head, self._head_size = False, 0
        super().on_headers_complete()  # type: ignore[misc]
        if len(self.pipeline) > PIPELINE_MAX:
            self._refused = True
            self.transport.abort()

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._reading_head:
            # A trailer (after a chunked body): fed whole, so counted here against the same
            # bound (5 MB of them reached the app as 627 headers).
            self._head_size += len(name) + len(value) + 4
            if self._head_size > HEAD_MAX:
                self._refused = True
                self.transport.abort()
                return
        if not self._refused:
            super().on_header(name, value)  # type: ignore[misc]

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)  # type: ignore[misc]

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()  # type: ignore[misc]
        self._reading_head, self._head_size = True, 0

    def _refuse(self) -> None:
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(too_large())
            self.transport.close()
