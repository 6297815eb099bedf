"""The session the terminal's websocket needs, handed out on request.

The websocket identifies the student by the session cookie, but a websocket handshake cannot set
cookies, and a lesson page without exercises creates no session (reading a page, for crawlers
and under load, must not write to the database). So the terminal posts here once before its
first connection.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST


async def live_key(session: Any) -> str | None:
    """The key of `session` if that session exists and has not expired. A cookie's key alone is
    whatever the browser sent; loading (and caching) an unknown or expired session makes Django
    drop it. For the terminal's handshake, the editor and the preview links."""
    if not session.session_key:
        return None
    await session.akeys()
    return session.session_key or None


@require_POST
def start_session(request: HttpRequest) -> HttpResponse:
    # CSRF-protected like every post: a foreign page cannot make a browser start sessions here.
    if request.session.session_key is None:
        request.session.save()  # create() marks the session modified: the cookie goes out
    return HttpResponse(status=204)
