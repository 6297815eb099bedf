"""Lessons named on an instructor command's line: by slug, or by path as in check_lessons.

`verify_solutions` and `run_blocks` take either, so an instructor can paste what their editor or
check_lessons showed (`content/lessons/02-x.md`, a lesson folder, a whole course folder) or the
slug from the lesson's address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from lessons import catalog


@dataclass
class Targets:
    lessons: list[catalog.Lesson] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # messages, in Spanish


def _looks_like_path(argument: str) -> bool:
    return "/" in argument or argument.endswith(".md") or Path(argument).exists()


def _from_path(argument: str) -> list[catalog.Lesson] | None:
    target = Path(argument).resolve()
    if not target.exists():
        return None
    single: Path | None = None
    root = target
    if target.is_file():
        single = target
        root = target.parent.parent if target.name == catalog.INDEX_FILE else target.parent
    elif (target / catalog.INDEX_FILE).is_file():
        single, root = target / catalog.INDEX_FILE, target.parent
    course = catalog.build_catalog(root, use_cache=False)
    if single is None:
        return list(course.lessons)
    return [lesson for lesson in course.lessons if lesson.path.resolve() == single]


def resolve(arguments: Sequence[str]) -> Targets:
    """The available lessons each argument names, in the order given (none: every lesson of
    LESSONS_DIR, in course order)."""
    found = Targets()
    if not arguments:
        found.lessons = list(catalog.get_catalog().lessons)
        return found
    for argument in arguments:
        if _looks_like_path(argument):
            lessons = _from_path(argument)
            if lessons is None:
                found.unknown.append(_("No existe: %(path)s") % {"path": argument})
            elif not lessons:
                found.unknown.append(
                    _(
                        "%(path)s no es una lección que se pueda usar (solo archivos .md y "
                        "carpetas con index.md, sin errores que impidan mostrarla: mira "
                        "check_lessons)"
                    )
                    % {"path": argument}
                )
            found.lessons += lessons or []
            continue
        lesson = catalog.get_lesson(argument)
        if lesson is None:
            found.unknown.append(_("No existe ninguna lección «%(slug)s».") % {"slug": argument})
        else:
            found.lessons.append(lesson)
    return found
