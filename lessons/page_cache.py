"""Lesson pages from a shell rendered once, with the visitor's own parts put in per request.

Almost all of a lesson page is the same for every student: the lesson text, the course list, the
workspace beside it (terminal, editor and preview panes: dozens of `{% static %}` and
`{% translate %}`). Rendering it for every request cost a page several times a static file. So
the page (or its htmx swap) is rendered once per lesson file version, course and glossary
version, language, full page or swap, and whether the visitor is logged in, with placeholders
where the visitor's own values go:

- the CSRF token (`{{ csrf_token }}`, `{% csrf_token %}`): taken with get_token only when the
  page shows it, as the template does, so the same requests set the CSRF cookie;
- a logged-in student's name («Salir (nombre)»), escaped as the template escapes it;
- the parts other apps render per visitor (lessons.page_parts: the exercises block).

The shell is kept split at its placeholders, so a request only joins pieces: nothing a visitor
sends or a student chose as a name is ever searched for placeholders. Placeholders are random per
process (letters, digits and hyphens: escaping and attribute quoting leave them as they are), so
no lesson text can contain one.

Not used for staff (their pages also show the lesson's problems) nor with DEBUG (an author then
sees template edits on the next reload): those pages are rendered whole, as before. Off with
LESSON_PAGE_CACHE=0. Lesson edits are seen either way: the version holds the file's mtime and
size.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.signals import setting_changed
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils.functional import SimpleLazyObject
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString

from lessons import page_parts
from tutorial.lru import LockedLRU

# In a shell's context: {% lesson_page_part %} leaves its placeholder instead of the part.
SHELL = "lesson_page_shell"

_TOKEN = secrets.token_hex(16)
CSRF_PLACEHOLDER = f"muelle-csrf-{_TOKEN}"
USERNAME_PLACEHOLDER = f"muelle-usuario-{_TOKEN}"
_PART = re.compile(rf"muelle-parte-([a-z0-9_]+)-{_TOKEN}")
# Every placeholder ends with the token: whatever the template puts right after one stays out.
_PLACEHOLDER = re.compile(rf"({CSRF_PLACEHOLDER}|{USERNAME_PLACEHOLDER}|{_PART.pattern})")

# One shell per lesson, language, page or swap and login state (a new version of the lesson
# replaces the old one): a few per lesson. Bounded all the same.
MAX_SHELLS = 512


def part_placeholder(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"page part names are lowercase letters, digits and _: {name!r}")
    return f"muelle-parte-{name}-{_TOKEN}"


def enabled() -> bool:
    return bool(getattr(settings, "LESSON_PAGE_CACHE", True))


class _Shells:
    """One shell per slot, kept with the version it was rendered for."""

    def __init__(self, max_entries: int) -> None:
        self._lru: LockedLRU[tuple[Hashable, tuple[str, ...]]] = LockedLRU(max_entries)

    def get(self, slot: Hashable, version: Hashable) -> tuple[str, ...] | None:
        hit = self._lru.get(slot)
        if hit is None or hit[0] != version:
            return None
        return hit[1]

    def put(self, slot: Hashable, version: Hashable, pieces: tuple[str, ...]) -> None:
        self._lru.put(slot, (version, pieces))

    def clear(self) -> None:
        self._lru.clear()

    def __len__(self) -> int:
        return len(self._lru)


shells = _Shells(MAX_SHELLS)


def clear_cache() -> None:
    shells.clear()


class _ShellUser:
    """Who a logged-in student's shell is rendered for: any of them, their name left out."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def get_username(self) -> str:
        return USERNAME_PLACEHOLDER


def cached(request: HttpRequest, slot: tuple[Any, ...], version: tuple[Any, ...]) -> bool:
    """Whether the shell (see lesson_page) is ready for this visitor."""
    return shells.get((*slot, _authenticated(request)), version) is not None


def _authenticated(request: HttpRequest) -> bool:
    return bool(request.user.is_authenticated)  # type: ignore[attr-defined]


def lesson_page(
    request: HttpRequest,
    lesson: Any,
    slot: tuple[Any, ...],
    version: tuple[Any, ...],
    render: Callable[[dict[str, Any]], str],
) -> str:
    """The page for this request. `slot` and `version`: everything the page shows the same to
    every visitor depends on; the slot (lesson, language, page or swap) keeps one shell, for
    one version (of the lesson file, the course, the glossary). `render(extra)`
    renders the page with `extra` added to the view's context and no context processors: the
    shell must pick up nothing of this visitor."""
    user = request.user  # type: ignore[attr-defined]
    authenticated = _authenticated(request)
    shell_slot = (*slot, authenticated)
    pieces = shells.get(shell_slot, version)
    if pieces is None:
        html = render(
            {
                "request": request,  # for request.resolver_match, the same on every lesson
                "user": _ShellUser() if authenticated else AnonymousUser(),
                "csrf_token": CSRF_PLACEHOLDER,
                SHELL: True,
            }
        )
        pieces = _pieces(html)
        shells.put(shell_slot, version, pieces)
    # Lazy, as the template's own token: taken (and the CSRF cookie set) only if shown.
    token: Any = SimpleLazyObject(lambda: get_token(request))
    out = []
    for index, piece in enumerate(pieces):
        if not index % 2:
            out.append(piece)
        elif piece == CSRF_PLACEHOLDER:
            out.append(str(token))
        elif piece == USERNAME_PLACEHOLDER:
            out.append(conditional_escape(user.get_username()))
        else:
            match = _PART.fullmatch(piece)
            name = match.group(1) if match else ""
            out.append(page_parts.render(name, request, lesson, token))
    return "".join(out)


def _pieces(html: str) -> tuple[str, ...]:
    """[literal, placeholder, literal, …, literal]."""
    pieces: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(html):
        pieces += [html[position : match.start()], match.group(0)]
        position = match.end()
    pieces.append(html[position:])
    return tuple(pieces)


def part_for_shell(context: Any, name: str) -> SafeString | None:
    """What {% lesson_page_part %} shows while a shell is rendered (its placeholder), or None
    on a page rendered whole."""
    if context.get(SHELL):
        return SafeString(part_placeholder(name))
    return None


def _on_setting_changed(**_: object) -> None:
    # Tests change settings (static storage, languages, LESSON_PAGE_CACHE) between renders:
    # a shell rendered under the old ones must not be served under the new ones.
    clear_cache()


setting_changed.connect(_on_setting_changed, dispatch_uid="lessons.page_cache")
