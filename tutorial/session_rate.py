"""New browser sessions per client address, limited (Django middleware).

A session is what a terminal and a sandbox hang on, and a CSRF cookie/header pair was all one
script needed to make 60 of them and hold every sandbox slot. Each address (the socket's peer,
or a trusted proxy's word for it: tutorial.client_address) gets CLIENT_SESSION_BURST new sessions
at once — a whole class arriving behind one school NAT — refilled at CLIENT_SESSIONS_PER_MINUTE.
Over it, the session the view just created is deleted again: a page read (GET, HEAD) is still
served, without the session (reading never needs one); anything else — the terminal's request
for a session — gets a 429 with a Spanish explanation and Retry-After, which the terminal shows.
Sessions that already exist are never affected.

Counted per server process (several processes each allow the burst); the sandboxes themselves
are limited per address as well (sandbox.client_limits), which is what protects the others.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from tutorial.address_buckets import AddressBuckets
from tutorial.client_address import request_address

buckets = AddressBuckets("CLIENT_SESSION_BURST", "CLIENT_SESSIONS_PER_MINUTE")


# Set on a request whose view already took its new session's token (take_for_view()).
TAKEN = "_muelle_session_taken"


def take_for_view(request: HttpRequest) -> float:
    """For a view that makes something with the session it is about to create (an account):
    the token is taken now, before it makes anything (0, or the seconds to wait), and not again
    when the response goes out."""
    setattr(request, TAKEN, True)
    return buckets.take(request_address(request))


def _created_session(request: HttpRequest, response: HttpResponse) -> bool:
    if getattr(request, TAKEN, False):
        return False  # counted by the view (take_for_view)
    name = settings.SESSION_COOKIE_NAME
    morsel = response.cookies.get(name)
    return bool(morsel is not None and morsel.value and morsel.value != request.COOKIES.get(name))


def refused(wait: float) -> HttpResponse:
    seconds = max(1, math.ceil(wait))
    response = HttpResponse(
        _(
            "Desde tu red se han abierto muchas sesiones nuevas en poco tiempo, así que no "
            "podemos abrir otra ahora. Espera %(seconds)d segundos y recarga la página. Si sois "
            "una clase entera, quien administre este Muelle puede subir CLIENT_SESSION_BURST."
        )
        % {"seconds": seconds},
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    return response


def _without_session(request: HttpRequest, response: HttpResponse, wait: float) -> HttpResponse:
    if request.method in ("GET", "HEAD"):
        del response.cookies[settings.SESSION_COOKIE_NAME]
        return response
    return refused(wait)


class SessionRateMiddleware:
    """Placed before SessionMiddleware, so it sees the response after the session was saved."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        response = self.get_response(request)
        if _created_session(request, response):
            wait = buckets.take(request_address(request))
            if wait:
                request.session.delete()  # the one the view just made: nothing is kept
                return _without_session(request, response, wait)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        get_response: Callable[[HttpRequest], Awaitable[HttpResponse]] = self.get_response
        response = await get_response(request)
        if _created_session(request, response):
            wait = buckets.take(request_address(request))
            if wait:
                await request.session.adelete()
                return _without_session(request, response, wait)
        return response
