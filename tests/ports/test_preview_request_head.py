"""The request head the preview writes to a container (sandbox.preview.forward.container_head),
for the framings a browser's body can have: the browser's own Content-Length is kept, and the
body then goes as it came; without one a streamed body goes chunked; and a Content-Length that
came beside Transfer-Encoding (which an HTTP/1.1 server must ignore, RFC 9112 6.3) is dropped,
or the de-chunked body would go under the wrong length."""

from __future__ import annotations

from sandbox.preview.forward import container_head


def _scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"method": "POST", "raw_path": b"/subir", "query_string": b"", "headers": list(headers)}


def test_the_browsers_length_is_kept_and_the_body_is_not_chunked() -> None:
    head, chunked = container_head(_scope((b"content-length", b"30")), whole_body=None)
    assert b"content-length: 30\r\n" in head and b"transfer-encoding" not in head
    assert not chunked


def test_a_streamed_body_without_a_length_goes_chunked() -> None:
    head, chunked = container_head(_scope((b"transfer-encoding", b"chunked")), whole_body=None)
    assert b"transfer-encoding: chunked\r\n" in head and b"content-length" not in head
    assert chunked


def test_a_length_beside_transfer_encoding_is_dropped() -> None:
    scope = _scope((b"content-length", b"5"), (b"transfer-encoding", b"chunked"))
    head, chunked = container_head(scope, whole_body=None)
    assert b"content-length" not in head and chunked
    head, chunked = container_head(scope, whole_body=12)  # the body came whole: its real length
    assert b"content-length: 12\r\n" in head and b"content-length: 5" not in head
    assert not chunked
