"""A server that has just started renders the course index and the first lesson once, in the
background, for nobody: the first class after a deploy or restart no longer pays the process's
one-time costs (templates compiled, translations and the glossary loaded, Markdown set up, the
modules a page imports late) all at once.

bench/page_warm_up.py measures it: 50 first visits to a lesson at once, 3 s after the server
started, against the same 50 again once everything is paid (figures in docs/lessons.md). The
cost is the process's, not the lesson's: rendering any lesson first took a burst on another
from about 900 ms to about 150 ms (p50), so one page is enough.

The page is rendered by the views themselves on a request made here: an anonymous visitor in the
site's language, with a session that is never saved (no row in the database) and no sandbox.
Whatever goes wrong is logged and forgotten: a broken lesson shows its own error to the first
visitor as always.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import connections
from django.http import HttpRequest
from django.urls import resolve, reverse
from django.utils import translation

from lessons import catalog

logger = logging.getLogger(__name__)


def start() -> None:
    """Renders the pages in a thread of its own (the server's event loop never waits on it)."""
    threading.Thread(target=warm_up, name="muelle-warm-up", daemon=True).start()


def warm_up() -> list[str]:
    """Renders the index and the first lesson the course shows; returns the paths that answered
    200. Each page on its own: one that fails leaves the other warmed."""
    rendered: list[str] = []
    try:
        with translation.override(settings.LANGUAGE_CODE):
            for path in _paths():
                try:
                    if _render(path) == 200:
                        rendered.append(path)
                except Exception:
                    logger.warning("warming up %s failed", path, exc_info=True)
        logger.info("lesson pages warmed up: %s", " ".join(rendered))
    except Exception:
        logger.warning("warming up the lesson pages failed", exc_info=True)
    finally:
        connections.close_all()  # this thread's own connections
    return rendered


def _paths() -> list[str]:
    paths = [reverse("lessons:index")]
    shown = catalog.get_catalog().lessons  # the available ones, in course order
    if shown:
        paths.append(reverse("lessons:detail", kwargs={"slug": shown[0].slug}))
    return paths


def _render(path: str) -> int:
    match = resolve(path)
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = path
    request.META = {"SERVER_NAME": "localhost", "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1"}
    request.resolver_match = match
    request.user = AnonymousUser()  # type: ignore[attr-defined]
    request.session = _Unsaved()  # type: ignore[attr-defined]
    return match.func(request, *match.args, **match.kwargs).status_code


class _Unsaved(SessionBase):
    """A session that is empty and never written: the warm-up is nobody's visit."""

    def exists(self, session_key: str) -> bool:
        return False

    def create(self) -> None:
        self._session_key = None

    def save(self, must_create: bool = False) -> None:
        return None

    def delete(self, session_key: str | None = None) -> None:
        return None

    def load(self) -> dict[str, object]:
        return {}
