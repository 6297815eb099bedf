"""The exercises block of a lesson page, for each visitor: the part exercises registers with
lessons.page_parts (ExercisesConfig.ready), where the lesson page has its slot.

It is exactly `{% lesson_exercises lesson %}` (exercises.templatetags.exercises): same HTML, same
side effect (an anonymous visitor of a lesson with exercises gets their progress key, and so the
session cookie, at once; nobody else does). With LESSON_PAGE_CACHE the rendered block is reused:
it depends on the student only through which exercises they have done, which solutions they have
seen and whether they are logged in, so that is its key, with the lesson file's version and the
language. The student's rows are read once per page (one query); on a miss the tag renders the
block as always, with a placeholder for the CSRF token, put back in per request.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest
from django.template import Context, Template
from django.utils.translation import get_language

from exercises import catalog, progress
from tutorial.lru import LockedLRU

# Letters, digits and hyphens: escaping and attribute quoting leave it as it is.
CSRF_PLACEHOLDER = f"muelle-csrf-ejercicios-{secrets.token_hex(16)}"

# Blocks per lesson and progress state: few, since exercises are done in order. Bounded all the
# same (a student can reveal solutions in any order; an edited lesson leaves its old blocks to
# be pushed out).
MAX_BLOCKS = 1024

_TAG = "{% load exercises %}{% lesson_exercises lesson %}"
_template: Template | None = None


def _render_tag(request: HttpRequest, lesson: Any, csrf_token: Any) -> str:
    global _template
    if _template is None:
        _template = Template(_TAG)
    user = getattr(request, "user", None)
    context = {"lesson": lesson, "request": request, "user": user, "csrf_token": csrf_token}
    return _template.render(Context(context))


blocks: LockedLRU[str] = LockedLRU(MAX_BLOCKS)


def render(request: HttpRequest, lesson: Any, csrf_token: Any) -> str:
    """The block for this visitor (a lessons.page_parts renderer)."""
    if not getattr(settings, "LESSON_PAGE_CACHE", True):
        return _render_tag(request, lesson, csrf_token)
    entry = catalog.for_lesson(lesson)
    path, mtime_ns, size = (getattr(lesson, name, None) for name in ("path", "mtime_ns", "size"))
    version = (str(path), mtime_ns, size, get_language())
    if entry is None or not (entry.exercises or entry.problems):
        # No block (the tag renders nothing but its template's newline), no student asked for.
        key: tuple[Any, ...] = (*version, None)
        html = blocks.get(key)
        if html is None:
            html = _render_tag(request, lesson, CSRF_PLACEHOLDER)
            blocks.put(key, html)
        return html
    known = progress.student_for(request)
    # The tag's side effect: a visitor gets their anonymous progress key at once.
    student = progress.student_for(request, create=True)
    if student is None:
        return _render_tag(request, lesson, csrf_token)
    user = getattr(request, "user", None)
    authenticated = bool(user is not None and user.is_authenticated)
    # A key made just now has no progress yet: no need to ask the database.
    state = progress.marks(student, entry.slug) if known is not None else ()
    key = (*version, entry.slug, authenticated, state)
    html = blocks.get(key)
    if html is None:
        html = _render_tag(request, lesson, CSRF_PLACEHOLDER)
        # Another tab of the same student may have changed their progress while the tag read it
        # again: then this HTML is not the key's, and it is not kept.
        if progress.marks(student, entry.slug) == state:
            blocks.put(key, html)
    if CSRF_PLACEHOLDER not in html:
        return html
    return html.replace(CSRF_PLACEHOLDER, str(csrf_token))


def _on_setting_changed(**_: object) -> None:
    # Tests change settings (static storage, languages, LESSON_PAGE_CACHE): blocks rendered
    # under the old ones must not be served under the new ones.
    blocks.clear()


setting_changed.connect(_on_setting_changed, dispatch_uid="exercises.lesson_part")
