"""manage.py verify_solutions [slug or path ...]: each lesson's reference solutions pass, in a
fresh sandbox, every check that failed before them. Exit status 1 when any does not, or when an
argument names no lesson."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from exercises import catalog, targets
from exercises.reference import ExerciseReport, verify_lessons
from sandbox import engine
from tutorial.local_database import ensure_migrated


class Command(BaseCommand):
    help = _(
        "Ejecuta la solución de referencia de los ejercicios en un contenedor nuevo y comprueba "
        "que cada comprobación falla antes y pasa después."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "slugs",
            nargs="*",
            help=_("lecciones, por su slug o su ruta (por defecto, todas las de LESSONS_DIR)"),
        )
        parser.add_argument(
            "--paralelo",
            type=int,
            default=1,
            help=_("cuántas lecciones probar a la vez, cada una en su contenedor"),
        )

    def handle(self, *args: Any, slugs: list[str], paralelo: int, **options: Any) -> None:
        # A one-off run: no warm pool to fill (and leave behind when the command exits).
        settings.SANDBOX_WARM_POOL = 0
        ensure_migrated(self.stdout.write)
        found = targets.resolve(slugs)
        for message in found.unknown:
            self.stderr.write(message)
        lessons = [
            entry
            for entry in (catalog.for_lesson(lesson) for lesson in found.lessons)
            if entry is not None and (slugs or entry.exercises or entry.problems)
        ]
        runnable = [lesson for lesson in lessons if lesson.exercises and not lesson.problems]
        results = dict(
            zip(
                [lesson.slug for lesson in runnable],
                asyncio.run(verify_lessons(runnable, parallel=paralelo)) if runnable else [],
                strict=True,
            )
        )
        failed = False
        for lesson in lessons:
            failed |= self._report(lesson, results.get(lesson.slug))
        if failed:
            self.stderr.write(_("Hay soluciones de referencia que no funcionan."))
        elif lessons:
            self.stdout.write(_("Todas las soluciones de referencia funcionan."))
        elif not found.unknown:
            self.stdout.write(_("Ninguna lección tiene ejercicios."))
        if failed or found.unknown:
            raise SystemExit(1)

    def _report(
        self, lesson: catalog.LessonExercises, result: list[ExerciseReport] | Exception | None
    ) -> bool:
        """True when something failed."""
        if lesson.problems:
            self.stderr.write(
                _("✗ %(slug)s: los ejercicios tienen errores (%(path)s):")
                % {"slug": lesson.slug, "path": lesson.source}
            )
            for problem in lesson.problems:
                self.stderr.write(f"    {problem}")
            return True
        if not lesson.exercises:
            self.stdout.write(_("· %(slug)s: no tiene ejercicios.") % {"slug": lesson.slug})
            return False
        if isinstance(result, engine.CapacityFull):
            self.stderr.write(
                _("✗ %(slug)s: no queda sitio para otro contenedor; vuelve a intentarlo.")
                % {"slug": lesson.slug}
            )
            return True
        if isinstance(result, Exception) or result is None:
            detail = getattr(result, "message", "") or str(result or "")
            self.stderr.write(
                _("✗ %(slug)s: no hay motor de Docker con el que probar las soluciones. %(detail)s")
                % {"slug": lesson.slug, "detail": detail}
            )
            return True
        reports = result
        failed = False
        for report in reports:
            label = f"{lesson.slug}/{report.exercise.id}"
            if report.ok:
                self.stdout.write(_("✓ %(label)s: la solución funciona.") % {"label": label})
            else:
                failed = True
                self.stderr.write(_("✗ %(label)s:") % {"label": label})
                for message in report.problems:
                    self.stderr.write(f"    {message}")
        return failed
