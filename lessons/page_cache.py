"""The lesson page's big, mostly student-independent parts, rendered once and reused.

A lesson page used to spend most of its time re-rendering the same HTML for every visitor: the
workspace beside the lesson (terminal, editor and preview panes: dozens of `{% static %}` and
`{% translate %}`) and the exercises block. Here they are rendered once per language (and, for
the exercises, per lesson file version and progress state) and reused:

- The CSRF token is the only per-visitor value inside them. They are rendered with a placeholder
  that HTML escaping leaves intact, and each page puts its own token back in, the same token the
  rest of the page shows (`with_csrf`).
- The exercises block depends on the student only through which exercises are done, which
  solutions were revealed and whether they are logged in: that is its cache key. The rows are
  read once per page (one query); on a miss the block is rendered by the exercises app's own tag,
  and kept only if the progress did not change meanwhile.

Off with LESSON_PAGE_CACHE=0 (and by default with DEBUG, so a developer editing a template sees
it on the next reload). Lesson markdown changes are seen either way: the keys hold the file's
mtime and size, as lessons.rendering does.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.template import Context, Template
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

# Letters, digits and hyphens: autoescaping and attribute quoting leave it as it is.
CSRF_PLACEHOLDER = f"muelle-csrf-{secrets.token_hex(16)}"

# Workspace variants are few (one per language); exercise blocks one per lesson and progress
# state, which stays small because exercises are done in order. Bounded all the same.
MAX_ENTRIES = 1024


class FragmentCache:
    """A small thread-safe LRU of rendered HTML (sync views render in several threads)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            html = self._items.get(key)
            if html is not None:
                self._items.move_to_end(key)
            return html

    def put(self, key: Hashable, html: str) -> None:
        with self._lock:
            self._items[key] = html
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


workspaces = FragmentCache()
exercise_blocks = FragmentCache()


def enabled() -> bool:
    return bool(getattr(settings, "LESSON_PAGE_CACHE", True))


def clear_cache() -> None:
    workspaces.clear()
    exercise_blocks.clear()


def with_csrf(html: str, token: object) -> SafeString:
    return mark_safe(html.replace(CSRF_PLACEHOLDER, str(token)))  # noqa: S308 (our own render)


def _cached(cache: FragmentCache, key: Hashable, render: Callable[[], str]) -> str:
    html = cache.get(key)
    if html is None:
        html = render()
        cache.put(key, html)
    return html


# --- The workspace -------------------------------------------------------------------------------

WORKSPACE_TEMPLATE = "sandbox/workspace.html"


def workspace(context: Context) -> SafeString:
    """sandbox/workspace.html as `{% include %}` would render it in `context`."""
    template = get_template(WORKSPACE_TEMPLATE).template  # type: ignore[attr-defined]
    if not enabled():
        return mark_safe(template.render(context))  # noqa: S308 (a template's own output)
    lazy = bool(context.get("terminal_lazy"))

    def render() -> str:
        # Only what the workspace is allowed to depend on: nothing of the visitor but the token.
        return template.render(Context({"csrf_token": CSRF_PLACEHOLDER, "terminal_lazy": lazy}))

    html = _cached(workspaces, (get_language(), lazy), render)
    return with_csrf(html, context.get("csrf_token", ""))


# --- The exercises block -------------------------------------------------------------------------

_EXERCISES_TAG = "{% load exercises %}{% lesson_exercises lesson %}"
_exercises_template: Template | None = None


def _render_exercises_tag(values: dict[str, Any]) -> str:
    global _exercises_template
    if _exercises_template is None:
        _exercises_template = Template(_EXERCISES_TAG)
    return _exercises_template.render(Context(values))


def _progress_state(student: Any, slug: str) -> tuple[tuple[str, bool, bool], ...]:
    from exercises import progress  # the exercises app builds on lessons: imported on use

    rows = progress.progress_for(student, slug)
    return tuple(
        sorted(
            (exercise_id, row.completed_at is not None, row.solution_revealed_at is not None)
            for exercise_id, row in rows.items()
        )
    )


def exercises(context: Context, lesson: Any) -> SafeString:
    """`{% lesson_exercises lesson %}` (the exercises app's tag) for this page's student."""
    request = context.get("request")
    user = context.get("user")
    values = {"lesson": lesson, "request": request, "user": user}
    token = context.get("csrf_token", "")
    if not enabled() or request is None:
        return mark_safe(_render_exercises_tag({**values, "csrf_token": token}))  # noqa: S308

    from exercises import catalog as exercises_catalog
    from exercises import progress

    entry = exercises_catalog.for_lesson(lesson)
    # Same side effect as the tag: a visitor gets their anonymous progress key at once.
    student = progress.student_for(request, create=True)
    if entry is None or student is None or not (entry.exercises or entry.problems):
        return mark_safe(_render_exercises_tag({**values, "csrf_token": token}))  # noqa: S308
    authenticated = bool(user is not None and user.is_authenticated)
    state = _progress_state(student, entry.slug)
    key = (
        str(getattr(lesson, "path", entry.source)),
        getattr(lesson, "mtime_ns", None),
        getattr(lesson, "size", None),
        entry.slug,
        get_language(),
        authenticated,
        state,
    )
    html = exercise_blocks.get(key)
    if html is None:
        html = _render_exercises_tag({**values, "csrf_token": CSRF_PLACEHOLDER})
        # Another tab of the same student may have changed the progress while the block was
        # rendered (it reads the rows again): then this HTML is not the key's, so it is not kept.
        if _progress_state(student, entry.slug) == state:
            exercise_blocks.put(key, html)
    return with_csrf(html, token)


def _on_setting_changed(**_: object) -> None:
    # Tests change settings (static storage, languages, LESSON_PAGE_CACHE) between renders:
    # HTML rendered under the old ones must not be served under the new ones.
    clear_cache()


setting_changed.connect(_on_setting_changed, dispatch_uid="lessons.page_cache")
