"""manage.py build_images: builds the course image (offline if need be), or says it is current."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from sandbox import engine
from sandbox.images import build


class Command(BaseCommand):
    help = "Construye la imagen del curso (sin conexión si no hay registro de imágenes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Reconstruye aunque la receta no haya cambiado."
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        def say(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        try:
            build.build(say, force=force)
        except engine.EngineUnavailable as exc:
            raise CommandError(exc.message) from exc
        except build.BuildFailed as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:  # an engine build error: show it, in one piece
            raise CommandError(
                _("No se pudo construir la imagen: %(error)s") % {"error": exc}
            ) from exc
