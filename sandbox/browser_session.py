"""The session the terminal's websocket needs, handed out on request.

The websocket identifies the student by the session cookie, but a websocket handshake cannot set
cookies, and a lesson page without exercises creates no session (reading a page, for crawlers
and under load, must not write to the database). So the terminal posts here once before its
first connection.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST


@require_POST
def start_session(request: HttpRequest) -> HttpResponse:
    # CSRF-protected like every post: a foreign page cannot make a browser start sessions here.
    if request.session.session_key is None:
        request.session.save()  # create() marks the session modified: the cookie goes out
    return HttpResponse(status=204)
