"""manage.py check_lessons [PATH | SLUG]: every problem of every lesson, one `path:line:` line each.

Paths are printed the way the instructor named the folder or file (relative stays relative,
absolute stays absolute), so each line can be pasted into an editor's "go to file".
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from lessons import catalog, extra_checks, glossary, rendering
from lessons.problems import Problem, display_path, error, warning

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Comprueba las lecciones (cabecera YAML, codificación, slugs, enlaces, anclas, imágenes, "
        "ejercicios). Sale con un código distinto de 0 si hay errores."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "target",
            nargs="?",
            help="una lección (archivo .md, carpeta o slug) o una carpeta de lecciones; "
            "por defecto LESSONS_DIR",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        typed: str = options["target"] or str(settings.LESSONS_DIR)
        target = locate(typed)

        # One lesson is checked inside its course, so duplicate slugs and links still count.
        single: Path | None = None
        root = target
        if target.is_file():
            single = target
            root = target.parent.parent if target.name == catalog.INDEX_FILE else target.parent
        elif (target / catalog.INDEX_FILE).is_file():
            single, root = target / catalog.INDEX_FILE, target.parent

        course = catalog.build_catalog(root, use_cache=False)
        if single is not None:
            entries = [lesson for lesson in course.entries if lesson.path.resolve() == single]
            if not entries:
                raise CommandError(
                    _("%(path)s no es una lección (solo archivos .md y carpetas con index.md)")
                    % {"path": typed}
                )
            problems = [p for lesson in entries for p in lesson.problems]
        else:
            entries = list(course.entries)
            problems = course.all_problems()
        problems += extra_checks.run(entries)
        problems += _render_problems(course, entries)
        if single is None:
            problems += _glossary_problems(course, root)

        shown = _Shown(typed, target)
        for problem in sorted(problems, key=lambda p: (shown.path(p), p.line, not p.is_error)):
            self.stdout.write(
                f"{shown.path(problem)}:{problem.line}: {problem.level}: {problem.message}"
            )
        errors = sum(1 for p in problems if p.is_error)
        warnings = len(problems) - errors
        summary = _("%(lessons)s: %(errors)s, %(warnings)s.") % {
            "lessons": ngettext(
                "%(count)d lección comprobada", "%(count)d lecciones comprobadas", len(entries)
            )
            % {"count": len(entries)},
            "errors": ngettext("%(count)d error", "%(count)d errores", errors) % {"count": errors},
            "warnings": ngettext("%(count)d aviso", "%(count)d avisos", warnings)
            % {"count": warnings},
        }
        if errors:
            raise CommandError(summary, returncode=1)
        self.stdout.write(self.style.SUCCESS(summary) if not warnings else summary)


# Real lessons render in milliseconds; one that takes this long (thousands of unclosed «[», a
# list nested hundreds deep) would hold a server thread on each visit until its page is cached.
SLOW_RENDER_SECONDS = 5.0


def _render_problems(course: catalog.Catalog, entries: list[catalog.Lesson]) -> list[Problem]:
    """Each available lesson rendered as its page will be: a body that cannot be shown (it
    passed every other check and gave students a 503) is an error here, a slow one a warning."""
    found: list[Problem] = []
    for lesson in entries:
        if not lesson.available:
            continue
        started = time.perf_counter()
        try:
            rendering.render_lesson(lesson, course.link_index, course.version)
        except RecursionError:
            found.append(
                error(
                    lesson.path,
                    lesson.body_line,
                    _(
                        "no se puede mostrar: hay listas o citas anidadas a demasiada "
                        "profundidad (unas dentro de otras cientos de veces)"
                    ),
                )
            )
            continue
        except Exception as exc:  # its text is the library's, in English: the type says enough
            logger.exception("check_lessons: %s no se puede mostrar", lesson.path)
            found.append(
                error(
                    lesson.path,
                    lesson.body_line,
                    _("no se puede mostrar (%(kind)s): revisa el cuerpo de la lección")
                    % {"kind": type(exc).__name__},
                )
            )
            continue
        took = time.perf_counter() - started
        if took > SLOW_RENDER_SECONDS:
            found.append(
                warning(
                    lesson.path,
                    lesson.body_line,
                    _(
                        "tarda %(s)s s en mostrarse: simplifícala (¿miles de «[» sin cerrar, o "
                        "listas anidadas a mucha profundidad?)"
                    )
                    % {"s": f"{took:.1f}".replace(".", ",")},
                )
            )
    return found


def _glossary_problems(course: catalog.Catalog, root: Path) -> list[Problem]:
    """The glossary goes with the course it describes: GLOSSARY_FILE for LESSONS_DIR, else the
    `glosario.yaml` beside the folder checked (an instructor's own course has its own)."""
    if root.resolve() == Path(settings.LESSONS_DIR).resolve():
        path = glossary.path()
    else:
        path = root.parent / "glosario.yaml"
    found = glossary.read(path)
    slugs = {lesson.slug for lesson in course.entries if lesson.slug}
    return [*found.problems, *glossary.lesson_problems(found, slugs, path)]


def locate(typed: str) -> Path:
    """A lesson file or folder, a folder of lessons, or the slug of a lesson of LESSONS_DIR."""
    path = Path(typed)
    if path.exists():
        return path.resolve()
    lesson = catalog.build_catalog(Path(settings.LESSONS_DIR), use_cache=False).find(typed)
    if lesson is not None:
        return lesson.path.resolve()
    raise CommandError(
        _("No existe ningún archivo, carpeta ni lección con el slug «%(target)s».")
        % {"target": typed}
    )


class _Shown:
    """Prints problem paths under the folder the instructor named, spelled as they typed it."""

    def __init__(self, typed: str, target: Path) -> None:
        as_path = Path(typed)
        self.exists = as_path.exists()
        self.typed = as_path
        self.root = target if target.is_dir() else target.parent
        if target.is_file():
            self.typed = as_path.parent if self.exists else as_path

    def path(self, problem: Problem) -> str:
        if not self.exists:
            return display_path(problem.path)
        try:
            relative = problem.path.resolve().relative_to(self.root)
        except ValueError:
            return display_path(problem.path)
        return str(self.typed / relative) if str(relative) != "." else str(self.typed)
