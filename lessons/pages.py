"""What the lesson pages show, gathered from the catalog and the renderer (views stay thin)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from lessons import glossary, rendering
from lessons.catalog import Catalog, Lesson
from lessons.problems import Problem, error

logger = logging.getLogger(__name__)

LEVEL_LABELS = {
    "básico": gettext_lazy("Básico"),
    "intermedio": gettext_lazy("Intermedio"),
    "avanzado": gettext_lazy("Avanzado"),
}


@dataclass(frozen=True)
class Entry:
    """A lesson as the course index and the course navigation list it."""

    lesson: Lesson
    number: int | None

    @property
    def available(self) -> bool:
        return self.lesson.available

    @property
    def level_label(self) -> str:
        return str(LEVEL_LABELS.get(self.lesson.level, ""))

    @property
    def duration_label(self) -> str:
        minutes = self.lesson.duration
        return _("%(minutes)d min") % {"minutes": minutes} if minutes else ""


@dataclass(frozen=True)
class LessonPage:
    entry: Entry  # the lesson, its number, level and duration labels
    rendered: rendering.Rendered | None
    problems: tuple[Problem, ...]
    previous: Lesson | None
    next: Lesson | None
    entries: tuple[Entry, ...]  # the whole course, for the navigation list
    catalog_version: str = ""
    terms: tuple[glossary.Term, ...] = ()  # glossary terms this lesson explains

    @property
    def lesson(self) -> Lesson:
        return self.entry.lesson

    @property
    def available(self) -> bool:
        return self.rendered is not None


def index_entries(course: Catalog) -> tuple[Entry, ...]:
    """Every lesson in course order, numbered 1, 2, 3… among the available ones."""
    entries = []
    number = 0
    for lesson in course.entries:
        if lesson.available:
            number += 1
        entries.append(Entry(lesson, number if lesson.available else None))
    return tuple(entries)


def lesson_page(course: Catalog, lesson: Lesson) -> LessonPage:
    entries = index_entries(course)
    entry = next((e for e in entries if e.lesson.path == lesson.path), Entry(lesson, None))
    problems = lesson.problems
    rendered = None
    if lesson.available:
        try:
            rendered = rendering.render_lesson(lesson, course.link_index, course.version)
        except Exception as exc:  # a lesson must never turn into a 500
            logger.exception("Could not render lesson %s", lesson.path)
            problems = (
                *problems,
                error(lesson.path, lesson.body_line, _("no se pudo mostrar: %(e)s") % {"e": exc}),
            )
    previous, following = course.neighbours(lesson)
    terms = glossary.get_glossary().for_lesson(lesson.slug)
    return LessonPage(
        entry, rendered, problems, previous, following, entries, course.version, terms
    )


# The parts of a lesson page that are the same for every visitor, rendered once per lesson file
# version, catalog version and language (a page used to spend most of its time re-rendering them).
FRAGMENTS = ("lesson-main", "lesson-nav")
_fragments: dict[tuple[str, str], tuple[tuple[Any, ...], SafeString]] = {}
_fragments_lock = threading.Lock()


def fragments(page: LessonPage) -> dict[str, SafeString]:
    lesson = page.lesson
    key = (
        lesson.mtime_ns,
        lesson.size,
        page.catalog_version,
        glossary.get_glossary().version,
        get_language(),
    )
    found: dict[str, SafeString] = {}
    for name in FRAGMENTS:
        slot = (str(lesson.path), name)
        with _fragments_lock:
            hit = _fragments.get(slot)
        if hit is not None and hit[0] == key:
            html = hit[1]
        else:
            html = SafeString(
                render_to_string(f"lessons/lesson.html#{name}", {"page": page, "lesson": lesson})
            )
            with _fragments_lock:
                _fragments[slot] = (key, html)
        found[name.removeprefix("lesson-")] = html
    return found


def clear_cache() -> None:
    with _fragments_lock:
        _fragments.clear()
