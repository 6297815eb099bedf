"""manage.py check_lessons [PATH]: every problem of every lesson, one `path:line:` line each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from lessons import catalog


class Command(BaseCommand):
    help = (
        "Comprueba las lecciones (cabecera YAML, codificación, slugs, enlaces, imágenes). "
        "Sale con un código distinto de 0 si hay errores."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path",
            nargs="?",
            type=Path,
            help="una lección (archivo .md o carpeta) o una carpeta de lecciones; "
            "por defecto LESSONS_DIR",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        target: Path = (options["path"] or Path(settings.LESSONS_DIR)).resolve()
        if not target.exists():
            raise CommandError(_("No existe: %(path)s") % {"path": target})

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
                    % {"path": target}
                )
            problems = [p for lesson in entries for p in lesson.problems]
            checked = len(entries)
        else:
            problems = course.all_problems()
            checked = len(course.entries)
        # The lessons' exercises (`ejercicios:`) are checked by the exercises app.
        from exercises.catalog import lesson_problems

        problems += lesson_problems(entries if single is not None else course.entries)

        for problem in problems:
            self.stdout.write(problem.format())
        errors = sum(1 for p in problems if p.is_error)
        warnings = len(problems) - errors
        summary = ngettext(
            "%(count)d lección comprobada: %(errors)d errores, %(warnings)d avisos.",
            "%(count)d lecciones comprobadas: %(errors)d errores, %(warnings)d avisos.",
            checked,
        ) % {"count": checked, "errors": errors, "warnings": warnings}
        if errors:
            raise CommandError(summary, returncode=1)
        self.stdout.write(self.style.SUCCESS(summary) if not warnings else summary)
