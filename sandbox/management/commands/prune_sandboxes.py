"""manage.py prune_sandboxes: removes expired and orphaned sandboxes of this instance (or all of
them with --all). Run it before the server starts; the server also reaps periodically."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sandbox import engine, reaper


class Command(BaseCommand):
    help = "Retira los entornos de práctica caducados o huérfanos de esta instancia."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--all",
            action="store_true",
            dest="everything",
            help="Retira todos los entornos de esta instancia (SANDBOX_INSTANCE), en uso o no.",
        )

    def handle(self, *args: Any, everything: bool = False, **options: Any) -> None:
        try:
            report = asyncio.run(reaper.reap(everything=everything))
        except engine.EngineUnavailable as exc:
            raise CommandError(exc.message) from exc
        instance = settings.SANDBOX_INSTANCE
        if report.removed:
            self.stdout.write(
                ngettext(
                    "Retirado %(n)d entorno de práctica de la instancia «%(i)s»:",
                    "Retirados %(n)d entornos de práctica de la instancia «%(i)s»:",
                    len(report.removed),
                )
                % {"n": len(report.removed), "i": instance}
            )
            for name, reason in sorted(report.removed):
                self.stdout.write(f"  {name}: {reason}")
        else:
            self.stdout.write(
                _("No había entornos de práctica que retirar en la instancia «%(i)s».")
                % {"i": instance}
            )
        if report.forgotten_rows:
            self.stdout.write(
                _("Olvidados %(n)d registros de contenedores que ya no existían.")
                % {"n": report.forgotten_rows}
            )
        if report.incomplete:
            self.stdout.write(
                _(
                    "No respondieron todos los nodos: lo que pueda haber en ellos se mira en "
                    "la próxima pasada."
                )
            )
        for error in report.errors:
            self.stderr.write(_("No se pudo retirar %(what)s") % {"what": error})
        if report.errors:
            raise CommandError(_("Algunos entornos no se pudieron retirar."))
