"""The websocket Origin check compares scheme, host and port with the handshake's own origin
(tutorial.origin), through tutorial.asgi's real router. No engine needed: with the terminal
switched off an accepted handshake closes 4003, a refused one never gets that far."""

from __future__ import annotations

import pytest
from channels.testing.websocket import WebsocketCommunicator

from harness.tabs import new_terminal_id

pytestmark = [pytest.mark.django_db(transaction=True)]


async def handshake(
    session_key: str, host: bytes | None, origin: bytes | None, scheme: str = "ws"
) -> int:
    """The close code: 4003 when the Origin passed (terminal off), the refusal's code if not."""
    from tutorial.asgi import application

    headers = [(b"cookie", f"sessionid={session_key}".encode())]
    if host is not None:
        headers.append((b"host", host))
    if origin is not None:
        headers.append((b"origin", origin))
    communicator = WebsocketCommunicator(
        application, f"/ws/terminal/?t={new_terminal_id()}", headers=headers
    )
    communicator.scope["scheme"] = scheme
    connected, code = await communicator.connect(timeout=10)
    if not connected:
        return code
    message = await communicator.receive_output(10)
    while message["type"] != "websocket.close":
        message = await communicator.receive_output(10)
    await communicator.wait()
    return message["code"]


@pytest.fixture(autouse=True)
def terminal_off(settings):  # noqa: ANN001, ANN201
    settings.SANDBOX_ENABLED = False
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
    settings.CSRF_TRUSTED_ORIGINS = []


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        (b"127.0.0.1:8000", b"http://127.0.0.1:8000"),
        (b"localhost:8000", b"http://localhost:8000"),
        (b"LocalHost:8000", b"http://localhost:8000"),
        (b"[::1]:8000", b"http://[::1]:8000"),
        (b"127.0.0.1", b"http://127.0.0.1:80"),
    ],
)
async def test_the_pages_own_origin_is_accepted(session_key, host, origin):
    assert await handshake(session_key, host, origin) == 4003


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        (b"127.0.0.1:8000", b"http://127.0.0.1:9999"),  # another port on the same host
        (b"127.0.0.1:8000", b"https://127.0.0.1:8000"),  # another scheme
        (b"127.0.0.1:8000", b"http://127.0.0.1"),  # port 80, not 8000
        (b"127.0.0.1:8000", b"http://localhost:8000"),  # another host, both allowed
        (b"127.0.0.1:8000", b"http://127.0.0.1:8000/lecciones/"),  # not an origin
        (b"127.0.0.1:8000", b"null"),
        (b"127.0.0.1:8000", b"http://evil.example"),
        (b"evil.example:8000", b"http://evil.example:8000"),  # Host outside ALLOWED_HOSTS
        (None, b"http://127.0.0.1:8000"),
        (b"127.0.0.1:8000", None),
    ],
)
async def test_anything_else_is_refused_in_the_handshake(session_key, host, origin):
    assert await handshake(session_key, host, origin) != 4003


async def test_wss_needs_an_https_origin(session_key):
    host = b"127.0.0.1:8443"
    assert await handshake(session_key, host, b"https://127.0.0.1:8443", scheme="wss") == 4003
    assert await handshake(session_key, host, b"http://127.0.0.1:8443", scheme="wss") != 4003


async def test_csrf_trusted_origins_are_accepted_exactly(session_key, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://muelle.example"]
    host = b"127.0.0.1:8000"
    assert await handshake(session_key, host, b"https://muelle.example") == 4003
    assert await handshake(session_key, host, b"https://muelle.example:444") != 4003
    assert await handshake(session_key, host, b"http://muelle.example") != 4003
