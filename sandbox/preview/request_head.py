"""A browser's request head, read strictly, for the server's front (tutorial.front_protocol).

The front serves a student's preview page without uvicorn when the request is the common one.
To know that, it reads the head itself, and only the head it cannot misread: exactly one request
line `GET|HEAD <origin-form target> HTTP/1.1`, header names that are tokens, values without
control bytes, every line ended by CRLF, no body, upgrade or expectation. Anything else (a bare
LF, obs-fold, a space before the colon, an absolute target, a fragment, another version) is
None, and the front hands the connection to uvicorn, which reads it as it always did. So this
reader never has to agree with uvicorn on a doubtful head: what it accepts, uvicorn's parser
(httptools) reads the same way (tests/ports/test_browser_request_head.py checks that against
httptools on mutated heads), and what it doubts is not its to read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METHODS = {b"GET": "GET", b"HEAD": "HEAD"}
# Every header line at once: a name of tchar (RFC 9110 5.6.2), a colon, a value without control
# bytes but horizontal tab (RFC 9110 5.5) and DEL, CRLF. One pass in C for the whole block.
_HEADER_LINES = re.compile(rb"(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*")
# Origin-form (RFC 9112 3.2.1): a path and maybe a query, visible ASCII; no fragment (uvicorn
# drops it, and a browser never sends one).
_TARGET = re.compile(rb"/[\x21-\x22\x24-\x7e]*")
# What makes a request more than a head is uvicorn's: a body (or a framing uvicorn may judge
# otherwise, such as two lengths), an upgrade, an expectation.
_NOT_PLAIN = {b"content-length", b"transfer-encoding", b"upgrade", b"expect"}
MAX_HEADERS = 100  # as many as uvicorn's h11 takes; beyond, uvicorn answers
_CONNECTION = {b"connection", b"proxy-connection"}


@dataclass(frozen=True, slots=True)
class Head:
    method: str
    raw_path: bytes
    query_string: bytes
    headers: list[tuple[bytes, bytes]]  # names in lower case, values without leading OWS
    keep_alive: bool


def parse(head: bytes) -> Head | None:
    """`head` is everything before the blank line that ends it (its CRLF CRLF not included)."""
    request_line, crlf, block = head.partition(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if method not in METHODS or version != b"HTTP/1.1" or not _TARGET.fullmatch(target):
        return None
    lines = block.split(b"\r\n") if crlf else []
    if len(lines) > MAX_HEADERS or (crlf and not _HEADER_LINES.fullmatch(block + b"\r\n")):
        return None
    headers = []
    keep_alive = True
    for line in lines:
        name, _colon, value = line.partition(b":")
        name = name.lower()
        if name in _NOT_PLAIN:
            return None
        value = value.lstrip(b" \t")  # as httptools gives it to uvicorn: trailing OWS kept
        # llhttp reads Proxy-Connection as it reads Connection (a close there ends uvicorn's
        # keep-alive too), so the front must as well.
        if name in _CONNECTION and b"close" in (t.strip().lower() for t in value.split(b",")):
            keep_alive = False
        headers.append((name, value))
    raw_path, _, query = target.partition(b"?")
    return Head(METHODS[method], raw_path, query, headers, keep_alive)
