"""Preview host names as the server reads them (sandbox.preview.addresses), and what the front
remembers of a (Host, Cookie) pair (sandbox.preview.fast_path): only hosts a browser would send,
and only keys of a browser's size."""

from __future__ import annotations

import time

from sandbox.preview import addresses, fast_path, tokens

ID = "0123456789ab"


def test_a_preview_host_with_or_without_a_port_is_read():
    assert addresses.parse_host(f"8080-{ID}.vista.localhost") == addresses.PreviewHost(8080, ID)
    assert addresses.parse_host(f"8080-{ID}.VISTA.localhost:8000") == addresses.PreviewHost(
        8080, ID
    )


def test_a_port_part_that_is_not_a_port_is_no_preview_host():
    for port in ("8000ppp", "123456", "", "80 ", "+80", "８０"):
        assert addresses.parse_host(f"8080-{ID}.vista.localhost:{port}") is None, port


def _head(host: str, cookie: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}".encode()


def test_the_front_remembers_a_grant_only_for_headers_of_a_browsers_size():
    cookie = (
        tokens.COOKIE_NAME
        + "="
        + tokens.cookie_value(tokens.Grant(ID, 8080, int(time.time()) + 600))
    )
    host = f"8080-{ID}.vista.localhost:8000"
    fast_path._granted.clear()
    # No table for this student in this process: nothing is planned, but the grant was decided.
    assert fast_path.plan(_head(host, cookie)) is None
    assert len(fast_path._granted) == 1
    # The same grant beside 5 KiB of the app's own cookies: decided again, never remembered.
    assert fast_path.plan(_head(host, cookie + "; relleno=" + "r" * 5000)) is None
    assert len(fast_path._granted) == 1
    # A refused pair is never remembered either.
    assert fast_path.plan(_head(host.replace("8080-", "8081-"), cookie)) is None
    assert len(fast_path._granted) == 1
