"""manage.py run_blocks [slug or path ...]: runs every lesson's runnable blocks, in order, in a
fresh sandbox per lesson, and reports each block that fails. Exit status 1 when any fails."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from exercises import blocks, targets
from tutorial.local_database import ensure_migrated


class Command(BaseCommand):
    help = _(
        "Ejecuta los bloques «ejecutable» de cada lección, en orden, en un contenedor nuevo, y "
        "muestra los que fallan."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "lessons",
            nargs="*",
            help=_("lecciones, por su slug o su ruta (por defecto, todas las de LESSONS_DIR)"),
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=blocks.DEFAULT_TIMEOUT,
            help=_("segundos que puede tardar cada bloque (por defecto, %(default)s)"),
        )
        parser.add_argument(
            "--paralelo",
            type=int,
            default=1,
            help=_("cuántas lecciones probar a la vez, cada una en su contenedor"),
        )

    def handle(self, *args: Any, lessons: list[str], **options: Any) -> None:
        # A one-off run: no warm pool to fill (and leave behind when the command exits).
        settings.SANDBOX_WARM_POOL = 0
        ensure_migrated(self.stdout.write)
        found = targets.resolve(lessons)
        for message in found.unknown:
            self.stderr.write(message)
        counts = {"ok": 0, "failed": 0, "skipped": 0}

        def report(result: blocks.BlockResult) -> None:
            counts[result.status] += 1
            where = f"{result.block.path}:{result.block.line}"
            if result.status == "ok":
                self.stdout.write(_("✓ %(where)s") % {"where": where})
            elif result.status == "skipped":
                self.stdout.write(
                    _("· %(where)s: saltado (marcado «interactivo»)") % {"where": where}
                )
            else:
                self.stderr.write("✗ " + blocks.describe(result))

        results = asyncio.run(
            blocks.run_lessons(
                found.lessons,
                parallel=options["paralelo"],
                timeout=options["timeout"],
                on_result=report,
            )
        )
        engine_failed = False
        for path, outcome in results.items():
            if isinstance(outcome, Exception):
                engine_failed = True
                detail = getattr(outcome, "message", "") or str(outcome)
                self.stderr.write(
                    _("✗ %(path)s: no hay contenedor en el que ejecutar los bloques. %(detail)s")
                    % {"path": path, "detail": detail}
                )
        lessons_run = [blocks.display_path(lesson.path) for lesson in found.lessons]
        summary = ngettext(
            "%(lessons)d lección: %(ok)d bloques bien, %(failed)d fallan, %(skipped)d saltados.",
            "%(lessons)d lecciones: %(ok)d bloques bien, %(failed)d fallan, %(skipped)d saltados.",
            len(lessons_run),
        ) % {"lessons": len(lessons_run), **counts}
        if counts["failed"] or engine_failed or found.unknown:
            self.stderr.write(summary)
            raise SystemExit(1)
        self.stdout.write(summary)
