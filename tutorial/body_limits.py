"""Request bodies capped in size and in time, before Django sees them.

Django's ASGI handler reads a whole body into a temporary file before any view (or the CSRF
check) runs: 100 MB posted to any URL went to /tmp before the 403, and a body trickled a byte
every few seconds held its connection for ever. No page of Muelle takes more than a form, so
this middleware, in front of Django in tutorial.asgi (whatever server runs it, with or without a
proxy), reads the body itself:

* a `Content-Length` over HTTP_MAX_BODY is answered 413 before a byte of the body is read;
* a chunked (or lying) body is counted as it arrives and cut with 413 once over the cap;
* a body not complete within HTTP_BODY_TIMEOUT seconds of the head is cut with 408.

Both close the connection. What passed is handed to Django from memory (at most the cap).
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _


def _content_length(scope: dict[str, Any]) -> int | None:
    """The declared length; -1 when it is malformed (refused like an oversized one)."""
    values = [value for key, value in scope.get("headers", []) if key == b"content-length"]
    if not values:
        return None
    if len(set(values)) != 1 or not values[0].isdigit():
        return -1
    return int(values[0])


async def _reply(send: Any, status: int, message: str) -> None:
    body = (message + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _too_large() -> str:
    kib = settings.HTTP_MAX_BODY // 1024
    return _(
        "La petición es demasiado grande: el máximo son %(kib)d KB. Si estabas enviando un "
        "formulario, acórtalo y vuelve a intentarlo."
    ) % {"kib": kib}


def _too_slow() -> str:
    return _(
        "La petición tardó demasiado en llegar y se ha cortado. Comprueba tu conexión y vuelve "
        "a intentarlo."
    )


class BodyLimitMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.HTTP_MAX_BODY
        declared = _content_length(scope)
        if declared is not None and (declared < 0 or declared > limit):
            await _reply(send, 413, _too_large())
            return
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(settings.HTTP_BODY_TIMEOUT):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # the client left: nothing to answer
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        await _reply(send, 413, _too_large())
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _reply(send, 408, _too_slow())
            return

        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only http.disconnect comes

        await self.app(scope, replay, send)
