"""Template tags the lessons' pages use to show exercises and progress.

    {% load exercises %}
    {% lesson_progress lesson %}    the course index: "2 de 3 ejercicios hechos" / "Completada"
    {% lesson_exercises lesson %}   the lesson page, after the body: every exercise, with its form

`lesson` is a lesson object from the lessons app (anything with a `slug`) or a slug.
"""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from exercises import cards, catalog, progress

register = template.Library()

# `docker ps` in a check's message: instructors write commands as in the lesson's markdown.
_INLINE_CODE = re.compile(r"`([^`\n]+)`")


@register.filter
def inline_code(text: Any) -> SafeString:
    """A check's message, escaped, with its `code` spans as <code> (they showed their
    backticks: «No encontramos `~/hola.txt`…»)."""
    escaped = str(conditional_escape(text))
    return mark_safe(_INLINE_CODE.sub(r"<code>\1</code>", escaped))  # noqa: S308 - escaped above


def _student(context: template.Context) -> progress.Student | None:
    request = context.get("request")
    return progress.student_for(request) if request is not None else None


@register.inclusion_tag("exercises/exercises.html#badge", takes_context=True)
def lesson_progress(context: template.Context, lesson: Any) -> dict[str, Any]:
    entry = catalog.for_lesson(lesson)
    if entry is None or not entry.exercises:
        return {"progress": None}
    return {
        "progress": progress.lesson_progress(_student(context), entry.slug, entry.exercise_ids),
        "slug": entry.slug,
    }


@register.inclusion_tag("exercises/lesson_block.html", takes_context=True)
def lesson_exercises(context: template.Context, lesson: Any) -> dict[str, Any]:
    entry = catalog.for_lesson(lesson)
    if entry is None or not (entry.exercises or entry.problems):
        return {"block": None}
    # Progress is tied to the visitor at once, without signing up: give them their anonymous key
    # now (which also makes the session middleware set the session cookie, if there was none).
    request = context.get("request")
    student = progress.student_for(request, create=True) if request is not None else None
    return {
        "block": cards.block(entry, student),
        "request": context.get("request"),
        "user": context.get("user"),
    }
