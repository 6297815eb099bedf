"""Parts of a lesson page that other apps render for each visitor, without lessons/ importing them.

lessons/ sits below exercises/ in the dependency direction (docs/architecture.md). The lesson
page has a slot for the exercises block (`{% lesson_page_part "exercises" lesson %}` in
templates/lessons/lesson.html); the exercises app fills it by registering a renderer here when
Django starts (ExercisesConfig.ready), as it does for its checks in lessons.extra_checks.

A renderer gets the request, the lesson and the page's CSRF token (the same one the rest of the
page shows; lazy, as in a template: taken only if the part shows it) and returns the part's HTML.
It is called on every page, cached or not (lessons.page_cache renders the rest of the page once
and puts the parts in per request), so it must have the same side effects either way and should
keep its own work small.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

if TYPE_CHECKING:
    from lessons.catalog import Lesson

PartRenderer = Callable[[HttpRequest, "Lesson", Any], str]

_parts: dict[str, PartRenderer] = {}


def register(name: str, renderer: PartRenderer) -> None:
    _parts[name] = renderer


def names() -> tuple[str, ...]:
    return tuple(_parts)


def render(name: str, request: HttpRequest, lesson: Lesson, csrf_token: Any) -> SafeString:
    """The part's HTML for this visitor; empty when no app registered it."""
    renderer = _parts.get(name)
    if renderer is None:
        return SafeString("")
    return mark_safe(renderer(request, lesson, csrf_token))  # noqa: S308 (a template's output)
